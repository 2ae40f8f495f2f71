"""postgres/host/switchover.py without a server: the stage an interrupted switchover reached
(``classify`` and ``observe``), the states it refuses, the markers it leaves (standby.signal +
primary_conninfo, the copies of the old primary kept aside) and the base-backup rebuild.

``observe`` and the rebuild are run against fakes of their boundaries only (the postmaster pid
file, pg_controldata, the SQL connection, pg_basebackup), never of switchover's own functions.
"""

import os
import time

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import errors
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import switchover

CANDIDATE = {"host": "127.0.0.1", "port": 15433, "user": "postgres", "password": "lab"}
PRIMARY = {"host": "127.0.0.1", "port": 15432, "user": "postgres", "password": "lab"}
NAME = "pg-primary"


# ---- classify: every stage ------------------------------------------------------------------------

@pytest.mark.parametrize("candidate, old_running, old_recovery, old_state, repointed, partial, stage", [
    # the primary still serves and the candidate still follows: nothing happened yet
    (True, True, False, None, False, False, "not_started"),
    # the primary was shut down cleanly, the candidate not yet promoted
    (True, False, None, "shut down", False, False, "primary_stopped"),
    (True, False, None, "shut down", True, False, "primary_stopped"),  # a marker alone promotes nothing
    # the candidate is a primary; the old one is stopped and not yet a replica
    (False, False, None, "shut down", False, False, "promoted"),
    (False, False, None, "shut down in recovery", False, False, "promoted"),  # pg_rewind ran, no config yet
    (False, False, None, None, False, True, "promoted"),  # a base backup was under way: it is redone
    # the old primary was made a replica of the new one, but not started
    (False, False, None, "shut down in recovery", True, False, "repointed"),
    (False, False, None, "shut down", True, False, "repointed"),
    # the old primary runs as a replica of the new one
    (False, True, True, None, True, False, "done"),
    (False, True, True, None, False, False, "done"),
])
def test_classify_every_stage(candidate, old_running, old_recovery, old_state, repointed, partial, stage):
    assert switchover.classify(candidate, old_running, old_recovery, old_state, repointed, partial) == stage


def test_stages_are_listed_in_the_order_a_switchover_passes_them():
    assert switchover.STAGES == ("not_started", "primary_stopped", "promoted", "repointed", "done")


# ---- classify: the states no switchover leaves ------------------------------------------------------

@pytest.mark.parametrize("old_running, old_recovery, old_state", [
    (True, False, None), (True, True, None), (False, None, "shut down"), (False, None, None),
])
def test_classify_refuses_when_the_candidate_cannot_be_reached(old_running, old_recovery, old_state):
    with pytest.raises(errors.PostgresError, match="the candidate cannot be reached, so it is not known whether it "
                                                   "was promoted; start it and run again"):
        switchover.classify(None, old_running, old_recovery, old_state, False, False)


def test_classify_refuses_two_replicas():
    with pytest.raises(errors.PostgresError, match="both servers are replicas; neither is a primary. Promote the one "
                                                   "with the newest WAL by hand"):
        switchover.classify(True, True, True, None, False, False)


@pytest.mark.parametrize("repointed", [False, True])
def test_classify_refuses_split_brain(repointed):
    with pytest.raises(errors.PostgresError, match="both servers are primaries \\(split brain\\)"):
        switchover.classify(False, True, False, None, repointed, False)


@pytest.mark.parametrize("state", ["in production", "in crash recovery", "shut down in recovery", None])
def test_classify_refuses_an_old_primary_that_crashed_before_the_promotion(state):
    # stopped without a clean shutdown while the candidate still follows: it may hold WAL the
    # candidate never got, so promoting could lose commits
    with pytest.raises(errors.PostgresError) as info:
        switchover.classify(True, False, None, state, False, False)
    text = str(info.value)
    assert "was not shut down cleanly (cluster state %r)" % (state,) in text
    assert "Start the old primary (it recovers), then run again" in text


# ---- the markers ------------------------------------------------------------------------------------

def _standby(tmp_path, conninfo, signal=True):
    (tmp_path / "postgresql.auto.conf").write_text("work_mem = '4MB'\nprimary_conninfo = '%s'\n"
                                                   % conninfo.replace("'", "''"))
    if signal:
        (tmp_path / "standby.signal").write_text("")
    return str(tmp_path)


