# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to a running PostgreSQL server over libpq: connection options, queries, cluster facts,
table fingerprints and smoke queries.

Backend-neutral: it needs only a reachable server, wherever it runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.versions import format_version, parse_version
# The bindir is only known when the server runs on this host (host backend).
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.server import running_bindir

try:
    import psycopg2
    import psycopg2.extras
    HAS_PSYCOPG2 = True
except ImportError:  # reported by the modules with missing_required_lib
    HAS_PSYCOPG2 = False


#: Connection options shared by every postgres_* module (one source for the spec, documented in
#: doc_fragments/postgres.py). Names and aliases as community.postgresql's: ``login_port`` also answers to
#: ``port``, ``login_host`` to ``host``, ``login_user`` to ``login``, ``ca_cert`` to ``ssl_rootcert``.
#: Options left unset fall back to libpq's PG* environment (see :func:`conn_params`), so no spec default here.
CONNECTION_SPEC = dict(
    login_host=dict(type="str", aliases=["host"]),
    login_unix_socket=dict(type="str", aliases=["unix_socket"]),
    login_port=dict(type="int", aliases=["port"]),
    login_user=dict(type="str", aliases=["login"]),
    login_password=dict(type="str", no_log=True),
    login_db=dict(type="str"),
    ssl_mode=dict(type="str", choices=["allow", "disable", "prefer", "require", "verify-ca", "verify-full"]),
    ca_cert=dict(type="path", aliases=["ssl_rootcert"]),
    ssl_cert=dict(type="path"),
    ssl_key=dict(type="path", no_log=False),
    connect_timeout=dict(type="int"),
)

#: option -> (libpq keyword, PG* variable libpq reads when the keyword is absent, our default when neither is set).
#: Host, port, user, database and timeout are resolved here because the runbooks name them in messages,
#: conninfo strings and pg_upgrade arguments; the password and TLS settings are passed only when given and
#: otherwise left to libpq itself (PGPASSWORD or ~/.pgpass, PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY).
_LIBPQ = (
    ("login_host", "host", "PGHOST", "127.0.0.1"),
    ("login_port", "port", "PGPORT", 5432),
    ("login_user", "user", "PGUSER", "postgres"),
    ("login_db", "dbname", "PGDATABASE", "postgres"),
    ("connect_timeout", "connect_timeout", "PGCONNECT_TIMEOUT", 5),
    ("login_password", "password", None, None),
    ("ssl_mode", "sslmode", None, None),
    ("ca_cert", "sslrootcert", None, None),
    ("ssl_cert", "sslcert", None, None),
    ("ssl_key", "sslkey", None, None),
)


# --- SQL -------------------------------------------------------------------------------

def conn_params(params, environ=None, **override):
    """libpq keyword arguments from module params (CONNECTION_SPEC), with overrides.

    An option left unset takes the PG* variable libpq itself would read (``environ``, default
    ``os.environ``), else our default: ``127.0.0.1``, ``5432``, ``postgres``, ``postgres``, 5 s.
    ``login_unix_socket`` (a socket directory) wins over ``login_host``, as in community.postgresql.
    Raises PostgresError naming the variable when a PG* number is not one.
    """
    environ = os.environ if environ is None else environ
    result = {}
    for option, keyword, variable, default in _LIBPQ:
        value = params.get(option)
        if value in (None, "") and variable:
            value = environ.get(variable) or default
            if isinstance(default, int):
                try:
                    value = int(value)
                except ValueError:
                    raise PostgresError("%s=%r is not a whole number; unset it or set %s (or %s)"
                                        % (variable, value, option, "a port such as 5432" if option == "login_port"
                                           else "seconds such as 5"))
        if value not in (None, ""):
            result[keyword] = value
    if params.get("login_unix_socket"):
        result["host"] = params["login_unix_socket"]
    result.update(override)
    return result


def connect(conn, deadline=10.0, autocommit=True):
    """Connect with retries until ``deadline`` seconds (a server that is starting refuses for a moment)."""
    if not HAS_PSYCOPG2:
        raise PostgresError("psycopg2 is required on the host that runs this module (pip install psycopg2-binary)")
    end = time.monotonic() + deadline
    delay = 0.2
    while True:
        try:
            db = psycopg2.connect(**{k: v for k, v in conn.items() if v is not None})
            db.autocommit = autocommit
            return db
        except psycopg2.OperationalError as err:
            if time.monotonic() + delay > end:
                raise PostgresError("cannot connect to PostgreSQL at %s:%s as %s (db %s): %s"
                                    % (conn.get("host"), conn.get("port"), conn.get("user"), conn.get("dbname"),
                                       str(err).strip().splitlines()[0] if str(err).strip() else err))
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def query(db, sql, args=None):
    with db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, args)
        if cur.description is None:
            return []
        return [dict(r) for r in cur.fetchall()]


def scalar(db, sql, args=None):
    with db.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
        return row[0] if row else None


_SETTINGS = ("server_version", "server_version_num", "data_checksums", "server_encoding", "lc_collate", "lc_ctype",
             "shared_preload_libraries", "wal_level", "max_prepared_transactions", "data_directory", "port",
             "max_wal_senders", "hot_standby", "wal_log_hints", "block_size", "wal_segment_size")


