"""The run journal is what makes runbooks resumable: it must survive a restart."""

import json

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.report import journal
from ansible_collections.fournines.runbooks.plugins.module_utils.report import markdown
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError


def test_journal_resumes_from_disk(tmp_path):
    j = journal.RunJournal(str(tmp_path), "upgrade-1", "upgrade-cluster")
    assert not j.resumed
    j.step("drain node-a", "running", node="node-a")
    j.step("drain node-a", "done")
    again = journal.RunJournal(str(tmp_path), "upgrade-1", "upgrade-cluster")
    assert again.resumed and again.step_done("drain node-a") and not again.step_done("drain node-b")
    assert again.state["steps"][0]["details"] == {"node": "node-a"}


def test_journal_refuses_other_runbook_and_corrupt_state(tmp_path):
    journal.RunJournal(str(tmp_path), "r", "dns-migration").save()
    with pytest.raises(RunbookError, match="belongs to runbook 'dns-migration'"):
        journal.RunJournal(str(tmp_path), "r", "upgrade-cluster")
    (tmp_path / "r" / "state.json").write_text("{not json")
    with pytest.raises(RunbookError, match="corrupt"):
        journal.RunJournal(str(tmp_path), "r", "dns-migration")


@pytest.mark.parametrize("run_id", ["", "../x", ".hidden", "a/b"])
def test_bad_run_id(tmp_path, run_id):
    with pytest.raises(RunbookError, match="run id"):
        journal.RunJournal(str(tmp_path), run_id, "x")


def test_report_files(tmp_path):
    j = journal.RunJournal(str(tmp_path), "r1", "check-certificates")
    j.step("scan", "done", endpoints=3)
    j.finish("succeeded")
    paths = j.write_report("Certificates", [("Findings", markdown.markdown_table(["host", "days"], [["a|b", 3]]))],
                           data={"findings": 1})
    md = open(paths["markdown"]).read()
    assert "| scan | done |" in md and "a\\|b" in md and "**succeeded**" in md
    assert json.load(open(paths["json"]))["report"] == {"findings": 1}


def test_interrupted_runs_are_the_unfinished_ones_stuck_in_a_downtime_step(tmp_path):
    def run(run_id, runbook="upgrade-postgres", step=("switchover", "running"), finish=None):
        recorded = journal.RunJournal(str(tmp_path), run_id, runbook)
        recorded.step("preflight", "done")
        recorded.step(step[0], step[1])
        if finish:
            recorded.finish(finish)
        return recorded
    run("killed-in-switchover")
    run("killed-in-canary", step=("minor-canary", "running"))     # nothing down: a new run may start
    run("failed-in-switchover", finish="failed")                  # ended with its rescue and report
    run("done", step=("switchover", "done"), finish="done")
    run("other-runbook", runbook="upgrade-cluster")
    run("killed-in-major", step=("major-upgrade", "running"))
    found = journal.interrupted_runs(str(tmp_path), "upgrade-postgres", ["switchover", "major-upgrade"])
    assert sorted(r["run_id"] for r in found) == ["killed-in-major", "killed-in-switchover"]
    assert found[0]["started"] >= found[1]["started"]
    assert journal.interrupted_runs(str(tmp_path), "upgrade-postgres", ["switchover"],
                                   exclude="killed-in-switchover") == []
    assert journal.interrupted_runs(str(tmp_path / "missing"), "upgrade-postgres", ["switchover"]) == []


def test_run_documents_pass_over_folders_without_a_readable_file(tmp_path):
    journal.RunJournal(str(tmp_path), "b-run", "upgrade-cluster").save()
    journal.RunJournal(str(tmp_path), "a-run", "upgrade-cluster").save()
    (tmp_path / "cut-short").mkdir()
    (tmp_path / "cut-short" / "state.json").write_text('{"runbook": "upgrade-cluster", "sta')
    (tmp_path / "no-state").mkdir()
    (tmp_path / "stray-file").write_text("{}")
    found = journal.run_documents(str(tmp_path))
    assert [run_id for run_id, dummy in found] == ["a-run", "b-run"]
    assert found[0][1]["runbook"] == "upgrade-cluster" and found[0][1]["run_id"] == "a-run"
    assert journal.run_documents(str(tmp_path), "report.json") == []
    assert journal.run_documents(str(tmp_path / "missing")) == [] and journal.run_documents(None) == []
    # the unfinished run to carry on is the newest readable one; the cut-short journal is not taken
    assert journal.unfinished_run(str(tmp_path), "upgrade-cluster") in ("a-run", "b-run")


def test_record_merges_facts_and_records_the_step(tmp_path):
    run = journal.RunJournal(str(tmp_path), "r1", "test")
    params = dict((k, v.get("default")) for k, v in journal.RECORD_ARG_SPEC.items())
    assert journal.record(run, params) is False and run.state["steps"] == []
    params.update(step="canary", status="failed", details={"error": "boom"}, facts={"target": "15.20"})
    assert journal.record(run, params) is True
    saved = journal.RunJournal(str(tmp_path), "r1", "test").state
    assert saved["facts"]["target"] == "15.20"
    assert saved["steps"][0]["name"] == "canary" and saved["steps"][0]["status"] == "failed"
    assert saved["steps"][0]["details"] == {"error": "boom"}
    params.update(step=None, facts={"more": 1})
    assert journal.record(run, params) is True and journal.RunJournal(str(tmp_path), "r1", "test").state["facts"]["more"] == 1


def test_record_sets_and_an_empty_summary_removes_the_outcome(tmp_path):
    run = journal.RunJournal(str(tmp_path), "r1", "test")
    params = dict((k, v.get("default")) for k, v in journal.RECORD_ARG_SPEC.items())
    params["outcome"] = {"summary": "Rolled back.", "error": "boom", "changed": ["new pool 9 created, then deleted"],
                         "unchanged": ["pool 1"]}
    assert journal.record(run, params) is True
    saved = journal.RunJournal(str(tmp_path), "r1", "test").state
    assert saved["outcome"] == {"summary": "Rolled back.", "error": "boom",
                                "changed": ["new pool 9 created, then deleted"], "unchanged": ["pool 1"]}
    params["outcome"] = {"summary": "", "error": None, "changed": [], "unchanged": []}
    assert journal.record(run, params) is True
    assert "outcome" not in journal.RunJournal(str(tmp_path), "r1", "test").state
