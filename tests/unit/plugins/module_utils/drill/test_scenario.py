import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import scenario  # noqa: E402
from ansible_collections.fournines.runbooks.plugins.module_utils.drill import timeline  # noqa: E402
from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo  # noqa: E402
from drill_fixtures import NODE, T0, delete_drill  # noqa: E402

WEB = {"workload": "app/Deployment/web", "replicas": 1, "rwo_claims": ["web-data"], "pods": [],
       "unreachable_toleration_seconds": 300, "not_ready_toleration_seconds": 300}


def view(nodes, cluster=314159):
    return {"cluster": {"id": cluster}, "pools": [{"id": 7, "count": len(nodes), "nodes": nodes}]}


def lke_node(name, ready=True, unschedulable=False, instance=1):
    return {"id": "7-" + name, "instance_id": instance, "node_name": name, "ready": ready,
            "unschedulable": unschedulable, "status": "ready"}


@pytest.mark.parametrize("mode", ["delete", "shutdown", "drain"])
def test_known_modes(mode):
    assert scenario.validate_mode(mode) == mode


@pytest.mark.parametrize("mode", ["reboot", "", None, "DELETE"])
def test_unknown_mode_names_the_valid_ones(mode):
    with pytest.raises(scenario.DrillError, match="valid modes: delete, shutdown, drain"):
        scenario.validate_mode(mode)


@pytest.mark.parametrize("text,expected", [
    ("app/web", ("app", "Deployment", "deployments", "web")),
    ("db/statefulset/postgres", ("db", "StatefulSet", "statefulsets", "postgres")),
    ("app/Deployment/api", ("app", "Deployment", "deployments", "api")),
])
def test_parse_workload(text, expected):
    assert scenario.parse_workload(text) == expected


@pytest.mark.parametrize("text", ["web", "app/daemonset/x", "/web", "a/b/c/d", None])
def test_parse_workload_refuses_bad_input(text):
    with pytest.raises(scenario.DrillError, match="workload"):
        scenario.parse_workload(text)


def test_choose_named_node_and_unknown_node():
    v = view([lke_node("a"), lke_node("b")])
    assert scenario.choose_target(v, "node", "b")[0]["node_name"] == "b"
    with pytest.raises(scenario.DrillError, match="node 'zz' is not a node of LKE cluster 314159; its nodes are: a, b"):
        scenario.choose_target(v, "node", "zz")


def test_choose_workload_node_and_workload_without_pods():
    v = view([lke_node("a"), lke_node("b")])
    wl = dict(WEB, pods=[{"name": "web-1", "node": "b", "ready": True}], nodes=["b"])
    node, why = scenario.choose_target(v, "workload", workload=wl)
    assert node["node_name"] == "b" and "app/Deployment/web" in why
    with pytest.raises(scenario.DrillError, match="has no running pod"):
        scenario.choose_target(v, "workload", workload=dict(WEB, pods=[], nodes=[]))


def test_random_choice_is_repeatable_with_a_seed_and_only_ready_nodes():
    v = view([lke_node("a"), lke_node("b"), lke_node("c", ready=False)])
    picks = set(scenario.choose_target(v, "random", seed=s)[0]["node_name"] for s in range(30))
    assert picks == {"a", "b"}
    assert scenario.choose_target(v, "random", seed=4)[0] == scenario.choose_target(v, "random", seed=4)[0]


def test_health_problems():
    v = view([lke_node("a"), lke_node("b", ready=False), lke_node("c", unschedulable=True)])
    v["pools"][0]["count"] = 4
    problems = scenario.health_problems(v)
    assert "node b is not Ready" in problems and "node c is cordoned" in problems
    assert "pool 7 has 3 nodes, expected 4" in problems
    assert scenario.health_problems(view([lke_node("a")])) == []


def ledger_rec(start, seconds, mode="delete", source="node-failure-drill"):
    end = start + seconds
    return {"start": slo.format_time(slo.parse_time(start)), "end": slo.format_time(slo.parse_time(end)),
            "tags": ["drill", "mode:%s" % mode], "source": source}


