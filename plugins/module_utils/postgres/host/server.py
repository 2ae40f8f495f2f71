# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL on hosts run by pg_ctl: binaries, data directories, start/stop as the cluster's OS user.

The upgrade steps themselves (check, pg_upgrade, clone) live in ``upgrade.py`` beside this file,
the switchover in ``switchover.py``. Commands that touch a data directory run as the cluster's OS
user: when the caller is root they are started with that user's uid/gid.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.versions import _VERSION_IN_TEXT_RE, format_version


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
