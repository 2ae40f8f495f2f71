"""autopilot_wave_holds: from the ledger, the canary's prober samples and its downtime ledger to each
cluster's wave hold; a regression on the canary holds production; nothing is written."""

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import policy, windows
from ansible_collections.fournines.runbooks.plugins.modules import autopilot_wave_holds

POLICY = policy.validate({
    "windows": [{"start": "00:00", "end": "23:59"}], "min_release_age_days": 0,
    "components": {"lke_node_patch": {"patch": "auto"}, "lke_kubernetes": {"minor": "approve"}},
    "waves": [{"name": "canary", "clusters": ["staging"], "soak_hours": 2}, {"name": "rest", "clusters": ["production"]}],
})
APPLIED = "2026-12-04T20:00:00Z"
NOW = "2026-12-04T23:00:00Z"


def run(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            autopilot_wave_holds.main()
    return json.loads(capsys.readouterr().out)


def write_lines(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)


@pytest.fixture
def fleet(tmp_path):
    state = tmp_path / "autopilot"
    write_lines(str(state / "ledger.jsonl"), [
        {"ts": APPLIED, "event": "applied", "cluster": "staging", "component": "lke_node_patch", "candidate": "1.34.7"}])
    t0 = windows.parse_moment(APPLIED, windows.UTC, "t").timestamp()
    write_lines(str(state / "soak" / "staging" / "samples.jsonl"),
                [{"ts": t0 + i * 10, "ok": {"web": True}} for i in range(100)])
    clusters = [
        {"name": "staging", "observations": [{"component": "lke_node_patch", "current": "1.34.7", "available": ["1.34.7"]}],
         "probe_dir": str(state / "soak" / "staging"), "slo_ledger": str(tmp_path / "downtime-staging.jsonl")},
        {"name": "production", "observations": [{"component": "lke_node_patch", "current": "1.34.6",
                                                  "available": ["1.34.7"]}]},
    ]
    return {"policy": POLICY, "state_dir": str(state), "clusters": clusters, "now": NOW}, state, tmp_path


def test_a_soaked_healthy_canary_lets_production_go_and_nothing_is_written(fleet, capsys):
    args, state, tmp = fleet
    before = sorted(os.listdir(str(state)))
    out = run(args, capsys)
    assert not out.get("failed") and out["changed"] is False
    assert out["holds"] == {"staging": {}, "production": {"lke_node_patch": None}}
    assert out["wave_hold"] == {"staging": "", "production": ""}
    assert out["health"]["production"] == {"lke_node_patch": {}}
    assert [w["name"] for w in out["waves"]] == ["canary", "rest"]
    assert sorted(os.listdir(str(state))) == before


def test_prober_failures_on_the_canary_hold_production(fleet, capsys):
    args, state, _ = fleet
    t0 = windows.parse_moment(APPLIED, windows.UTC, "t").timestamp()
    write_lines(str(state / "soak" / "staging" / "samples.jsonl"),
                [{"ts": t0 + i * 10, "ok": {"web": i % 10 != 0}} for i in range(100)])
    out = run(args, capsys)
    assert out["wave_hold"]["production"].startswith(
        "wave rest waits for wave canary: staging regressed: its prober failed 10.0 % of 100 rounds")


def test_downtime_on_the_canary_holds_production(fleet, capsys):
    args, _, tmp = fleet
    write_lines(str(tmp / "downtime-staging.jsonl"), [{"start": "2026-12-04T21:00:00Z", "end": "2026-12-04T21:01:00Z"}])
    out = run(args, capsys)
    assert "its error budget fell by" in out["wave_hold"]["production"]


def test_a_canary_still_soaking_holds_production(fleet, capsys):
    args, _, _ = fleet
    out = run(dict(args, now="2026-12-04T21:00:00Z"), capsys)
    assert "soaks 2 h, until 2026-12-04T22:00:00Z" in out["wave_hold"]["production"]


def test_a_cluster_named_twice_is_refused(fleet, capsys):
    args, _, _ = fleet
    out = run(dict(args, clusters=args["clusters"] + [args["clusters"][0]]), capsys)
    assert out["failed"] and "named twice" in out["msg"]


def test_autopilot_decide_holds_each_component_on_its_own(tmp_path, capsys):
    """The holds of one cluster go to autopilot_decide as they are: only the held component waits."""
    from ansible_collections.fournines.runbooks.plugins.modules import autopilot_decide
    args = {"policy": POLICY, "state_dir": str(tmp_path / "autopilot"), "run_id": "autopilot-1", "cluster": "production",
            "observations": [{"component": "lke_node_patch", "current": "1.34.6", "available": ["1.34.7"]},
                             {"component": "lke_kubernetes", "current": "1.34", "available": ["1.34", "1.35"]}],
            "now": NOW, "wave_hold": {"lke_node_patch": "wave rest waits for wave canary: staging soaks", "lke_kubernetes": None}}
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            autopilot_decide.main()
    out = json.loads(capsys.readouterr().out)
    got = {d["component"]: d["decision"] for d in out["decisions"]}
    assert got == {"lke_node_patch": "wait: wave", "lke_kubernetes": "needs approval"}, out["decisions"]
    with patch_module_args(dict(args, wave_hold={"mysql": "x"})):
        with pytest.raises(SystemExit):
            autopilot_decide.main()
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] and "wave_hold: mysql is no component" in out["msg"]
