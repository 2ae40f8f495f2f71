# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Major upgrades with pg_upgrade: preflight findings, the timed run, clones and rollback rules.

Rollback rules (what ``rollback_state`` reports at every step):

- ``--copy`` / ``--clone``: the old data directory is never modified; it can be started again
  as long as the new cluster has not accepted writes that must be kept.
- ``--link``: pg_upgrade renames the old ``global/pg_control`` to ``pg_control.old`` and the
  two clusters share data files. The old cluster may be started again (after renaming
  pg_control back) only while the new cluster has never been started; once it has run, the
  old one is gone and only a restore from backup remains.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import compat
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.server import (
    bindir_version,
    chown_to,
    controldata,
    data_dir_major,
    postmaster,
    require_tools,
    run,
)
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.sql import query, connect
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.upgrade_output import explain_failure

TRANSFER_MODES = ("link", "copy", "clone")
MARKER = "fournines-upgrade.json"
_NEW_TOOLS = ("initdb", "pg_ctl", "pg_upgrade", "pg_resetwal", "pg_dump", "pg_dumpall", "pg_restore", "psql", "vacuumdb")
_OLD_TOOLS = ("postgres", "pg_ctl", "pg_controldata")
_REG_TYPES = ("regcollation", "regconfig", "regdictionary", "regnamespace", "regoper", "regoperator", "regproc",
              "regprocedure")


def _finding(check, ok, message, severity="error"):
    return compat.finding(check, ok, message, severity)


def _names(directory, suffix):
    """Names of the files in ``directory`` ending in ``suffix``, without it (none if it is missing)."""
    if not os.path.isdir(directory):
        return []
    return [f[:-len(suffix)] for f in os.listdir(directory) if f.endswith(suffix)]


def validate_transfer(transfer):
    if transfer not in TRANSFER_MODES:
        raise PostgresError("transfer %r is not valid; use one of %s" % (transfer, ", ".join(TRANSFER_MODES)))
    return transfer


def _new_dirs(new_bindir, os_user=None):
    """(sharedir, pkglibdir) of the new binaries, from pg_config when present."""
    pg_config = os.path.join(new_bindir, "pg_config")
    if os.access(pg_config, os.X_OK):
        share = run([pg_config, "--sharedir"], timeout=30)[1]
        lib = run([pg_config, "--pkglibdir"], timeout=30)[1]
        return share.strip(), lib.strip()
    base = os.path.dirname(os.path.realpath(new_bindir))
    return os.path.join(base, "share"), os.path.join(base, "lib")


#: The pg_upgrade options postgres_upgrade_check and postgres_upgrade share (doc fragment postgres.pg_upgrade).
PG_UPGRADE_SPEC = dict(
    old_bindir=dict(type="path", required=True), new_bindir=dict(type="path", required=True),
    old_data_dir=dict(type="path", required=True), old_major=dict(type="int"), new_major=dict(type="int"),
    transfer=dict(type="str", choices=["link", "copy", "clone"], default="link"), jobs=dict(type="int", default=1),
    new_port=dict(type="int", required=True), socket_dir=dict(type="path", required=True),
    os_user=dict(type="str", default="postgres"),
)


def validate_pair(old_bindir, new_bindir, old_data_dir, old_major=None, new_major=None):
    """Check both bindirs and the old data dir; return (old_version, new_version)."""
    old_version = bindir_version(old_bindir, old_major, "old_bindir")
    new_version = bindir_version(new_bindir, new_major, "new_bindir")
    require_tools(old_bindir, _OLD_TOOLS, "old_bindir")
    require_tools(new_bindir, _NEW_TOOLS, "new_bindir")
    if new_version[0] <= old_version[0]:
        raise PostgresError("new_bindir holds %d.%d, not a newer major than old_bindir's %d.%d"
                            % (new_version + old_version))
    data_major = data_dir_major(old_data_dir, "old_data_dir")
    if data_major != old_version[0]:
        raise PostgresError("old_data_dir %r is a PostgreSQL %d cluster but old_bindir holds %d"
                            % (old_data_dir, data_major, old_version[0]))
    return old_version, new_version


