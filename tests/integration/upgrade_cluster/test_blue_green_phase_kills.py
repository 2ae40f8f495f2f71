"""Blue-green phases the other kill test (a batch draining) does not cover, on one seeded lab and one journal:

0. the new pool never gets Ready (the simulator provisions its nodes slower than the rollout waits): the run
   deletes the new pool, leaves the old one untouched and uncordoned, and ends with one message saying so, which
   the journal (so report.json and report.md) carries too;
1. re-run (it carries on the failed run), killed right after the new pool was created, while its nodes still join
   (the journal has the new pool's id as the fact green_pools, its create step is still running, nothing is
   cordoned yet);
2. resumed, killed while the soak after the second batch runs (the first soak passed, the second did not end);
3. resumed, killed with the old pool's DELETE in flight after the final soak (the simulator holds that request,
   then refuses it, so the old pool is still there);
4. resumed to the end.

The end must be the one an uninterrupted run leaves: one new pool bought after the rollback (each re-run finds it
by its tag and the journal), the old pool deleted once, every node on the target and uncordoned, each pod moved
once, a soak that passed not soaked again, the create step done although the run that created the pool was
killed, and the journal and the report done."""

import json
import os
import threading

import uclab
from test_blue_green_rollout import CLUSTER, SOAK, _assert_rolled, _evictions, _pool_creates, _pools

# Soaks end early after 2 s without burn (at most 6 s): long enough to be caught running, short for the lab.
VARIABLES = dict(SOAK, upgrade_cluster_soak_seconds=6, upgrade_cluster_soak_end_early_after=2)
# Phase 0: new nodes take this long (s) to join, the rollout waits NEVER_READY_WAIT s for them.
NEVER_READY_PROVISION = 90
NEVER_READY_WAIT = 8
# Phase 1: how long (s) the new pool's nodes take to join, so the kill lands in that wait.
PROVISION_SECONDS = 8
# How long (ms) the simulator holds the old pool's DELETE before refusing it: the kill comes long before.
DELETE_HELD_MS = 20000


def _provision(admin, seconds):
    """Set the simulator's provisioning delay for new nodes; returns the one it had."""
    before = admin.call("GET", "/settings")["profile"]["NODE_PROVISION_SECONDS"]
    admin.call("PUT", "/settings", {"profile": {"NODE_PROVISION_SECONDS": seconds}})
    return before


def _start(variables):
    """The playbook in the background, its output read as it comes (a full pipe would stall the run)."""
    proc = uclab.run_playbook(variables, background=True)
    proc.lines = []

    def read():
        for line in proc.stdout:
            proc.lines.append(line)
    threading.Thread(target=read, daemon=True).start()
    return proc


def _until(proc, what, predicate, timeout=600):
    """Wait for predicate() while the run goes on; a run that ends first fails with its output."""
    def check():
        found = predicate()
        if not found and proc.poll() is not None:
            raise AssertionError("the run ended (exit %s) before %s:\n%s"
                                 % (proc.returncode, what, "".join(proc.lines)[-4000:]))
        return found
    return uclab.wait_for(what, check, timeout, 0.1)


def _journal(reports_dir, strict=True):
    try:
        return uclab.latest_run(reports_dir)[1]
    except (AssertionError, OSError, ValueError):
        if strict:
            raise
        return {"steps": [], "facts": {}}


def _step(journal, name):
    found = [s for s in journal["steps"] if s["name"] == name]
    return found[0] if found else None


def _soak(journal, blue_id, which):
    """The soak step of pool ``blue_id`` after batch ``which`` ("2/3"), or the final one ("final")."""
    found = [s for s in journal["steps"]
             if s["name"].startswith("soak pool %d " % blue_id) and s["name"].split(" ")[-1] == which]
    return found[0] if found else None


def _done(journal, prefix):
    return [s["name"] for s in journal["steps"] if s["name"].startswith(prefix) and s["status"] == "done"]


def _pool_deletes(admin):
    """Pool ids of the lab cluster the simulator deleted (DELETE .../pools/<id> answered 2xx)."""
    return [int(r["path"].rsplit("/", 1)[1]) for r in uclab.requests(admin)
            if r["method"] == "DELETE" and r["path"].startswith("/lke/clusters/%d/pools/" % CLUSTER)
            and 200 <= int(r.get("status") or 0) < 300]


def _fault_hits(admin, path):
    return sum(r["hits"] for r in admin.call("GET", "/faults")["data"] if r["path"] == path)


def _after_run(admin, reports_dir, runs, drains):
    """What one run bought and deleted (the request log is then cleared, so five runs never overflow it), and
    its finished drains: a re-run drains a drained node again and records it anew with nothing evicted, so the
    evictions of every run are only seen run by run (keyed by step and finish time)."""
    runs.append({"creates": len(_pool_creates(admin)), "deletes": _pool_deletes(admin)})
    admin.call("DELETE", "/requests")
    for step in _journal(reports_dir)["steps"]:
        if step["name"].startswith("drain ") and step["status"] == "done":
            drains[(step["name"], step["finished"])] = step