def test_write_standby_config_writes_both_markers_and_replaces_an_older_conninfo(tmp_path):
    (tmp_path / "postgresql.auto.conf").write_text("primary_conninfo = 'host=a port=1'\nwork_mem = '8MB'\n")
    switchover.write_standby_config(str(tmp_path), "host=127.0.0.1 port=15433 user=replicator")
    switchover.write_standby_config(str(tmp_path), "host=127.0.0.1 port=15433 user=replicator")
    text = (tmp_path / "postgresql.auto.conf").read_text()
    assert text.count("primary_conninfo") == 1 and "port=15433" in text and "work_mem = '8MB'" in text
    assert (tmp_path / "standby.signal").exists()


def test_what_write_standby_config_writes_is_read_back_as_repointed(tmp_path):
    conninfo = "host=127.0.0.1 port=15433 user=replicator password='it\\'s' application_name=pg-primary"
    assert not switchover.is_repointed(str(tmp_path), CANDIDATE, NAME)
    switchover.write_standby_config(str(tmp_path), conninfo)
    assert switchover.is_repointed(str(tmp_path), CANDIDATE, NAME)


def test_is_repointed_needs_a_conninfo_naming_the_candidate_and_us(tmp_path):
    ours = "host=127.0.0.1 port=15433 user=replicator password='it\\'s' application_name=pg-primary"
    data = _standby(tmp_path, ours)
    assert switchover.is_repointed(data, CANDIDATE, NAME)
    assert not switchover.is_repointed(data, CANDIDATE, "pg-replica")
    assert not switchover.is_repointed(data, dict(CANDIDATE, port=15432), NAME)
    assert not switchover.is_repointed(data, dict(CANDIDATE, host="127.0.0.2"), NAME)


def test_is_repointed_false_for_what_pg_basebackup_writes(tmp_path):
    # -R writes standby.signal and a primary_conninfo without our application_name
    assert not switchover.is_repointed(_standby(tmp_path, "host=127.0.0.1 port=15433 user=replicator"), CANDIDATE, NAME)


def test_is_repointed_false_without_standby_signal_or_auto_conf(tmp_path):
    assert not switchover.is_repointed(_standby(tmp_path, "host=127.0.0.1 port=15433 application_name=pg-primary",
                                                signal=False), CANDIDATE, NAME)
    os.unlink(str(tmp_path / "postgresql.auto.conf"))
    (tmp_path / "standby.signal").write_text("")
    assert not switchover.is_repointed(str(tmp_path), CANDIDATE, NAME)


def _stamp(text):
    return time.mktime(time.strptime(text, "%Y%m%dT%H%M%S"))


def test_only_copies_kept_by_this_switchover_count(tmp_path):
    data = tmp_path / "data"
    for stamp in ("20260801T030000", "20261127T115959", "20261127T120000", "20261127T120007"):
        (tmp_path / ("data.before-switchover-%s" % stamp)).mkdir()
    (tmp_path / "data.before-switchover-garbage").mkdir()
    started = _stamp("20261127T120000")
    assert [os.path.basename(p) for p in switchover.kept_copies(str(data), started + 0.6)] == [
        "data.before-switchover-20261127T120000", "data.before-switchover-20261127T120007"]
    assert switchover.kept_copies(str(data), None) == []
    assert switchover.kept_copies(str(data) + "/", started) == switchover.kept_copies(str(data), started)


def test_lsn_ordering():
    assert switchover._lsn("0/5233FF0") > switchover._lsn("0/5000000")
    assert switchover._lsn("1/0") > switchover._lsn("0/FFFFFFFF")
    assert switchover._lsn("0/A") == 10


def test_control_time_reads_pg_controldata_dates():
    stamp = switchover._control_time("Fri Nov 27 12:00:20 2026")
    assert time.localtime(stamp)[:6] == (2026, 11, 27, 12, 0, 20)
    assert switchover._control_time("not a date") is None and switchover._control_time(None) is None


