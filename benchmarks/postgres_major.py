#!/usr/bin/env python
"""Downtime of a PostgreSQL major upgrade (15 -> 18) on a ~1 GB database, three ways, and how
well the canary predicts it.

For --link and --copy: a copy of the seeded 15 cluster plays production. The canary clones it
with pg_basebackup and runs the same steps the runbook's canary role times (stop, pg_upgrade,
start, smoke queries); then the real run does them on "production" (the new cluster is
initialised before the downtime, as the runbook does). Dump/restore: pg_dump -Fd -j N from the
15 server into a running 18 server with pg_restore -j N.

Downtime = primary stopped (or writes stopped, for dump/restore) until the new server answers
the smoke queries. Table fingerprints are left out here (they scale with size in both the
prediction and the real run; the runbook includes them).

Needs the lab's binaries (lab/postgres/up has run). Uses ports PG_SCRATCH_PORT_BASE+10..+15 and
.lab/postgres/bench (removed afterwards).

    .venv/bin/python benchmarks/postgres_major.py            # ~1 GB (pgbench scale 67)
    .venv/bin/python benchmarks/postgres_major.py --scale 5  # a quick run
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import server  # noqa: E402
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql  # noqa: E402
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host import upgrade  # noqa: E402

SMOKE = ["SELECT count(*) FROM pgbench_branches", "SELECT abalance FROM pgbench_accounts WHERE aid = 1",
         "SELECT count(*) FROM app.customer_totals"]


def read_env():
    env = {}
    with open(os.path.join(REPO, ".lab", "postgres", "env")) as handle:
        for line in handle:
            if "=" in line:
                key, value = line.strip().split("=", 1)
                env[key] = value
    return env


class Bench(object):
    def __init__(self, env, scale, jobs):
        self.env, self.scale, self.jobs = env, scale, jobs
        self.user = env["PG_OS_USER"]
        self.old, self.new = env["PG_BINDIR_OLD"], env["PG_BINDIR_NEW"]
        # Beside scratch/, which tests wipe with lab/postgres/reset.
        self.dir = os.path.join(os.path.dirname(env["PG_SCRATCH_DIR"]), "bench")
        self.sock = os.path.join(self.dir, "run")
        base = int(env["PG_SCRATCH_PORT_BASE"]) + 10
        self.port_prod, self.port_clone, self.port_new, self.up_old, self.up_new = base, base + 1, base + 2, base + 3, base + 4
        self.password = env["PG_PASSWORD"]

    def path(self, name):
        return os.path.join(self.dir, name)

    def settings(self, port):
        return {"port": port, "listen_addresses": "127.0.0.1", "unix_socket_directories": self.sock,
                "shared_preload_libraries": "pg_stat_statements", "max_wal_senders": 4, "wal_level": "replica"}

    def conn(self, port, dbname="appdb"):
        return dict(host="127.0.0.1", port=port, user="postgres", password=self.password, dbname=dbname, connect_timeout=5)

    def ctl(self, bindir, data, action):
        started = time.monotonic()
        server.pg_ctl(bindir, data, action, os_user=self.user, log_file=data + ".log", timeout=600)
        return time.monotonic() - started

    def smoke(self, port):
        started = time.monotonic()
        results = sql.smoke(self.conn(port), SMOKE)
        bad = [r for r in results if not r["ok"]]
        if bad:
            raise SystemExit("smoke queries failed on port %d: %s" % (port, bad))
        return time.monotonic() - started

    def seed(self):
        if os.path.exists(self.dir):
            self.stop_all()
            shutil.rmtree(self.dir)
        for d in (self.dir, self.sock):
            os.makedirs(d)
            server.chown_to(d, self.user)
        os.chmod(self.sock, 0o700)
        base = self.path("base")
        pwfile = self.path("pw")
        with open(pwfile, "w") as handle:
            handle.write(self.password + "\n")
        server.chown_to(pwfile, self.user)
        server.run([os.path.join(self.old, "initdb"), "-D", base, "-U", "postgres", "--pwfile=" + pwfile, "--auth-local=trust",
                "--auth-host=scram-sha-256", "--data-checksums", "--locale=C.UTF-8", "--encoding=UTF8"], os_user=self.user)
        os.unlink(pwfile)
        upgrade.write_settings(base, self.settings(self.port_prod))
        with open(os.path.join(base, "pg_hba.conf"), "a") as handle:
            handle.write("host replication all 127.0.0.1/32 scram-sha-256\n")
        self.ctl(self.old, base, "start")
        client = self.env["PG_CLIENT_BINDIR"]
        penv = {"PGPASSWORD": self.password}
        server.run([os.path.join(client, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port_prod), "-U", "postgres",
                "-c", "CREATE DATABASE appdb"], env=penv)
        started = time.monotonic()
        server.run([os.path.join(client, "pgbench"), "-q", "-i", "-s", str(self.scale), "-h", "127.0.0.1", "-p",
                str(self.port_prod), "-U", "postgres", "appdb"], env=penv, timeout=7200)
        server.run([os.path.join(client, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port_prod),
                "-U", "postgres", "-d", "appdb", "-f", os.path.join(REPO, "lab", "postgres", "seed.sql")], env=penv)
        size = sql.scalar(sql.connect(self.conn(self.port_prod)), "SELECT pg_database_size('appdb')")
        self.ctl(self.old, base, "stop")
        return size, time.monotonic() - started

    def production(self, name):
        """A running copy of the seeded cluster that plays production."""
        data = self.path(name)
        subprocess.run(["cp", "-a", self.path("base"), data], check=True)
        os.sync()  # production's files are at rest: the copy's writeback must not land in the timed steps
        self.ctl(self.old, data, "start")
        return data

    def upgrade_timed(self, old_data, new_data, transfer, stop_bindir, port):
        """The downtime steps: stop, pg_upgrade (new cluster prepared before), start, smoke."""
        upgrade.prepare(self.old, self.new, old_data, new_data, self.user, settings=self.settings(port))
        t = {"stop": self.ctl(stop_bindir, old_data, "stop")}
        work = new_data + "-work"
        os.makedirs(work, exist_ok=True)
        server.chown_to(work, self.user)
        result = upgrade.upgrade(self.old, self.new, old_data, new_data, transfer, self.jobs, self.up_old, self.up_new, self.sock,
                            work, os_user=self.user, settings=self.settings(port))[1]
        t["pg_upgrade"] = result["seconds"]
        t["start"] = self.ctl(self.new, new_data, "start")
        t["smoke"] = self.smoke(port)
        t["total"] = sum(t.values())
        self.ctl(self.new, new_data, "stop")
        return t

    def canary(self, prod, transfer):
        clone, new = self.path("canary-%s" % transfer), self.path("canary-%s-new" % transfer)
        started = time.monotonic()
        upgrade.clone(self.conn(self.port_prod, "postgres"), self.old, clone, self.user, settings=self.settings(self.port_clone))
        clone_seconds = time.monotonic() - started
        os.sync()
        self.ctl(self.old, clone, "start")
        t = self.upgrade_timed(clone, new, transfer, self.old, self.port_clone)
        t["clone"] = clone_seconds
        shutil.rmtree(clone)
        shutil.rmtree(new)
        shutil.rmtree(new + "-work", ignore_errors=True)
        return t

    def real(self, prod, transfer):
        new = prod + "-new"
        t = self.upgrade_timed(prod, new, transfer, self.old, self.port_prod)
        shutil.rmtree(prod)
        shutil.rmtree(new)
        shutil.rmtree(new + "-work", ignore_errors=True)
        return t

    def dump_restore(self):
        prod = self.production("prod-dump")
        new = self.path("dump-new")
        upgrade.prepare(self.old, self.new, prod, new, self.user, settings=self.settings(self.port_new))
        self.ctl(self.new, new, "start")
        dump = self.path("dump")
        penv = {"PGPASSWORD": self.password}
        # A fresh initdb has no password; set the lab one over the (trusted) socket.
        server.run([os.path.join(self.new, "psql"), "-X", "-q", "-h", self.sock, "-p", str(self.port_new), "-U", "postgres",
                "-c", "ALTER USER postgres PASSWORD '%s'" % self.password])
        t = {}
        started = time.monotonic()  # writes stop here
        server.run([os.path.join(self.new, "pg_dump"), "-Fd", "-j", str(self.jobs), "-f", dump, "-h", "127.0.0.1", "-p",
                str(self.port_prod), "-U", "postgres", "appdb"], env=penv, timeout=7200)
        t["pg_dump"] = time.monotonic() - started
        mark = time.monotonic()
        server.run([os.path.join(self.new, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port_new), "-U", "postgres",
                "-c", "CREATE DATABASE appdb"], env=penv)
        server.run([os.path.join(self.new, "pg_restore"), "-j", str(self.jobs), "-d", "appdb", "-h", "127.0.0.1", "-p",
                str(self.port_new), "-U", "postgres", dump], env=penv, timeout=7200)
        t["pg_restore"] = time.monotonic() - mark
        t["smoke"] = self.smoke(self.port_new)
        t["total"] = time.monotonic() - started
        self.ctl(self.new, new, "stop")
        self.ctl(self.old, prod, "stop")
        for path in (prod, new, dump):
            shutil.rmtree(path)
        return t

    def stop_all(self):
        for root, dirs, files in os.walk(self.dir):
            if "postmaster.pid" in files and server.postmaster(root):
                server.pg_ctl(server.running_bindir(root), root, "stop", os_user=self.user, mode="immediate")
            dirs[:] = [d for d in dirs if d not in ("base", "global", "pg_wal")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=67, help="pgbench scale (67 ~ 1 GB)")
    parser.add_argument("--jobs", type=int, default=2, help="pg_upgrade/pg_dump/pg_restore jobs")
    args = parser.parse_args()
    bench = Bench(read_env(), args.scale, args.jobs)
    try:
        size, seed_seconds = bench.seed()
        print("database appdb: %.0f MB (pgbench scale %d), seeded in %.0f s; 15.17 -> 18, %d jobs"
              % (size / 1048576.0, args.scale, seed_seconds, args.jobs))
        rows = []
        for transfer in ("link", "copy"):
            prod = bench.production("prod-%s" % transfer)
            predicted = bench.canary(prod, transfer)
            actual = bench.real(prod, transfer)
            rows.append((transfer, predicted, actual))
        dump = bench.dump_restore()
    finally:
        bench.stop_all()
        shutil.rmtree(bench.dir, ignore_errors=True)
    print("")
    print("| method | downtime (s) | stop | pg_upgrade | start | smoke | canary predicted (s) | prediction error |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for transfer, predicted, actual in rows:
        error = (predicted["total"] - actual["total"]) / actual["total"] * 100
        print("| --%s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f (clone %.1f s) | %+.1f %% |" % (
            transfer, actual["total"], actual["stop"], actual["pg_upgrade"], actual["start"], actual["smoke"],
            predicted["total"], predicted["clone"], error))
    print("| dump/restore | %.2f | pg_dump %.2f | pg_restore %.2f | - | %.2f | - | - |" % (
        dump["total"], dump["pg_dump"], dump["pg_restore"], dump["smoke"]))
    link = rows[0][2]["total"]
    print("")
    print("target: --link downtime < 10 s: %s (%.2f s); prediction within +/-25 %%: %s" % (
        "met" if link < 10 else "NOT met", link,
        ", ".join("--%s %s" % (t, "met" if abs((p["total"] - a["total"]) / a["total"]) <= 0.25 else "NOT met")
                  for t, p, a in rows)))


if __name__ == "__main__":
    main()
