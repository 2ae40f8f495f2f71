"""Major upgrade flow in the lab: check failure, trial failure, the gate (none of them touch
production), bad input, and the rollback rules of --link and --copy on scratch clusters."""

import datetime
import json
import os
import shutil

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import errors
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import server
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import upgrade

from pglab import step


def _untouched(lab):
    assert lab.is_start_state(), "production changed: %s / %s" % (lab.describe(lab.primary_port), lab.describe(lab.replica_port))


def test_check_failure_stops_before_anything_changes(start_state):
    lab = start_state
    # pgcrypto exists in the 15 builds but not in the 18 wheel: the check must name it.
    lab.query(lab.primary_port, "CREATE EXTENSION pgcrypto", dbname="appdb")
    try:
        rc, out, report = lab.playbook("postgres_upgrade=major", "postgres_major_confirm=true")
        assert rc != 0
        assert "major upgrade check failed, nothing was changed" in out
        assert "extension pgcrypto" in out and "NOT provided" in out
        assert step(report, "major-check")["status"] == "failed"
        assert step(report, "major-canary") is None
        findings = {f["check"]: f for f in report["report"]["check_findings"]}
        assert not findings["extension:appdb:pgcrypto"]["ok"]
        assert findings["extension:appdb:citext"]["ok"]
        assert not findings["pg_upgrade --check"]["ok"]  # missing library, as pg_upgrade itself sees it
        assert "loadable_libraries.txt: could not load library" in findings["pg_upgrade --check"]["message"]
        assert 'lock file "postmaster.pid"' not in findings["pg_upgrade --check"]["message"]  # the live-server probe
        md = _markdown(lab, report)
        assert "stopped before anything changed" in report["outcome"]["summary"] and "extension pgcrypto" in report["outcome"]["error"]
        assert "## What happened" in md and "extension pgcrypto" in md
        assert "| ERROR | extension:appdb:pgcrypto | extension pgcrypto " in md  # findings as a table, failures first
        assert md.index("| ERROR | extension:appdb:pgcrypto") < md.index("| ok | extension:appdb:citext")
        _untouched(lab)
    finally:
        lab.query(lab.primary_port, "DROP EXTENSION IF EXISTS pgcrypto", dbname="appdb")


def test_trial_failure_leaves_production_untouched(start_state):
    lab = start_state
    old = lab.env["PG_OLD_MINOR"]
    # pg_stat_bgwriter lost checkpoints_timed in 17: --check passes, restoring the schema fails.
    lab.query(lab.primary_port, "CREATE VIEW app.bgwriter_report AS SELECT checkpoints_timed FROM pg_stat_bgwriter",
              dbname="appdb")
    try:
        rc, out, report = lab.playbook("postgres_upgrade=major", "postgres_major_confirm=true")
        assert rc != 0
        assert "trial upgrade on the clone failed, production untouched" in out
        assert step(report, "major-check")["status"] == "done"  # what --check misses
        canary = step(report, "major-canary")
        assert canary["status"] == "failed"
        assert "checkpoints_timed" in canary["details"]["error"]
        assert step(report, "major-upgrade") is None
        _untouched(lab)
        # The failure summary is the lines that explain it (the unit tests hold the other shapes).
        cause = "database appdb, VIEW bgwriter_report: column pg_stat_bgwriter.checkpoints_timed does not exist"
        assert "Restoring database schemas in the new cluster: failed | " + cause in canary["details"]["error"]
        for noise in ("*failure*", " ok |", "the probable cause", "terminating connection", "command:"):
            assert noise not in canary["details"]["error"], noise
        # Both report files say what happened, the error, and what was and was not changed.
        md = _markdown(lab, report)
        outcome = report["outcome"]
        assert report["status"] == "failed" and "status: **failed**" in md
        assert "production was not touched" in outcome["summary"] and "production was not touched" in _flat(md)
        assert cause in outcome["error"] and cause in md
        assert outcome["unchanged"] == ["pg-primary: still the primary on %s, never stopped; data directory %s not touched"
                                        % (old, lab.env["PG_PRIMARY_DATA"]),
                                        "pg-replica: still the replica on %s, never stopped; data directory %s not touched"
                                        % (old, lab.env["PG_REPLICA_DATA"])]
        assert "removed again" in outcome["changed"][0]
        for line in outcome["unchanged"] + outcome["changed"]:
            assert "- " + _flat(line) in _flat(md)
        # ... and the state each host was left in.
        assert [(h["host"], h["now"], h["unchanged"]) for h in report["report"]["state_after"]] == [
            ("pg-primary", "primary on %s" % old, True), ("pg-replica", "replica on %s, streaming" % old, True)]
        assert "| pg-replica | replica on %s | replica on %s, streaming | yes |" % (old, old) in md
        # Each host's last message says what happened to the run and what state that host is in.
        errors = _error_lines(out)
        assert any(e.startswith("trial upgrade on the clone failed, production untouched") and cause in e
                   and "pg-primary is as the run found it: primary on %s." % old in e for e in errors), errors
        assert any(e.startswith("upgrade-postgres failed on pg-primary, not on this host: The trial major upgrade on a "
                                "clone of pg-primary failed") and "production was not touched" in e
                   and "pg-replica is as the run found it: replica on %s, streaming." % old in e for e in errors), errors
        assert "upgrade-postgres failed\n" not in out
        # Check findings are a table, one row per finding.
        assert "| result | check | finding |" in md
        assert "| ok | pg_upgrade --check | pg_upgrade --check --link passed |" in md
    finally:
        lab.query(lab.primary_port, "DROP VIEW IF EXISTS app.bgwriter_report", dbname="appdb")


