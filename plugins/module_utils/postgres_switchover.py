# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planned switchover of a streaming pair without losing a committed transaction.

Order: check both sides → stop the primary cleanly (a fast shutdown sends every WAL record,
including the shutdown checkpoint, to connected standbys) → wait until the candidate has
received and replayed up to that checkpoint → promote it → rewind the old primary (or clone
it afresh) and start it as a replica of the new one, on the target binaries.

If the candidate has not caught up, nothing is promoted: the old primary is started again
and keeps serving.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import (
    PostgresError,
    chown_to,
    cluster_info,
    connect,
    controldata,
    pg_ctl,
    postmaster,
    query,
    run,
    running_bindir,
    scalar,
)
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres_upgrade import clone

#: How the old primary becomes a replica of the new one: ``auto`` tries pg_rewind and falls back to
#: a fresh base backup; ``rewind`` stops with an error instead; ``base_backup`` skips pg_rewind.
REPOINT_METHODS = ("auto", "rewind", "base_backup")

#: Files a base backup would copy from the new primary that belong to the old primary's own server
#: (its port, socket directory, log settings, access rules): they are put back after the copy.
OWN_CONFIG_FILES = ("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf")

try:
    from psycopg2.extensions import make_dsn, parse_dsn
except ImportError:  # reported by connect()
    make_dsn = parse_dsn = None


def _lsn(text):
    """An LSN 'X/Y' as an integer."""
    high, low = str(text).split("/", 1)
    return (int(high, 16) << 32) + int(low, 16)


def _wait(predicate, timeout, interval=0.1):
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            return None
        time.sleep(interval)


def preflight(primary_conn, candidate_conn, max_lag_bytes):
    """Both sides as expected; returns (primary_info, candidate_info) or raises."""
    primary = cluster_info(primary_conn)
    candidate = cluster_info(candidate_conn)
    if primary["role"] != "primary":
        raise PostgresError("%s:%s is not a primary (it is in recovery); point primary at the current primary"
                            % (primary_conn["host"], primary_conn["port"]))
    if candidate["role"] != "replica" or not candidate["replication"]["streaming"]:
        raise PostgresError("candidate %s:%s is not a streaming replica; it cannot be promoted safely"
                            % (candidate_conn["host"], candidate_conn["port"]))
    lags = [r["lag_bytes"] for r in primary["replication"]["replicas"] if r["lag_bytes"] is not None]
    if lags and min(lags) > max_lag_bytes:
        raise PostgresError("replication lag %d bytes is above max_lag_bytes %d; wait for the replica to catch up"
                            % (min(lags), max_lag_bytes))
    if primary["major"] != candidate["major"]:
        raise PostgresError("primary runs %s and candidate %s: a switchover needs one major" % (
            primary["version"], candidate["version"]))
    return primary, candidate


def _replica_conninfo(candidate_conn, application_name):
    """primary_conninfo pointing at the candidate, with the candidate's own replication credentials."""
    db = connect(candidate_conn)
    try:
        current = scalar(db, "SELECT current_setting('primary_conninfo')")
    finally:
        db.close()
    params = parse_dsn(current) if current else {}
    params.update(host=candidate_conn["host"], port=str(candidate_conn["port"]), application_name=application_name)
    params.pop("dbname", None)
    return make_dsn(**params)


def write_standby_config(data_dir, conninfo, os_user=None):
    """standby.signal + primary_conninfo in postgresql.auto.conf (replacing an older one)."""
    auto = os.path.join(data_dir, "postgresql.auto.conf")
    lines = []
    if os.path.exists(auto):
        with open(auto) as handle:
            lines = [l for l in handle if not re.match(r"^\s*primary_conninfo\s*=", l)]
    lines.append("primary_conninfo = '%s'\n" % conninfo.replace("'", "''"))
    with open(auto, "w") as handle:
        handle.writelines(lines)
    open(os.path.join(data_dir, "standby.signal"), "w").close()
    chown_to(auto, os_user)
    chown_to(os.path.join(data_dir, "standby.signal"), os_user)