def catalog_findings(conn, new_bindir, info):
    """Findings from the running old cluster: extensions, libraries, reg* columns, prepared
    transactions, replication slots, settings. ``info`` is postgres.cluster_info()."""
    sharedir, libdir = _new_dirs(new_bindir)
    findings = compat.extension_findings(info, _names(os.path.join(sharedir, "extension"), ".control"),
                                         _names(libdir, ".so"), libdir)
    prepared = int(info.get("prepared_transactions") or 0)
    findings.append(_finding("prepared_transactions", prepared == 0,
                             "%d prepared transaction(s) open; commit or roll them back first" % prepared))
    for slot in info.get("replication_slots") or []:
        logical = slot["slot_type"] == "logical"
        findings.append(_finding(
            "replication_slot:%s" % slot["slot_name"], False,
            "%s slot %s%s is not carried over as is; recreate it on the new cluster after the upgrade"
            % (slot["slot_type"], slot["slot_name"], " (database %s)" % slot["database"] if logical else ""),
            severity="error" if logical else "warning"))
    for dbname in info["databases"]:
        db = connect(dict(conn, dbname=dbname))
        try:
            cols = query(db, "SELECT n.nspname || '.' || c.relname || '.' || a.attname AS col, t.typname FROM pg_attribute a"
                             " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                             " JOIN pg_type t ON t.oid = a.atttypid WHERE NOT a.attisdropped AND a.attnum > 0"
                             " AND c.relkind IN ('r', 'm', 'p') AND t.typname = ANY(%s)"
                             " AND n.nspname NOT IN ('pg_catalog', 'information_schema')", (list(_REG_TYPES),))
        finally:
            db.close()
        for col in cols:
            findings.append(_finding("reg_column:%s:%s" % (dbname, col["col"]), False,
                                     "column %s in database %s uses %s, whose OIDs pg_upgrade cannot keep"
                                     % (col["col"], dbname, col["typname"])))
    settings = info["settings"]
    findings.append(_finding("settings", True, "data_checksums=%s, encoding=%s, lc_collate=%s, lc_ctype=%s: the new "
                                               "cluster is initialised to match" % (
                                                   settings.get("data_checksums"), settings.get("server_encoding"),
                                                   settings.get("lc_collate"), settings.get("lc_ctype"))))
    return findings


def initdb_new(new_bindir, new_data_dir, old_bindir, old_data_dir, os_user=None, superuser="postgres"):
    """initdb the new cluster with the old one's checksum setting (18 turns checksums on by default)."""
    control = controldata(old_bindir, old_data_dir, os_user)
    checksums = control.get("Data page checksum version", "0") not in ("0", "")
    parent = os.path.dirname(new_data_dir)
    if not os.path.isdir(parent):
        os.makedirs(parent)
        chown_to(parent, os_user)
    cmd = [os.path.join(new_bindir, "initdb"), "-D", new_data_dir, "-U", superuser, "--auth-local=trust",
           "--auth-host=scram-sha-256", "--data-checksums" if checksums else "--no-data-checksums"]
    run(cmd, os_user=os_user, what="initdb of the new cluster", timeout=300)
    return {"data_checksums": checksums}


def write_settings(data_dir, settings, hba_from=None, os_user=None):
    """Append ``settings`` (later lines win) and copy pg_hba.conf from the old cluster."""
    if settings:
        with open(os.path.join(data_dir, "postgresql.conf"), "a") as handle:
            handle.write("\n# fournines.runbooks: settings carried over from the old cluster\n")
            for key in sorted(settings):
                value = str(settings[key]).replace("'", "''")
                handle.write("%s = '%s'\n" % (key, value))
    if hba_from and os.path.exists(os.path.join(hba_from, "pg_hba.conf")):
        shutil.copyfile(os.path.join(hba_from, "pg_hba.conf"), os.path.join(data_dir, "pg_hba.conf"))
        chown_to(os.path.join(data_dir, "pg_hba.conf"), os_user)


