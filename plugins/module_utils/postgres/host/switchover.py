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

A run interrupted part-way (``resume=True``) carries on from what the servers and data
directories show (``observe``/``classify``): the primary stopped but nothing promoted, promoted
but the old primary not yet repointed, repointed but not started, or already done.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re
import shutil
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, DeadlineExceeded, wait_until
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.server import (
    chown_to,
    controldata,
    pg_ctl,
    postmaster,
    run,
    running_bindir,
)
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.sql import cluster_info, connect, query, scalar
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.upgrade import clone

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
    """``predicate()``'s first truthy value within ``timeout`` seconds, else None."""
    try:
        return wait_until(predicate, Deadline(timeout), interval)
    except DeadlineExceeded:
        return None


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
               check_mode=False, repoint="auto", resume=False, primary_bindir=None, started_at=None):
    """Swap roles; returns a result dict with timings (downtime = primary stopped → candidate writable).

    With ``resume`` an interrupted switchover is carried on from the stage ``observe`` finds;
    ``started_at`` (epoch seconds, when the interrupted run began its switchover) bounds its
    downtime when the old primary's own shutdown time is no longer readable.
    """
    if repoint not in REPOINT_METHODS:
        raise PostgresError("repoint %r is not one of %s" % (repoint, ", ".join(REPOINT_METHODS)))
    if resume:
        seen = observe(primary_conn, primary_data_dir, candidate_conn, target_bindir, primary_name, os_user,
                       started_at)
        if seen["stage"] != "not_started":
            return _carry_on(seen, primary_conn, primary_data_dir, candidate_conn, target_bindir, os_user, log_file,
                             catchup_timeout, promote_timeout, primary_name, check_mode, repoint,
                             primary_bindir, started_at)
    primary, candidate = preflight(primary_conn, candidate_conn, max_lag_bytes)
    old_bindir = running_bindir(primary_data_dir) or primary.get("bindir")
    if not old_bindir or os.path.realpath(primary["data_directory"]) != os.path.realpath(primary_data_dir):
        raise PostgresError("primary_data_dir %r is not the data directory of the primary at %s:%s (%s); give the "
                            "running primary's data directory" % (primary_data_dir, primary_conn["host"],
                                                                  primary_conn["port"], primary["data_directory"]))
    plan = _plan(primary_conn, candidate_conn, target_bindir)
    plan["lag_bytes_before"] = [r["lag_bytes"] for r in primary["replication"]["replicas"]]
    if check_mode:
        return plan
    conninfo = _replica_conninfo(candidate_conn, primary_name)
    timings = {}
    t0 = time.monotonic()
    pg_ctl(old_bindir, primary_data_dir, "stop", os_user=os_user, mode="fast")
    timings["stop_primary"] = round(time.monotonic() - t0, 3)
    shutdown_lsn = controldata(old_bindir, primary_data_dir, os_user)["Latest checkpoint location"]
    _promote_when_caught_up(candidate_conn, shutdown_lsn, catchup_timeout, promote_timeout, old_bindir,
                            primary_data_dir, os_user, log_file)
    timings["catch_up_and_promote"] = round(time.monotonic() - t0 - timings["stop_primary"], 3)
    downtime = round(time.monotonic() - t0, 3)
    rewind = _demote_old_primary(primary_data_dir, target_bindir, candidate_conn, conninfo, os_user, log_file,
                                 repoint)
    _wait_streaming(candidate_conn, primary_name, primary_data_dir, log_file)
    return dict(plan, shutdown_checkpoint_lsn=shutdown_lsn, downtime_seconds=downtime, timings=timings,
                rewind=rewind, total_seconds=round(time.monotonic() - t0, 3), resumed=False)


def _plan(primary_conn, candidate_conn, target_bindir):
    return {"old_primary": "%s:%s" % (primary_conn["host"], primary_conn["port"]),
            "new_primary": "%s:%s" % (candidate_conn["host"], candidate_conn["port"]),
            "old_primary_bindir_after": target_bindir}


