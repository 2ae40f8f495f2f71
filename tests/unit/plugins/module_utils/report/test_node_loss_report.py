"""report/node_loss.py: the node-loss responder's report (outage and phases per incident, the
Markdown sections)."""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.report import node_loss

T0 = 1764244800.0  # 2025-11-27T12:00:00Z


def incident(**kwargs):
    record = {"node": "lke7-11", "instance_id": 11, "verdict": "fenced", "reason": "instance offline",
              "outcome": "tainted", "last_heartbeat": T0, "lost_since": T0 + 40, "fenced": T0 + 42,
              "tainted": T0 + 45, "pods_gone": T0 + 50, "replaced": T0 + 80, "volumes_attached": T0 + 95,
              "pods": ["app/web-1"], "volumes": ["pv-1"]}
    record.update(kwargs)
    return record


def test_outage_runs_from_the_last_heartbeat_to_the_later_of_replaced_and_attached():
    start, end, phases = node_loss.outage(incident())
    assert (start, end) == (T0, T0 + 95)
    assert phases == [{"name": "detection", "seconds": 40.0}, {"name": "response", "seconds": 5.0},
                      {"name": "moving", "seconds": 50.0}]


def test_outage_starts_at_not_ready_without_a_heartbeat_and_ends_at_replaced_without_volumes():
    start, end, phases = node_loss.outage(incident(last_heartbeat=None, volumes_attached=None))
    assert (start, end) == (T0 + 40, T0 + 80)
    assert [p["name"] for p in phases] == ["detection", "response", "moving"] and phases[0]["seconds"] == 0.0


@pytest.mark.parametrize("missing", ["tainted", "replaced"])
def test_no_outage_is_measured_before_the_response_finished(missing):
    assert node_loss.outage(incident(**{missing: None})) is None
    assert node_loss.outage(incident(last_heartbeat=None, lost_since=None)) is None


def test_summarize_takes_the_longest_outage_and_lists_what_was_not_done():
    state = {"facts": {"incidents": {"b": incident(node="lke7-12", replaced=T0 + 200, volumes_attached=None),
                                     "a": incident(),
                                     "c": incident(node="lke7-13", tainted=None, outcome="held")}}}
    data = node_loss.summarize(state, skipped=[{"node": "n9", "reason": "Ready again"}],
                               holds=[{"runbook": "upgrade_cluster", "run_id": "r1"}])
    assert [i["node"] for i in data["incidents"]] == ["lke7-11", "lke7-12", "lke7-13"]  # by incident key
    assert data["incidents"][0]["outage_seconds"] == 95.0 and "outage_seconds" not in data["incidents"][2]
    assert data["outage_seconds"] == 200.0
    assert data["tainted"] == ["lke7-11", "lke7-12"]
    assert data["skipped"] == [{"node": "n9", "reason": "Ready again"}] and data["released"] == []


def test_sections_per_incident_and_for_what_was_skipped_held_or_released():
    data = node_loss.summarize({"facts": {"incidents": {"a": incident()}}},
                               skipped=[{"node": "n9", "reason": "Ready again"}],
                               holds=[{"runbook": "node_failure_drill", "run_id": "d1"}],
                               released=[{"node": "lke7-11", "reason": "node deleted"}])
    out = dict(node_loss.sections(data))
    body = out["Node lke7-11"]
    assert "- instance: 11, fencing verdict: **fenced** (instance offline)" in body
    assert "- outage: **95.0 s** (detection 40.0 s, response 5.0 s, moving 50.0 s)" in body
    assert "| last heartbeat | 2025-11-27T12:00:00Z |" in body and "| volumes attached elsewhere | 2025-11-27T12:01:35Z |" in body
    assert "taint gone" not in body  # no such milestone yet
    assert out["Not acted on"] == "- n9: Ready again"
    assert out["Held by"] == "- node_failure_drill run d1"
    assert out["Taint removed"] == "- lke7-11: node deleted"


def test_a_taint_not_applied_says_why():
    data = node_loss.summarize({"facts": {"incidents": {"a": incident(tainted=None, not_tainted="limit reached",
                                                                      pods=[], volumes=[])}}})
    body = dict(node_loss.sections(data))["Node lke7-11"]
    assert "- taint: not applied: limit reached" in body and "- pods: none" in body and "- volumes: none" in body
    assert "outage" not in body


def test_nothing_to_do():
    assert node_loss.sections(node_loss.summarize({})) == [("Nothing to do", "No lost node needed a response.")]