def pg_upgrade_cmd(old_bindir, new_bindir, old_data_dir, new_data_dir, transfer, jobs, old_port, new_port,
                   socket_dir, superuser="postgres", check=False):
    cmd = [os.path.join(new_bindir, "pg_upgrade"), "-b", old_bindir, "-B", new_bindir, "-d", old_data_dir,
           "-D", new_data_dir, "-p", str(old_port), "-P", str(new_port), "-U", superuser, "-j", str(jobs),
           "--%s" % validate_transfer(transfer)]
    if socket_dir:
        cmd += ["-s", socket_dir]
    if check:
        cmd.append("--check")
    return cmd


def run_check(old_bindir, new_bindir, old_data_dir, work_dir, transfer, jobs, old_port, new_port, socket_dir,
              os_user=None, superuser="postgres", settings=None):
    """``pg_upgrade --check`` with the real run's options against a throw-away new cluster.

    Leaves nothing behind: the folders it had to create (``work_dir`` and missing parents) go
    again with pg_upgrade's output, so a plan (``--check`` mode) creates nothing on the host."""
    created = _create_dirs(work_dir, os_user)
    # A private folder for pg_upgrade's output, removed afterwards (the reasons are returned).
    run_dir = os.path.join(work_dir, "check-%d" % os.getpid())
    scratch = os.path.join(run_dir, "new")
    if os.path.exists(run_dir):
        shutil.rmtree(run_dir)
    _mkdir_owned(run_dir, os_user)
    work_dir = run_dir
    try:
        initdb_new(new_bindir, scratch, old_bindir, old_data_dir, os_user, superuser)
        write_settings(scratch, settings)
        cmd = pg_upgrade_cmd(old_bindir, new_bindir, old_data_dir, scratch, transfer, jobs, old_port, new_port,
                             socket_dir, superuser, check=True)
        started = time.monotonic()
        rc, out, err = run(cmd, os_user=os_user, cwd=work_dir, check=False, timeout=1800)
        result = {"rc": rc, "ok": rc == 0, "seconds": round(time.monotonic() - started, 3), "command": " ".join(cmd)}
        result["reasons"] = [] if rc == 0 else explain_failure(work_dir, scratch, out + "\n" + err)
        return result
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        for directory in created:
            try:
                os.rmdir(directory)
            except OSError:  # something else put files there meanwhile: theirs, left alone
                break


def _create_dirs(path, os_user):
    """Create ``path`` (given to ``os_user``) and its missing parents; return those created, deepest first."""
    created = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        created.append(current)
        current = os.path.dirname(current)
    _mkdir_owned(path, os_user)
    return created


def _mkdir_owned(path, os_user):
    if not os.path.isdir(path):
        os.makedirs(path)
    chown_to(path, os_user)


def _checkpoint(new_bindir, new_data_dir, os_user):
    return controldata(new_bindir, new_data_dir, os_user).get("Latest checkpoint location")


def read_marker(new_data_dir):
    try:
        with open(os.path.join(new_data_dir, MARKER)) as handle:
            return json.load(handle)
    except (IOError, ValueError):
        return None


def rollback_state(old_data_dir, new_data_dir, new_bindir, os_user=None):
    """Which rollback is still possible: {'old_startable': bool, 'reason': str, 'transfer': ...}."""
    marker = read_marker(new_data_dir) if new_data_dir and os.path.isdir(new_data_dir) else None
    linked = os.path.exists(os.path.join(old_data_dir, "global", "pg_control.old"))
    if marker is None and not linked:
        return {"old_startable": True, "transfer": None, "new_has_run": False,
                "reason": "no completed upgrade: the old cluster can be started as it is"}
    transfer = (marker or {}).get("transfer", "link" if linked else None)
    new_has_run = bool(marker and (postmaster(new_data_dir) or
                                   _checkpoint(new_bindir, new_data_dir, os_user) != marker.get("checkpoint")))
    if transfer != "link":
        return {"old_startable": True, "transfer": transfer, "new_has_run": new_has_run,
                "reason": "--%s left the old data directory untouched: it can be started again (writes made on the "
                          "new cluster since would be lost)" % transfer}
    if new_has_run:
        return {"old_startable": False, "transfer": "link", "new_has_run": True,
                "reason": "--link and the new cluster has run: the old cluster shares its data files and must never be "
                          "started again; only a restore from backup can bring the old major back"}
    return {"old_startable": True, "transfer": "link", "new_has_run": False,
            "reason": "--link but the new cluster has never started: renaming global/pg_control.old back lets the old "
                      "cluster start again"}


