"""autopilot_policy / autopilot_decide / autopilot_record / autopilot_report: bad input is refused by
name and changes nothing; check mode writes nothing; a decision, its record and the report."""

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.fournines.runbooks.plugins.modules import (autopilot_decide, autopilot_policy,
                                                                    autopilot_record, autopilot_report)

POLICY = {"windows": [{"start": "20:00", "end": "02:00"}], "min_release_age_days": 0,
          "components": {"lke_node_patch": {"patch": "auto"}, "lke_kubernetes": {"minor": "approve"}}}
NOW = "2026-12-04T22:30:00Z"
OBS = [{"component": "lke_node_patch", "current": "1.33.2", "available": ["1.33.4"]},
       {"component": "lke_kubernetes", "current": "1.33", "available": ["1.33", "1.34"]}]


def run(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_policy_refusal_names_the_key(capsys):
    out = run(autopilot_policy, {"policy": dict(POLICY, components={"mysql": {"patch": "auto"}})}, capsys)
    assert out["failed"] and out["key"] == "components.mysql" and "lke_kubernetes" in out["msg"]
    out = run(autopilot_policy, {"policy": POLICY}, capsys)
    assert not out.get("failed") and out["policy"]["components"]["lke_node_patch"]["patch"] == "auto"


def decide_args(tmp_path, **more):
    args = {"policy": POLICY, "state_dir": str(tmp_path / "autopilot"), "run_id": "autopilot-1", "cluster": "lab",
            "observations": OBS, "now": NOW}
    args.update(more)
    return args


def test_decide_bad_policy_writes_nothing(tmp_path, capsys):
    out = run(autopilot_decide, decide_args(tmp_path, policy=dict(POLICY, windows=[{"start": "9", "end": "x"}])), capsys)
    assert out["failed"] and "windows[0]" in out["msg"]
    assert not (tmp_path / "autopilot").exists()


def test_decide_unknown_approval_writes_nothing(tmp_path, capsys):
    out = run(autopilot_decide, decide_args(tmp_path, approve="ap-lab-nothing"), capsys)
    assert out["failed"] and "matches no approval request" in out["msg"] and "Nothing was attempted" in out["msg"]
    assert not (tmp_path / "autopilot").exists()


def test_decide_check_mode_writes_nothing(tmp_path, capsys):
    out = run(autopilot_decide, decide_args(tmp_path, _ansible_check_mode=True), capsys)
    assert out["changed"] is False
    assert [d["decision"] for d in out["decisions"]] == ["apply", "needs approval"]
    assert out["acting"]["component"] == "lke_node_patch"
    assert not (tmp_path / "autopilot").exists()


def test_decide_record_report(tmp_path, capsys):
    out = run(autopilot_decide, decide_args(tmp_path), capsys)
    assert out["changed"] and [r["id"] for r in out["requests_new"]] == ["ap-lab-lke_kubernetes-1.34"]
    state = str(tmp_path / "autopilot")
    rec = run(autopilot_record, {"state_dir": state, "run_id": "autopilot-1", "event": "evidence",
                                 "decision": out["decisions"][1], "evidence": {"plan": "p/report.md"}}, capsys)
    assert rec["changed"]
    with open(os.path.join(state, "requests", "ap-lab-lke_kubernetes-1.34.json")) as handle:
        assert json.load(handle)["evidence"] == {"plan": "p/report.md"}
    rec = run(autopilot_record, {"state_dir": state, "run_id": "autopilot-1", "event": "started",
                                 "decision": out["acting"], "runbook_run_id": "upgrade-cluster-x"}, capsys)
    assert rec["record"]["event"] == "started" and rec["record"]["runbook_run_id"] == "upgrade-cluster-x"
    # the change just started spaces the next one
    again = run(autopilot_decide, decide_args(tmp_path, run_id="autopilot-2", now=None), capsys)
    assert again["decisions"][0]["decision"] in ("wait: too soon after the last change", "wait: outside window")
    rep = run(autopilot_report, {"reports_dir": str(tmp_path), "run_id": "autopilot-1", "status": "done",
                                 "summary": "applied lke_node_patch 1.33.4", "decisions": out["decisions"],
                                 "requests": out["requests_new"]}, capsys)
    with open(rep["paths"]["markdown"]) as handle:
        text = handle.read()
    assert "wait" not in text.split("## Decisions")[0] and "-e autopilot_approve=ap-lab-lke_kubernetes-1.34" in text
    # the request as stored, with the evidence its safe part attached (here a canary trial's figures)
    run(autopilot_record, {"state_dir": state, "run_id": "autopilot-1", "event": "evidence", "decision": out["decisions"][1],
                           "evidence": {"canary_trial": {"canary": "passed", "predicted_downtime_seconds": 38.4}}}, capsys)
    rep = run(autopilot_report, {"reports_dir": str(tmp_path), "run_id": "autopilot-1", "status": "done",
                                 "summary": "applied lke_node_patch 1.33.4", "decisions": out["decisions"],
                                 "requests": out["requests_new"]}, capsys)
    with open(rep["paths"]["markdown"]) as handle:
        assert "canary trial: passed, predicted downtime 38.4 s" in handle.read()
    with open(rep["paths"]["json"]) as handle:
        assert json.load(handle)["report"]["requests"][0]["evidence"]["plan"] == "p/report.md"


def test_record_evidence_without_request_fails(tmp_path, capsys):
    out = run(autopilot_record, {"state_dir": str(tmp_path), "run_id": "a", "event": "evidence",
                                 "decision": {"component": "postgres", "request_id": "ap-x"}}, capsys)
    assert out["failed"] and "ap-x" in out["msg"]
