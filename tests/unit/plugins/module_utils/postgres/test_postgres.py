"""Unit tests for module_utils/postgres/sql.py, postgres_upgrade.py and postgres_switchover.py (no server)."""

import json
import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import errors
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import server
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import versions
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import switchover
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import upgrade


@pytest.mark.parametrize("value, expected", [
    ("15.18", (15, 18)), ("18", (18, None)), (150018, (15, 18)), ("180006", (18, 6)),
    ("PostgreSQL 15.2", (15, 2)), (" 16.0 ", (16, 0)),
])
def test_parse_version(value, expected):
    assert versions.parse_version(value) == expected


@pytest.mark.parametrize("value", ["fifteen", "15.1.2", "", None, "9.6", True, "15.x"])
def test_parse_version_refuses(value):
    with pytest.raises(errors.PostgresError, match="MAJOR.MINOR"):
        versions.parse_version(value)


@pytest.mark.parametrize("current, target, expected", [
    ("15.17", "15.18", "upgrade"), ("15.18", "15.18", "noop"), (150017, "15.20", "upgrade"),
])
def test_minor_policy_allows(current, target, expected):
    assert versions.minor_policy(current, target) == expected


@pytest.mark.parametrize("current, target, message", [
    ("15.18", "15.17", "downgrade"), ("15.18", "16.1", "another major"), ("15.18", "18", "full versions"),
    ("15.18", "x", "does not parse"),
])
def test_minor_policy_refuses(current, target, message):
    with pytest.raises(errors.PostgresError, match=message):
        versions.minor_policy(current, target)


def test_compare_fingerprints_names_each_difference():
    before = {"a.t": {"rows": 1, "checksum": "x"}, "a.u": {"rows": 2, "checksum": "y"}, "a.v": {"rows": 0, "checksum": ""}}
    after = {"a.t": {"rows": 1, "checksum": "x"}, "a.u": {"rows": 2, "checksum": "z"}, "a.w": {"rows": 0, "checksum": ""}}
    diffs = sql.compare_fingerprints(before, after)
    assert diffs == ["a.u: same row count, different checksum", "a.v: only in the source", "a.w: only in the upgraded copy"]
    assert sql.compare_fingerprints(before, before) == []


def test_bindir_and_data_dir_errors_name_the_input(tmp_path):
    with pytest.raises(errors.PostgresError, match="bindir '/nope' does not exist"):
        server.bindir_version("/nope")
    with pytest.raises(errors.PostgresError, match="has no executable 'postgres'"):
        server.bindir_version(str(tmp_path))
    with pytest.raises(errors.PostgresError, match="is not a PostgreSQL cluster"):
        server.data_dir_major(str(tmp_path))
    (tmp_path / "PG_VERSION").write_text("15\n")
    (tmp_path / "global").mkdir()
    assert server.data_dir_major(str(tmp_path)) == 15


def test_postmaster_of_a_stopped_cluster_is_none(tmp_path):
    assert server.postmaster(str(tmp_path)) is None
    (tmp_path / "postmaster.pid").write_text("999999999\n/data\n0\n5432\n/tmp\n")
    assert server.postmaster(str(tmp_path)) is None  # that pid does not run


def test_transfer_modes():
    assert upgrade.validate_transfer("copy") == "copy"
    with pytest.raises(errors.PostgresError, match="use one of link, copy, clone"):
        upgrade.validate_transfer("swap")


def test_pg_upgrade_command_carries_the_real_runs_options():
    cmd = upgrade.pg_upgrade_cmd("/old", "/new", "/d15", "/d18", "link", 4, 50432, 50433, "/sock", check=True)
    assert cmd[0] == "/new/pg_upgrade"
    assert cmd[-3:] == ["-s", "/sock", "--check"] and "--link" in cmd and cmd[cmd.index("-j") + 1] == "4"