def _promote_when_caught_up(candidate_conn, shutdown_lsn, catchup_timeout, promote_timeout, old_bindir,
                            primary_data_dir, os_user, log_file):
    """Promote the candidate once it has replayed the old primary's shutdown checkpoint; if it does
    not within ``catchup_timeout``, start the old primary again (nothing promoted) and raise."""
    cand = connect(candidate_conn)
    try:
        def caught_up():
            replay = scalar(cand, "SELECT pg_last_wal_replay_lsn()::text")
            return replay and _lsn(replay) >= _lsn(shutdown_lsn)
        if not _wait(caught_up, catchup_timeout):
            pg_ctl(old_bindir, primary_data_dir, "start", os_user=os_user, log_file=log_file)
            raise PostgresError("candidate did not replay up to the old primary's shutdown checkpoint %s within %s s; "
                                "switchover abandoned, the old primary was started again" % (shutdown_lsn, catchup_timeout))
        scalar(cand, "SELECT pg_promote(true, %s)", (promote_timeout,))
        if not _wait(lambda: not scalar(cand, "SELECT pg_is_in_recovery()"), promote_timeout):
            raise PostgresError("candidate did not leave recovery within %s s after pg_promote" % promote_timeout)
    finally:
        cand.close()


def _wait_streaming(candidate_conn, primary_name, primary_data_dir, log_file, timeout=60):
    new_primary = connect(candidate_conn)
    try:
        streaming = _wait(lambda: query(new_primary, "SELECT application_name FROM pg_stat_replication"
                                                     " WHERE state = 'streaming' AND application_name = %s",
                                        (primary_name,)), timeout, 0.2)
    finally:
        new_primary.close()
    if not streaming:
        raise PostgresError("the old primary (%s) was started as a replica but does not stream from the new primary; "
                            "see %s" % (primary_data_dir, log_file or "its server log"))


# --- carrying on after an interruption -------------------------------------------------------

#: What an interrupted switchover can have left, in order.
STAGES = ("not_started", "primary_stopped", "promoted", "repointed", "done")


def classify(candidate_in_recovery, old_running, old_in_recovery, old_cluster_state, repointed, partial_rebuild):
    """The stage an interrupted switchover reached, from what the servers show; raises when the
    state is not one a switchover leaves (a person must look).

    ``candidate_in_recovery``: None when the candidate cannot be reached. ``old_cluster_state``:
    pg_controldata's "Database cluster state" of the stopped old primary (None when running or
    unreadable). ``partial_rebuild``: a base backup of the old primary was under way (its old
    directory is kept aside and the data directory is not a finished replica).
    """
    if candidate_in_recovery is None:
        raise PostgresError("the candidate cannot be reached, so it is not known whether it was promoted; start it "
                            "and run again")
    if candidate_in_recovery:
        if old_running and not old_in_recovery:
            return "not_started"
        if old_running:
            raise PostgresError("both servers are replicas; neither is a primary. Promote the one with the newest WAL "
                                "by hand")
        if old_cluster_state == "shut down":
            return "primary_stopped"
        raise PostgresError("the old primary is stopped but was not shut down cleanly (cluster state %r): it may hold "
                            "WAL the candidate never received, so promoting the candidate could lose commits. Start "
                            "the old primary (it recovers), then run again" % (old_cluster_state,))
    if old_running and not old_in_recovery:
        raise PostgresError("both servers are primaries (split brain): stop the one clients should not write to, "
                            "keep it for comparison, and repair by hand")
    if old_running:
        return "done"
    if repointed:
        return "repointed"
    return "promoted"  # a partial base backup is redone (see _carry_on)


