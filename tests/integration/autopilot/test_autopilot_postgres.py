"""The autopilot and the lab's host-backend PostgreSQL (lab/postgres: the pair starts on the old minor, and the
minor target's binaries offer a newer patch release): with `postgres: {patch: auto}` the autopilot discovers the
patch release and runs upgrade_postgres.yml -e postgres_upgrade=minor as its own child (canary replica first, then
the switchover), records `applied`, and changes nothing else. And while an earlier run's runbook still holds the
cluster's runbook lock, a run starts nothing, records nothing and ends with one message. And with `major: approve`,
the new major the inventory installed stops at approval: its safe part is the major flow's canary trial, which stops
at the gate, and the request carries the canary's verdict and predicted downtime.

Runs in the `postgres` xdist group (it changes the Postgres pair) and holds the Postgres tests' lock for the module.
It takes no simulator lock: each autopilot run has a Linode API token of its own (aplab.SimCaller), and the test
asserts that token asked LKE for reads only, whatever the cluster tests on the other worker do meanwhile (in CI the
simulator lock had cost the cluster tests minutes of waiting for these runs, and these runs minutes for theirs).
"""

import fcntl
import json
import os
import sys

import aplab
import pytest

uclab = aplab.uclab
sys.path.insert(0, os.path.join(os.path.dirname(aplab.HERE), "postgres"))
import pglab  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.xdist_group("postgres")


@pytest.fixture(scope="module")
def pg_pilot(lab_up):
    """(PgLab, simulator admin) in the Postgres pair's starting state, the Postgres tests' lock held; the pair put
    back into its starting state afterwards."""
    lab_up("postgres", "k8s", "linode_sim", "edge")
    with uclab.labenv.held("postgres", "tests.lock"):
        lab = pglab.PgLab(uclab.labenv.component_env("postgres"), "")
        if not lab.is_start_state():
            lab.reset()
        admin = uclab.simlab.SimAdmin(uclab.labenv.component_env("linode_sim")["LINODE_SIM_ADMIN_URL"])
        yield lab, admin
        if not lab.is_start_state():
            lab.reset()


def _run_with_own_token(admin, variables, timeout):
    """The autopilot run with a Linode token of its own, and the LKE writes the simulator saw from that token."""
    caller = aplab.SimCaller(admin, "autopilot-postgres")
    proc = caller.run(variables, timeout=timeout)
    return proc, caller.lke_mutations()


def _policy():
    # PostgreSQL only: the cluster's own components are not in the policy, so nothing is decided for them
    return aplab.policy(components={"postgres": {"patch": "auto", "major": "never", "backend": "host"}})


def _variables(reports):
    # the runbook charges the test's own downtime ledger, not the checkout's reports/downtime.jsonl
    return aplab.variables(reports, _policy(), autopilot_runbook_vars={
        "postgres_slo_ledger": os.path.join(str(reports), "downtime-postgres.jsonl")})


def _runbook_reports(reports):
    return sorted(d for d in os.listdir(str(reports)) if d.startswith("upgrade-postgres"))


