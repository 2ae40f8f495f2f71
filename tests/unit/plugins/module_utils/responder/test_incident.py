import json
import os
import time

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.responder import incident

from responder_fixtures import node

TAINT = {"key": incident.OUT_OF_SERVICE_KEY, "value": "nodeshutdown", "effect": "NoExecute"}
OURS = {incident.INCIDENT: "respond-node-loss-1"}


def _fenced(n):
    return {"node": n["metadata"]["name"], "instance_id": 1, "verdict": "deleted", "fenced": True, "reason": "gone",
            "checked": 0}


def _state(tmp, run_id, runbook, status="running", facts=None, updated=None):
    os.makedirs(os.path.join(str(tmp), run_id))
    with open(os.path.join(str(tmp), run_id, "state.json"), "w") as handle:
        json.dump({"run_id": run_id, "runbook": runbook, "status": status, "facts": facts or {},
                   "created": "2026-12-04T10:00:00Z", "updated": updated or time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                        time.gmtime())}, handle)


def test_classify_sorts_lost_in_progress_and_healthy_tainted_nodes():
    nodes = [node("ok"), node("lost-b", "Unknown", since="2026-12-04T10:00:20Z"), node("lost-a", "False"),
             node("busy", "Unknown", taints=[TAINT], annotations=OURS),
             node("back", "True", taints=[TAINT], annotations=OURS),
             node("theirs", "True", taints=[TAINT])]  # someone else's taint: never ours to remove
    lost, in_progress, release = incident.classify(nodes)
    assert [n["metadata"]["name"] for n in lost] == ["lost-a", "lost-b"]
    assert [n["metadata"]["name"] for n in in_progress] == ["busy"]
    assert [n["metadata"]["name"] for n in release] == ["back"]


def test_the_limit_counts_unfinished_responses_and_reports_the_rest():
    nodes = [node("a", "Unknown", instance=1), node("b", "Unknown", instance=2, since="2026-12-04T10:00:30Z")]
    asked = []
    out = incident.plan(nodes, [], 1, [], lambda name, iid: None, lambda n: asked.append(n) or _fenced(n))
    assert [a["node"] for a in out["act"]] == ["a"]
    assert [s["node"] for s in out["skipped"]] == ["b"] and "limit of 1" in out["skipped"][0]["reason"]
    assert len(asked) == 1  # no API call for a node past the limit
    busy = nodes + [node("c", "Unknown", taints=[TAINT], annotations=OURS)]
    out = incident.plan(busy, [], 1, [], lambda name, iid: None, _fenced)
    assert out["act"] == [] and out["resume"] == ["c"]


def test_unfenced_held_and_already_handled_nodes_are_not_acted_on():
    nodes = [node("a", "Unknown", instance=1)]
    running = {"node": "a", "verdict": "running", "fenced": False, "reason": "instance 1 is running"}
    out = incident.plan(nodes, [], 1, [], lambda name, iid: None, lambda n: running)
    assert out["act"] == [] and out["skipped"][0]["verdict"] == "running"
    hold = [{"runbook": "upgrade-cluster", "run_id": "upgrade-cluster-1"}]
    out = incident.plan(nodes, [], 1, hold, lambda name, iid: None, _fenced)
    assert out["act"] == [] and "upgrade-cluster-1" in out["skipped"][0]["reason"]
    out = incident.plan(nodes, [], 1, hold, lambda name, iid: None, _fenced, ignore_holds=True)
    assert [a["node"] for a in out["act"]] == ["a"]
    out = incident.plan(nodes, [], 1, [], lambda name, iid: "respond-node-loss-0", _fenced)
    assert out["act"] == [] and "once per incident" in out["skipped"][0]["reason"]


def test_only_the_named_nodes_are_considered():
    nodes = [node("a", "Unknown", instance=1), node("b", "Unknown", instance=2)]
    out = incident.plan(nodes, ["b"], 5, [], lambda name, iid: None, _fenced)
    assert [a["node"] for a in out["act"]] == ["b"]


def test_running_upgrades_and_drills_of_this_cluster_hold_it(tmp_path):
    _state(tmp_path, "upgrade-cluster-1", "upgrade-cluster", facts={"key": "314159/pools-1"})
    _state(tmp_path, "node-failure-drill-1", "node-failure-drill", facts={"key": "314159", "responder": True})
    _state(tmp_path, "node-failure-drill-2", "node-failure-drill", status="done", facts={"key": "314159"})
    _state(tmp_path, "node-failure-drill-3", "node-failure-drill", facts={"key": "1"})
    _state(tmp_path, "node-failure-drill-4", "node-failure-drill", facts={"key": "314159"},
           updated="2026-01-01T00:00:00Z")  # abandoned long ago
    holding, allowing = incident.holds([str(tmp_path)], 314159)
    assert [h["run_id"] for h in holding] == ["upgrade-cluster-1"]
    assert [a["run_id"] for a in allowing] == ["node-failure-drill-1"]


def test_a_node_is_acted_on_once_per_incident(tmp_path):
    now = time.time()
    _state(tmp_path, "respond-node-loss-1", incident.RUNBOOK, facts={"incidents": {
        "a": {"node": "a", "instance_id": 1, "tainted": now - 60}}})
    assert incident.handled_recently(str(tmp_path), "a", 1, 1800, now) == "respond-node-loss-1"
    assert incident.handled_recently(str(tmp_path), "a", 2, 1800, now) is None     # a new instance: a new incident
    assert incident.handled_recently(str(tmp_path), "a", 1, 30, now) is None


@pytest.mark.parametrize("status, lost", [("True", False), ("False", True), ("Unknown", True)])
def test_lost_means_ready_is_not_true(status, lost):
    assert incident.is_lost(node("a", status)) is lost


def test_the_last_heartbeat_is_the_leases_renewal_when_there_is_one():
    lost = node("a", "Unknown", heartbeat="2026-12-04T09:55:00Z")
    assert incident.last_heartbeat(lost) == incident.parse_time("2026-12-04T09:55:00Z").timestamp()
    lease = {"spec": {"renewTime": "2026-12-04T10:00:02.123456Z"}}
    assert incident.last_heartbeat(lost, lease) == incident.parse_time("2026-12-04T10:00:02.123456Z").timestamp()
    out = incident.plan([node("a", "Unknown", instance=1)], [], 1, [], lambda name, iid: None, _fenced,
                        lease=lambda name: lease)
    assert out["act"][0]["last_heartbeat"] == incident.parse_time("2026-12-04T10:00:02.123456Z").timestamp()
