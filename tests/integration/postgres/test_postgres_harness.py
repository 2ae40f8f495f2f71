"""The test harness keeps its runs out of the checkout's reports/: what a user ran there (a drill
that spent the month's error budget, `make demo`) changes no test's outcome, and no test writes
into it."""

import datetime
import glob
import json
import os

from pglab import REPO


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_spent_budget_in_the_checkout_does_not_gate_the_tests(start_state):
    lab = start_state
    reports = os.path.join(REPO, "reports")
    ledger = os.path.join(reports, "downtime.jsonl")
    # What the user hit: a production-profile drill charged 413 s, more than the month's 259 s.
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    spent = json.dumps({"start": _iso(start), "end": _iso(start + datetime.timedelta(seconds=413)),
                        "run_id": "harness-test-drill-%d" % os.getpid(), "tags": ["drill"]}) + "\n"
    os.makedirs(reports, exist_ok=True)
    created = not os.path.exists(ledger)
    ledger_text = "" if created else _read(ledger)
    if ledger_text and not ledger_text.endswith("\n"):
        ledger_text += "\n"
    ledger_text += spent
    with open(ledger, "w", encoding="utf-8") as handle:
        handle.write(ledger_text)
    try:
        users_runs = set(glob.glob(os.path.join(reports, "upgrade-postgres-*")))
        # The minor flow's budget gate (30 s planned) runs in check mode too.
        rc, out, _ = lab.playbook("postgres_upgrade=minor", "--check")
        assert rc == 0, out[-3000:]
        gate = out.split("Check the error budget for the switchover", 1)[1].split("TASK [", 1)[0]
        assert "ok: [" in gate, gate  # the gate ran, against the test's own (empty) ledger
        assert "check-mode-plan" in out
        # The user's files are untouched: the ledger as it was, no run folder of the tests.
        assert _read(ledger) == ledger_text
        assert set(glob.glob(os.path.join(reports, "upgrade-postgres-*"))) == users_runs
        assert not glob.glob(os.path.join(lab.reports_dir, "upgrade-postgres-*"))  # check mode writes nothing
    finally:
        # take back only the line this test added: anything else in the ledger is the user's
        rest = _read(ledger).replace(spent, "", 1)
        if created and not rest.strip():
            os.remove(ledger)
        else:
            with open(ledger, "w", encoding="utf-8") as handle:
                handle.write(rest)