def test_planned_downtime_from_the_last_drills_of_the_mode():
    recs = [ledger_rec(1000, 400), ledger_rec(5000, 30), ledger_rec(9000, 45), ledger_rec(12000, 60),
            ledger_rec(15000, 999, mode="shutdown"), ledger_rec(16000, 999, source="upgrade-cluster")]
    seconds, basis = scenario.planned_downtime(recs, "delete", estimate=10)
    assert seconds == 60  # the 400 s drill is older than the last three
    assert "last 3 delete drill" in basis
    assert scenario.planned_downtime(recs, "drain", estimate=90)[0] == 90
    with pytest.raises(scenario.DrillError, match="give an estimate"):
        scenario.planned_downtime(recs, "drain")
    with pytest.raises(scenario.DrillError, match="negative"):
        scenario.planned_downtime([], "drain", estimate=-1)


def test_budget_gate_refuses_a_drill_that_does_not_fit():
    # 99.99 % over 30 days allows 259.2 s; a 200 s outage is already in the ledger.
    now = 1_800_000_000
    recs = [ledger_rec(now - 3600, 200)]
    planned, dummy = scenario.planned_downtime(recs, "delete")
    report = slo.budget(99.99, "30d", recs, now=now)
    ok, reason = slo.budget_allows(report, planned)
    assert not ok and "below the reserve" in reason
    ok, dummy = slo.budget_allows(slo.budget(99.99, "30d", recs, now=now, exclude_tags=["drill"]), planned)
    assert ok


def test_ledger_record_spans_the_outage_once():
    obs, samples = delete_drill()
    tl = timeline.build(obs, samples, T0, NODE, "delete", "app")
    start, end, tags, note = scenario.ledger_record(tl, "run-1", "delete", NODE, T0)
    assert (start, end) == (T0, T0 + 29)
    assert tags == ["drill", "mode:delete"] and "29.0 s down" in note
    tl_up = timeline.build(obs, [dict(s, ok={"app": True}) for s in samples], T0, NODE, "delete", "app")
    assert scenario.ledger_record(tl_up, "run-1", "delete", NODE, T0) is None


def test_advice_for_a_single_replica_on_rwo_dominated_by_the_volume_wait():
    tl = timeline.build(*delete_drill(volume_wait=300), fault_ts=T0, node=NODE, mode="delete", probe_target="app")
    ids = [a["id"] for a in scenario.advise(tl, WEB)]
    assert ids[0] == "rwo-single-replica"
    text = scenario.advise(tl, WEB)[0]["text"]
    assert "web-data" in text and "out-of-service" in text and "%" in text
    assert "single-replica" in ids and "detection" in ids


def test_advice_depends_on_the_measurements():
    obs, samples = delete_drill(volume_wait=1)
    tl = timeline.build(obs, samples, T0, NODE, "delete", "app")
    ids = [a["id"] for a in scenario.advise(tl, dict(WEB, replicas=3, rwo_claims=[]))]
    assert "rwo-single-replica" not in ids and "single-replica" not in ids
    tl_up = timeline.build(obs, [dict(s, ok={"app": True}) for s in samples], T0, NODE, "delete", "app")
    assert "no-downtime" in [a["id"] for a in scenario.advise(tl_up, dict(WEB, replicas=3))]
    aborted = scenario.advise(tl, WEB, {"aborted": True, "downtime_limit": 20, "restored_by": ["out-of-service taint on x"]})
    assert aborted[0]["id"] == "aborted" and "20" in aborted[0]["text"]


def write_report(tmp_path, run_id, mode, downtime, segments, env="lab-fast", created="2026-11-01T00:00:00.00Z"):
    d = tmp_path / run_id
    d.mkdir()
    drill = {"mode": mode, "environment": env, "downtime_seconds": downtime,
             "segments": [{"name": k, "seconds": v} for k, v in segments.items()], "relative": {}}
    (d / "report.json").write_text(json.dumps({"runbook": "node-failure-drill", "run_id": run_id, "created": created,
                                                "status": "done", "report": {"drill": drill}}))


