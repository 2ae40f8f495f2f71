"""Unit tests for module_utils/postgres.py, postgres_upgrade.py and postgres_switchover.py (no server)."""

import json
import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils import postgres as pg
from ansible_collections.fournines.runbooks.plugins.module_utils import postgres_switchover as sw
from ansible_collections.fournines.runbooks.plugins.module_utils import postgres_upgrade as up


@pytest.mark.parametrize("value, expected", [
    ("15.18", (15, 18)), ("18", (18, None)), (150018, (15, 18)), ("180006", (18, 6)),
    ("PostgreSQL 15.2", (15, 2)), (" 16.0 ", (16, 0)),
])
def test_parse_version(value, expected):
    assert pg.parse_version(value) == expected


@pytest.mark.parametrize("value", ["fifteen", "15.1.2", "", None, "9.6", True, "15.x"])
def test_parse_version_refuses(value):
    with pytest.raises(pg.PostgresError, match="MAJOR.MINOR"):
        pg.parse_version(value)


@pytest.mark.parametrize("current, target, expected", [
    ("15.17", "15.18", "upgrade"), ("15.18", "15.18", "noop"), (150017, "15.20", "upgrade"),
])
def test_minor_policy_allows(current, target, expected):
    assert pg.minor_policy(current, target) == expected


@pytest.mark.parametrize("current, target, message", [
    ("15.18", "15.17", "downgrade"), ("15.18", "16.1", "another major"), ("15.18", "18", "full versions"),
    ("15.18", "x", "does not parse"),
])
def test_minor_policy_refuses(current, target, message):
    with pytest.raises(pg.PostgresError, match=message):
        pg.minor_policy(current, target)


def test_compare_fingerprints_names_each_difference():
    before = {"a.t": {"rows": 1, "checksum": "x"}, "a.u": {"rows": 2, "checksum": "y"}, "a.v": {"rows": 0, "checksum": ""}}
    after = {"a.t": {"rows": 1, "checksum": "x"}, "a.u": {"rows": 2, "checksum": "z"}, "a.w": {"rows": 0, "checksum": ""}}
    diffs = pg.compare_fingerprints(before, after)
    assert diffs == ["a.u: same row count, different checksum", "a.v: only in the source", "a.w: only in the upgraded copy"]
    assert pg.compare_fingerprints(before, before) == []


def test_bindir_and_data_dir_errors_name_the_input(tmp_path):
    with pytest.raises(pg.PostgresError, match="bindir '/nope' does not exist"):
        pg.bindir_version("/nope")
    with pytest.raises(pg.PostgresError, match="has no executable 'postgres'"):
        pg.bindir_version(str(tmp_path))
    with pytest.raises(pg.PostgresError, match="is not a PostgreSQL cluster"):
        pg.data_dir_major(str(tmp_path))
    (tmp_path / "PG_VERSION").write_text("15\n")
    (tmp_path / "global").mkdir()
    assert pg.data_dir_major(str(tmp_path)) == 15


def test_postmaster_of_a_stopped_cluster_is_none(tmp_path):
    assert pg.postmaster(str(tmp_path)) is None
    (tmp_path / "postmaster.pid").write_text("999999999\n/data\n0\n5432\n/tmp\n")
    assert pg.postmaster(str(tmp_path)) is None  # that pid does not run


def test_transfer_modes():
    assert up.validate_transfer("copy") == "copy"
    with pytest.raises(pg.PostgresError, match="use one of link, copy, clone"):
        up.validate_transfer("swap")


def test_pg_upgrade_command_carries_the_real_runs_options():
    cmd = up.pg_upgrade_cmd("/old", "/new", "/d15", "/d18", "link", 4, 50432, 50433, "/sock", check=True)
    assert cmd[0] == "/new/pg_upgrade"
    assert cmd[-3:] == ["-s", "/sock", "--check"] and "--link" in cmd and cmd[cmd.index("-j") + 1] == "4"