def test_an_unknown_repoint_method_is_refused_before_anything_is_touched(tmp_path):
    with pytest.raises(errors.PostgresError, match="repoint 'pg_dump' is not one of auto, rewind, base_backup"):
        switchover.switchover(PRIMARY, str(tmp_path), CANDIDATE, "/nonexistent/bin", repoint="pg_dump", resume=True)


# ---- observe, with the servers faked at the boundary ------------------------------------------------

class Servers(object):
    """What each server answers: the candidate's and the old primary's pg_is_in_recovery(), whether
    the old primary's postmaster runs, and its pg_controldata."""

    def __init__(self, candidate_in_recovery=True, old_running=False, old_in_recovery=None,
                 cluster_state="shut down", reachable=True):
        self.candidate_in_recovery = candidate_in_recovery
        self.old_running = old_running
        self.old_in_recovery = old_in_recovery
        self.cluster_state = cluster_state
        self.reachable = reachable
        self.closed = []

    def install(self, monkeypatch):
        servers = self

        class DB(object):
            def __init__(self, conn):
                self.conn = conn

            def close(self):
                servers.closed.append(self.conn["port"])

        def connect(conn, deadline=10.0, autocommit=True):
            if conn["port"] == CANDIDATE["port"] and not servers.reachable:
                raise errors.PostgresError("cannot connect to %s:%s" % (conn["host"], conn["port"]))
            return DB(conn)

        def scalar(db, sql, args=None):
            if "pg_is_in_recovery" in sql:
                return servers.candidate_in_recovery if db.conn["port"] == CANDIDATE["port"] \
                    else servers.old_in_recovery
            if "pg_walfile_name" in sql:
                return "00000002000000000000000A"
            if "pg_stat_file" in sql:
                return 1764244800.0
            raise AssertionError("unexpected SQL %s" % sql)

        monkeypatch.setattr(switchover, "connect", connect)
        monkeypatch.setattr(switchover, "scalar", scalar)
        monkeypatch.setattr(switchover, "postmaster", lambda data_dir: (4242, 15432, "/tmp") if servers.old_running
                            else None)
        monkeypatch.setattr(switchover, "controldata", lambda bindir, data_dir, os_user=None: {
            "Database cluster state": servers.cluster_state, "Latest checkpoint location": "0/5000028",
            "pg_control last modified": "Fri Nov 27 12:00:20 2026"})


def data_dir(tmp_path, pg_control=True):
    path = tmp_path / "data"
    (path / "global").mkdir(parents=True)
    if pg_control:
        (path / "global" / "pg_control").write_text("")
    return str(path)


def observe(path):
    return switchover.observe(PRIMARY, path, CANDIDATE, "/usr/lib/postgresql/18/bin", NAME,
                              started_at=_stamp("20261127T120000"))


def test_observe_a_stopped_primary_with_the_candidate_still_following(tmp_path, monkeypatch):
    Servers(candidate_in_recovery=True).install(monkeypatch)
    seen = observe(data_dir(tmp_path))
    assert seen["stage"] == "primary_stopped"
    assert seen["shutdown_checkpoint_lsn"] == "0/5000028"
    assert time.localtime(seen["old_stopped_at"])[:6] == (2026, 11, 27, 12, 0, 20)


def test_observe_a_promoted_candidate_reads_its_promotion_time(tmp_path, monkeypatch):
    servers = Servers(candidate_in_recovery=False)
    servers.install(monkeypatch)
    seen = observe(data_dir(tmp_path))
    assert seen["stage"] == "promoted" and seen["promoted_at"] == 1764244800.0
    assert servers.closed == [CANDIDATE["port"]]  # every connection it opened was closed


def test_observe_done_when_the_old_primary_runs_as_a_replica(tmp_path, monkeypatch):
    Servers(candidate_in_recovery=False, old_running=True, old_in_recovery=True).install(monkeypatch)
    assert observe(data_dir(tmp_path))["stage"] == "done"


def test_observe_an_unreachable_candidate_refuses(tmp_path, monkeypatch):
    Servers(reachable=False).install(monkeypatch)
    with pytest.raises(errors.PostgresError, match="candidate cannot be reached"):
        observe(data_dir(tmp_path))