def test_explain_failure_quotes_output_and_listed_files(tmp_path):
    new = tmp_path / "new"
    out_dir = new / "pg_upgrade_output.d" / "20261127T000000.000" / "log"
    out_dir.mkdir(parents=True)
    (out_dir.parent / "loadable_libraries.txt").write_text("could not load library \"$libdir/pgcrypto\"\nIn database: appdb\n")
    (out_dir / "pg_upgrade_dump_5.log").write_text("ok\npg_restore: error: could not execute query: ERROR:  column \"checkpoints_timed\" does not exist\n")
    output = "Checking for presence of required libraries                   fatal\nYour installation references loadable libraries\n"
    reasons = upgrade.explain_failure(str(tmp_path), str(new), output)
    text = " ".join(reasons)
    assert "fatal" in text and "pgcrypto" in text and "checkpoints_timed" in text


def _marker(new, transfer, checkpoint="0/1"):
    new.mkdir(parents=True, exist_ok=True)
    (new / upgrade.MARKER).write_text(json.dumps({"transfer": transfer, "checkpoint": checkpoint}))


def test_rollback_state_without_an_upgrade(tmp_path):
    old = tmp_path / "old"
    (old / "global").mkdir(parents=True)
    state = upgrade.rollback_state(str(old), str(tmp_path / "new"), "/new/bin")
    assert state["old_startable"] and not state["new_has_run"]


def test_rollback_after_link_upgrade_not_yet_started(tmp_path, monkeypatch):
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "global").mkdir(parents=True)
    (old / "global" / "pg_control.old").write_text("x")
    _marker(new, "link", "0/1")
    monkeypatch.setattr(upgrade, "_checkpoint", lambda *a: "0/1")
    state = upgrade.rollback_state(str(old), str(new), "/new/bin")
    assert state["old_startable"] and state["transfer"] == "link"
    upgrade.restore_old(str(old), str(new), "/new/bin")
    assert (old / "global" / "pg_control").exists() and not (old / "global" / "pg_control.old").exists()


def test_rollback_refused_after_link_upgrade_has_run(tmp_path, monkeypatch):
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "global").mkdir(parents=True)
    (old / "global" / "pg_control.old").write_text("x")
    _marker(new, "link", "0/1")
    monkeypatch.setattr(upgrade, "_checkpoint", lambda *a: "0/2")  # a checkpoint since: the new cluster ran
    with pytest.raises(errors.PostgresError, match="rollback refused"):
        upgrade.restore_old(str(old), str(new), "/new/bin")
    assert (old / "global" / "pg_control.old").exists()


def test_rollback_after_copy_upgrade_has_run(tmp_path, monkeypatch):
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "global").mkdir(parents=True)
    _marker(new, "copy", "0/1")
    monkeypatch.setattr(upgrade, "_checkpoint", lambda *a: "0/2")
    state = upgrade.rollback_state(str(old), str(new), "/new/bin")
    assert state["old_startable"] and state["new_has_run"] and "untouched" in state["reason"]


def test_lsn_ordering():
    assert switchover._lsn("0/5233FF0") > switchover._lsn("0/5000000")
    assert switchover._lsn("1/0") > switchover._lsn("0/FFFFFFFF")


def test_write_standby_config_replaces_the_old_conninfo(tmp_path):
    (tmp_path / "postgresql.auto.conf").write_text("primary_conninfo = 'host=a port=1'\nwork_mem = '8MB'\n")
    switchover.write_standby_config(str(tmp_path), "host=127.0.0.1 port=15433 user=replicator")
    text = (tmp_path / "postgresql.auto.conf").read_text()
    assert text.count("primary_conninfo") == 1 and "port=15433" in text and "work_mem" in text
    assert (tmp_path / "standby.signal").exists()


def test_quote_conninfo_values():
    assert upgrade._quote("127.0.0.1") == "127.0.0.1"
    assert upgrade._quote("a b'c") == "'a b\\'c'"


def test_run_reports_the_commands_own_message():
    with pytest.raises(errors.PostgresError, match="false failed \\(exit 1\\)"):
        server.run(["false"])
    rc, out, _ = server.run(["echo", "hi"])
    assert rc == 0 and out.strip() == "hi"
    with pytest.raises(errors.PostgresError, match="cannot run /nonexistent"):
        server.run(["/nonexistent"])


