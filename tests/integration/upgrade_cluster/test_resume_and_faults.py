"""Interruption and resume; Linode API faults. Both must finish the upgrade and recycle each
node exactly once, leave nothing cordoned and the pool at its size."""

import json
import os

import uclab


def _assert_upgraded(admin, core, reports_dir, nodes_before):
    state = uclab.lke_state(core)
    assert len(state) == len(nodes_before), "pool size changed: %s" % sorted(state)
    assert all(n["kubelet"].startswith("v1.35") for n in state.values()), state
    assert not any(n["unschedulable"] for n in state.values())
    assert not any(k.startswith("runbooks.fournines.io/") for n in state.values() for k in n["annotations"])
    counts = uclab.recycles(admin)
    assert sorted(counts) == sorted(nodes_before), "recycled %s, expected each of %s" % (counts, nodes_before)
    assert set(counts.values()) == {1}, "a node was recycled twice: %s" % counts
    run_dir, journal = uclab.latest_run(reports_dir)
    assert journal["status"] == "done"
    with open(os.path.join(run_dir, "report.json")) as handle:
        report = json.load(handle)
    assert report["report"]["summary"]["nodes_recycled"] == len(nodes_before)
    return report


def _lke_node_ids(admin):
    state = admin.call("GET", "/state")
    return sorted(n for n, v in state["nodes"].items() if v["cluster_id"] == 314159)


def test_killed_run_resumes_and_never_recycles_twice(seeded_lab, tmp_path):
    admin, core, _ = seeded_lab
    nodes_before = _lke_node_ids(admin)
    variables = uclab.extra_vars(tmp_path)
    proc = uclab.run_playbook(variables, background=True)
    try:
        # kill while the first recycle is under way (requested, new instance not yet Ready)
        uclab.wait_step(tmp_path, "recycle", "running", timeout=400)
    finally:
        uclab.kill_tree(proc)
    _, journal = uclab.latest_run(tmp_path)
    assert journal["status"] == "running"
    cordoned = [n for n, v in uclab.lke_state(core).items() if v["unschedulable"]]
    assert cordoned, "the interrupted run should have left its cordons for the resume to carry on"

    again = uclab.run_playbook(variables)
    assert again.returncode == 0, again.stdout[-4000:]
    assert "resumed: carrying on where it stopped" in again.stdout
    report = _assert_upgraded(admin, core, tmp_path, nodes_before)
    assert report["report"]["summary"]["status"] == "done"


def test_linode_api_faults_are_retried_two_pools(seeded_lab, tmp_path):
    """Two pools (each gets its own surge node) while the API throws 429 bursts and 5xx."""
    admin, core, apps = seeded_lab
    admin.call("POST", "/reset", {"pools": [{"type": "g6-standard-4", "count": 2}, {"type": "g6-standard-4", "count": 2}]})
    admin.wait_idle()
    uclab.wait_for("4 Nodes Ready", lambda: len(uclab.lke_state(core)) == 4 and all(
        n["kubelet"].startswith("v1.34") for n in uclab.lke_state(core).values()), 120)
    uclab.simlab.force_delete_orphans(core)
    uclab.wait_for("apps back", lambda: uclab.simlab.deployments_available(apps) and
                   uclab.edge_status("api.lab.fournines.test") == 200, 180)
    admin.call("DELETE", "/requests")
    nodes_before = _lke_node_ids(admin)
    assert len(nodes_before) == 4
    admin.call("POST", "/faults/burst429", {"count": 6, "retry_after": 1, "path": "^/lke/"})
    admin.call("POST", "/faults", {"path": "^/lke/clusters/\\d+/(pools|nodes)", "status": 503, "rate": 0.2})
    admin.call("POST", "/faults", {"method": "POST", "path": "/recycle$", "status": 502, "count": 2})
    try:
        proc = uclab.run_playbook(uclab.extra_vars(tmp_path))
        faults = admin.call("GET", "/faults")
    finally:
        admin.call("DELETE", "/faults")
    assert proc.returncode == 0, proc.stdout[-4000:]
    hits = sum(rule.get("hits", 0) for rule in (faults.get("data") or faults.get("rules") or []))
    assert hits >= 8, "the faults did not fire: %s" % faults
    report = _assert_upgraded(admin, core, tmp_path, nodes_before)
    resized = [s["name"] for s in report["steps"] if s["name"].startswith("resize pool")]
    deleted = [s["name"] for s in report["steps"] if s["name"].startswith("delete node")]
    assert len(resized) == 2 and len(deleted) == 2, "each pool gets and loses its own surge node"
    api = report["report"]["probe"]["targets"]["api"]
    assert api["failed_requests"] == 0, api
    # the long waits' progress lines reach the play output (callback fournines.runbooks.progress)
    progress = [line for line in proc.stdout.splitlines() if line.startswith("  progress: ")]
    assert any("cordoned" in line for line in progress), proc.stdout[-4000:]
