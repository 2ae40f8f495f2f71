"""The canary trial an approval request shows: read from the report of a PostgreSQL run stopped at its gate, of
either backend."""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import evidence

HOST_STOPPED = {
    "run_id": "upgrade-postgres-x-canary", "status": "stopped-at-gate",
    "facts": {"flow": "major", "predicted_downtime_seconds": "41.25", "gate_open": False,
              "gate_reason": "budget: fits; confirmation: missing (run with -e postgres_major_confirm=true)"},
    "steps": [{"name": "preflight", "status": "done", "details": {}},
              {"name": "major-check", "status": "done", "details": {}},
              {"name": "major-canary", "status": "done", "details": {"upgrade_seconds": 12.5, "tables_compared": 3}},
              {"name": "major-gate", "status": "skipped",
               "details": {"open": False, "reason": "budget: fits; confirmation: missing (run with -e postgres_major_confirm=true)"}}],
}
CNPG_STOPPED = {
    "run_id": "upgrade-postgres-x-canary", "backend": "cloudnative_pg", "flow": "major", "status": "failed",
    "error": "production pgop/pg was not upgraded: the canary predicts 38.4 s of write downtime (planned with a margin "
             "of 25 %); budget: fits; confirmation: missing (run with -e postgres_major_confirm=true). Nothing of "
             "production was changed.",
    "steps": [{"step": "preflight", "status": "ok", "detail": "healthy on lab/pg:17.6"},
              {"step": "canary", "status": "ok", "detail": "clone upgraded in place to 18.1: primary back after 38.4 s "
                                                            "(the predicted downtime), healthy after 51.0 s; 4 smoke queries passed"},
              {"step": "Gate - error budget and explicit confirmation", "status": "failed",
               "detail": "production pgop/pg was not upgraded: the canary predicts 38.4 s ... confirmation: missing"}],
}


def test_host_run_stopped_at_its_gate():
    got = evidence.canary_evidence(HOST_STOPPED)
    assert got["canary"] == "passed" and got["predicted_downtime_seconds"] == 41.25
    assert got["runbook_status"] == "stopped-at-gate" and "confirmation: missing" in got["gate"]
    assert "upgrade_seconds 12.5" in got["canary_detail"]


def test_cloudnative_pg_run_stopped_at_its_gate():
    got = evidence.canary_evidence(CNPG_STOPPED)
    assert (got["canary"], got["predicted_downtime_seconds"], got["runbook_status"]) == ("passed", 38.4, "failed")
    assert got["gate"].startswith("production pgop/pg was not upgraded") and "primary back after" in got["canary_detail"]


def test_cloudnative_pg_run_stopped_at_its_gate_as_the_runbook_reports_it_now():
    # status stopped-at-gate and the gate step "refused" (before: "failed" for both)
    steps = [dict(s, status="refused") if s["step"].startswith("Gate") else s for s in CNPG_STOPPED["steps"]]
    got = evidence.canary_evidence(dict(CNPG_STOPPED, status="stopped-at-gate", steps=steps))
    assert (got["canary"], got["predicted_downtime_seconds"], got["runbook_status"]) == ("passed", 38.4, "stopped-at-gate")
    assert got["gate"].startswith("production pgop/pg was not upgraded") and "primary back after" in got["canary_detail"]


@pytest.mark.parametrize("report, verdict", [
    # the host trial failed: its rescue recorded the step failed, with the error
    (dict(HOST_STOPPED, status="failed", facts={}, steps=[{"name": "major-canary", "status": "failed",
                                                           "details": {"error": "pg_upgrade --check: extension x missing"}}]),
     "failed"),
    # the operator's trial failed at a canary task: that failed step is the canary's verdict
    (dict(CNPG_STOPPED, steps=[{"step": "Canary - the operator's in-place upgrade, timed", "status": "failed",
                                "detail": "the Job pg-canary-major-upgrade failed"}]), "failed"),
    # stopped before any canary (a preflight refusal), or no report at all
    (dict(CNPG_STOPPED, steps=[{"step": "Preflight - refuse a missing or unhealthy Cluster", "status": "failed",
                                "detail": "not healthy"}]), "not run"),
    ({}, "not run"),
    (None, "not run"),
])
def test_a_canary_that_failed_or_never_ran_is_said_so_without_a_prediction(report, verdict):
    got = evidence.canary_evidence(report)
    assert (got["canary"], got["predicted_downtime_seconds"]) == (verdict, None), got