def test_a_held_runbook_lock_starts_nothing_and_says_so_once(pg_pilot, tmp_path):
    lab, admin = pg_pilot
    old = lab.env["PG_OLD_MINOR"]
    (tmp_path / "autopilot").mkdir()
    with open(str(tmp_path / "autopilot" / "runbook-lab-lke.lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the runbook of an earlier, killed autopilot run, still running
        proc, mutations = _run_with_own_token(admin, _variables(tmp_path), timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    decision = aplab.decisions(tmp_path)["postgres"]
    assert (decision["decision"], decision["current"]) == ("apply", old), decision
    message = ("postgres -> %s was not started: the runbook of an earlier autopilot run is still running on this cluster "
               "(it holds the lock %s; flock exit 75), so upgrade_postgres.yml did not run. Nothing was changed; the next "
               "run tries again once it has ended" % (decision["candidate"], tmp_path / "autopilot" / "runbook-lab-lke.lock"))
    report = aplab.report(tmp_path)
    assert report["report"]["status"] == "failed", report
    assert report["outcome"]["summary"].strip() == message + ".", report["outcome"]  # the report says the same
    assert " ".join(message.split()) in " ".join(out.split()), out[-3000:]  # the run's last word (YAML output wraps lines)
    assert [e["event"] for e in aplab.ledger(tmp_path) if e["event"] in ("started", "applied", "failed")] == []
    assert _runbook_reports(tmp_path) == []  # the runbook never ran
    assert lab.is_start_state() and mutations == []


def test_a_postgres_patch_release_goes_through_the_canary_automatically(pg_pilot, tmp_path):
    lab, admin = pg_pilot
    old, target = lab.env["PG_OLD_MINOR"], lab.minor_target()
    proc, mutations = _run_with_own_token(admin, _variables(tmp_path), timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    decisions = aplab.decisions(tmp_path)
    assert list(decisions) == ["postgres"], decisions  # nothing decided for what the policy does not name
    decision = decisions["postgres"]
    assert (decision["decision"], decision["kind"], decision["current"], decision["candidate"]) == (
        "apply", "patch", old, target), decision
    changes = [e for e in aplab.ledger(tmp_path) if e["event"] in ("started", "applied", "failed")]
    assert [e["event"] for e in changes] == ["started", "applied"], changes
    run_id = changes[0]["runbook_run_id"]
    assert changes[1]["runbook_run_id"] == run_id and changes[1]["candidate"] == target
    # the child runbook: the minor flow, canary replica first, then the switchover, on the new patch release
    assert _runbook_reports(tmp_path) == [run_id]
    with open(os.path.join(str(tmp_path), run_id, "report.json")) as handle:
        child = json.load(handle)
    assert child["status"] == "done" and child["facts"]["flow"] == "minor", child
    steps = [s["name"] for s in child["steps"]]
    assert steps.index("minor-canary") < steps.index("switchover"), steps
    assert pglab.step(child, "minor-canary")["status"] == pglab.step(child, "switchover")["status"] == "done"
    assert child["facts"]["version_after"] == target
    assert lab.describe(lab.replica_port) == ("primary", target)
    assert lab.describe(lab.primary_port) == ("replica", target)
    # its downtime went to the ledger it was given, once
    with open(os.path.join(str(tmp_path), "downtime-postgres.jsonl")) as handle:
        assert [json.loads(line)["run_id"] for line in handle if line.strip()] == [run_id]
    report = aplab.report(tmp_path)
    assert report["report"]["status"] == "done", report
    assert report["outcome"]["summary"].startswith("Applied postgres -> %s by upgrade_postgres.yml (run %s)" % (target, run_id))
    # nothing else changed: no request to the cloud but reads
    assert mutations == []


def test_a_postgres_major_needing_approval_runs_only_its_canary_trial_and_the_request_shows_it(pg_pilot, tmp_path):
    """major: approve on hosts: the new major the inventory installed (postgres_new_bindir) is on offer; with no newer
    patch release (the inventory's minor target is the running one) it is the candidate. The safe part is the major
    flow without confirmation: check, canary clone upgraded and timed, then it stops at its gate. The request carries
    the canary's verdict and predicted downtime; production is as it was."""
    lab, admin = pg_pilot
    if not lab.is_start_state():
        lab.reset()
    old, new_major = lab.env["PG_OLD_MINOR"], uclab.labenv.postgres_version(lab.env["PG_BINDIR_NEW"])
    pol = aplab.policy(components={"postgres": {"patch": "auto", "major": "approve", "backend": "host"}})
    variables = aplab.variables(tmp_path, pol, postgres_minor_target_version=old, autopilot_runbook_vars={
        "postgres_slo_ledger": os.path.join(str(tmp_path), "downtime-postgres.jsonl")})
    proc, mutations = _run_with_own_token(admin, variables, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    decision = aplab.decisions(tmp_path)["postgres"]
    assert (decision["decision"], decision["kind"], decision["current"], decision["candidate"]) == (
        "needs approval", "major", old, new_major), decision
    evidence = aplab.request(tmp_path, decision["request_id"])["evidence"]
    assert evidence["safe_part"] == "canary trial (production not changed)", evidence
    trial = evidence["canary_trial"]
    assert (trial["canary"], trial["runbook_status"]) == ("passed", "stopped-at-gate"), trial
    assert trial["predicted_downtime_seconds"] > 0 and "confirmation" in trial["gate"], trial
    with open(os.path.join(str(tmp_path), evidence["plan_run_id"], "report.json")) as handle:
        child = json.load(handle)
    assert child["facts"]["flow"] == "major" and pglab.step(child, "major-canary")["status"] == "done", child["steps"]
    # production untouched (no new data directory, no clone left in the scratch area), nothing started or charged
    assert lab.is_start_state()
    assert [e["event"] for e in aplab.ledger(tmp_path) if e["event"] in ("started", "applied", "failed")] == []
    assert mutations == []