def test_observe_a_partial_rebuild_is_promoted_with_the_copy_kept_aside(tmp_path, monkeypatch):
    Servers(candidate_in_recovery=False, cluster_state=None).install(monkeypatch)
    path = data_dir(tmp_path, pg_control=False)  # pg_basebackup had not written pg_control yet
    (tmp_path / "data.before-switchover-20261127T120005").mkdir()
    seen = observe(path)
    assert seen["partial_rebuild"] and seen["stage"] == "promoted"
    assert seen["kept_copies"] == [str(tmp_path / "data.before-switchover-20261127T120005")]


def test_observe_refuses_a_directory_that_is_no_data_directory(tmp_path, monkeypatch):
    Servers(candidate_in_recovery=False).install(monkeypatch)
    path = data_dir(tmp_path, pg_control=False)
    with pytest.raises(errors.PostgresError, match="primary_data_dir %s is not a PostgreSQL data directory" % path):
        observe(path)


def test_an_older_switchovers_copy_does_not_make_a_partial_rebuild(tmp_path, monkeypatch):
    Servers(candidate_in_recovery=False).install(monkeypatch)
    path = data_dir(tmp_path, pg_control=False)
    (tmp_path / "data.before-switchover-20260801T030000").mkdir()  # months old: another switchover's
    with pytest.raises(errors.PostgresError, match="not a PostgreSQL data directory"):
        observe(path)


# ---- the base-backup rebuild keeps the old primary until the copy is complete -------------------------

def _old_primary(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("18\n")
    (data / "postgresql.conf").write_text("port = 15432\n")
    (data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
    return data


def test_rebuild_puts_the_servers_own_config_back_over_the_copy(tmp_path, monkeypatch):
    data = _old_primary(tmp_path)

    def clone(conn, bindir, target, os_user=None, standby=False):
        os.makedirs(target)
        with open(os.path.join(target, "postgresql.conf"), "w") as handle:
            handle.write("port = 15433\n")  # the new primary's own
        with open(os.path.join(target, "standby.signal"), "w"):
            pass
        return None, {"seconds": 1.5}
    monkeypatch.setattr(switchover, "clone", clone)

    out = switchover._rebuild_from_base_backup(str(data), "/bin", CANDIDATE, None)

    assert (data / "postgresql.conf").read_text() == "port = 15432\n"
    assert (data / "pg_hba.conf").read_text().startswith("host all all")
    assert os.path.basename(out["old_data_dir_kept_at"]).startswith("data.before-switchover-")
    assert os.path.exists(os.path.join(out["old_data_dir_kept_at"], "PG_VERSION"))  # never deleted
    assert out["seconds"] == 1.5


def test_a_failed_rebuild_puts_the_old_primary_back(tmp_path, monkeypatch):
    data = _old_primary(tmp_path)

    def clone(conn, bindir, target, os_user=None, standby=False):
        os.makedirs(target)
        raise errors.PostgresError("pg_basebackup failed: connection refused")
    monkeypatch.setattr(switchover, "clone", clone)

    with pytest.raises(errors.PostgresError, match="connection refused"):
        switchover._rebuild_from_base_backup(str(data), "/bin", CANDIDATE, None)
    assert (data / "PG_VERSION").read_text() == "18\n"
    assert not [p for p in os.listdir(str(tmp_path)) if p.startswith("data.before-switchover-")]


def test_a_redone_rebuild_keeps_the_earlier_copy_and_drops_the_partial_one(tmp_path, monkeypatch):
    kept = _old_primary(tmp_path)
    aside = tmp_path / "data.before-switchover-20261127T120005"
    os.rename(str(kept), str(aside))
    partial = tmp_path / "data"
    partial.mkdir()
    (partial / "half-copied").write_text("")

    def clone(conn, bindir, target, os_user=None, standby=False):
        os.makedirs(target)
        return None, {"seconds": 2.0}
    monkeypatch.setattr(switchover, "clone", clone)

    out = switchover._rebuild_from_base_backup(str(partial), "/bin", CANDIDATE, None, kept_aside=str(aside))

    assert out["old_data_dir_kept_at"] == str(aside) and aside.exists()
    assert not (partial / "half-copied").exists()
    assert (partial / "postgresql.conf").read_text() == "port = 15432\n"
