"""Minor upgrade flow in the lab: canary replica, switchover under a write load, version policy."""

import datetime
import glob
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

import psycopg2
import pytest

from pglab import journal_steps, kill_tree, start_playbook, step

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import server


class LedgerWriter(threading.Thread):
    """Appends rows to app.ledger through a read-write multi-host connection, one transaction
    each, and remembers which commits the server acknowledged (and which were ambiguous).

    Its ids start above the rows already there, under a client name of its own: an earlier
    writer's rows stay behind when its run stopped before the switchover (the lab is then still
    in its starting state, so nothing reseeds it), and ids from 1 would all be duplicate keys."""

    def __init__(self, lab, client):
        super(LedgerWriter, self).__init__(daemon=True)
        self.dsn = ("host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=appdb password=%s "
                    "target_session_attrs=read-write connect_timeout=2"
                    % (lab.primary_port, lab.replica_port, lab.env["PG_PASSWORD"]))
        self.client = "%s-%s" % (client, uuid.uuid4().hex[:8])
        self.first_id = lab.query(lab.primary_port, "SELECT coalesce(max(id), 0) + 1 FROM app.ledger",
                                  dbname="appdb")[0][0]
        self.committed, self.ambiguous, self.errors = [], [], 0
        self.last_error = None
        self.ports = set()
        self.stop = threading.Event()

    def run(self):
        next_id, db = self.first_id, None
        while not self.stop.is_set():
            try:
                if db is None:
                    db = psycopg2.connect(self.dsn)
                    self.ports.add(db.info.port)
                with db.cursor() as cur:
                    cur.execute("INSERT INTO app.ledger (id, client, amount) VALUES (%s, %s, %s)",
                                (next_id, self.client, next_id % 100))
                try:
                    db.commit()
                except psycopg2.Error:
                    self.ambiguous.append(next_id)  # the COMMIT may or may not have happened
                    raise
                self.committed.append(next_id)
            except psycopg2.Error as err:
                self.errors += 1
                self.last_error = str(err).strip()
                try:
                    if db is not None:
                        db.close()
                except psycopg2.Error:
                    pass
                db = None
                time.sleep(0.05)
            next_id += 1
        if db is not None:
            db.close()