def observe(primary_conn, primary_data_dir, candidate_conn, target_bindir, primary_name, os_user=None,
            started_at=None):
    """Look at both sides without changing anything; returns the facts and the stage.

    Only copies kept aside by this switchover (named after ``started_at``) count: one an earlier
    switchover left is an old primary of months ago, with its config of then."""
    seen = {"candidate_in_recovery": None, "old_running": bool(postmaster(primary_data_dir)),
            "old_in_recovery": None, "old_cluster_state": None, "old_stopped_at": None,
            "kept_copies": kept_copies(primary_data_dir, started_at)}
    try:
        db = connect(candidate_conn, deadline=5.0)
    except PostgresError:
        db = None
    if db is not None:
        try:
            seen["candidate_in_recovery"] = bool(scalar(db, "SELECT pg_is_in_recovery()"))
            if not seen["candidate_in_recovery"]:
                seen["promoted_at"] = _promotion_time(db)
        finally:
            db.close()
    if seen["old_running"]:
        old = connect(primary_conn)
        try:
            seen["old_in_recovery"] = bool(scalar(old, "SELECT pg_is_in_recovery()"))
        finally:
            old.close()
    elif os.path.exists(os.path.join(primary_data_dir, "global", "pg_control")):
        control = controldata(target_bindir, primary_data_dir, os_user)
        seen["old_cluster_state"] = control.get("Database cluster state")
        if seen["old_cluster_state"] == "shut down":
            seen["old_stopped_at"] = _control_time(control.get("pg_control last modified"))
            seen["shutdown_checkpoint_lsn"] = control.get("Latest checkpoint location")
    seen["repointed"] = is_repointed(primary_data_dir, candidate_conn, primary_name)
    seen["partial_rebuild"] = bool(seen["kept_copies"]) and not seen["old_running"] and (
        not os.path.exists(os.path.join(primary_data_dir, "global", "pg_control"))
        or (os.path.exists(os.path.join(primary_data_dir, "backup_label")) and not seen["repointed"]))
    if not seen["old_running"] and seen["old_cluster_state"] is None and not seen["partial_rebuild"]:
        raise PostgresError("primary_data_dir %s is not a PostgreSQL data directory (no global/pg_control) and no "
                            "copy of it was kept aside; a person must look" % primary_data_dir)
    seen["stage"] = classify(seen["candidate_in_recovery"], seen["old_running"], seen["old_in_recovery"],
                             seen["old_cluster_state"], seen["repointed"], seen["partial_rebuild"])
    return seen


def _carry_on(seen, primary_conn, primary_data_dir, candidate_conn, target_bindir, os_user, log_file,
              catchup_timeout, promote_timeout, primary_name, check_mode, repoint, primary_bindir, started_at):
    stage = seen["stage"]
    result = dict(_plan(primary_conn, candidate_conn, target_bindir), resumed=True, resumed_at_stage=stage,
                  shutdown_checkpoint_lsn=seen.get("shutdown_checkpoint_lsn"), timings={}, rewind=None)
    if check_mode:
        return result
    t0 = time.monotonic()
    promoted_at = seen.get("promoted_at")
    if stage == "primary_stopped":
        # If the candidate does not catch up, the old primary is started again: on its own
        # binaries when known, else on the target ones (same major).
        _promote_when_caught_up(candidate_conn, seen["shutdown_checkpoint_lsn"], catchup_timeout, promote_timeout,
                                primary_bindir or target_bindir, primary_data_dir, os_user, log_file)
        promoted_at = time.time()
        result["timings"]["catch_up_and_promote"] = round(time.monotonic() - t0, 3)
    if stage in ("primary_stopped", "promoted"):
        conninfo = _replica_conninfo(candidate_conn, primary_name)
        if seen["partial_rebuild"]:  # redo the base backup; the newest kept copy is the old primary
            result["rewind"] = _demote_old_primary(primary_data_dir, target_bindir, candidate_conn, conninfo, os_user,
                                                   log_file, "base_backup", kept_aside=seen["kept_copies"][-1])
        else:
            result["rewind"] = _demote_old_primary(primary_data_dir, target_bindir, candidate_conn, conninfo, os_user,
                                                   log_file, repoint)
    elif stage == "repointed":
        pg_ctl(target_bindir, primary_data_dir, "start", os_user=os_user, log_file=log_file)
    _wait_streaming(candidate_conn, primary_name, primary_data_dir, log_file)
    start = seen.get("old_stopped_at") or started_at
    if promoted_at and stage != "primary_stopped":
        promoted_at += 1.0  # a file time, whole seconds: round the end up, never charge too little
    result["downtime_seconds"] = round(promoted_at - start, 3) if start and promoted_at else None
    result["downtime_measured_from"] = ("old primary shutdown" if seen.get("old_stopped_at")
                                        else "interrupted run's switchover start" if started_at else None)
    result["total_seconds"] = round(time.monotonic() - t0, 3)
    return result