def _never_ready(admin, core, tmp_path, blue_id, blue, runs, drains):
    """Phase 0: the new pool's nodes do not join before the wait ends; returns the deleted new pool's id."""
    provision = _provision(admin, NEVER_READY_PROVISION)
    try:
        proc = uclab.run_playbook(uclab.extra_vars(tmp_path, node_pool_rollout_resize_timeout=NEVER_READY_WAIT,
                                                   **VARIABLES))
    finally:
        _provision(admin, provision)
    assert proc.returncode != 0, proc.stdout[-4000:]
    text = " ".join(proc.stdout.split())
    journal = _journal(tmp_path)
    [lost] = journal["facts"]["green_pools"].values()
    said = ("stopped at 'Wait for the new pool's nodes Ready on the target version': timed out after %d s waiting "
            "for new pool %d to have 3 Ready nodes on 1.35" % (NEVER_READY_WAIT, lost))
    rolled = ("Rolled back: pool %d is uncordoned and keeps its nodes on the old version; the new pool %d was deleted. "
              "The control plane stays upgraded to 1.35" % (blue_id, lost))
    assert said in text and rolled in text and "not provisioned" in text, proc.stdout[-4000:]
    # the runbook's last word says it once, not wrapped in a second "Upgrade stopped at 'Stop, saying ...'"
    assert "Upgrade stopped at" not in text and (rolled + ". Fix the cause and run the playbook again") in text, \
        proc.stdout[-4000:]
    assert _pools(admin) == {blue_id: blue}, "the new pool should be gone, the old one whole: %s" % _pools(admin)
    state = uclab.lke_state(core)
    assert sorted(state) == blue["nodes"], state
    assert all(n["kubelet"].startswith("v1.34") and not n["unschedulable"] for n in state.values()), state
    assert not any(k.startswith("runbooks.fournines.io/") for n in state.values() for k in n["annotations"]), state
    create = _step(journal, "create new pool for pool %d (blue-green)" % blue_id)
    assert create["status"] == "failed" and "Ready nodes" in create["details"]["error"], journal["steps"]
    assert not [s for s in journal["steps"] if s["name"].startswith(("drain ", "soak "))], journal["steps"]
    rollback = _step(journal, "roll back pool %d (blue-green)" % blue_id)
    assert rollback["status"] == "rolled_back" and rolled in " ".join(rollback["details"]["summary"].split()), rollback
    run_dir = uclab.latest_run(tmp_path)[0]
    with open(os.path.join(run_dir, "report.json")) as handle:
        report = json.load(handle)
    assert report["report"]["summary"]["status"] == "failed", report["report"]["summary"]
    assert rolled in " ".join(_step(report, rollback["name"])["details"]["summary"].split())
    outcome = report["outcome"]  # what report.md shows first, under "What happened"
    assert rolled in " ".join(outcome["summary"].split()) and "Ready nodes" in outcome["error"], outcome
    assert outcome["changed"] == ["control plane upgraded to 1.35 (it stays)", "new pool %d created, then deleted" % lost]
    assert outcome["unchanged"] == ["pool %d: its nodes on the old version, uncordoned" % blue_id], outcome
    with open(os.path.join(run_dir, "report.md")) as handle:
        assert rolled in " ".join(handle.read().split())
    _after_run(admin, tmp_path, runs, drains)
    return lost


def test_killed_in_each_blue_green_phase_a_rerun_carries_on_with_one_new_pool(seeded_lab, tmp_path):
    try:
        _phases(seeded_lab, tmp_path)
    except BaseException:
        uclab.stop_probers(tmp_path)
        raise


