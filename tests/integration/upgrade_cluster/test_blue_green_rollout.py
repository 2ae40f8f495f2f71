"""The blue_green strategy on the seeded 3-node pool: a new pool at the target version, the old pool
cordoned, drained batch by batch with a soak after each, then deleted. Soaks are a few seconds here.

- upgrade_cluster_undrainable=quarantine is refused before any change (the old pool is deleted at the end, so a
  quarantined node would go with its pods);
- uninterrupted: one new pool on the target, the old one gone, every pod moved once, 0 failed requests
  for the 3-replica app/api;
- a regression during a soak (app/api scaled to 0, so the edge answers 503) stops and rolls back: the old
  pool uncordoned and on the old version, the new pool deleted;
- killed while a batch drains, re-run: carries on with the same new pool (one pool bought), ends as the
  uninterrupted run does."""

import json
import os

import uclab

CLUSTER = 314159
SOAK = {"upgrade_cluster_strategy": "blue_green", "upgrade_cluster_batch_size": "1",
        "upgrade_cluster_soak_seconds": 4, "upgrade_cluster_final_soak_seconds": 2,
        # the seeded namespaces: other tests may run pods elsewhere in the shared lab meanwhile
        "upgrade_cluster_soak_namespaces": ["app", "db", "blocked"]}


def _pools(admin):
    """{pool id: {count, tags, node names}} of the lab cluster, from the simulator's state."""
    state = admin.call("GET", "/state")
    out = {}
    for pid, pool in state["pools"].items():
        if int(pool["cluster_id"]) == CLUSTER:
            out[int(pid)] = {"count": pool["count"], "tags": pool.get("tags") or [],
                             "nodes": sorted(state["nodes"][n].get("node_name") or "" for n in pool["node_ids"])}
    return out


def _pool_creates(admin):
    return [r for r in uclab.requests(admin) if r["method"] == "POST" and r["path"].endswith("/pools")
            and 200 <= int(r.get("status") or 0) < 300]


def _evictions(journal):
    counts = {}
    for step in journal["steps"]:
        if step["name"].startswith("drain ") and step["status"] == "done":
            for key in step["details"].get("evicted_pods") or []:
                counts[key] = counts.get(key, 0) + 1
    return counts


def _assert_rolled(admin, core, before):
    [(blue_id, blue)] = before.items()
    pools = _pools(admin)
    assert blue_id not in pools, "the old pool is still there: %s" % pools
    [(green_id, green)] = pools.items()
    assert "fournines-green-of-%d" % blue_id in green["tags"] and green["count"] == blue["count"], pools
    state = uclab.lke_state(core)
    assert sorted(state) == green["nodes"], state
    assert all(n["kubelet"].startswith("v1.35") and not n["unschedulable"] for n in state.values()), state
    assert not any(k.startswith("runbooks.fournines.io/") for n in state.values() for k in n["annotations"]), state
    return green_id


def test_check_shows_the_blue_green_plan_and_a_node_limit_refuses_it_before_any_change(lab_as_is, tmp_path):
    admin, core, _ = lab_as_is
    before = _pools(admin)
    [(blue_id, blue)] = before.items()
    plan = uclab.run_playbook(uclab.extra_vars(tmp_path / "check", **SOAK), check=True)
    assert plan.returncode == 0, plan.stdout[-4000:]
    text = " ".join(plan.stdout.split())  # the debug callback wraps long lines
    assert "Pool %d (3 node(s)): new pool of 3, 3 batch(es) of up to 1" % blue_id in text, plan.stdout[-4000:]
    assert "extra node-hours" in text and "Downtime per single-replica app (moved once): Deployment/app/web" in text

    refused = uclab.run_playbook(uclab.extra_vars(tmp_path / "run", upgrade_cluster_node_limit=5, **SOAK))
    assert refused.returncode != 0
    text = " ".join(refused.stdout.split())
    assert "needs 3 more node(s)" in text and "more than node_limit 5; nothing was changed" in text, refused.stdout[-4000:]
    assert uclab.mutations(admin) == [] and _pools(admin) == before  # first in the file: the lab is the seed


def test_quarantine_with_blue_green_is_refused_before_any_change(lab_as_is, tmp_path):
    admin, _, _ = lab_as_is
    before = _pools(admin)
    refused = uclab.run_playbook(uclab.extra_vars(tmp_path, upgrade_cluster_undrainable="quarantine", **SOAK))
    assert refused.returncode != 0
    text = " ".join(refused.stdout.split())
    assert ("upgrade_cluster_undrainable=quarantine is not supported with upgrade_cluster_strategy=blue_green" in text
            and "Valid with blue_green: fail" in text and "; nothing was changed" in text), refused.stdout[-4000:]
    assert uclab.mutations(admin) == [] and _pools(admin) == before
    assert not os.listdir(tmp_path), "a run was opened: %s" % os.listdir(tmp_path)  # no journal, no ledger line