def test_history_and_comparison(tmp_path):
    write_report(tmp_path, "r1", "delete", 40.0, {"volume wait": 20.0}, created="2026-11-01T00:00:00.00Z")
    write_report(tmp_path, "r2", "delete", 30.0, {"volume wait": 12.0}, created="2026-11-02T00:00:00.00Z")
    write_report(tmp_path, "r3", "shutdown", 90.0, {"volume wait": 60.0})
    write_report(tmp_path, "r4", "delete", 500.0, {"volume wait": 400.0}, env="lab-production")
    prev = scenario.previous_reports(str(tmp_path), "delete", exclude_run="r9", environment="lab-fast")
    assert [p["run_id"] for p in prev] == ["r1", "r2"]
    comp = scenario.compare({"downtime_seconds": 33.0, "segments": {"volume wait": 14.0}}, prev)
    assert "33.0 s against 30.0 s" in comp["text"] and "+3.0 s" in comp["text"]
    assert "volume wait +2.0 s" in comp["text"]
    assert scenario.compare({"downtime_seconds": 1}, [])["rows"] == []


def test_toleration_advice_names_the_default_300_s():
    obs, samples = delete_drill()
    tl = timeline.build(obs, samples, T0, NODE, "delete", "app")
    for seg in tl["segments"]:
        if seg["name"] == "eviction toleration":
            seg["seconds"] = 300.0
    advice = dict((a["id"], a["text"]) for a in scenario.advise(tl, WEB))
    assert "tolerate node.kubernetes.io/unreachable and not-ready for 300 s" in advice["eviction-toleration"]
    short = dict((a["id"], a["text"]) for a in scenario.advise(tl, dict(WEB, unreachable_toleration_seconds=6)))
    assert "for only 6 s" in short["eviction-toleration"]


def test_drain_advice_does_not_blame_a_force_detach():
    obs, samples = delete_drill()
    tl = timeline.build(obs, samples, T0, NODE, "drain", "app")
    advice = dict((a["id"], a["text"]) for a in scenario.advise(tl, WEB))
    assert "even a planned drain takes it down" in advice["rwo-single-replica"]
    assert "force-detached" not in advice["rwo-single-replica"]


def test_wait_for_tells_each_milestone_once_and_what_is_still_awaited(monkeypatch):
    """Progress lines: every milestone as it is first seen, in the order it happened, and a line
    every PROGRESS_EVERY seconds while nothing new arrives."""
    from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline
    now = [T0 + 1.0]
    seen = [{"fault_injected": T0},
            {"fault_injected": T0, "app_down": T0 + 1.0, "node_not_ready": T0 + 0.5},
            {"fault_injected": T0, "app_down": T0 + 1.0, "node_not_ready": T0 + 0.5},
            {"fault_injected": T0, "app_down": T0 + 1.0, "node_not_ready": T0 + 0.5, "pod_ready": T0 + 70,
             "first_200": T0 + 71}]
    polls = iter(seen)

    def fake_snapshot(*args, **kwargs):
        return {"milestones": dict(next(polls))}

    def fake_sleep(seconds):
        now[0] += 35.0

    monkeypatch.setattr(scenario, "snapshot", fake_snapshot)
    lines = []
    tl = scenario.wait_for("w", "p", T0, NODE, "delete", "api", ["pod_ready", "first_200"],
                    Deadline(600, clock=lambda: now[0], sleep=fake_sleep), clock=lambda: now[0], progress=lines.append)
    assert tl["reached"]
    assert lines == ["fault injected at +0.0 s", "node NotReady at +0.5 s", "first failed request at the edge at +1.0 s",
                     "waiting for pod_ready, first_200 (71 s since the fault, outage 70 s)",
                     "replacement pod Ready at +70.0 s", "first 200 at the edge at +71.0 s"]


class _Workloads(object):
    """Answers GETs of apps/v1 objects from a dict keyed by path."""

    def __init__(self, objects):
        self.objects, self.asked = objects, []

    def get(self, path, ok_missing=False):
        self.asked.append(path)
        return self.objects.get(path)


def test_app_to_follow_reads_the_workloads_selector():
    kube = _Workloads({"/apis/apps/v1/namespaces/app/statefulsets/db": {"spec": {"selector": {"matchLabels": {"a": "b"}}}}})
    assert scenario.app_to_follow(kube, "app/StatefulSet/db") == {
        "namespace": "app", "selector": {"matchLabels": {"a": "b"}}, "workload": "app/StatefulSet/db"}
    assert scenario.app_to_follow(kube, "") is None and scenario.app_to_follow(kube, None) is None
    with pytest.raises(scenario.DrillError, match="workload app/web .*does not exist"):
        scenario.app_to_follow(kube, "app/web")
    assert kube.asked[-1] == "/apis/apps/v1/namespaces/app/deployments/web"
