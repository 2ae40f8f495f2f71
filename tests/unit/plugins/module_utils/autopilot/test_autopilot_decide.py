"""The autopilot's decisions: windows across midnight and time zones, freezes, ages, budget,
spacing, one change per run, approvals with expiry and denial."""

import datetime

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import decide, policy, windows

UTC = datetime.timezone.utc


def at(text):
    return windows.parse_moment(text, UTC, "now")


def make_policy(**over):
    doc = {
        "timezone": "Europe/Berlin",
        # Friday 22:00 to Saturday 04:00 Berlin time (21:00-03:00 UTC in winter).
        "windows": [{"days": ["fri"], "start": "22:00", "end": "04:00"}],
        "freezes": [{"start": "2026-12-20", "end": "2027-01-04", "reason": "holidays"}],
        "min_release_age_days": 3,
        "min_error_budget_percent": 25,
        "min_hours_between_changes": 24,
        "components": {
            "lke_kubernetes": {"minor": "approve", "major": "never"},
            "lke_node_patch": {"patch": "auto"},
            "postgres": {"patch": "auto", "major": "approve"},
        },
    }
    doc.update(over)
    return policy.validate(doc)


POLICY = make_policy()
# Friday 2026-12-04 23:30 Berlin = 22:30 UTC: inside the window.
INSIDE = at("2026-12-04T22:30:00Z")


def item(component="lke_node_patch", current="1.33.2", candidate="1.33.4", **more):
    base = {"cluster": "lab", "component": component, "current": current, "candidate": candidate,
            "first_seen": "2026-11-20T00:00:00Z"}
    base.update(more)
    return base


@pytest.mark.parametrize("now, inside", [
    ("2026-12-04T20:59:00Z", False),  # Fri 21:59 Berlin
    ("2026-12-04T21:00:00Z", True),   # Fri 22:00 Berlin: opens
    ("2026-12-05T01:30:00Z", True),   # Sat 02:30 Berlin: after midnight, still Friday's window
    ("2026-12-05T02:59:00Z", True),   # Sat 03:59
    ("2026-12-05T03:00:00Z", False),  # Sat 04:00 Berlin: closed (end excluded)
    ("2026-12-05T21:30:00Z", False),  # Sat 22:30: Saturday has no window
    ("2026-12-03T23:00:00Z", False),  # Fri 00:00 Berlin belongs to Thursday's (absent) window
])
def test_window_across_midnight_in_its_time_zone(now, inside):
    got, detail = windows.window_state(at(now), POLICY["windows"], POLICY["timezone"])
    assert got is inside, detail


def test_window_follows_daylight_saving():
    wins = [{"days": ["sun"], "start": "01:00", "end": "05:00", "timezone": "Europe/Berlin"}]
    # 2026-03-29: clocks go 02:00 -> 03:00 in Berlin; 05:00 CEST is 03:00 UTC, 01:00 CET is 00:00 UTC.
    assert windows.window_state(at("2026-03-29T00:00:00Z"), wins)[0] is True
    assert windows.window_state(at("2026-03-29T02:59:00Z"), wins)[0] is True
    assert windows.window_state(at("2026-03-29T03:00:00Z"), wins)[0] is False


def test_outside_window_says_when_it_opens():
    inside, detail = windows.window_state(at("2026-12-02T10:00:00Z"), POLICY["windows"], POLICY["timezone"])
    assert not inside and "2026-12-04T21:00:00Z" in detail


def test_freeze_in_policy_time_zone():
    # The freeze starts 2026-12-20 00:00 Berlin = 2026-12-19 23:00 UTC.
    assert windows.freeze_state(at("2026-12-19T22:59:00Z"), POLICY["freezes"], POLICY["timezone"])[0] is False
    frozen, detail = windows.freeze_state(at("2026-12-19T23:00:00Z"), POLICY["freezes"], POLICY["timezone"])
    assert frozen and "holidays" in detail
    assert windows.freeze_state(at("2027-01-03T23:00:00Z"), POLICY["freezes"], POLICY["timezone"])[0] is False


@pytest.mark.parametrize("component, current, candidate, kind", [
    ("lke_node_patch", "1.33.2", "1.33.4", "patch"),
    ("lke_kubernetes", "1.33", "1.34", "minor"),
    ("lke_kubernetes", "1.34", "2.0", "major"),
    ("postgres", "15.18", "15.20", "patch"),
    ("postgres", "15.20", "17.6", "major"),
    ("postgres", "15.20", "15.18", None),
    ("lke_kubernetes", "1.34", "1.34", None),
])
def test_change_kind(component, current, candidate, kind):
    assert decide.change_kind(component, current, candidate) == kind


def test_auto_patch_inside_window_applies():
    got = decide.decide(POLICY, item(), INSIDE)
    assert got["decision"] == "apply" and got["kind"] == "patch" and got["mode"] == "auto"
    assert got["age_days"] > 3


def test_auto_patch_outside_window_waits():
    got = decide.decide(POLICY, item(), at("2026-12-02T10:00:00Z"))
    assert got["decision"] == "wait: outside window"


def test_up_to_date_and_never():
    assert decide.decide(POLICY, item(candidate=None), INSIDE)["decision"] == "up to date"
    got = decide.decide(POLICY, item("lke_kubernetes", "1.34", "2.0"), INSIDE)
    assert got["decision"] == "never" and got["kind"] == "major"


@pytest.mark.parametrize("first_seen, decision", [
    ("2026-12-04T00:00:00Z", "wait: too new"),   # 0.9 days
    ("2026-12-01T22:31:00Z", "wait: too new"),   # a minute short of 3 days
    ("2026-12-01T22:30:00Z", "apply"),           # exactly 3 days
])
def test_release_age(first_seen, decision):
    assert decide.decide(POLICY, item(first_seen=first_seen), INSIDE)["decision"] == decision


