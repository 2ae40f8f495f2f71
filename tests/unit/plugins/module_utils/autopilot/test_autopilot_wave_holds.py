"""Fleets in waves: the canary cluster first, the rest only after it soaked without a regression."""

import datetime

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import decide, policy, waves, windows

UTC = datetime.timezone.utc


def at(text):
    return windows.parse_moment(text, UTC, "now")


def make_policy(**over):
    doc = {
        "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59"}],
        "min_release_age_days": 0,
        "min_hours_between_changes": 0,
        "components": {"lke_node_patch": {"patch": "auto"}, "lke_kubernetes": {"minor": "auto"}},
        "waves": [{"name": "canary", "clusters": ["staging"], "soak_hours": 24},
                  {"name": "rest", "clusters": ["production"]}],
        "regression": {"max_probe_failure_percent": 1.0, "max_budget_drop_percent": 10},
    }
    doc.update(over)
    return policy.validate(doc)


POLICY = make_policy()
APPLIED = "2026-12-03T02:00:00Z"


def fleet(staging=None, production=None):
    base = {"staging": {"current": "1.34.6", "applied": None, "health": None},
            "production": {"current": "1.34.6", "applied": None, "health": None}}
    base["staging"].update(staging or {})
    base["production"].update(production or {})
    return base


def test_plan_orders_the_waves_and_puts_unlisted_clusters_last():
    got = waves.plan(POLICY, ["production", "dev", "staging"])
    assert [(w["name"], w["clusters"], w["soak_hours"]) for w in got] == [
        ("canary", ["staging"], 24.0), ("rest", ["production"], 0.0), (waves.UNLISTED, ["dev"], 0.0)]
    # a wave whose clusters are not in this run (--limit) is left out, it holds nobody
    assert [w["name"] for w in waves.plan(POLICY, ["production"])] == ["rest"]
    # no waves: one wave of everything, nothing is ever held
    plain = make_policy(waves=[])
    assert waves.plan(plain, ["a", "b"]) == [{"name": waves.UNLISTED, "clusters": ["a", "b"], "soak_hours": 0.0}]
    assert waves.holds(plain, "lke_node_patch", "1.34.7", fleet(), at(APPLIED)) == {"staging": None, "production": None}


def test_the_canary_goes_first_and_the_rest_waits_for_it():
    got = waves.holds(POLICY, "lke_node_patch", "1.34.7", fleet(), at(APPLIED))
    assert got["staging"] is None
    assert got["production"] == ("wave rest waits for wave canary: staging has not taken lke_node_patch 1.34.7 yet "
                                 "(it runs 1.34.6)")


@pytest.mark.parametrize("now, held", [
    ("2026-12-03T02:00:00Z", True),
    ("2026-12-04T01:59:59Z", True),    # 1 s before 24 h of soak
    ("2026-12-04T02:00:00Z", False),   # soaked
])
def test_the_rest_waits_until_the_canary_soaked(now, held):
    got = waves.holds(POLICY, "lke_node_patch", "1.34.7",
                      fleet(staging={"current": "1.34.7", "applied": APPLIED, "health": {}}), at(now))
    assert got["staging"] is None
    if held:
        assert "staging took 1.34.7 at 2026-12-03T02:00:00Z and soaks 24 h, until 2026-12-04T02:00:00Z" in got["production"]
    else:
        assert got["production"] is None


@pytest.mark.parametrize("health, words", [
    ({"probe_failure_percent": 3.5, "probe_rounds": 200}, "its prober failed 3.5 % of 200 rounds (the policy allows 1 %)"),
    ({"budget_drop_percent": 12.0}, "its error budget fell by 12.0 points (the policy allows 10)"),
])
def test_a_regression_on_the_canary_stops_the_rest(health, words):
    got = waves.holds(POLICY, "lke_node_patch", "1.34.7",
                      fleet(staging={"current": "1.34.7", "applied": APPLIED, "health": health}),
                      at("2026-12-05T02:00:00Z"))
    assert got["staging"] is None
    assert got["production"].startswith("wave rest waits for wave canary: staging regressed: " + words)
    assert "the later waves do not get 1.34.7 until a person looks" in got["production"]


def test_within_the_thresholds_is_no_regression():
    health = {"probe_failure_percent": 1.0, "probe_rounds": 100, "budget_drop_percent": 10.0}
    got = waves.holds(POLICY, "lke_node_patch", "1.34.7",
                      fleet(staging={"current": "1.34.7", "applied": APPLIED, "health": health}),
                      at("2026-12-05T02:00:00Z"))
    assert got == {"staging": None, "production": None}


