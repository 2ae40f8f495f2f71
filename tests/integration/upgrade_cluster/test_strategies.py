"""Rollout strategies: what each one costs the app.

Surge: the node that leaves the pool at the end is the one hosting the fewest disruption-sensitive
pods, so the single-replica app/web is evicted exactly once (today's main job evicted it twice:
onto the surge node, then off it). The same run soaks a few seconds after each node (ending early on
zero burn) and reports each soak; a regression during a surge soak stops the run cleanly: nothing is
left cordoned, and the message and the report say where it stopped."""

import json
import os

import uclab


def evictions(journal):
    """{pod key: times evicted} over every drain step of the run."""
    counts = {}
    for step in journal["steps"]:
        if step["name"].startswith("drain ") and step["status"] == "done":
            for key in step["details"].get("evicted_pods") or []:
                counts[key] = counts.get(key, 0) + 1
    return counts


def moves_of(counts, prefix):
    return sum(n for key, n in counts.items() if key.startswith(prefix))


#: a short soak after each node; the seeded namespaces only (other tests may run pods elsewhere in the shared lab)
SOAK = {"upgrade_cluster_soak_seconds": 4, "upgrade_cluster_soak_namespaces": ["app", "db", "blocked"]}


def test_surge_moves_the_single_replica_app_once(seeded_lab, tmp_path):
    admin, core, _ = seeded_lab
    sizes = len(uclab.lke_state(core))
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path, upgrade_cluster_soak_end_early_after=1, **SOAK))
    assert proc.returncode == 0, proc.stdout[-4000:]
    state = uclab.lke_state(core)
    assert len(state) == sizes and all(n["kubelet"].startswith("v1.35") for n in state.values()), state
    assert not any(n["unschedulable"] for n in state.values()), state
    run_dir, journal = uclab.latest_run(tmp_path)
    counts = evictions(journal)
    assert moves_of(counts, "app/web-") == 1, counts
    assert all(n == 1 for n in counts.values()), "a pod moved twice: %s" % counts
    leaving = journal["facts"]["leaving_nodes"]
    assert len(leaving) == 1 and all(not v["ranking"][0]["sensitive"] for v in leaving.values()), leaving
    with open(os.path.join(run_dir, "report.json")) as handle:
        report = json.load(handle)
    assert report["report"]["probe"]["targets"]["api"]["failed_requests"] == 0
    # per pod: the one move of web, stamped from its eviction to its replacement Ready, is its downtime
    [web] = [m for m in report["report"]["moves"] if m["pod"].startswith("app/web-")]
    assert web["replicas"] == 1 and web["ready_at"] >= web["evicted_at"], web
    assert report["report"]["summary"]["single_replica_downtime_seconds"]["app/web"] == web["downtime_seconds"]
    # a soak after each of the 3 old nodes, in the report's JSON and Markdown
    soaks = report["report"]["soaks"]
    assert len(soaks) == sizes and all(s["soak"].startswith("pool ") for s in soaks), soaks
    assert all(s["status"] == "passed" and s["requests"] > 0 for s in soaks), soaks
    with open(os.path.join(run_dir, "report.md")) as handle:
        markdown = handle.read()
    assert "## Soaks" in markdown and markdown.count("| passed |") >= sizes, markdown


def test_a_regression_during_a_surge_soak_stops_cleanly(seeded_lab, tmp_path):
    """app/api scaled to 0 while the first node's soak runs (the edge answers 503): the run stops there,
    uncordons what it cordoned and says so; the report lists the regressed soak."""
    admin, core, apps = seeded_lab
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path, **dict(SOAK, upgrade_cluster_soak_seconds=30)),
                              background=True)
    try:
        uclab.wait_step(tmp_path, "soak pool ", "running", timeout=600)
        apps.patch_namespaced_deployment_scale("api", "app", {"spec": {"replicas": 0}})
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            uclab.kill_tree(proc)
        apps.patch_namespaced_deployment_scale("api", "app", {"spec": {"replicas": 3}})
    assert proc.returncode != 0, out[-4000:]
    text = " ".join(out.split())
    assert "Upgrade stopped at 'Soak after" in text and "edge error rate" in text, out[-4000:]
    assert "Nothing is left cordoned" in text, out[-4000:]
    state = uclab.lke_state(core)
    assert not any(n["unschedulable"] for n in state.values()), state
    assert not any(k.startswith("runbooks.fournines.io/") for n in state.values() for k in n["annotations"]), state
    run_dir, journal = uclab.latest_run(tmp_path)
    soaks = [s for s in journal["steps"] if s["name"].startswith("soak ")]
    assert [s["details"]["result"] for s in soaks] == ["regressed"], soaks
    recycled = [s for s in journal["steps"] if s["name"].startswith("recycle ") and s["status"] == "done"]
    assert len(recycled) == 1, "the rollout went on past the regressed soak: %s" % journal["steps"]
    with open(os.path.join(run_dir, "report.json")) as handle:
        report = json.load(handle)["report"]
    assert report["summary"]["status"] == "failed"
    assert [s["status"] for s in report["soaks"]] == ["regressed"], report["soaks"]
    with open(os.path.join(run_dir, "report.md")) as handle:
        assert "regressed" in handle.read()


def test_undrainable_node_is_quarantined_and_the_rest_rolls(seeded_lab, tmp_path):
    """blocked/legacy allows 0 disruptions and is not relaxed (gate turned to warn): its node cannot drain.
    With undrainable=quarantine that node stays cordoned, labelled and on the old version; the others roll."""
    admin, core, _ = seeded_lab
    legacy = sorted(set(p.spec.node_name for p in core.list_namespaced_pod("blocked").items))
    assert 1 <= len(legacy) < 3, legacy
    try:
        proc = uclab.run_playbook(uclab.extra_vars(tmp_path, cluster_preflight_relax_pdbs=[],
                                                   cluster_preflight_gates={"pdb": "warn"},
                                                   node_pool_rollout_undrainable="quarantine"))
        assert proc.returncode == 0, proc.stdout[-4000:]
        state = uclab.lke_state(core)
        assert len(state) == 3, state
        for name in legacy:
            stuck = state[name]
            assert stuck["unschedulable"] and stuck["kubelet"].startswith("v1.34"), stuck
            assert stuck["annotations"].get("runbooks.fournines.io/quarantined-by")
            assert core.read_node(name).metadata.labels.get("runbooks.fournines.io/quarantined") == "true"
        others = [v for n, v in state.items() if n not in legacy]
        assert others
        assert all(v["kubelet"].startswith("v1.35") and not v["unschedulable"] for v in others), state
        run_dir, journal = uclab.latest_run(tmp_path)
        assert journal["status"] == "done"
        with open(os.path.join(run_dir, "report.json")) as handle:
            report = json.load(handle)
        assert report["report"]["summary"]["quarantined_nodes"] == legacy
        with open(os.path.join(run_dir, "report.md")) as handle:
            assert "Action needed" in handle.read()
    finally:  # the seed restore keeps Nodes: take the quarantine off by hand
        for name in legacy:
            _unquarantine(core, name)


def _unquarantine(core, name):
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel
    try:
        core.patch_node(name, {"spec": {"unschedulable": None},
                               "metadata": {"labels": {"runbooks.fournines.io/quarantined": None},
                                            "annotations": {"runbooks.fournines.io/quarantined-by": None,
                                                            "runbooks.fournines.io/quarantine-reason": None,
                                                            "runbooks.fournines.io/upgrade-phase": None}}})
    except ApiException:
        pass  # the node is gone (the seed restore replaced it)