def test_blue_green_moves_every_pod_once_onto_a_new_pool(seeded_lab, tmp_path):
    admin, core, _ = seeded_lab
    before = _pools(admin)
    assert len(before) == 1
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path, upgrade_cluster_soak_end_early_after=1, **SOAK))
    assert proc.returncode == 0, proc.stdout[-4000:]
    _assert_rolled(admin, core, before)
    assert len(_pool_creates(admin)) == 1
    run_dir, journal = uclab.latest_run(tmp_path)
    counts = _evictions(journal)
    assert counts and all(n == 1 for n in counts.values()), "a pod moved twice: %s" % counts
    assert sum(n for key, n in counts.items() if key.startswith("app/web-")) == 1, counts
    with open(os.path.join(run_dir, "report.json")) as handle:
        report = json.load(handle)["report"]
    assert report["probe"]["targets"]["api"]["failed_requests"] == 0, report["probe"]["targets"]["api"]
    soaks = report["soaks"]
    assert [s["soak"].split(" ")[-1] for s in soaks] == ["1/3", "2/3", "3/3", "final"], soaks
    assert all(s["status"] == "passed" for s in soaks), soaks
    with open(os.path.join(run_dir, "report.md")) as handle:
        assert "## Soaks" in handle.read()


def test_a_regression_during_a_soak_rolls_back(seeded_lab, tmp_path):
    admin, core, apps = seeded_lab
    before = _pools(admin)
    [(blue_id, blue)] = before.items()
    variables = uclab.extra_vars(tmp_path, **dict(SOAK, upgrade_cluster_soak_seconds=30))
    proc = uclab.run_playbook(variables, background=True)
    try:
        uclab.wait_step(tmp_path, "soak pool %d" % blue_id, "running", timeout=600)
        apps.patch_namespaced_deployment_scale("api", "app", {"spec": {"replicas": 0}})  # the edge answers 503
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            uclab.kill_tree(proc)
        apps.patch_namespaced_deployment_scale("api", "app", {"spec": {"replicas": 3}})
    assert proc.returncode != 0, out[-4000:]
    text = " ".join(out.split())
    assert "Rolled back: pool %d is" % blue_id in text and "soak after" in text and "edge error rate" in text, out[-4000:]
    assert _pools(admin) == before, "the new pool should be gone and the old one whole: %s" % _pools(admin)
    state = uclab.lke_state(core)
    assert sorted(state) == blue["nodes"], state
    assert all(n["kubelet"].startswith("v1.34") and not n["unschedulable"] for n in state.values()), state
    run_dir, journal = uclab.latest_run(tmp_path)
    failed = [s for s in journal["steps"] if s["name"].startswith("soak ") and s["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["details"]["result"] == "regressed", journal["steps"]
    with open(os.path.join(run_dir, "report.json")) as handle:
        report = json.load(handle)["report"]
    assert report["summary"]["status"] == "failed"
    assert [s["status"] for s in report["soaks"]] == ["regressed"], report["soaks"]


def test_killed_while_draining_a_rerun_carries_on_with_the_same_new_pool(seeded_lab, tmp_path):
    admin, core, _ = seeded_lab
    before = _pools(admin)
    variables = uclab.extra_vars(tmp_path, upgrade_cluster_soak_end_early_after=1, **SOAK)
    proc = uclab.run_playbook(variables, background=True)
    try:
        uclab.wait_step(tmp_path, "drain ", "running", timeout=600)
    finally:
        uclab.kill_tree(proc)
    assert len(_pools(admin)) == 2, "killed before or after the drain phase: %s" % _pools(admin)

    again = uclab.run_playbook(variables)
    assert again.returncode == 0, again.stdout[-4000:]
    assert "resumed: carrying on where it stopped" in " ".join(again.stdout.split())
    _assert_rolled(admin, core, before)
    assert len(_pool_creates(admin)) == 1, "a second new pool was bought"
    _, journal = uclab.latest_run(tmp_path)
    assert journal["status"] == "done"
    drains = [s["name"] for s in journal["steps"] if s["name"].startswith("drain ") and s["status"] == "done"]
    assert len(drains) == len(set(drains)) == 3, drains
