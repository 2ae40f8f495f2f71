import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "drill"))

from ansible_collections.fournines.runbooks.plugins.module_utils.report import node_drill  # noqa: E402
from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo  # noqa: E402
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal  # noqa: E402
from drill_fixtures import NODE, T0, delete_drill  # noqa: E402

WEB = {"workload": "app/Deployment/web", "replicas": 1, "rwo_claims": ["web-data"],
       "unreachable_toleration_seconds": 6}


def prepare(tmp_path, run_id="node-failure-drill-x"):
    obs, samples = delete_drill()
    run = tmp_path / run_id
    (run / "watch").mkdir(parents=True)
    (run / "probe").mkdir()
    (run / "watch" / "observations.jsonl").write_text("".join(json.dumps(o) + "\n" for o in obs) + '{"cut sho')
    (run / "probe" / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    journal = RunJournal(str(tmp_path), run_id, "node-failure-drill")
    journal.step("inject", "done")
    return run


def test_produce_writes_markdown_json_png_and_charges_the_ledger_once(tmp_path):
    run = prepare(tmp_path)
    ledger = str(tmp_path / "ledger.jsonl")
    args = (str(tmp_path), "node-failure-drill-x", str(run / "watch"), str(run / "probe"), T0, NODE, "delete", "app",
            1.0, WEB, {"why": "runs a pod of app/Deployment/web", "environment": "lab-fast"}, ledger)
    result, recorded = node_drill.produce(*args)
    assert recorded is True
    with open(result["chart"], "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    md = open(result["markdown"]).read()
    assert "| volume wait | 12.5 |" in md
    assert "Multi-Attach warning" in md and "![timeline](timeline.png)" in md
    assert "All observed milestones came in the expected order." in md
    data = json.load(open(result["json"]))
    assert data["report"]["drill"]["downtime_seconds"] == 29.0
    assert data["steps"][0]["name"] == "inject"
    records = slo.read_ledger(ledger)
    assert len(records) == 1 and records[0]["tags"] == ["drill", "mode:delete"]
    assert records[0]["run_id"] == "node-failure-drill-x"
    again, recorded_again = node_drill.produce(*args)
    assert recorded_again is False and len(slo.read_ledger(ledger)) == 1


def test_check_mode_writes_nothing(tmp_path):
    run = prepare(tmp_path)
    ledger = str(tmp_path / "ledger.jsonl")
    result, recorded = node_drill.produce(str(tmp_path), "node-failure-drill-x", str(run / "watch"), str(run / "probe"), T0,
                                 NODE, "delete", "app", 1.0, WEB, {}, ledger, check_mode=True)
    assert not recorded and not os.path.exists(ledger)
    assert not os.path.exists(result["chart"]) and not os.path.exists(result["markdown"])
    assert result["drill"]["relative"]["pod_ready"] == 28