def test_a_writing_smoke_query_fails_the_real_run_which_rolls_back(start_state):
    """The real upgrade (--copy) verifies the new primary with a smoke query that writes: it fails
    read-only, naming the query, and the rescue brings the old cluster back; the report says so."""
    lab = start_state
    old = lab.env["PG_OLD_MINOR"]
    writing = "SELECT app.place_order(1, 1.00) IS NOT NULL"
    orders = lab.query(lab.primary_port, "SELECT count(*) FROM app.orders", dbname="appdb")[0][0]
    rc, out, report = lab.playbook("postgres_upgrade=major", "postgres_major_confirm=true", "postgres_transfer=copy",
                                   json.dumps({"postgres_major_upgrade_smoke_queries": [writing]}))
    assert rc != 0
    assert step(report, "major-upgrade")["status"] == "rolled_back"
    assert lab.describe(lab.primary_port) == ("primary", old) and lab.describe(lab.replica_port)[0] == "replica"
    assert lab.query(lab.primary_port, "SELECT count(*) FROM app.orders", dbname="appdb")[0][0] == orders
    said = "smoke query %r writes (cannot execute INSERT in a read-only transaction)" % writing
    outcome, md = report["outcome"], _markdown(lab, report)
    assert outcome["summary"].startswith("The real major upgrade of pg-primary failed at 'Check the new primary runs")
    assert outcome["summary"].endswith("rolled back: the old cluster serves again on %s." % old)
    assert said in outcome["error"]
    assert "app.place_order(1, 1.00) IS NOT NULL' writes (cannot execute INSERT in a read-only transaction)" in md
    assert "pg-primary and pg-replica: stopped for the upgrade, then started again on their old binaries" in outcome["changed"]
    assert "- pg-primary and pg-replica: stopped for the upgrade, then started again on their old binaries" in md
    errors = _error_lines(out)
    assert any(e.startswith("upgrade-postgres failed on pg-primary, not on this host: The real major upgrade of pg-primary")
               and "pg-replica is as the run found it: replica on %s" % old in e for e in errors), errors


def _markdown(lab, report):
    with open(os.path.join(lab.reports_dir, report["run_id"], "report.md")) as handle:
        return handle.read()


def _flat(text):
    return " ".join(text.split())


def _error_lines(out):
    """The messages of the tasks that failed, one line each as Ansible prints them."""
    prefix = "[ERROR]: Task failed: Action failed: "
    return [line[len(prefix):] for line in out.splitlines() if line.startswith(prefix)]


def test_check_mode_plans_without_creating_anything(start_state):
    lab = start_state
    scratch = os.path.join(lab.env["PG_SCRATCH_DIR"], "plan-%d" % os.getpid())  # a scratch area that does not exist yet
    rc, out, report = lab.playbook("--check", "postgres_upgrade=major", "postgres_scratch_dir=%s" % scratch)
    assert rc == 0, out[-3000:]
    assert "would clone pg-primary into %s/canary/old" % scratch in out  # the plan, with the real pg_upgrade --check
    assert not os.path.exists(scratch), sorted(os.listdir(scratch))
    assert report is None and os.listdir(lab.reports_dir) == []
    _untouched(lab)


def test_gate_stops_after_the_canary_without_confirmation(start_state):
    lab = start_state
    rc, out, report = lab.playbook("postgres_upgrade=major")
    assert rc == 0, out[-3000:]
    assert report["status"] == "stopped-at-gate"
    assert float(report["report"]["predicted_downtime_seconds"]) > 0
    assert "confirmation: missing" in report["report"]["gate_reason"]
    assert step(report, "major-upgrade") is None
    _untouched(lab)


