# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL on hosts run by pg_ctl: versions, binaries, data directories, connections,
cluster facts, start/stop and data fingerprints.

The upgrade steps themselves (check, pg_upgrade, clone, switchover) live in
``postgres_upgrade.py``. Commands that touch a data directory run as the cluster's OS user:
when the caller is root they are started with that user's uid/gid.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import subprocess
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.errors import RunbookError

try:
    import psycopg2
    import psycopg2.extras
    HAS_PSYCOPG2 = True
except ImportError:  # reported by the modules with missing_required_lib
    HAS_PSYCOPG2 = False

_VERSION_RE = re.compile(r"^\s*(?:PostgreSQL\s+)?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$")
_VERSION_IN_TEXT_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")

#: Connection options shared by every postgres_* module (one source for the spec).
CONNECTION_SPEC = dict(
    login_host=dict(type="str", default="127.0.0.1"),
    login_port=dict(type="int", default=5432),
    login_user=dict(type="str", default="postgres"),
    login_password=dict(type="str", no_log=True),
    login_db=dict(type="str", default="postgres"),
    connect_timeout=dict(type="int", default=5),
)


class PostgresError(RunbookError):
    """A PostgreSQL step failed or was given bad input."""


def parse_version(value, what="version"):
    """Return (major, minor) from '15.18', '15', '18.6', 150018 or 'PostgreSQL 15.18'.

    ``minor`` is None when only a major was given. Majors before 10 are refused: the lab and
    the runbooks only handle the two-part numbering.
    """
    if isinstance(value, bool):
        raise PostgresError("%s %r does not parse; give MAJOR.MINOR such as 15.18 or a major such as 18" % (what, value))
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit() and len(value.strip()) >= 5):
        num = int(value)
        if num >= 100000:
            return num // 10000, num % 10000
    text = str(value) if value is not None else ""
    match = _VERSION_RE.match(text)
    if not match or match.group(3) is not None:
        raise PostgresError("%s %r does not parse; give MAJOR.MINOR such as 15.18 or a major such as 18" % (what, value))
    major = int(match.group(1))
    if major < 10:
        raise PostgresError("%s %r is older than PostgreSQL 10; give MAJOR.MINOR such as 15.18" % (what, value))
    minor = int(match.group(2)) if match.group(2) is not None else None
    return major, minor


def format_version(version):
    major, minor = version
    return "%d" % major if minor is None else "%d.%d" % (major, minor)


def minor_policy(current, target):
    """Decide whether ``target`` is an allowed minor upgrade of ``current``.

    Returns 'upgrade' or 'noop'; raises for a downgrade or another major (that is the major flow).
    """
    cur, tgt = parse_version(current, "current version"), parse_version(target, "target version")
    if tgt[1] is None or cur[1] is None:
        raise PostgresError("minor upgrade needs full versions (MAJOR.MINOR), got current %r and target %r"
                            % (current, target))
    if tgt[0] != cur[0]:
        raise PostgresError("target version %s is another major than the running %s; the minor flow only applies "
                            "patch releases of %d (use postgres_upgrade=major)" % (format_version(tgt), format_version(cur), cur[0]))
    if tgt[1] < cur[1]:
        raise PostgresError("target version %s is a downgrade from the running %s; only newer patch releases of %d are applied"
                            % (format_version(tgt), format_version(cur), cur[0]))
    return "noop" if tgt[1] == cur[1] else "upgrade"


# --- processes -------------------------------------------------------------------------

def _demote(os_user):
    if not os_user or os.geteuid() != 0:
        return None
    import pwd
    try:
        entry = pwd.getpwnam(os_user)
    except KeyError:
        raise PostgresError("OS user %r does not exist; give the user that owns the data directory (often 'postgres')" % os_user)

    def preexec():
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    return preexec


