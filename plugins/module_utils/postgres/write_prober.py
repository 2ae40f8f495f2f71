# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A background SQL writer: commits one row at a time into a probe table while a change runs, so
the run measures the write downtime it causes and proves no committed write was lost.

Backend-neutral: it needs a :mod:`.sql` connection dict (the host backend's address, or a
CloudNativePG ``-rw`` Service from :mod:`.cloudnative_pg.access`). The process mechanics
(detaching, the handle, stopping) are :mod:`..common.background`'s, as for the HTTP prober.
Files under its directory:

- ``writer.json``      the handle: pid, table, run id, interval, started (never the password)
- ``committed.jsonl``  one line per INSERT that returned (committed on the primary): id, ts
- ``failures.jsonl``   one line per failed attempt: ts, error
- ``stopped``          written when it stops
- ``proof.json``       what the read-back proved (rows lost), written before the run's rows are removed,
                       so a re-run after a kill still knows what it proved

Downtime is the time between the last commit before a streak of failures and the first commit
after it (what a client of the database saw). A row whose INSERT failed has an unknown outcome:
its id is never claimed and never reused.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import socket
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common import background
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError

HANDLE = "writer.json"
COMMITTED = "committed.jsonl"
FAILURES = "failures.jsonl"
PROOF = "proof.json"
#: A writer nobody stopped (its run was killed and never carried on) ends by itself after this.
MAX_SECONDS = 6 * 3600
_TABLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$")


def check_table(table):
    if not _TABLE_RE.match(str(table or "")):
        raise PostgresError("probe table %r is not valid; give a lower-case name such as "
                            "public.fournines_write_probe" % (table,))
    return table


def check_limits(interval, max_seconds):
    """Refuse a write interval or a self-stop deadline the writer cannot keep (before anything starts)."""
    if not 0 < float(interval) <= 60:
        raise PostgresError("interval %r is not valid; give the seconds between two probe writes, more than 0 and at "
                            "most 60 (such as 0.1)" % (interval,))
    if int(max_seconds) < 1:
        raise PostgresError("max_seconds %r is not valid; give a positive number of seconds after which a writer nobody "
                            "stopped stops by itself (it must outlast the change it measures)" % (max_seconds,))


def _append(path, record):
    with open(path, "a") as out:
        out.write(json.dumps(record, sort_keys=True) + "\n")


def _quiet_close(db):
    try:
        db.close()
    except Exception:  # pylint: disable=broad-except
        pass


#: Bounds of the seconds a new connection's TCP handshake may take. libpq waits at least 2 s
#: (connect_timeout), which a Service whose SYNs are dropped while its endpoints move would add to
#: every measured outage; each attempt that times out adds its timeout (plus the 0.1 s pause) to
#: the outage as measured. The writer uses 4 times the handshake it timed at start, within these.
TCP_CONNECT_TIMEOUT = (0.2, 2.0)


def tcp_timeout(handshake_seconds):
    """The handshake timeout for a writer whose first handshake took ``handshake_seconds``."""
    low, high = TCP_CONNECT_TIMEOUT
    return round(min(high, max(low, 4.0 * float(handshake_seconds))), 3)


def _handshake(conn, timeout):
    socket.create_connection((conn["host"], int(conn.get("port") or 5432)), timeout=timeout).close()


def _connect_once(conn, timeout=TCP_CONNECT_TIMEOUT[1]):
    import psycopg2  # pylint: disable=import-outside-toplevel
    _handshake(conn, timeout)
    params = dict((k, v) for k, v in conn.items() if v is not None)
    # A primary that vanishes without closing its sockets must not hang a write for minutes.
    params.setdefault("keepalives", 1)
    params.setdefault("keepalives_idle", 1)
    params.setdefault("keepalives_interval", 1)
    params.setdefault("keepalives_count", 2)
    params.setdefault("tcp_user_timeout", 2000)
    db = psycopg2.connect(**params)
    db.autocommit = True
    return db


