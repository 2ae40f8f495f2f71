"""Surge rollout phases the other kill test (recycle under way) does not cover: a run killed mid-drain, and a
run killed after it chose the node that leaves the pool but before it deleted it. One seeded lab, three runs of
the same journal: killed mid-drain, resumed and killed after the exit-node choice, resumed to the end.

The end state must be the one an uninterrupted run leaves: every old node recycled once, the pool back at its
size on the target version, nothing cordoned, and exactly one node deleted: the one the journal chose before the
kill (a re-run that chose again could delete a node whose pods just moved there)."""

import json
import os

import uclab

CLUSTER = 314159


def _deletes(admin):
    """LKE node ids the simulator deleted (DELETE .../nodes/<id> answered 2xx)."""
    return [r["path"].rsplit("/", 1)[1] for r in uclab.requests(admin)
            if r["method"] == "DELETE" and "/lke/clusters/%d/nodes/" % CLUSTER in r["path"]
            and 200 <= int(r.get("status") or 0) < 300]


def _steps(reports_dir, prefix, status):
    _, journal = uclab.latest_run(reports_dir)
    return [s for s in journal["steps"] if s["name"].startswith(prefix) and s["status"] == status]


def _leaving_chosen(reports_dir):
    try:
        _, journal = uclab.latest_run(reports_dir)
    except (AssertionError, OSError, ValueError):
        return None
    return (journal.get("facts") or {}).get("leaving_nodes")


def test_kills_mid_drain_and_after_the_exit_node_choice_resume_and_delete_the_chosen_node_once(seeded_lab, tmp_path):
    admin, core, _ = seeded_lab
    nodes_before = sorted(n for n, v in admin.call("GET", "/state")["nodes"].items() if v["cluster_id"] == CLUSTER)
    variables = uclab.extra_vars(tmp_path)

    # 1. killed while the first old node drains (cordoned, pods evicted or being evicted)
    proc = uclab.run_playbook(variables, background=True)
    try:
        uclab.wait_step(tmp_path, "drain ", "running", timeout=400)
    finally:
        uclab.kill_group(proc)
    assert not _steps(tmp_path, "recycle", "done"), "the kill came too late: a node was already recycled"
    assert [n for n, v in uclab.lke_state(core).items() if v["unschedulable"]], "the killed drain left no cordon"

    # 2. resumed, killed once the node that leaves the pool is chosen (journalled) and before it is deleted
    proc = uclab.run_playbook(variables, background=True)
    try:
        chosen = uclab.wait_for("the exit node chosen", lambda: _leaving_chosen(tmp_path), 600, 0.1)
    finally:
        uclab.kill_group(proc)
    assert not _steps(tmp_path, "delete node", "done"), "the kill came too late: the exit node was already deleted"
    assert _deletes(admin) == []
    [choice] = chosen.values()

    # 3. resumed to the end
    again = uclab.run_playbook(variables)
    assert again.returncode == 0, again.stdout[-4000:]
    assert "resumed: carrying on where it stopped" in again.stdout

    assert _deletes(admin) == [choice["node_id"]], "the journalled exit node, deleted once: %s" % choice
    run_dir, journal = uclab.latest_run(tmp_path)
    assert journal["status"] == "done"
    assert journal["facts"]["leaving_nodes"] == chosen, "the re-run chose again instead of carrying on"
    state = uclab.lke_state(core)
    assert len(state) == len(nodes_before), state
    assert choice["node_name"] not in state
    assert all(n["kubelet"].startswith("v1.35") and not n["unschedulable"] for n in state.values()), state
    assert not any(k.startswith("runbooks.fournines.io/") for n in state.values() for k in n["annotations"]), state
    counts = uclab.recycles(admin)
    assert sorted(counts) == nodes_before and set(counts.values()) == {1}, "each old node recycled once: %s" % counts
    assert len([s for s in journal["steps"] if s["name"].startswith("resize pool")]) == 1, "surged twice"
    with open(os.path.join(run_dir, "report.json")) as handle:
        report = json.load(handle)
    assert report["report"]["summary"]["nodes_recycled"] == len(nodes_before)
