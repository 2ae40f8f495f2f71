"""Unit tests for a run's outcome and structured sections in module_utils/report/journal.py: what
one step records survives a later report written by another task, in report.json and report.md alike."""

import json
import os

from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal


def _files(journal):
    with open(os.path.join(journal.dir, "report.json")) as handle:
        data = json.load(handle)
    with open(os.path.join(journal.dir, "report.md")) as handle:
        return data, handle.read()


def test_an_outcome_survives_a_report_written_later_and_both_files_carry_it(tmp_path):
    journal = RunJournal(str(tmp_path), "run-1", "upgrade-postgres")
    journal.step("major-canary", "failed", error="pg_upgrade failed (exit 1): a | b")
    journal.set_outcome("The trial failed; production was not touched.", error="pg_upgrade failed (exit 1): a | b",
                        changed=["pg-primary: a scratch clone, removed again"],
                        unchanged=["pg-primary: still the primary on 15.17", "pg-replica: still the replica on 15.17"])
    journal.finish("stopped-at-canary")
    journal.write_report("first", [("Canary", "x")])
    # the playbook's rescue writes the report again, with its own sections and status
    again = RunJournal(str(tmp_path), "run-1", "upgrade-postgres")
    again.finish("failed")
    again.write_report("PostgreSQL major upgrade", [("Versions", "15.17 -> unchanged")], data={"flow": "major"})
    data, md = _files(again)
    assert data["status"] == "failed"
    assert data["outcome"] == {"summary": "The trial failed; production was not touched.",
                               "error": "pg_upgrade failed (exit 1): a | b",
                               "changed": ["pg-primary: a scratch clone, removed again"],
                               "unchanged": ["pg-primary: still the primary on 15.17", "pg-replica: still the replica on 15.17"]}
    assert ("## What happened\n\nThe trial failed; production was not touched.\n\nError:\n\n```text\n"
            "pg_upgrade failed (exit 1): a | b\n```\n\nChanged:\n\n- pg-primary: a scratch clone, removed again\n\n"
            "Not changed:\n\n- pg-primary: still the primary on 15.17\n- pg-replica: still the replica on 15.17\n") in md
    assert md.index("## What happened") < md.index("## Steps") < md.index("## Versions")


def test_without_an_outcome_nothing_is_said_and_an_empty_summary_removes_one(tmp_path):
    journal = RunJournal(str(tmp_path), "run-2", "upgrade-postgres")
    journal.write_report("t")
    assert "What happened" not in _files(journal)[1]
    journal.set_outcome("failed once")
    journal.set_outcome(None)  # a run carried on again starts without it
    journal.write_report("t")
    data, md = _files(journal)
    assert "outcome" not in data and "What happened" not in md


def test_an_outcome_with_nothing_changed_says_so(tmp_path):
    journal = RunJournal(str(tmp_path), "run-3", "upgrade-postgres")
    journal.set_outcome("The check failed.", error="extension pgcrypto ... NOT provided", unchanged=["pg-primary"])
    journal.write_report("t")
    assert "Changed:\n\n- nothing\n\nNot changed:\n\n- pg-primary\n" in _files(journal)[1]


def test_sections_as_tables_and_lists(tmp_path):
    journal = RunJournal(str(tmp_path), "run-4", "upgrade-postgres")
    journal.write_report("t", [
        {"heading": "Check findings", "table": {"headers": ["result", "check", "finding"],
                                                "rows": [["ERROR", "pg_upgrade --check", "failed: a | b"],
                                                         ["ok", "settings", "line one\nline two"]]}},
        {"heading": "Empty", "table": {"headers": ["a"], "rows": []}},
        {"heading": "Said", "body": "no major upgrade check in this run", "table": {"headers": ["a"], "rows": []}},
        {"heading": "Items", "items": ["one", "two"]},
    ])
    md = _files(journal)[1]
    assert ("## Check findings\n\n| result | check | finding |\n| --- | --- | --- |\n"
            "| ERROR | pg_upgrade --check | failed: a \\| b |\n| ok | settings | line one line two |\n") in md
    assert "## Empty\n\nnone\n" in md
    assert "## Said\n\nno major upgrade check in this run\n" in md
    assert "## Items\n\n- one\n- two\n" in md