def run_loop(directory, conn, table, run_id, first_id, interval, should_stop, max_seconds=MAX_SECONDS,
             handshake_timeout=TCP_CONNECT_TIMEOUT[1]):
    """Insert rows ``first_id``, ``first_id + 1`` ... until ``should_stop()`` or ``max_seconds``."""
    committed, failures = os.path.join(directory, COMMITTED), os.path.join(directory, FAILURES)
    give_up = time.time() + float(max_seconds)
    db, next_id = None, int(first_id)
    while not should_stop() and time.time() < give_up:
        try:
            if db is None:
                db = _connect_once(conn, handshake_timeout)
            with db.cursor() as cur:
                cur.execute("INSERT INTO " + table + " (id, run_id) VALUES (%s, %s)", (next_id, run_id))
            _append(committed, {"id": next_id, "ts": round(time.time(), 3)})
            next_id += 1
            background.sleep_until(time.time() + interval, should_stop, 0.02)
        except Exception as err:  # pylint: disable=broad-except
            text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            _append(failures, {"ts": round(time.time(), 3), "id": next_id, "error": text[:300]})
            if db is not None:
                _quiet_close(db)
            db = None
            next_id += 1  # outcome unknown: never claim it, never reuse it
            background.sleep_until(time.time() + min(interval, 0.1), should_stop, 0.02)
    if db is not None:
        _quiet_close(db)


def prepare_table(conn, table, run_id):
    """Create the probe table when missing; the first id this writer uses (after any earlier one's)."""
    db = sql.connect(conn)
    try:
        schema = table.split(".")[0] if "." in table else None
        with db.cursor() as cur:
            if schema:
                cur.execute("CREATE SCHEMA IF NOT EXISTS " + schema)
            cur.execute("CREATE TABLE IF NOT EXISTS " + table + " (id bigint PRIMARY KEY, run_id text NOT NULL, "
                        "at timestamptz NOT NULL DEFAULT now())")
        return int(sql.scalar(db, "SELECT coalesce(max(id), 0) FROM " + table)) + 1
    finally:
        db.close()


def read_handle(directory):
    return background.read_handle(directory, HANDLE)


is_running = background.is_running


def start(directory, conn, table, run_id, interval=0.1, max_seconds=MAX_SECONDS):
    """Start a detached writer for ``directory``; a writer already running there is left alone."""
    check_table(table)
    if not 0.02 <= float(interval) <= 10:
        raise PostgresError("write interval %r is not valid; give 0.02 to 10 seconds" % (interval,))
    existing = read_handle(directory)
    if existing and background.is_running(existing):
        return dict(existing, already_running=True)
    background.prepare(directory)
    for name in (COMMITTED, FAILURES, PROOF):  # an earlier, finished writer's records are not this one's
        if os.path.exists(os.path.join(directory, name)):
            os.unlink(os.path.join(directory, name))
    first_id = prepare_table(conn, table, run_id)
    began = time.time()
    try:
        _handshake(conn, TCP_CONNECT_TIMEOUT[1])
        handshake_timeout = tcp_timeout(time.time() - began)
    except OSError:  # the table was just prepared through it: take the upper bound
        handshake_timeout = TCP_CONNECT_TIMEOUT[1]

    def main():
        background.redirect_output()
        should_stop = background.stop_flag()
        try:
            run_loop(directory, conn, table, run_id, first_id, float(interval), should_stop, max_seconds,
                     handshake_timeout)
        finally:
            background.mark_stopped(directory)

    pid = background.spawn(main)
    handle = {"pid": pid, "dir": os.path.abspath(directory), "table": table, "run_id": run_id,
              "interval": float(interval), "started": time.time(), "first_id": first_id,
              "handshake_timeout": handshake_timeout,
              "host": conn.get("host"), "dbname": conn.get("dbname")}
    background.write_handle(directory, HANDLE, handle)
    return dict(handle, already_running=False)


def gaps(committed, failures):
    """Write outages: [{start, end, seconds, failed}] from the last commit before each streak of
    failures to the first commit after it (or to the last failure when none came after)."""
    events = sorted([(c["ts"], True) for c in committed] + [(f["ts"], False) for f in failures])
    out, last_ok, last_fail, streak = [], None, None, 0
    for ts, ok in events:
        if ok:
            if streak:
                start = last_ok if last_ok is not None else ts
                out.append({"start": start, "end": ts, "seconds": round(ts - start, 3), "failed": streak})
            last_ok, streak = ts, 0
        else:
            streak += 1
            last_fail = ts
    if streak:
        start = last_ok if last_ok is not None else last_fail
        out.append({"start": start, "end": last_fail, "seconds": round(last_fail - start, 3), "failed": streak,
                    "open": True})
    return out