def test_explain_failure_quotes_output_and_listed_files(tmp_path):
    new = tmp_path / "new"
    out_dir = new / "pg_upgrade_output.d" / "20261127T000000.000" / "log"
    out_dir.mkdir(parents=True)
    (out_dir.parent / "loadable_libraries.txt").write_text("could not load library \"$libdir/pgcrypto\"\nIn database: appdb\n")
    (out_dir / "pg_upgrade_dump_5.log").write_text("ok\npg_restore: error: could not execute query: ERROR:  column \"checkpoints_timed\" does not exist\n")
    output = "Checking for presence of required libraries                   fatal\nYour installation references loadable libraries\n"
    reasons = up.explain_failure(str(tmp_path), str(new), output)
    text = " ".join(reasons)
    assert "fatal" in text and "pgcrypto" in text and "checkpoints_timed" in text


def _marker(new, transfer, checkpoint="0/1"):
    new.mkdir(parents=True, exist_ok=True)
    (new / up.MARKER).write_text(json.dumps({"transfer": transfer, "checkpoint": checkpoint}))


def test_rollback_state_without_an_upgrade(tmp_path):
    old = tmp_path / "old"
    (old / "global").mkdir(parents=True)
    state = up.rollback_state(str(old), str(tmp_path / "new"), "/new/bin")
    assert state["old_startable"] and not state["new_has_run"]


def test_rollback_after_link_upgrade_not_yet_started(tmp_path, monkeypatch):
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "global").mkdir(parents=True)
    (old / "global" / "pg_control.old").write_text("x")
    _marker(new, "link", "0/1")
    monkeypatch.setattr(up, "_checkpoint", lambda *a: "0/1")
    state = up.rollback_state(str(old), str(new), "/new/bin")
    assert state["old_startable"] and state["transfer"] == "link"
    up.restore_old(str(old), str(new), "/new/bin")
    assert (old / "global" / "pg_control").exists() and not (old / "global" / "pg_control.old").exists()


def test_rollback_refused_after_link_upgrade_has_run(tmp_path, monkeypatch):
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "global").mkdir(parents=True)
    (old / "global" / "pg_control.old").write_text("x")
    _marker(new, "link", "0/1")
    monkeypatch.setattr(up, "_checkpoint", lambda *a: "0/2")  # a checkpoint since: the new cluster ran
    with pytest.raises(pg.PostgresError, match="rollback refused"):
        up.restore_old(str(old), str(new), "/new/bin")
    assert (old / "global" / "pg_control.old").exists()


def test_rollback_after_copy_upgrade_has_run(tmp_path, monkeypatch):
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "global").mkdir(parents=True)
    _marker(new, "copy", "0/1")
    monkeypatch.setattr(up, "_checkpoint", lambda *a: "0/2")
    state = up.rollback_state(str(old), str(new), "/new/bin")
    assert state["old_startable"] and state["new_has_run"] and "untouched" in state["reason"]


def test_lsn_ordering():
    assert sw._lsn("0/5233FF0") > sw._lsn("0/5000000")
    assert sw._lsn("1/0") > sw._lsn("0/FFFFFFFF")


def test_write_standby_config_replaces_the_old_conninfo(tmp_path):
    (tmp_path / "postgresql.auto.conf").write_text("primary_conninfo = 'host=a port=1'\nwork_mem = '8MB'\n")
    sw.write_standby_config(str(tmp_path), "host=127.0.0.1 port=15433 user=replicator")
    text = (tmp_path / "postgresql.auto.conf").read_text()
    assert text.count("primary_conninfo") == 1 and "port=15433" in text and "work_mem" in text
    assert (tmp_path / "standby.signal").exists()


def test_quote_conninfo_values():
    assert up._quote("127.0.0.1") == "127.0.0.1"
    assert up._quote("a b'c") == "'a b\\'c'"


def test_run_reports_the_commands_own_message():
    with pytest.raises(pg.PostgresError, match="false failed \\(exit 1\\)"):
        pg.run(["false"])
    rc, out, _ = pg.run(["echo", "hi"])
    assert rc == 0 and out.strip() == "hi"
    with pytest.raises(pg.PostgresError, match="cannot run /nonexistent"):
        pg.run(["/nonexistent"])