def test_minor_upgrade_under_write_load_loses_no_committed_transaction(start_state):
    lab = start_state
    target = lab.minor_target()
    env = dict(os.environ, PGPASSWORD=lab.env["PG_PASSWORD"])
    pgbench = subprocess.Popen([os.path.join(lab.env["PG_CLIENT_BINDIR"], "pgbench"), "-n", "-c", "2", "-j", "1", "-T", "60",
                                "-h", "127.0.0.1", "-p", str(lab.primary_port), "-U", "postgres", "appdb"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    writer = LedgerWriter(lab, "minor-test")
    writer.start()
    try:
        time.sleep(1.0)
        rc, out, report = lab.playbook("postgres_upgrade=minor")
        time.sleep(1.0)
    finally:
        writer.stop.set()
        writer.join(10)
        pgbench.terminate()
        pgbench.wait(10)
    assert rc == 0, out[-3000:]
    # Roles swapped, both on the new patch release, the old primary streams from the new one.
    assert lab.describe(lab.replica_port) == ("primary", target)
    assert lab.describe(lab.primary_port) == ("replica", target)
    assert lab.query(lab.replica_port, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0][0] == 1
    # The load ran on both sides of the switchover.
    assert lab.primary_port in writer.ports and lab.replica_port in writer.ports
    assert len(writer.committed) > 50, "%d commits, %d errors, the last: %s" % (
        len(writer.committed), writer.errors, writer.last_error)
    # Every acknowledged commit is on the new primary.
    rows = lab.query(lab.replica_port, "SELECT id FROM app.ledger WHERE client = %s", dbname="appdb",
                     args=(writer.client,))
    present = {r[0] for r in rows}
    lost = sorted(set(writer.committed) - present)
    assert not lost, "committed rows missing on the new primary: %s" % lost[:20]
    # Nothing appears that was never attempted (ambiguous commits may or may not be there).
    assert present <= set(writer.committed) | set(writer.ambiguous)
    assert report["status"] == "done"
    downtime = step(report, "switchover")["details"]["downtime_seconds"]
    assert downtime > 0
    assert report["facts"]["version_after"] == target
    # The measured downtime is charged to the error-budget ledger, once, under this run.
    with open(lab.ledger) as handle:
        charged = [json.loads(line) for line in handle if report["run_id"] in line]
    assert [c["run_id"] for c in charged] == [report["run_id"]]
    seconds = (datetime.datetime.fromisoformat(charged[0]["end"].replace("Z", "+00:00"))
               - datetime.datetime.fromisoformat(charged[0]["start"].replace("Z", "+00:00"))).total_seconds()
    assert downtime <= seconds <= downtime + 2, (downtime, charged[0])
    assert "postgres-upgrade" in charged[0]["tags"] and "minor" in charged[0]["tags"]


@pytest.mark.parametrize("target, message", [
    ("15.16", "downgrade"),
    ("18.1", "another major"),
    ("fifteen", "does not parse"),
])
def test_minor_policy_refuses_bad_targets_and_changes_nothing(start_state, target, message):
    lab = start_state
    rc, out, report = lab.playbook("postgres_upgrade=minor", "postgres_minor_target_version=%s" % target)
    assert rc != 0
    assert message in out
    assert lab.is_start_state()
    assert report["status"] == "failed"


def test_unreachable_replica_stops_before_anything_changes(start_state):
    lab = start_state
    data = lab.env["PG_REPLICA_DATA"]
    bindir = lab.env["PG_BINDIR_OLD"]
    subprocess.run(["runuser", "-u", lab.env["PG_OS_USER"], "--", os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "fast",
                    "-w", "stop"], check=True, capture_output=True)
    try:
        rc, out, _ = lab.playbook("postgres_upgrade=minor")
        assert rc != 0
        assert "cannot connect to PostgreSQL at 127.0.0.1:%d" % lab.replica_port in out
        assert lab.describe(lab.primary_port) == ("primary", lab.env["PG_OLD_MINOR"])
    finally:
        subprocess.run(["runuser", "-u", lab.env["PG_OS_USER"], "--", os.path.join(bindir, "pg_ctl"), "-D", data, "-l",
                        os.path.join(os.path.dirname(os.path.dirname(data)), "log", "replica.log"), "-w", "start"],
                       check=True, capture_output=True)


def test_unconfirmed_minor_is_refused_when_auto_minor_is_off(start_state):
    rc, out, _ = start_state.playbook("postgres_upgrade=minor", "postgres_auto_minor=false")
    assert rc != 0
    assert "postgres_minor_confirm" in out
    assert start_state.is_start_state()


@pytest.mark.parametrize("flow", ["minor", "major"])
def test_check_mode_is_a_plan_that_changes_nothing(start_state, flow):
    reports = set(glob.glob(os.path.join(start_state.reports_dir, "*")))
    rc, out, report = start_state.playbook("postgres_upgrade=%s" % flow, "postgres_major_confirm=true", "--check")
    assert rc == 0, out[-3000:]
    assert "check-mode-plan" in out
    assert report is None  # nothing written
    assert start_state.is_start_state()
    assert set(glob.glob(os.path.join(start_state.reports_dir, "*"))) == reports


def test_failed_canary_goes_back_to_the_old_binaries_and_the_primary_keeps_serving(start_state):
    lab = start_state
    # The policy accepts 15.99, but the binaries report 15.18: the canary check fails after the restart.
    rc, out, report = lab.playbook("postgres_upgrade=minor", "postgres_minor_target_version=15.99")
    assert rc != 0
    assert "minor canary failed, replica restored to %s" % lab.env["PG_BINDIR_OLD"] in out
    assert step(report, "minor-canary")["status"] == "rolled_back"
    assert step(report, "switchover") is None
    assert lab.is_start_state()  # replica back on 15.17 and streaming, primary untouched
    # the report says what happened and what was (not) changed, whichever task wrote it last
    assert report["outcome"]["summary"].startswith("The canary replica pg-replica failed on the new patch release")
    assert report["outcome"]["unchanged"] == ["pg-primary: the primary on %s, never restarted" % lab.env["PG_OLD_MINOR"]]


def _bindir_with_failing_pg_rewind(lab):
    """The minor target's binaries, except a pg_rewind that fails the way it does when the old
    primary's WAL no longer reaches the point of divergence (fault injection: the rest is real)."""
    return _bindir_with_pg_rewind(lab, "#!/bin/sh\necho 'pg_rewind: error: could not find previous WAL record at "
                                       "0/3000028' >&2\nexit 1\n")


def _bindir_with_pg_rewind(lab, script_text):
    """The minor target's binaries with ``script_text`` as pg_rewind."""
    real = lab.env["PG_BINDIR_MINOR_TARGET"]
    # pytest's tmp_path sits under a root-only directory; the server user must reach the binaries
    fake = pathlib.Path(tempfile.mkdtemp(prefix="fournines-pgbin-", dir="/tmp"))
    os.chmod(str(fake), 0o755)
    for name in os.listdir(real):
        if name != "pg_rewind":
            os.symlink(os.path.join(real, name), str(fake / name))
    script = fake / "pg_rewind"
    script.write_text(script_text)
    script.chmod(0o755)
    os.chmod(str(fake), 0o777)  # the server user's script may leave a marker beside itself
    return str(fake)


@pytest.mark.parametrize("repoint", ["base_backup", "auto"])
def test_old_primary_rebuilt_from_a_base_backup_when_rewind_is_not_an_option(start_state, repoint):
    """repoint=base_backup skips pg_rewind; repoint=auto falls back to it when pg_rewind fails. Either
    way the old primary streams from the new one on its own port, and its old data is kept aside."""
    lab = start_state
    target = lab.minor_target()
    extra = ["postgres_upgrade=minor", "postgres_switchover_repoint=%s" % repoint]
    fake = _bindir_with_failing_pg_rewind(lab) if repoint == "auto" else None
    if fake:
        extra.append("postgres_minor_bindir=%s" % fake)
    try:
        rc, out, report = lab.playbook(*extra)
    finally:
        if fake:
            shutil.rmtree(fake)
    assert rc == 0, out[-3000:]
    how = step(report, "switchover")["details"]["rewind"]
    assert how["method"] == "base_backup", how
    if repoint == "auto":
        assert "could not find previous WAL record" in how["rewind_error"]
    else:
        assert "rewind_error" not in how
    kept = how["old_data_dir_kept_at"]
    try:
        assert os.path.isfile(os.path.join(kept, "PG_VERSION")), "the old primary's data directory was not kept"
        assert lab.describe(lab.replica_port) == ("primary", target)
        assert lab.describe(lab.primary_port) == ("replica", target)  # its own port: its config was kept
        assert lab.query(lab.replica_port,
                         "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0][0] == 1
    finally:
        shutil.rmtree(kept, ignore_errors=True)


def _kill_when(proc, condition, what, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            seen = time.time()
            kill_tree(proc)  # reaps it too
            return seen
        time.sleep(0.05)
    raise AssertionError("the run ended (rc %s) before %s" % (proc.poll(), what))


def _timeline(lab, port):
    """The timeline a primary writes WAL on (pg_control_checkpoint() lags after a promotion)."""
    return int(lab.query(port, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")[0][0], 16)


def _finished_report(lab, run_id):
    rc, out, _ = lab.playbook("postgres_upgrade=minor", "postgres_run_id=%s" % run_id)
    assert rc == 0, out[-3000:]
    with open(os.path.join(lab.reports_dir, run_id, "report.json")) as handle:
        return json.load(handle)


def _assert_switched_once(lab, report, run_id):
    target = lab.minor_target()
    assert report["status"] == "done"
    assert lab.describe(lab.replica_port) == ("primary", target)
    assert lab.describe(lab.primary_port) == ("replica", target)
    assert lab.query(lab.replica_port, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0][0] == 1
    with open(lab.ledger) as handle:
        charged = [json.loads(line) for line in handle if run_id in line]
    assert [c["run_id"] for c in charged] == [run_id], charged


def test_switchover_interrupted_after_the_primary_stopped_carries_on(start_state):
    """Kill the run while the primary is stopped and the canary not yet promoted (its replay is
    paused so the moment lasts), then run again with the run id: it promotes the canary once it
    has replayed everything, repoints the old primary, and charges the whole downtime."""
    lab = start_state
    run_id = "test-minor-resume-stopped-%d" % os.getpid()
    primary_data = lab.env["PG_PRIMARY_DATA"]
    proc = start_playbook(lab, "postgres_upgrade=minor", "postgres_run_id=%s" % run_id)
    try:
        deadline = time.monotonic() + 600
        while journal_steps(lab, run_id).get("minor-canary") != "done":
            assert proc.poll() is None and time.monotonic() < deadline, "the canary step never finished"
            time.sleep(0.05)
        lab.query(lab.replica_port, "SELECT pg_wal_replay_pause()")
        # a commit the canary receives but has not replayed when the primary stops
        lab.query(lab.primary_port, "INSERT INTO app.ledger (id, client, amount) VALUES (1, 'resume-test', 1)",
                  dbname="appdb")
        stopped_seen = _kill_when(proc, lambda: server.postmaster(primary_data) is None, "the primary stopped")
        assert lab.query(lab.replica_port, "SELECT pg_is_in_recovery()")[0][0] is True, "promoted too early"
        time.sleep(2.0)  # the outage goes on while nobody runs anything
        lab.query(lab.replica_port, "SELECT pg_wal_replay_resume()")
        # a new run (no run id) is refused and names the run to carry on; nothing changes
        rc, out, _ = lab.playbook("postgres_upgrade=minor")
        assert rc != 0 and "carry it on with -e postgres_run_id=%s" % run_id in out, out[-2000:]
        assert server.postmaster(primary_data) is None and lab.describe(lab.replica_port)[0] == "replica"
        rerun_started = time.time()
        report = _finished_report(lab, run_id)
        details = step(report, "switchover")["details"]
        assert details["resumed"] is True and details["resumed_at_stage"] == "primary_stopped", details
        assert details["downtime_measured_from"] == "old primary shutdown"
        # from the primary's shutdown (before the kill) to the promotion in the second run
        assert details["downtime_seconds"] >= rerun_started - stopped_seen, details
        _assert_switched_once(lab, report, run_id)
        assert lab.query(lab.replica_port, "SELECT count(*) FROM app.ledger WHERE client = 'resume-test'",
                         dbname="appdb")[0][0] == 1
    finally:
        if proc.poll() is None:
            kill_tree(proc)


def test_switchover_interrupted_after_the_promotion_carries_on(start_state):
    """Kill the run while the old primary is being repointed (a pg_rewind that waits: fault
    injection), then run again: the canary is not promoted twice, the old primary is rewound
    with the real pg_rewind and streams from the new primary."""
    lab = start_state
    run_id = "test-minor-resume-promoted-%d" % os.getpid()
    fake = _bindir_with_pg_rewind(lab, "#!/bin/sh\ntouch \"$(dirname \"$0\")/started\"\nexec sleep 120\n")
    proc = start_playbook(lab, "postgres_upgrade=minor", "postgres_run_id=%s" % run_id,
                          "postgres_switchover_target_bindir=%s" % fake)
    try:
        _kill_when(proc, lambda: os.path.exists(os.path.join(fake, "started")), "pg_rewind started")
        assert lab.describe(lab.replica_port)[0] == "primary"
        timeline = _timeline(lab, lab.replica_port)
        report = _finished_report(lab, run_id)
        details = step(report, "switchover")["details"]
        assert details["resumed_at_stage"] == "promoted", details
        assert details["rewind"]["method"] == "pg_rewind", details["rewind"]
        # promoted once: a second promotion would have started another timeline
        assert _timeline(lab, lab.replica_port) == timeline > 1
        assert 0 < details["downtime_seconds"] < 60, details
        _assert_switched_once(lab, report, run_id)
    finally:
        if proc.poll() is None:
            kill_tree(proc)
        shutil.rmtree(fake, ignore_errors=True)