def test_a_canary_already_newer_lets_the_rest_take_an_older_candidate():
    # staging went on to 1.35 by hand (no ledger event): production may take its 1.34 patch
    got = waves.holds(POLICY, "lke_node_patch", "1.34.7", fleet(staging={"current": "1.35.4"}), at(APPLIED))
    assert got["production"] is None


def test_three_waves_the_third_waits_for_every_earlier_one():
    pol = make_policy(waves=[{"name": "canary", "clusters": ["staging"], "soak_hours": 1},
                             {"name": "eu", "clusters": ["eu1", "eu2"], "soak_hours": 2},
                             {"name": "us", "clusters": ["us1"]}])
    state = {"staging": {"current": "1.35", "applied": "2026-12-01T00:00:00Z"},
             "eu1": {"current": "1.35", "applied": "2026-12-01T05:00:00Z"},
             "eu2": {"current": "1.34"}, "us1": {"current": "1.34"}}
    got = waves.holds(pol, "lke_kubernetes", "1.35", state, at("2026-12-02T00:00:00Z"))
    assert got["staging"] is None and got["eu1"] is None and got["eu2"] is None
    assert got["us1"] == "wave us waits for wave eu: eu2 has not taken lke_kubernetes 1.35 yet (it runs 1.34)"


def test_applied_at_reads_the_ledger_applied_events():
    events = [
        {"ts": "2026-12-01T00:00:00Z", "event": "started", "cluster": "staging", "component": "lke_node_patch",
         "candidate": "1.34.7"},
        {"ts": "2026-12-01T00:10:00Z", "event": "applied", "cluster": "staging", "component": "lke_node_patch",
         "candidate": "1.34.7"},
        {"ts": "2026-12-02T00:10:00Z", "event": "applied", "cluster": "production", "component": "lke_node_patch",
         "candidate": "1.34.7"},
        {"ts": "2026-12-03T00:10:00Z", "event": "applied", "cluster": "staging", "component": "lke_node_patch",
         "candidate": "1.34.8"},
        {"ts": "2026-12-04T00:10:00Z", "event": "applied", "cluster": "staging", "component": "lke_kubernetes",
         "candidate": "1.35"},
    ]
    assert waves.applied_at(events, "staging", "lke_node_patch", "1.34.7") == "2026-12-03T00:10:00Z"
    assert waves.applied_at(events, "staging", "lke_node_patch", "1.34.9") is None
    assert waves.applied_at(events, "production", "lke_node_patch", "1.34.7") == "2026-12-02T00:10:00Z"


def test_probe_failure_percent_counts_rounds_since_the_change():
    t0 = at(APPLIED).timestamp()
    samples = [{"ts": t0 - 10, "ok": {"web": False}}]                       # before: not counted
    samples += [{"ts": t0 + i, "ok": {"web": True, "api": i % 50 != 0}} for i in range(200)]
    assert waves.probe_failure_percent(samples, APPLIED) == (2.0, 200)
    assert waves.probe_failure_percent([], APPLIED) == (0.0, 0)


def test_budget_drop_since_the_change():
    intervals = [{"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T00:01:00Z"},    # before: not a drop
                 {"start": "2026-12-03T03:00:00Z", "end": "2026-12-03T03:05:12Z"}]    # 312 s after
    drop = waves.budget_drop(intervals, 99.9, "30d", APPLIED, "2026-12-04T00:00:00Z")
    # 30 days at 99.9 % allow 2592 s; 312 s of them are 12.037 points
    assert drop == pytest.approx(12.037, abs=0.01)
    assert waves.regression(POLICY, "staging", {"budget_drop_percent": drop}).startswith("staging regressed")


def test_a_held_wave_becomes_the_decision_wait_wave():
    hold = waves.holds(POLICY, "lke_node_patch", "1.34.7", fleet(), at(APPLIED))["production"]
    item = {"cluster": "production", "component": "lke_node_patch", "current": "1.34.6", "candidate": "1.34.7",
            "first_seen": "2026-11-20T00:00:00Z", "wave_hold": hold}
    got = decide.decide(POLICY, item, at(APPLIED))
    assert got["decision"] == "wait: wave" and got["detail"] == hold
