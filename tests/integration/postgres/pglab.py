"""Helpers of the Postgres runbook tests (a uniquely named module: every area has a conftest.py).

The lab's primary/replica pair in its starting state.

The starting state (what lab/postgres/up seeds): pg-primary on 127.0.0.1:PG_OLD_PRIMARY_PORT is
the primary and pg-replica streams from it, both on the npm 15.17 build from .lab/postgres/*/data.
A test that changes it puts it back (`start_state` fixture: checked before and after, and
rebuilt with lab/postgres/reset only when it differs).

Runs keep their journals, reports and downtime ledger in the test's own folder (``reports_dir``),
never in the checkout's reports/: what a user ran there (a drill that spent the error budget, an
unfinished run) must not change a test's outcome, and a test must not write into it.
"""

import glob
import json
import os
import subprocess
import sys

import labenv
import psycopg2

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, ".collections"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "upgrade_cluster"))
import uclab  # noqa: E402  the one kill_tree of the integration tests

PLAYBOOK = os.path.join(REPO, "playbooks", "upgrade-postgres.yml")


class PgLab(object):
    """The running lab pair, read from .lab/postgres/env; runbook runs report to ``reports_dir``."""

    def __init__(self, env, reports_dir):
        self.env = env
        self.reports_dir = reports_dir
        self.ledger = os.path.join(reports_dir, "downtime.jsonl")
        self.primary_port = int(env["PG_PRIMARY_PORT"])
        self.replica_port = int(env["PG_REPLICA_PORT"])

    def with_reports(self, reports_dir):
        """The same lab, its runs reporting to another folder (one per test)."""
        return PgLab(self.env, reports_dir)

    def minor_target(self):
        """The version the minor flow moves to: what the minor target's binaries are now, not the
        PG_MINOR_TARGET that lab/postgres/up recorded (Debian may have upgraded them since)."""
        return labenv.postgres_version(self.env["PG_BINDIR_MINOR_TARGET"])

    def conn(self, port, dbname="postgres"):
        return dict(host="127.0.0.1", port=port, user="postgres", password=self.env["PG_PASSWORD"], dbname=dbname,
                    connect_timeout=5)

    def connect(self, port, dbname="postgres"):
        db = psycopg2.connect(**self.conn(port, dbname))
        db.autocommit = True
        return db

    def query(self, port, sql, dbname="postgres", args=None):
        db = self.connect(port, dbname)
        try:
            with db.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall() if cur.description else []
        finally:
            db.close()

    def describe(self, port):
        """(role, version) of the server on ``port``, or None when it does not answer."""
        try:
            row = self.query(port, "SELECT pg_is_in_recovery(), current_setting('server_version')")[0]
        except psycopg2.Error:
            return None
        return ("replica" if row[0] else "primary", row[1].split()[0])

    def is_start_state(self):
        if os.path.exists(self.env["PG_PRIMARY_DATA_NEW"]) or os.path.exists(self.env["PG_REPLICA_DATA_NEW"]):
            return False
        if glob.glob(os.path.join(self.env["PG_SCRATCH_DIR"], "**", "PG_VERSION"), recursive=True):
            return False  # a canary clone or new cluster was left behind
        old = self.env["PG_OLD_MINOR"]
        if self.describe(self.primary_port) != ("primary", old) or self.describe(self.replica_port) != ("replica", old):
            return False
        rows = self.query(self.primary_port, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
        return rows[0][0] >= 1

    def reset(self):
        proc = subprocess.run([os.path.join(REPO, "lab", "postgres", "reset")], cwd=REPO, capture_output=True,
                              text=True, timeout=600, check=False)
        assert proc.returncode == 0, "lab/postgres/reset failed:\n%s%s" % (proc.stdout, proc.stderr)

    def command(self, *extra):
        """ansible-playbook playbooks/upgrade-postgres.yml with this lab's reports folder and ledger
        (``-e`` items after them win: a test may still give its own ledger)."""
        cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), PLAYBOOK,
               "-e", "postgres_reports_dir=%s" % self.reports_dir, "-e", "postgres_slo_ledger=%s" % self.ledger]
        for item in extra:
            cmd += [item] if item.startswith("--") else ["-e", item]
        return cmd

    def playbook(self, *extra, timeout=900):
        """Run playbooks/upgrade-postgres.yml; return (rc, output, report dict or None)."""
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        before = set(glob.glob(os.path.join(self.reports_dir, "upgrade-postgres-*")))
        proc = subprocess.run(self.command(*extra), cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        new = sorted(set(glob.glob(os.path.join(self.reports_dir, "upgrade-postgres-*"))) - before, key=os.path.getmtime)
        report = None
        if new and os.path.exists(os.path.join(new[-1], "report.json")):
            with open(os.path.join(new[-1], "report.json")) as handle:
                report = json.load(handle)
        return proc.returncode, proc.stdout + proc.stderr, report


def step(report, name):
    for item in report["steps"]:
        if item["name"] == name:
            return item
    return None


# SIGKILL a run started by start_playbook and every process under it, the way a controller that dies takes its
# modules with it (Ansible's workers call setsid(), so killing the process group is not enough), and reap it.
# One implementation for the integration tests: the upgrade tests' (tests/integration/upgrade_cluster/uclab.py).
kill_tree = uclab.kill_tree


def start_playbook(lab, *extra):
    """playbooks/upgrade-postgres.yml in the background (``-e`` items), reporting to
    ``lab.reports_dir``, its output discarded: for tests that interrupt it with ``kill_tree``."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    return subprocess.Popen(lab.command(*extra), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def journal_steps(lab, run_id):
    """{step name: status} of a run's journal as written so far ({} before it exists)."""
    try:
        with open(os.path.join(lab.reports_dir, run_id, "state.json")) as handle:
            return {s["name"]: s["status"] for s in json.load(handle)["steps"]}
    except (OSError, ValueError):
        return {}