def restore_old(old_data_dir, new_data_dir, new_bindir, os_user=None):
    """Make the old data directory startable again, if the rules allow; return the state used."""
    state = rollback_state(old_data_dir, new_data_dir, new_bindir, os_user)
    if not state["old_startable"]:
        raise PostgresError("rollback refused: %s" % state["reason"])
    old_control = os.path.join(old_data_dir, "global", "pg_control.old")
    if os.path.exists(old_control):
        os.rename(old_control, os.path.join(old_data_dir, "global", "pg_control"))
    return state


PREPARED = "fournines-prepared.json"


def prepare(old_bindir, new_bindir, old_data_dir, new_data_dir, os_user=None, superuser="postgres", settings=None,
            check_mode=False):
    """initdb the new cluster ahead of the downtime (the old one may still run). Idempotent."""
    if os.path.exists(os.path.join(new_data_dir, PREPARED)) or read_marker(new_data_dir):
        return False, {"new_data_dir": new_data_dir, "already_prepared": True}
    if check_mode:
        return True, {"new_data_dir": new_data_dir}
    if os.path.exists(new_data_dir):
        if postmaster(new_data_dir):
            raise PostgresError("new_data_dir %s holds a running server; stop it or choose another path" % new_data_dir)
        shutil.rmtree(new_data_dir)
    started = time.monotonic()
    info = initdb_new(new_bindir, new_data_dir, old_bindir, old_data_dir, os_user, superuser)
    write_settings(new_data_dir, settings, hba_from=old_data_dir, os_user=os_user)
    info.update(new_data_dir=new_data_dir, seconds=round(time.monotonic() - started, 3))
    with open(os.path.join(new_data_dir, PREPARED), "w") as handle:
        json.dump(info, handle)
    chown_to(os.path.join(new_data_dir, PREPARED), os_user)
    return True, info