def summary(directory, present_ids=None):
    """What the writer did; with ``present_ids`` (the run's ids now in the table) also what was lost."""
    handle = read_handle(directory) or {}
    committed = background.read_jsonl(os.path.join(directory, COMMITTED))
    failures = background.read_jsonl(os.path.join(directory, FAILURES))
    outages = gaps(committed, failures)
    result = {"dir": directory, "running": bool(handle) and background.is_running(handle),
              "started": handle.get("started"), "table": handle.get("table"), "run_id": handle.get("run_id"),
              "committed": len(committed), "failed_attempts": len(failures),
              "first": committed[0]["ts"] if committed else None, "last": committed[-1]["ts"] if committed else None,
              "outages": outages, "downtime_seconds": round(sum(o["seconds"] for o in outages), 3),
              "longest_outage_seconds": max([o["seconds"] for o in outages] or [0.0]),
              "errors": sorted(set(f["error"] for f in failures))[:5],
              "failure_times": [f["ts"] for f in failures]}
    if present_ids is not None:
        lost = sorted(set(c["id"] for c in committed) - set(present_ids))
        result["lost"] = len(lost)
        result["lost_ids"] = lost[:20]
    return result


def _read_proof(directory):
    path = os.path.join(directory, PROOF)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def _write_proof(directory, result):
    path = os.path.join(directory, PROOF)
    with open(path + ".tmp", "w") as out:
        json.dump({"run_id": result.get("run_id"), "table": result.get("table"), "committed": result["committed"],
                   "lost": result["lost"], "lost_ids": result["lost_ids"], "proved": round(time.time(), 3)}, out)
    os.rename(path + ".tmp", path)


def remove_rows(db, table, run_id, lock_timeout_ms=5000):
    """Delete the run's probe rows; drop the table when no other run's rows are left in it.

    Returns ``{"rows_removed": n, "table_dropped": bool}``. The drop waits at most
    ``lock_timeout_ms`` for its lock (a reader of the table keeps it, with the rows deleted).
    """
    check_table(table)
    db.autocommit = True
    with db.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
        if not cur.fetchone()[0]:
            return {"rows_removed": 0, "table_dropped": False}
        cur.execute("DELETE FROM " + table + " WHERE run_id = %s", (run_id,))
        removed = cur.rowcount
    dropped = False
    db.autocommit = False
    try:
        with db.cursor() as cur:
            cur.execute("SET LOCAL lock_timeout = %s", (str(int(lock_timeout_ms)),))
            cur.execute("LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE")
            cur.execute("SELECT EXISTS (SELECT 1 FROM " + table + ")")
            if not cur.fetchone()[0]:
                cur.execute("DROP TABLE " + table)
                dropped = True
        db.commit()
    except Exception:  # pylint: disable=broad-except
        db.rollback()  # the rows are gone; the empty table stays for the next run
        dropped = False
    finally:
        db.autocommit = True
    return {"rows_removed": removed, "table_dropped": dropped}


def stop(directory, conn, wait=5.0, remove=True):
    """Stop the writer of ``directory``, check every committed row is in the table, then (with
    ``remove``) delete the run's rows and drop the table when nothing else is in it.

    The proof is kept in ``proof.json`` before anything is removed: a re-run after a kill that
    came between the two returns the same proof instead of counting the removed rows as lost.
    """
    return background.stop(directory, HANDLE, lambda folder: _prove(folder, conn, remove), wait=wait,
                           not_started=PostgresError("no write prober in %s; start one first (state=started)"
                                                     % directory))


def _prove(directory, conn, remove):
    """The stopped writer's summary with what the read-back proved; the run's rows removed with ``remove``."""
    handle = read_handle(directory)
    table = check_table(handle["table"])
    proof = _read_proof(directory)
    db = sql.connect(conn, deadline=30.0)
    try:
        if proof is None or proof.get("run_id") != handle.get("run_id"):
            with db.cursor() as cur:
                cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
                exists = cur.fetchone()[0]
                present = []
                if exists:
                    cur.execute("SELECT id FROM " + table + " WHERE run_id = %s", (handle["run_id"],))
                    present = [row[0] for row in cur.fetchall()]
            result = summary(directory, present)
            _write_proof(directory, result)
        else:
            result = dict(summary(directory), lost=proof["lost"], lost_ids=proof["lost_ids"])
        if remove:
            result.update(remove_rows(db, table, handle["run_id"]))
    finally:
        db.close()
    return result