def test_gate_stops_when_the_budget_is_spent(start_state, tmp_path):
    lab = start_state
    ledger = tmp_path / "downtime.jsonl"
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)  # inside the 30-day window
    ledger.write_text(json.dumps({"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  "end": (start + datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")}) + "\n")
    rc, out, report = lab.playbook("postgres_upgrade=major", "postgres_major_confirm=true",
                                   "postgres_slo_ledger=%s" % ledger)
    assert rc == 0, out[-3000:]
    assert report["status"] == "stopped-at-gate"
    assert "below the reserve" in report["report"]["gate_reason"]
    _untouched(lab)


# --- bad input (real binaries, nothing changed) ---------------------------------------------

def test_bad_bindirs_and_data_dirs_are_named(pg_lab, tmp_path):
    env = pg_lab.env
    with pytest.raises(errors.PostgresError, match="old_bindir '/nonexistent/bin' does not exist"):
        upgrade.validate_pair("/nonexistent/bin", env["PG_BINDIR_NEW"], env["PG_PRIMARY_DATA"])
    with pytest.raises(errors.PostgresError, match="holds PostgreSQL 18.*not the declared major 15"):
        upgrade.validate_pair(env["PG_BINDIR_NEW"], env["PG_BINDIR_NEW"], env["PG_PRIMARY_DATA"], old_major=15)
    with pytest.raises(errors.PostgresError, match="is not a PostgreSQL cluster"):
        upgrade.validate_pair(env["PG_BINDIR_OLD"], env["PG_BINDIR_NEW"], str(tmp_path))
    with pytest.raises(errors.PostgresError, match="not a newer major"):
        upgrade.validate_pair(env["PG_BINDIR_OLD"], env["PG_BINDIR_MINOR_TARGET"], env["PG_PRIMARY_DATA"])


# --- rollback rules on scratch clusters -----------------------------------------------------

@pytest.fixture
def scratch_cluster(pg_lab):
    """A small 15 cluster in the scratch area, cleanly shut down; removed afterwards."""
    env = pg_lab.env
    base = os.path.join(env["PG_SCRATCH_DIR"], "rollback-test")
    user = env["PG_OS_USER"]
    if os.path.exists(base):
        _stop_all(base, user)
        shutil.rmtree(base)
    os.makedirs(base)
    server.chown_to(base, user)
    old = os.path.join(base, "old")
    server.run([os.path.join(env["PG_BINDIR_OLD"], "initdb"), "-D", old, "-U", "postgres", "--data-checksums",
            "--locale=C.UTF-8"], os_user=user)
    port = int(env["PG_SCRATCH_PORT_BASE"]) + 6
    with open(os.path.join(old, "postgresql.conf"), "a") as handle:
        handle.write("port = %d\nlisten_addresses = ''\nunix_socket_directories = '%s'\n" % (port, env["PG_SCRATCH_SOCKET"]))
    yield {"base": base, "old": old, "new": os.path.join(base, "new"), "user": user, "port": port}
    _stop_all(base, user)
    shutil.rmtree(base, ignore_errors=True)


def _stop_all(base, user):
    for sub in ("old", "new"):
        path = os.path.join(base, sub)
        if os.path.exists(os.path.join(path, "postmaster.pid")) and server.postmaster(path):
            server.pg_ctl(server.running_bindir(path), path, "stop", os_user=user, mode="immediate")


def _upgrade(env, c, transfer):
    ports = int(env["PG_SCRATCH_PORT_BASE"]) + 7, int(env["PG_SCRATCH_PORT_BASE"]) + 8
    return upgrade.upgrade(env["PG_BINDIR_OLD"], env["PG_BINDIR_NEW"], c["old"], c["new"], transfer, 1, ports[0], ports[1],
                      env["PG_SCRATCH_SOCKET"], os.path.join(c["base"], "work"), os_user=c["user"],
                      settings={"port": c["port"], "listen_addresses": "", "unix_socket_directories": env["PG_SCRATCH_SOCKET"]})


def test_link_rollback_possible_until_the_new_cluster_runs(pg_lab, scratch_cluster):
    env, c = pg_lab.env, scratch_cluster
    changed, result = _upgrade(env, c, "link")
    assert changed and result["transfer"] == "link"
    assert os.path.exists(os.path.join(c["old"], "global", "pg_control.old"))  # pg_upgrade --link disabled the old one
    state = upgrade.rollback_state(c["old"], c["new"], env["PG_BINDIR_NEW"], c["user"])
    assert state["old_startable"] and not state["new_has_run"]
    # A re-run finds the finished upgrade and does not redo it.
    assert _upgrade(env, c, "link")[0] is False
    # The new cluster runs once: from now on the old one must never start again.
    server.pg_ctl(env["PG_BINDIR_NEW"], c["new"], "start", os_user=c["user"], log_file=os.path.join(c["base"], "new.log"))
    server.pg_ctl(env["PG_BINDIR_NEW"], c["new"], "stop", os_user=c["user"])
    state = upgrade.rollback_state(c["old"], c["new"], env["PG_BINDIR_NEW"], c["user"])
    assert not state["old_startable"] and state["new_has_run"]
    with pytest.raises(errors.PostgresError, match="rollback refused: --link and the new cluster has run"):
        upgrade.restore_old(c["old"], c["new"], env["PG_BINDIR_NEW"], c["user"])
    assert os.path.exists(os.path.join(c["old"], "global", "pg_control.old"))  # refused means untouched