def upgrade(old_bindir, new_bindir, old_data_dir, new_data_dir, transfer, jobs, old_port, new_port, socket_dir,
            work_dir, os_user=None, superuser="postgres", settings=None, check_mode=False):
    """Run pg_upgrade (old cluster stopped) with timing. Idempotent through the marker file."""
    validate_transfer(transfer)
    marker = read_marker(new_data_dir)
    if marker:
        return False, dict(marker, already_done=True)
    old_control = os.path.join(old_data_dir, "global", "pg_control.old")
    if os.path.exists(old_control) and not check_mode:
        # A --link run interrupted before it finished: the new cluster never started, so the old
        # one is intact once pg_control is back; pg_upgrade then runs again from the start.
        os.rename(old_control, os.path.join(old_data_dir, "global", "pg_control"))
    if postmaster(old_data_dir):
        raise PostgresError("the old cluster in %s is running; stop it before pg_upgrade (the runbook's real-run "
                            "step does, after the gate)" % old_data_dir)
    state = controldata(old_bindir, old_data_dir, os_user).get("Database cluster state", "")
    if state != "shut down":
        raise PostgresError("the old cluster in %s is in state %r, not 'shut down'; start and stop it cleanly "
                            "(pg_ctl stop -m fast) before pg_upgrade" % (old_data_dir, state))
    plan = {"transfer": transfer, "new_data_dir": new_data_dir, "old_data_dir": old_data_dir,
            "command": " ".join(pg_upgrade_cmd(old_bindir, new_bindir, old_data_dir, new_data_dir, transfer, jobs,
                                               old_port, new_port, socket_dir, superuser))}
    if check_mode:
        return True, plan
    prepared = os.path.join(new_data_dir, PREPARED)
    if os.path.exists(new_data_dir) and not os.path.exists(prepared):
        if postmaster(new_data_dir):
            raise PostgresError("new_data_dir %s holds a running server; stop it or choose another path" % new_data_dir)
        shutil.rmtree(new_data_dir)  # a half-made new cluster from an interrupted run: never started, safe to redo
    _mkdir_owned(work_dir, os_user)
    timings = {}
    started = time.monotonic()
    if not os.path.exists(prepared):  # not initialised ahead of the downtime: do it now
        initdb_new(new_bindir, new_data_dir, old_bindir, old_data_dir, os_user, superuser)
        write_settings(new_data_dir, settings, hba_from=old_data_dir, os_user=os_user)
    else:
        os.unlink(prepared)
    timings["initdb"] = round(time.monotonic() - started, 3)
    cmd = pg_upgrade_cmd(old_bindir, new_bindir, old_data_dir, new_data_dir, transfer, jobs, old_port, new_port,
                         socket_dir, superuser)
    mark = time.monotonic()
    rc, out, err = run(cmd, os_user=os_user, cwd=work_dir, check=False, timeout=6 * 3600)
    timings["pg_upgrade"] = round(time.monotonic() - mark, 3)
    if rc != 0:
        reasons = explain_failure(work_dir, new_data_dir, out + "\n" + err)
        rollback = rollback_state(old_data_dir, new_data_dir, new_bindir, os_user)
        raise PostgresError("pg_upgrade failed (exit %d): %s. Rollback: %s" % (rc, " | ".join(reasons), rollback["reason"]),
                            reasons=reasons, rollback=rollback)
    result = dict(plan, timings=timings, seconds=round(time.monotonic() - started, 3),
                  checkpoint=_checkpoint(new_bindir, new_data_dir, os_user),
                  update_extensions_sql=_existing(os.path.join(work_dir, "update_extensions.sql")),
                  delete_old_cluster=_existing(os.path.join(work_dir, "delete_old_cluster.sh")))
    with open(os.path.join(new_data_dir, MARKER), "w") as handle:
        json.dump(result, handle, indent=2, sort_keys=True)
    chown_to(os.path.join(new_data_dir, MARKER), os_user)
    return True, result


def _existing(path):
    return path if os.path.exists(path) else None


def clone(source_conn, bindir, data_dir, os_user=None, standby=False, settings=None, application_name=None,
          check_mode=False, replace=False):
    """pg_basebackup the server at ``source_conn`` into ``data_dir`` (a canary clone or a new replica)."""
    if os.path.exists(os.path.join(data_dir, "PG_VERSION")) and not replace:
        return False, {"data_dir": data_dir, "already_present": True}
    if os.path.exists(data_dir) and postmaster(data_dir):
        raise PostgresError("data_dir %s holds a running server; stop it before cloning over it" % data_dir)
    if check_mode:
        return True, {"data_dir": data_dir}
    if os.path.exists(data_dir):
        shutil.rmtree(data_dir)
    _mkdir_owned(os.path.dirname(data_dir), os_user)
    conninfo = " ".join("%s=%s" % (k, _quote(v)) for k, v in sorted(source_conn.items())
                        if v is not None and k not in ("dbname", "password"))
    if application_name:
        conninfo += " application_name=%s" % _quote(application_name)
    cmd = [os.path.join(bindir, "pg_basebackup"), "-D", data_dir, "-X", "stream", "-c", "fast", "-d", conninfo]
    if standby:
        cmd.append("-R")
    started = time.monotonic()
    # The password goes through the environment, never the command line.
    env = {"PGPASSWORD": source_conn["password"]} if source_conn.get("password") else None
    run(cmd, os_user=os_user, env=env, timeout=6 * 3600, what="pg_basebackup")
    seconds = round(time.monotonic() - started, 3)
    write_settings(data_dir, settings)
    return True, {"data_dir": data_dir, "seconds": seconds, "standby": standby}


def _quote(value):
    text = str(value)
    if text and all(c.isalnum() or c in "._-/:@" for c in text):
        return text
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "\\'")