def cluster_info(conn, long_xact_seconds=60):
    """Facts about one server: version, role, replication, lag, extensions, pg_upgrade settings."""
    db = connect(conn)
    try:
        settings = dict((r["name"], r["setting"]) for r in query(
            db, "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (list(_SETTINGS),)))
        version = parse_version(int(settings["server_version_num"]))
        in_recovery = scalar(db, "SELECT pg_is_in_recovery()")
        info = {
            "version": format_version(version), "major": version[0], "minor": version[1],
            "version_num": int(settings["server_version_num"]),
            "role": "replica" if in_recovery else "primary",
            "settings": settings, "data_directory": settings.get("data_directory"),
            "bindir": running_bindir(settings.get("data_directory") or ""),
        }
        if in_recovery:
            row = query(db, "SELECT pg_last_wal_receive_lsn()::text AS receive_lsn, pg_last_wal_replay_lsn()::text AS replay_lsn,"
                            " greatest(coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0), 0)::bigint AS replay_lag_bytes,"
                            " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float AS replay_age_seconds")[0]
            receiver = query(db, "SELECT status, sender_host, sender_port FROM pg_stat_wal_receiver")
            row["receiver"] = receiver[0] if receiver else None
            row["streaming"] = bool(receiver and receiver[0]["status"] == "streaming")
            info["replication"] = row
        else:
            info["current_lsn"] = scalar(db, "SELECT pg_current_wal_lsn()::text")
            info["replication"] = {"replicas": query(
                db, "SELECT application_name, client_addr::text, state, sync_state, sent_lsn::text, replay_lsn::text,"
                    " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag_bytes FROM pg_stat_replication")}
        info["long_transactions"] = query(
            db, "SELECT pid, datname, usename, state, extract(epoch FROM now() - xact_start)::float AS age_seconds"
                " FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend' AND now() - xact_start > make_interval(secs => %s)",
            (long_xact_seconds,))
        info["prepared_transactions"] = scalar(db, "SELECT count(*) FROM pg_prepared_xacts")
        info["replication_slots"] = query(db, "SELECT slot_name, slot_type, active, database FROM pg_replication_slots")
        info["databases"] = [r["datname"] for r in query(
            db, "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname")]
    finally:
        db.close()
    info["extensions"] = {}
    for dbname in info["databases"]:
        sub = connect(dict(conn, dbname=dbname))
        try:
            info["extensions"][dbname] = query(sub, "SELECT extname AS name, extversion AS version FROM pg_extension ORDER BY 1")
        finally:
            sub.close()
    return info


def table_fingerprints(conn, schemas=None, tables=None):
    """Row count and an order-independent checksum of every user table of one database (only
    those of ``schemas``, and only ``tables`` (``schema.table``) when given)."""
    only = set(tables or [])
    db = connect(conn)
    try:
        found = query(db, "SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                      " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                      " AND n.nspname NOT LIKE 'pg_toast%%' ORDER BY 1, 2")
        result = {}
        for table in found:
            if schemas and table["schema"] not in schemas:
                continue
            if only and "%s.%s" % (table["schema"], table["name"]) not in only:
                continue
            ident = '"%s"."%s"' % (table["schema"].replace('"', '""'), table["name"].replace('"', '""'))
            row = query(db, "SELECT count(*) AS rows, coalesce(md5(string_agg(h, '' ORDER BY h)), '') AS checksum"
                            " FROM (SELECT md5(t::text) AS h FROM %s t) s" % ident)[0]
            result["%s.%s" % (table["schema"], table["name"])] = {"rows": row["rows"], "checksum": row["checksum"]}
        return result
    finally:
        db.close()


def compare_fingerprints(before, after):
    """List of differences between two fingerprint dicts (empty when equal)."""
    diffs = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a is None or b is None:
            diffs.append("%s: only in the %s" % (name, "source" if b is None else "upgraded copy"))
        elif a["rows"] != b["rows"]:
            diffs.append("%s: %s rows in the source, %s after" % (name, a["rows"], b["rows"]))
        elif a["checksum"] != b["checksum"]:
            diffs.append("%s: same row count, different checksum" % name)
    return diffs


#: SQLSTATE of a write attempted in a read-only transaction.
_READ_ONLY_SQL_TRANSACTION = "25006"


def smoke(conn, queries):
    """Run smoke queries, each in its own READ ONLY transaction, rolled back after it: a smoke query
    checks a server, it never changes it. Return [{query, ok, rows|error}]; a query that tries to
    write fails with an error naming it."""
    results = []
    db = connect(conn, autocommit=False)
    try:
        # Every transaction of this session is read-only, also one a query starts itself (COMMIT; ...).
        with db.cursor() as cur:
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        db.commit()
        for sql in queries:
            try:
                rows = query(db, sql)
                results.append({"query": sql, "ok": True, "rows": len(rows)})
            except psycopg2.Error as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                if getattr(err, "pgcode", None) == _READ_ONLY_SQL_TRANSACTION:
                    first = ("smoke query %r writes (%s); smoke queries must only read: they run in a READ ONLY "
                             "transaction, so give one that does not change data" % (sql, first))
                results.append({"query": sql, "ok": False, "error": first})
            finally:
                _rollback(db)
    finally:
        db.close()
    return results


def _rollback(db):
    try:
        db.rollback()
    except psycopg2.Error:  # the connection is gone: the next query says so
        pass