def is_repointed(data_dir, candidate_conn, primary_name):
    """standby.signal plus a primary_conninfo naming the candidate and ``primary_name``: written
    last when the old primary becomes a replica, so its presence means only the start is left."""
    auto = os.path.join(data_dir, "postgresql.auto.conf")
    if not os.path.exists(os.path.join(data_dir, "standby.signal")) or not os.path.exists(auto):
        return False
    with open(auto) as handle:
        for line in handle:
            match = re.match(r"^\s*primary_conninfo\s*=\s*'(.*)'\s*$", line)
            if match and parse_dsn is not None:
                params = parse_dsn(match.group(1).replace("''", "'"))
                return (params.get("application_name") == primary_name
                        and str(params.get("port")) == str(candidate_conn["port"])
                        and params.get("host") == candidate_conn["host"])
    return False


def _promotion_time(db):
    """Epoch seconds at which the server left recovery: the mtime of its current timeline's
    history file (written at promotion); None on timeline 1 or when unreadable."""
    # The timeline WAL is written on now: pg_control_checkpoint() lags until the end-of-recovery
    # checkpoint that follows a promotion.
    timeline = int(scalar(db, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"), 16)
    if timeline < 2:
        return None
    try:
        stamp = scalar(db, "SELECT extract(epoch FROM (pg_stat_file(%s)).modification)",
                       ("pg_wal/%08X.history" % timeline,))
    except Exception:  # noqa: BLE001 - a missing file or no privilege (autocommit: nothing to roll back)
        return None
    return float(stamp) if stamp is not None else None


def _control_time(text):
    """pg_controldata's time (whole seconds, so at most 1 s early) ("Fri Nov 27 12:00:20 2026", local time of the host) as epoch seconds."""
    try:
        return time.mktime(time.strptime(text or "", "%a %b %d %H:%M:%S %Y"))
    except ValueError:
        return None


def _aside_pattern(data_dir):
    return "%s.before-switchover-*" % data_dir.rstrip("/")


def kept_copies(data_dir, since):
    """Copies of ``data_dir`` a base-backup repoint moved aside at or after ``since`` (epoch
    seconds; their names carry the local time), oldest first; none when ``since`` is unknown."""
    if not since:
        return []
    found = []
    for path in glob.glob(_aside_pattern(data_dir)):
        try:
            stamp = time.mktime(time.strptime(path.rsplit("-", 1)[-1], "%Y%m%dT%H%M%S"))
        except ValueError:
            continue
        if stamp >= int(since):  # the name has whole seconds
            found.append((stamp, path))
    return [path for _stamp, path in sorted(found)]


def _demote_old_primary(data_dir, target_bindir, candidate_conn, conninfo, os_user, log_file, repoint="auto",
                        kept_aside=None):
    """Make the stopped old primary a replica of the new one; returns how ({method, detail, ...}).

    ``kept_aside``: an interrupted base backup is redone, keeping that earlier copy of the old primary."""
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
                                                                         os_user, kept_aside))
    write_standby_config(data_dir, conninfo, os_user)
    if postmaster(data_dir):
        raise PostgresError("the old primary in %s is running again unexpectedly" % data_dir)
    pg_ctl(target_bindir, data_dir, "start", os_user=os_user, log_file=log_file)
    return outcome


def _rebuild_from_base_backup(data_dir, target_bindir, candidate_conn, os_user, kept_aside=None):
    """Replace ``data_dir`` with a base backup of the new primary, keeping the server's own config.

    The old directory is moved aside (never deleted: it is the last copy of the old primary
    until the new replica streams) and its configuration files are put back over the copy's.
    With ``kept_aside`` (an interrupted rebuild) that copy stays and the partial one is replaced.
    """
    if kept_aside:
        aside = kept_aside
        if os.path.exists(data_dir):
            shutil.rmtree(data_dir)  # an unfinished copy of the new primary, nothing of the old one
    else:
        aside = _aside_pattern(data_dir).replace("*", time.strftime("%Y%m%dT%H%M%S"))
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