# --- carrying on an interrupted switchover ----------------------------------------------------

@pytest.mark.parametrize("candidate, old_running, old_recovery, old_state, repointed, stage", [
    (True, True, False, None, False, "not_started"),          # interrupted before the primary stopped
    (True, False, None, "shut down", False, "primary_stopped"),
    (False, False, None, "shut down", False, "promoted"),      # promoted, old primary untouched
    (False, False, None, "shut down in recovery", False, "promoted"),  # pg_rewind ran, config not yet written
    (False, False, None, "shut down", True, "repointed"),
    (False, True, True, None, True, "done"),
])
def test_classify_interrupted_switchover(candidate, old_running, old_recovery, old_state, repointed, stage):
    assert switchover.classify(candidate, old_running, old_recovery, old_state, repointed, False) == stage


@pytest.mark.parametrize("candidate, old_running, old_recovery, old_state, message", [
    (None, False, None, "shut down", "cannot be reached"),
    (True, True, True, None, "both servers are replicas"),
    (False, True, False, None, "split brain"),
    (True, False, None, "in production", "not shut down cleanly"),  # crashed: may hold unsent WAL
    (True, False, None, None, "not shut down cleanly"),
])
def test_classify_refuses_states_no_switchover_leaves(candidate, old_running, old_recovery, old_state, message):
    with pytest.raises(errors.PostgresError, match=message):
        switchover.classify(candidate, old_running, old_recovery, old_state, False, False)


def _standby(tmp_path, conninfo, signal=True):
    (tmp_path / "postgresql.auto.conf").write_text("work_mem = '4MB'\nprimary_conninfo = '%s'\n"
                                                   % conninfo.replace("'", "''"))
    if signal:
        (tmp_path / "standby.signal").write_text("")
    return str(tmp_path)


CANDIDATE = {"host": "127.0.0.1", "port": 15433}


def test_is_repointed_needs_the_signal_and_a_conninfo_naming_the_candidate_and_us(tmp_path):
    ours = "host=127.0.0.1 port=15433 user=replicator password='it\\'s' application_name=pg-primary"
    assert switchover.is_repointed(_standby(tmp_path, ours), CANDIDATE, "pg-primary")
    assert not switchover.is_repointed(str(tmp_path), CANDIDATE, "pg-replica")
    assert not switchover.is_repointed(str(tmp_path), dict(CANDIDATE, port=15432), "pg-primary")


def test_is_repointed_false_for_a_base_backup_that_pg_basebackup_wrote(tmp_path):
    # -R writes standby.signal and a primary_conninfo without our application_name
    assert not switchover.is_repointed(_standby(tmp_path, "host=127.0.0.1 port=15433 user=replicator"), CANDIDATE, "pg-primary")



def test_is_repointed_false_without_standby_signal(tmp_path):
    assert not switchover.is_repointed(_standby(tmp_path, "host=127.0.0.1 port=15433 application_name=pg-primary",
                                        signal=False), CANDIDATE, "pg-primary")


def test_control_time_reads_pg_controldata_dates():
    import time
    stamp = switchover._control_time("Fri Nov 27 12:00:20 2026")
    assert time.localtime(stamp)[:6] == (2026, 11, 27, 12, 0, 20)
    assert switchover._control_time("not a date") is None and switchover._control_time(None) is None


def test_only_copies_kept_by_this_switchover_count(tmp_path):
    import time
    data = tmp_path / "data"
    started = time.mktime(time.strptime("20261127T120000", "%Y%m%dT%H%M%S"))
    for stamp in ("20260801T030000", "20261127T115959", "20261127T120000", "20261127T120007"):
        (tmp_path / ("data.before-switchover-%s" % stamp)).mkdir()
    (tmp_path / "data.before-switchover-garbage").mkdir()
    assert [os.path.basename(p) for p in switchover.kept_copies(str(data), started + 0.6)] == [
        "data.before-switchover-20261127T120000", "data.before-switchover-20261127T120007"]
    assert switchover.kept_copies(str(data), None) == []