def test_the_failed_hosts_error_is_its_detail():
    got = evidence.canary_evidence(dict(HOST_STOPPED, steps=[{"name": "major-canary", "status": "failed",
                                                               "details": {"error": "extension x missing"}}], facts={}))
    assert got["canary_detail"] == "extension x missing"


CNPG_CANARY_ONLY = {
    "run_id": "upgrade-postgres-x-canary", "backend": "cloudnative_pg", "flow": "minor", "status": "stopped-after-canary",
    "error": "",
    "steps": [{"step": "preflight", "status": "ok", "detail": "healthy on lab/pg:15.18; update needed: True"},
              {"step": "gates", "status": "ok", "detail": "not checked: canary only (production is not changed)"},
              {"step": "canary", "status": "ok", "detail": "healthy on the new image after 21.4 s"},
              {"step": "smoke", "status": "ok", "detail": "4 smoke queries passed; rows equal in public.accounts"},
              {"step": "canary-only", "status": "ok", "detail": "stopped after the canary: production not changed"}],
}


def test_a_canary_only_minor_run_shows_the_canary_and_its_checks_without_a_gate():
    got = evidence.canary_evidence(CNPG_CANARY_ONLY)
    assert (got["canary"], got["runbook_status"], got["gate"], got["predicted_downtime_seconds"]) == (
        "passed", "stopped-after-canary", "", None), got
    assert got["canary_detail"] == "healthy on the new image after 21.4 s; 4 smoke queries passed; rows equal in public.accounts"


def test_a_canary_that_became_healthy_but_failed_its_smoke_queries_failed():
    failed = "the canary pgop/pg-canary on lab/pg:15.20 failed its checks, so production pgop/pg was not changed: relation x"
    report = dict(CNPG_CANARY_ONLY, status="failed", error=failed,
                  steps=CNPG_CANARY_ONLY["steps"][:3] + [
                      {"step": "Canary - refuse the update when a smoke query failed or the rows differ", "status": "failed",
                       "detail": failed}])
    got = evidence.canary_evidence(report)
    assert (got["canary"], got["canary_detail"], got["runbook_status"]) == ("failed", failed, "failed"), got


def test_the_reports_own_prediction_is_preferred_to_the_canary_steps_text():
    """report.json's predicted_downtime_seconds (in place: the canary's timed trial; logical: the planned cutover, no
    such text in its canary step); the text only for a report written before the field existed (CNPG_STOPPED)."""
    inplace = dict(CNPG_STOPPED, method="inplace", predicted_downtime_seconds=38.417)
    assert evidence.canary_evidence(inplace)["predicted_downtime_seconds"] == 38.417
    logical = dict(CNPG_STOPPED, method="logical", predicted_downtime_seconds=10.0,
                   steps=[{"step": "canary", "status": "ok", "detail": "on the target itself: 4 smoke queries passed on "
                                                                      "lab/pg:18; planned write downtime 10 s (the cutover)"}])
    got = evidence.canary_evidence(logical)
    assert (got["canary"], got["predicted_downtime_seconds"]) == ("passed", 10.0), got
    # null in the report: no canary gave one, whatever a step's text says
    assert evidence.canary_evidence(dict(inplace, predicted_downtime_seconds=None))["predicted_downtime_seconds"] is None
    assert evidence.canary_evidence(CNPG_STOPPED)["predicted_downtime_seconds"] == 38.4