def switchover(primary_conn, primary_data_dir, candidate_conn, target_bindir, os_user=None, log_file=None,
               max_lag_bytes=16 * 1024 * 1024, catchup_timeout=60, promote_timeout=60, primary_name="old-primary",
               check_mode=False, repoint="auto"):
    """Swap roles; returns a result dict with timings (downtime = primary stopped → candidate writable)."""
    if repoint not in REPOINT_METHODS:
        raise PostgresError("repoint %r is not one of %s" % (repoint, ", ".join(REPOINT_METHODS)))
    primary, candidate = preflight(primary_conn, candidate_conn, max_lag_bytes)
    old_bindir = running_bindir(primary_data_dir) or primary.get("bindir")
    if not old_bindir or os.path.realpath(primary["data_directory"]) != os.path.realpath(primary_data_dir):
        raise PostgresError("primary_data_dir %r is not the data directory of the primary at %s:%s (%s); give the "
                            "running primary's data directory" % (primary_data_dir, primary_conn["host"],
                                                                  primary_conn["port"], primary["data_directory"]))
    plan = {"old_primary": "%s:%s" % (primary_conn["host"], primary_conn["port"]),
            "new_primary": "%s:%s" % (candidate_conn["host"], candidate_conn["port"]),
            "old_primary_bindir_after": target_bindir, "lag_bytes_before": [r["lag_bytes"] for r in primary["replication"]["replicas"]]}
    if check_mode:
        return plan
    conninfo = _replica_conninfo(candidate_conn, primary_name)
    timings = {}
    t0 = time.monotonic()
    pg_ctl(old_bindir, primary_data_dir, "stop", os_user=os_user, mode="fast")
    timings["stop_primary"] = round(time.monotonic() - t0, 3)
    shutdown_lsn = controldata(old_bindir, primary_data_dir, os_user)["Latest checkpoint location"]
    cand = connect(candidate_conn)
    try:
        def caught_up():
            replay = scalar(cand, "SELECT pg_last_wal_replay_lsn()::text")
            return replay and _lsn(replay) >= _lsn(shutdown_lsn)
        if not _wait(caught_up, catchup_timeout):
            # Nothing promoted: the old primary goes back to serving, on the binaries it had.
            pg_ctl(old_bindir, primary_data_dir, "start", os_user=os_user, log_file=log_file)
            raise PostgresError("candidate did not replay up to the old primary's shutdown checkpoint %s within %s s; "
                                "switchover abandoned, the old primary was started again" % (shutdown_lsn, catchup_timeout))
        timings["catch_up"] = round(time.monotonic() - t0 - timings["stop_primary"], 3)
        scalar(cand, "SELECT pg_promote(true, %s)", (promote_timeout,))
        if not _wait(lambda: not scalar(cand, "SELECT pg_is_in_recovery()"), promote_timeout):
            raise PostgresError("candidate did not leave recovery within %s s after pg_promote" % promote_timeout)
    finally:
        cand.close()
    downtime = round(time.monotonic() - t0, 3)
    rewind = _demote_old_primary(primary_data_dir, target_bindir, candidate_conn, conninfo, os_user, log_file,
                                 repoint)
    new_primary = connect(candidate_conn)
    try:
        streaming = _wait(lambda: query(new_primary, "SELECT application_name FROM pg_stat_replication"
                                                     " WHERE state = 'streaming' AND application_name = %s",
                                        (primary_name,)), 60, 0.2)
    finally:
        new_primary.close()
    if not streaming:
        raise PostgresError("the old primary (%s) was started as a replica but does not stream from the new primary; "
                            "see %s" % (primary_data_dir, log_file or "its server log"))
    return dict(plan, shutdown_checkpoint_lsn=shutdown_lsn, downtime_seconds=downtime, timings=timings,
                rewind=rewind, total_seconds=round(time.monotonic() - t0, 3))


def _demote_old_primary(data_dir, target_bindir, candidate_conn, conninfo, os_user, log_file, repoint="auto"):
    """Make the stopped old primary a replica of the new one; returns how ({method, detail, ...})."""
    outcome = {"method": None}
    if repoint in ("auto", "rewind"):
        source = " ".join("%s=%s" % (k, v) for k, v in (("host", candidate_conn["host"]),
                                                        ("port", candidate_conn["port"]),
                                                        ("user", candidate_conn["user"]), ("dbname", "postgres")))
        env = {"PGPASSWORD": candidate_conn["password"]} if candidate_conn.get("password") else None
        rc, out, err = run([os.path.join(target_bindir, "pg_rewind"), "-D", data_dir, "--source-server=" + source],
                           os_user=os_user, env=env, check=False, timeout=3600)
        failure = (err.strip() or out.strip())[-400:]
        if rc == 0:
            outcome.update(method="pg_rewind", detail=((out + err).strip().splitlines() or ["done"])[-1])
        elif repoint == "rewind":
            raise PostgresError("pg_rewind of the old primary failed (%s); nothing else was tried (repoint: rewind). "
                                "Run again with repoint: auto or base_backup to rebuild it from a fresh base backup"
                                % failure)
        else:
            outcome["rewind_error"] = failure
    if outcome["method"] is None:
        outcome.update(method="base_backup", **_rebuild_from_base_backup(data_dir, target_bindir, candidate_conn,
                                                                         os_user))
    write_standby_config(data_dir, conninfo, os_user)
    if postmaster(data_dir):
        raise PostgresError("the old primary in %s is running again unexpectedly" % data_dir)
    pg_ctl(target_bindir, data_dir, "start", os_user=os_user, log_file=log_file)
    return outcome


def _rebuild_from_base_backup(data_dir, target_bindir, candidate_conn, os_user):
    """Replace ``data_dir`` with a base backup of the new primary, keeping the server's own config.

    The old directory is moved aside (never deleted: it is the last copy of the old primary
    until the new replica streams) and its configuration files are put back over the copy's.
    """
    aside = "%s.before-switchover-%s" % (data_dir.rstrip("/"), time.strftime("%Y%m%dT%H%M%S"))
    os.rename(data_dir, aside)
    try:
        dummy, details = clone(candidate_conn, target_bindir, data_dir, os_user=os_user, standby=True)
    except PostgresError:
        if os.path.exists(data_dir):
            shutil.rmtree(data_dir)
        os.rename(aside, data_dir)  # back as it was: a stopped old primary someone can still start
        raise
    for name in OWN_CONFIG_FILES:
        if os.path.exists(os.path.join(aside, name)):
            shutil.copy2(os.path.join(aside, name), os.path.join(data_dir, name))
            chown_to(os.path.join(data_dir, name), os_user)
    return {"seconds": details.get("seconds"), "old_data_dir_kept_at": aside}