def test_never_seen_before_is_too_new():
    got = decide.decide(POLICY, item(first_seen=None), INSIDE)
    assert got["decision"] == "wait: too new" and got["age_days"] == 0


def test_component_release_age_overrides_the_default():
    pol = make_policy(components={"lke_node_patch": {"patch": "auto", "min_release_age_days": 0}})
    assert decide.decide(pol, item(first_seen=None), INSIDE)["decision"] == "apply"


@pytest.mark.parametrize("remaining, decision", [(24.9, "wait: budget"), (25.0, "apply"), (None, "apply")])
def test_budget(remaining, decision):
    assert decide.decide(POLICY, item(budget_remaining_percent=remaining), INSIDE)["decision"] == decision


def test_freeze_blocks_even_inside_a_window():
    pol = make_policy(freezes=[{"start": "2026-12-04T12:00", "end": "2026-12-05T12:00", "reason": "launch"}])
    got = decide.decide(pol, item(), INSIDE)
    assert got["decision"] == "wait: frozen" and "launch" in got["detail"]


@pytest.mark.parametrize("last, decision", [
    ("2026-12-04T00:00:00Z", "wait: too soon after the last change"),
    ("2026-12-03T22:30:00Z", "apply"),
    (None, "apply"),
])
def test_spacing_between_changes(last, decision):
    assert decide.decide(POLICY, item(last_change=last), INSIDE)["decision"] == decision


def test_one_disruptive_change_per_run():
    items = [item("postgres", "15.18", "15.20"), item()]
    got = decide.decide_all(POLICY, items, INSIDE)
    assert [d["component"] for d in got] == ["lke_node_patch", "postgres"]
    assert [d["decision"] for d in got] == ["apply", "wait: one change per run"]


def test_non_disruptive_component_does_not_count():
    comps = {"lke_node_patch": {"patch": "auto", "disruptive": False}, "postgres": {"patch": "auto"}}
    pol = make_policy(components=comps)
    got = decide.decide_all(pol, [item(), item("postgres", "15.18", "15.20")], at("2026-12-02T10:00:00Z"))
    assert [d["decision"] for d in got] == ["apply", "wait: outside window"]


def test_interrupted_run_resumes_first_and_blocks_the_rest():
    items = [item(), item("postgres", "15.18", "15.20", interrupted="upgrade-postgres-x")]
    got = decide.decide_all(POLICY, items, at("2026-12-02T10:00:00Z"))
    assert got[0]["component"] == "postgres" and got[0]["decision"] == "resume"
    assert got[1]["decision"] == "wait: outside window"
    got = decide.decide_all(POLICY, items, INSIDE)
    assert got[1]["decision"] == "wait: one change per run"


def test_components_not_in_the_policy_are_left_out():
    pol = make_policy(components={"lke_node_patch": {"patch": "auto"}})
    assert [d["component"] for d in decide.decide_all(pol, [item(), item("postgres", "15.18", "15.20")], INSIDE)] == [
        "lke_node_patch"]


MINOR = dict(component="lke_kubernetes", current="1.33", candidate="1.34")
RID = "ap-lab-lke_kubernetes-1.34"


def request(status="pending", expires="2026-12-07T00:00:00Z"):
    return {"id": RID, "status": status, "expires": expires, "candidate": "1.34"}


def test_minor_needs_approval_even_outside_window():
    got = decide.decide(POLICY, item(**MINOR), at("2026-12-02T10:00:00Z"))
    assert got["decision"] == "needs approval" and got["request_id"] == RID


def test_pending_request_still_needs_approval():
    got = decide.decide(POLICY, item(request=request(), **MINOR), INSIDE)
    assert got["decision"] == "needs approval" and "waiting" in got["detail"]


def test_approval_applies_inside_window_only():
    got = decide.decide(POLICY, item(request=request(), approve_id=RID, **MINOR), INSIDE)
    assert got["decision"] == "apply" and got["request_id"] == RID and "approved" in got["detail"]
    got = decide.decide(POLICY, item(request=request(), approve_id=RID, **MINOR), at("2026-12-05T10:00:00Z"))
    assert got["decision"] == "wait: outside window"
    # approved on an earlier run (outside the window), applied on this one
    assert decide.decide(POLICY, item(request=request("approved"), **MINOR), INSIDE)["decision"] == "apply"


def test_approval_for_another_request_does_not_count():
    got = decide.decide(POLICY, item(request=request(), approve_id="ap-lab-postgres-17.6", **MINOR), INSIDE)
    assert got["decision"] == "needs approval"


@pytest.mark.parametrize("req, approve, decision", [
    (request("denied"), None, "skip: denied"),
    (request("denied"), RID, "skip: denied"),
    (request("expired"), None, "skip: expired"),
    (request(expires="2026-12-04T22:00:00Z"), None, "skip: expired"),
    (request(expires="2026-12-04T22:00:00Z"), RID, "skip: expired"),
    (request(expires="2026-12-04T22:31:00Z"), RID, "apply"),
])
def test_denied_or_expired_not_asked_again(req, approve, decision):
    got = decide.decide(POLICY, item(request=req, approve_id=approve, **MINOR), INSIDE)
    assert got["decision"] == decision


def test_request_ids_are_per_version_and_safe():
    assert decide.request_id("prod eu", "postgres", "17.6") == "ap-prod_eu-postgres-17.6"


def test_bad_version_is_an_error():
    with pytest.raises(decide.DecisionError):
        decide.change_kind("postgres", "latest", "15.20")
