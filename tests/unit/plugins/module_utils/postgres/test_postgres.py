"""Unit tests for postgres/{errors,versions,sql}.py, postgres/host/server.py and postgres/host/upgrade.py (no server);
postgres/host/switchover.py has its own, host/test_switchover.py."""

import json
import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import errors
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import server
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import versions
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