def run(cmd, os_user=None, cwd=None, env=None, timeout=600, check=True, what=None):
    """Run ``cmd`` (a list) as ``os_user``; return (rc, stdout, stderr).

    With ``check`` a non-zero exit raises PostgresError quoting the command's own message.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("LC_ALL", "C.UTF-8")
    if os_user and os.geteuid() == 0:
        import pwd
        full_env["HOME"] = pwd.getpwnam(os_user).pw_dir if _user_exists(os_user) else "/tmp"
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, preexec_fn=_demote(os_user), universal_newlines=True, check=False)
    except subprocess.TimeoutExpired:
        raise PostgresError("%s did not finish within %s s: %s" % (what or os.path.basename(cmd[0]), timeout, " ".join(cmd)))
    except OSError as err:
        raise PostgresError("cannot run %s: %s" % (cmd[0], err))
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-12:]
        raise PostgresError("%s failed (exit %d): %s" % (what or os.path.basename(cmd[0]), proc.returncode, " | ".join(detail)))
    return proc.returncode, proc.stdout, proc.stderr


def _user_exists(name):
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def chown_to(path, os_user):
    """Give ``path`` to ``os_user`` when running as root (scratch dirs the server must own)."""
    if not os_user or os.geteuid() != 0:
        return
    import pwd
    entry = pwd.getpwnam(os_user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


# --- binaries and data directories -------------------------------------------------------

def bindir_version(bindir, declared_major=None, what="bindir"):
    """Return (major, minor) of the ``postgres`` binary in ``bindir``; check the declared major."""
    if not bindir or not os.path.isdir(bindir):
        raise PostgresError("%s %r does not exist; give the directory holding postgres, pg_ctl and initdb "
                            "(for example /usr/lib/postgresql/15/bin)" % (what, bindir))
    binary = os.path.join(bindir, "postgres")
    if not os.access(binary, os.X_OK):
        raise PostgresError("%s %r has no executable 'postgres'; give a PostgreSQL server bindir" % (what, bindir))
    rc, out, err = run([binary, "--version"], check=False, timeout=30)
    match = _VERSION_IN_TEXT_RE.search(out)
    if rc != 0 or not match:
        raise PostgresError("%s %r: 'postgres --version' failed (%s)" % (what, bindir, (err or out).strip()[:300]))
    version = (int(match.group(1)), int(match.group(2) or 0))
    if declared_major is not None and int(declared_major) != version[0]:
        raise PostgresError("%s %r holds PostgreSQL %s, not the declared major %s; point it at a %s bindir"
                            % (what, bindir, format_version(version), declared_major, declared_major))
    return version


def require_tools(bindir, tools, what="bindir"):
    missing = [t for t in tools if not os.access(os.path.join(bindir, t), os.X_OK)]
    if missing:
        raise PostgresError("%s %r lacks %s; give a bindir with the full server and client tools"
                            % (what, bindir, ", ".join(missing)))


def data_dir_major(data_dir, what="data directory"):
    """Major of the cluster in ``data_dir`` (from PG_VERSION); raises if it is not a cluster."""
    if not data_dir or not os.path.isdir(data_dir):
        raise PostgresError("%s %r does not exist; give the path of an initialised cluster (the one holding PG_VERSION)"
                            % (what, data_dir))
    pg_version = os.path.join(data_dir, "PG_VERSION")
    if not os.path.isfile(pg_version) or not os.path.exists(os.path.join(data_dir, "global")):
        raise PostgresError("%s %r is not a PostgreSQL cluster (no PG_VERSION/global); give the path of an "
                            "initialised cluster" % (what, data_dir))
    with open(pg_version) as handle:
        return int(handle.read().strip().split(".")[0])


def postmaster(data_dir):
    """(pid, port, socket_dir) of the running postmaster of ``data_dir``, or None."""
    path = os.path.join(data_dir, "postmaster.pid")
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
        pid = int(lines[0])
        os.kill(pid, 0)
    except (IOError, OSError, ValueError, IndexError):
        return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    sock = lines[4].strip() if len(lines) > 4 else None
    return pid, port, sock


def running_bindir(data_dir):
    """The bindir the running postmaster was started from (follows minor upgrades)."""
    info = postmaster(data_dir)
    if not info:
        return None
    try:
        return os.path.dirname(os.path.realpath("/proc/%d/exe" % info[0]))
    except OSError:
        return None


def controldata(bindir, data_dir, os_user=None):
    """pg_controldata as a dict (state, checkpoint location, checksum version...)."""
    out = run([os.path.join(bindir, "pg_controldata"), "-D", data_dir], os_user=os_user, what="pg_controldata")[1]
    result = {}
    for line in out.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            result[key.strip()] = value.strip()
    return result


def pg_ctl(bindir, data_dir, action, os_user=None, log_file=None, options=None, timeout=120, mode="fast"):
    cmd = [os.path.join(bindir, "pg_ctl"), "-D", data_dir, "-w", "-t", str(timeout)]
    if action == "stop":
        cmd += ["-m", mode]
    if log_file and action in ("start", "restart"):
        cmd += ["-l", log_file]
    if options:
        cmd += ["-o", options]
    cmd.append(action)
    try:
        run(cmd, os_user=os_user, timeout=timeout + 30, what="pg_ctl %s" % action)
    except PostgresError as err:
        tail = _log_tail(log_file)
        raise PostgresError("%s%s" % (err, ("; server log: " + tail) if tail else ""))


def _log_tail(path, lines=6):
    if not path or not os.path.exists(path):
        return ""
    try:
        with open(path, errors="replace") as handle:
            return " | ".join(l.strip() for l in handle.readlines()[-lines:])
    except IOError:
        return ""


def instance(data_dir, bindir, state, os_user=None, log_file=None, check_mode=False, timeout=120, mode="fast"):
    """Bring the server of ``data_dir`` to ``state`` (started, stopped, restarted) on ``bindir``.

    ``started`` on a server already running from another bindir restarts it on ``bindir``:
    that is how a minor upgrade swaps binaries. Returns (changed, before, after) descriptions.
    """
    data_dir_major(data_dir)
    bindir = os.path.realpath(bindir) if bindir else None
    current = postmaster(data_dir)
    before = {"running": bool(current), "bindir": running_bindir(data_dir)}
    if state == "stopped":
        if not current:
            return False, before, before
        after = {"running": False, "bindir": None}
        if not check_mode:
            pg_ctl(before["bindir"] or bindir, data_dir, "stop", os_user=os_user, timeout=timeout, mode=mode)
        return True, before, after
    bindir_version(bindir, data_dir_major(data_dir), what="bindir for %s" % data_dir)
    after = {"running": True, "bindir": bindir}
    if state == "started" and current and before["bindir"] == bindir:
        return False, before, before
    if check_mode:
        return True, before, after
    if current:
        pg_ctl(before["bindir"] or bindir, data_dir, "stop", os_user=os_user, timeout=timeout, mode=mode)
    pg_ctl(bindir, data_dir, "start", os_user=os_user, log_file=log_file, timeout=timeout)
    return True, before, after


# --- SQL -------------------------------------------------------------------------------

def conn_params(params, **override):
    """Connection keyword arguments from module params (login_*), with overrides."""
    result = dict(host=params.get("login_host"), port=params.get("login_port"), user=params.get("login_user"),
                  password=params.get("login_password"), dbname=params.get("login_db"),
                  connect_timeout=params.get("connect_timeout") or 5)
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


def table_fingerprints(conn, schemas=None):
    """Row count and an order-independent checksum of every user table of one database."""
    db = connect(conn)
    try:
        tables = query(db, "SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                           " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                           " AND n.nspname NOT LIKE 'pg_toast%%' ORDER BY 1, 2")
        result = {}
        for table in tables:
            if schemas and table["schema"] not in schemas:
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


def smoke(conn, queries):
    """Run smoke queries; return [{query, ok, result|error}]."""
    results = []
    db = connect(conn)
    try:
        for sql in queries:
            try:
                rows = query(db, sql)
                results.append({"query": sql, "ok": True, "rows": len(rows)})
            except psycopg2.Error as err:
                results.append({"query": sql, "ok": False, "error": str(err).strip().splitlines()[0]})
    finally:
        db.close()
    return results