def _phases(seeded_lab, tmp_path):
    admin, core, _ = seeded_lab
    before = _pools(admin)
    [(blue_id, blue)] = before.items()
    blue_nodes = blue["nodes"]
    runs, drains = [], {}

    # 0. the new pool never gets Ready: rolled back, the old pool untouched
    lost = _never_ready(admin, core, tmp_path, blue_id, blue, runs, drains)

    # 1. killed right after the new pool was created: its id is journalled, its nodes are still joining
    provision = _provision(admin, PROVISION_SECONDS)
    try:
        proc = _start(uclab.extra_vars(tmp_path, **VARIABLES))
        try:
            green_id = _until(proc, "the new pool's id in the journal (fact green_pools)", lambda: [
                g for g in (_journal(tmp_path, strict=False)["facts"].get("green_pools") or {}).values()
                if g != lost])[0]
        finally:
            uclab.kill_tree(proc)
    finally:
        _provision(admin, provision)
    journal = _journal(tmp_path)
    create = _step(journal, "create new pool for pool %d (blue-green)" % blue_id)
    assert create and create["status"] == "running", "the kill came too late: %s" % create
    assert not [s for s in journal["steps"] if s["name"].startswith(("drain ", "soak "))], journal["steps"]
    pools = _pools(admin)
    assert sorted(pools) == sorted([blue_id, green_id]), pools
    assert "fournines-green-of-%d" % blue_id in pools[green_id]["tags"], pools
    state = admin.call("GET", "/state")
    assert any(state["nodes"][n]["status"] != "ready" for n in state["pools"][str(green_id)]["node_ids"]), \
        "the kill came too late: the new pool was Ready already"
    assert not any(n["unschedulable"] for n in uclab.lke_state(core).values()), "cordoned before the new pool was Ready"
    _after_run(admin, tmp_path, runs, drains)

    # 2. resumed, killed while the soak after the second batch runs
    proc = _start(uclab.extra_vars(tmp_path, **VARIABLES))
    try:
        _until(proc, "the soak after batch 2/3 running", lambda: (
            _soak(_journal(tmp_path, strict=False), blue_id, "2/3") or {}).get("status") == "running")
    finally:
        uclab.kill_tree(proc)
    journal = _journal(tmp_path)
    create = _step(journal, "create new pool for pool %d (blue-green)" % blue_id)
    assert create["status"] == "done" and create["details"]["green_pool_id"] == green_id, \
        "the re-run found the new pool by its tag but left its create step as it was: %s" % create
    first_soak = _soak(journal, blue_id, "1/3")
    assert first_soak and first_soak["status"] == "done", journal["steps"]
    assert _soak(journal, blue_id, "2/3")["status"] == "running", "the kill came too late: %s" % journal["steps"]
    assert len(_done(journal, "drain ")) == 2, journal["steps"]
    assert sorted(_pools(admin)) == sorted([blue_id, green_id]), _pools(admin)
    nodes = uclab.lke_state(core)
    assert all(nodes[n]["unschedulable"] for n in blue_nodes), "the old pool should stay cordoned: %s" % nodes
    _after_run(admin, tmp_path, runs, drains)

    # 3. resumed, killed with the old pool's DELETE in flight (held by the simulator, then refused: never done)
    delete_path = "^/lke/clusters/%d/pools/%d$" % (CLUSTER, blue_id)
    admin.call("POST", "/faults", {"method": "DELETE", "path": delete_path, "status": 503, "count": 1,
                                   "latency_ms": DELETE_HELD_MS})
    try:
        proc = _start(uclab.extra_vars(tmp_path, **VARIABLES))
        try:
            _until(proc, "the old pool's DELETE at the simulator", lambda: _fault_hits(admin, delete_path) > 0)
        finally:
            uclab.kill_tree(proc)
    finally:
        admin.call("DELETE", "/faults")
    journal = _journal(tmp_path)
    final_soak = _soak(journal, blue_id, "final")
    assert final_soak and final_soak["status"] == "done", journal["steps"]
    assert all(_soak(journal, blue_id, b)["status"] == "done" for b in ("1/3", "2/3", "3/3")), journal["steps"]
    assert _soak(journal, blue_id, "1/3")["finished"] == first_soak["finished"], "a soak that passed was soaked again"
    assert len(set(_done(journal, "drain "))) == 3, journal["steps"]
    assert _step(journal, "delete pool %d" % blue_id)["status"] == "running", journal["steps"]
    assert blue_id in _pools(admin), "the old pool went although its DELETE was refused"
    _after_run(admin, tmp_path, runs, drains)

    # 4. resumed to the end
    again = uclab.run_playbook(uclab.extra_vars(tmp_path, **VARIABLES))
    assert again.returncode == 0, again.stdout[-4000:]
    assert "resumed: carrying on where it stopped" in " ".join(again.stdout.split()), again.stdout[-4000:]
    _after_run(admin, tmp_path, runs, drains)

    assert _assert_rolled(admin, core, before) == green_id, "the re-runs moved the pods onto another new pool"
    assert [r["creates"] for r in runs] == [1, 1, 0, 0, 0], "one pool per attempt, none by a re-run: %s" % runs
    assert [r["deletes"] for r in runs] == [[lost], [], [], [], [blue_id]], "each pool deleted once: %s" % runs
    run_dir, journal = uclab.latest_run(tmp_path)
    assert journal["status"] == "done", journal["status"]
    assert "outcome" not in journal, "the rolled-back attempt's outcome outlived it: %s" % journal["outcome"]
    assert journal["facts"]["green_pools"] == {str(blue_id): green_id}, journal["facts"]
    assert _step(journal, "create new pool for pool %d (blue-green)" % blue_id)["status"] == "done", journal["steps"]
    assert _step(journal, "delete pool %d" % blue_id)["status"] == "done", journal["steps"]
    assert _soak(journal, blue_id, "1/3")["finished"] == first_soak["finished"], "a soak that passed was soaked again"
    assert len(set(_done(journal, "drain "))) == 3, journal["steps"]
    counts = _evictions({"steps": list(drains.values())})
    assert counts and all(n == 1 for n in counts.values()), "a pod moved twice: %s" % counts
    assert sum(n for key, n in counts.items() if key.startswith("app/web-")) == 1, counts
    with open(os.path.join(run_dir, "report.json")) as handle:
        report = json.load(handle)["report"]
    assert report["summary"]["status"] == "done", report["summary"]
    soaks = report["soaks"]
    assert [s["soak"].split(" ")[-1] for s in soaks] == ["1/3", "2/3", "3/3", "final"], soaks
    assert all(s["status"] == "passed" for s in soaks), soaks