def test_link_rollback_before_the_new_cluster_started_brings_the_old_one_back(pg_lab, scratch_cluster):
    env, c = pg_lab.env, scratch_cluster
    _upgrade(env, c, "link")
    upgrade.restore_old(c["old"], c["new"], env["PG_BINDIR_NEW"], c["user"])
    assert os.path.exists(os.path.join(c["old"], "global", "pg_control"))
    server.pg_ctl(env["PG_BINDIR_OLD"], c["old"], "start", os_user=c["user"], log_file=os.path.join(c["base"], "old.log"))
    assert server.running_bindir(c["old"]) == os.path.realpath(env["PG_BINDIR_OLD"])


def test_copy_rollback_stays_possible_after_the_new_cluster_ran(pg_lab, scratch_cluster):
    env, c = pg_lab.env, scratch_cluster
    _upgrade(env, c, "copy")
    server.pg_ctl(env["PG_BINDIR_NEW"], c["new"], "start", os_user=c["user"], log_file=os.path.join(c["base"], "new.log"))
    server.pg_ctl(env["PG_BINDIR_NEW"], c["new"], "stop", os_user=c["user"])
    state = upgrade.rollback_state(c["old"], c["new"], env["PG_BINDIR_NEW"], c["user"])
    assert state["old_startable"] and state["new_has_run"] and state["transfer"] == "copy"
    upgrade.restore_old(c["old"], c["new"], env["PG_BINDIR_NEW"], c["user"])
    server.pg_ctl(env["PG_BINDIR_OLD"], c["old"], "start", os_user=c["user"], log_file=os.path.join(c["base"], "old.log"))
    assert server.postmaster(c["old"])


def test_pg_upgrade_refuses_a_running_old_cluster(pg_lab, scratch_cluster):
    env, c = pg_lab.env, scratch_cluster
    server.pg_ctl(env["PG_BINDIR_OLD"], c["old"], "start", os_user=c["user"], log_file=os.path.join(c["base"], "old.log"))
    with pytest.raises(errors.PostgresError, match="is running; stop it before pg_upgrade"):
        _upgrade(env, c, "link")
    assert not os.path.exists(c["new"])


def test_major_run_interrupted_in_its_downtime_carries_on(start_state):
    """Kill the runbook once the real run has started (primary about to stop or stopped), run it
    again with the same run id: it skips check, trial and gate and finishes the upgrade."""
    import signal
    import time
    from pglab import journal_steps, kill_tree, start_playbook
    lab = start_state
    run_id = "test-resume-%d" % os.getpid()
    proc = start_playbook(lab, "postgres_upgrade=major", "postgres_major_confirm=true", "postgres_run_id=%s" % run_id)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            if journal_steps(lab, run_id).get("major-upgrade") == "running":
                kill_tree(proc)  # the modules too: a dead controller takes them with it
                break
            time.sleep(0.05)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL, "the run was not interrupted in its downtime"
        rc, out, _ = lab.playbook("postgres_upgrade=major", "postgres_run_id=%s" % run_id)
        assert rc == 0, out[-3000:]
        with open(os.path.join(lab.reports_dir, run_id, "report.json")) as handle:
            report = json.load(handle)
        assert report["status"] == "done"
        assert step(report, "major-upgrade")["details"]["resumed"] is True
        assert step(report, "major-post")["status"] == "done"
        primary = lab.describe(lab.primary_port)
        assert primary[0] == "primary" and primary[1].startswith("18.")
        assert lab.describe(lab.replica_port)[0] == "replica"
        assert lab.query(lab.primary_port, "SELECT count(*) FROM pgbench_accounts", dbname="appdb")[0][0] == 200000
        # the real run's downtime is charged to the ledger once, although the run was carried on
        with open(lab.ledger) as handle:
            charged = [json.loads(line) for line in handle if run_id in line]
        assert [c["run_id"] for c in charged] == [run_id] and "major" in charged[0]["tags"], charged
    finally:
        if proc.poll() is None:
            kill_tree(proc)
