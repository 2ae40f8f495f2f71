"""The new minor's version comes from its binaries, not from what lab/postgres/up recorded when
it started: Debian's postgresql-15 can be upgraded underneath a running lab (15.18 -> 15.20), and
then .lab/postgres/env is stale. The runbook's target follows the binaries; lab/status warns, also about a node that still runs
a binary replaced on disk."""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from pglab import REPO


@pytest.fixture
def stale_checkout(pg_lab, tmp_path):
    """A checkout whose .lab/postgres/env records another new minor than the binaries are now, as
    after an apt upgrade under a running lab. Everything else is the running lab's (links)."""
    real_state = os.path.join(REPO, ".lab", "postgres")
    checkout = tmp_path / "checkout"
    state = checkout / ".lab" / "postgres"
    state.mkdir(parents=True)
    for name in os.listdir(real_state):
        if name != "env":
            os.symlink(os.path.join(real_state, name), str(state / name))
    inventory = checkout / "inventories" / "lab"
    inventory.mkdir(parents=True)
    for name in ("hosts.yml", "group_vars", "host_vars"):
        os.symlink(os.path.join(REPO, "inventories", "lab", name), str(inventory / name))
    actual = pg_lab.minor_target()
    major, minor = actual.split(".")
    recorded = "%s.%d" % (major, int(minor) + 2 if int(minor) < 2 else int(minor) - 2)
    with open(os.path.join(real_state, "env")) as handle:
        env = re.sub(r"(?m)^PG_MINOR_TARGET=.*$", "PG_MINOR_TARGET=%s" % recorded, handle.read())
    assert "PG_MINOR_TARGET=%s\n" % recorded in env
    (state / "env").write_text(env)
    return {"checkout": str(checkout), "actual": actual, "recorded": recorded,
            "bindir": pg_lab.env["PG_BINDIR_MINOR_TARGET"]}


def _status(lab_state):
    return subprocess.run([os.path.join(REPO, "lab", "postgres", "status")], env=dict(os.environ, LAB_STATE=lab_state),
                          capture_output=True, text=True, timeout=60, check=False)


def test_status_warns_when_the_recorded_new_minor_is_not_the_binaries(pg_lab, stale_checkout):
    proc = _status(os.path.join(stale_checkout["checkout"], ".lab"))
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a warning, the nodes still run
    assert "postgres primary: running" in proc.stdout and "postgres replica: running" in proc.stdout
    assert ("warning: %s/.lab/postgres/env records the new minor as PG_MINOR_TARGET=%s but %s/postgres is %s"
            % (stale_checkout["checkout"], stale_checkout["recorded"], stale_checkout["bindir"], stale_checkout["actual"])
            in proc.stdout), proc.stdout
    # the lab as lab/up left it: no drift, no warning
    proc = _status(os.path.join(REPO, ".lab"))
    assert proc.returncode == 0 and "warning" not in proc.stdout, proc.stdout + proc.stderr


def test_the_lab_inventory_targets_what_the_binaries_are(stale_checkout):
    proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible"), "pg-primary", "-i",
                           os.path.join(stale_checkout["checkout"], "inventories", "lab"), "-m", "ansible.builtin.debug",
                           "-a", "msg=target={{ postgres_minor_target_version }}"],
                          cwd=REPO, env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "target=%s" % stale_checkout["actual"] in proc.stdout, proc.stdout


@pytest.fixture
def node_on_replaced_binary(pg_lab):
    """A lab state whose primary runs a 15 postgres binary that was then replaced on disk by another
    15 build, the way dpkg replaces a running server's binary (a new file renamed over it)."""
    env = pg_lab.env
    base = tempfile.mkdtemp(prefix="fournines-pgdrift-", dir="/tmp")
    os.chmod(base, 0o755)  # the server user must reach its binary and data (pytest's tmp dirs are root-only)
    build = os.path.join(base, "build")
    old = os.path.realpath(env["PG_BINDIR_OLD"])
    os.makedirs(os.path.join(build, "bin"))
    for name in ("lib", "share"):
        os.symlink(os.path.join(os.path.dirname(old), name), os.path.join(build, name))
    for name in os.listdir(old):
        target = os.path.join(build, "bin", name)
        shutil.copy2(os.path.join(old, name), target) if name == "postgres" else os.symlink(os.path.join(old, name), target)
    data = os.path.join(base, "state", "postgres", "primary", "data")
    os.makedirs(os.path.dirname(data))
    user = env["PG_OS_USER"]
    subprocess.run(["chown", "-R", user, base], check=True)
    runuser = ["runuser", "-u", user, "--"]
    subprocess.run(runuser + [os.path.join(build, "bin", "initdb"), "-D", data, "-U", "postgres", "--auth=trust"],
                   check=True, capture_output=True)
    port = int(env["PG_SCRATCH_PORT_BASE"]) + 9
    subprocess.run(runuser + [os.path.join(build, "bin", "pg_ctl"), "-D", data, "-p", os.path.join(build, "bin", "postgres"),
                              "-o", "-p %d -c listen_addresses=127.0.0.1 -k %s" % (port, base), "-l",
                              os.path.join(base, "primary.log"), "-w", "start"], check=True, capture_output=True)
    try:
        runs = pg_lab.describe(port)
        assert runs == ("primary", env["PG_OLD_MINOR"]), runs
        # the package upgrade: the new binary is renamed over the one the server runs
        new = os.path.join(build, "bin", "postgres.dpkg-new")
        os.symlink(os.path.join(env["PG_BINDIR_MINOR_TARGET"], "postgres"), new)
        os.rename(new, os.path.join(build, "bin", "postgres"))
        yield {"state": os.path.join(base, "state"), "bindir": os.path.join(build, "bin"), "runs": runs[1]}
    finally:
        subprocess.run(runuser + [os.path.join(old, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                       check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_status_warns_when_a_node_runs_a_binary_replaced_underneath_it(pg_lab, node_on_replaced_binary):
    drift = node_on_replaced_binary
    proc = _status(drift["state"])
    now = pg_lab.minor_target()
    assert "postgres primary: running" in proc.stdout and "(primary %s)" % drift["runs"] in proc.stdout, proc.stdout
    assert ("postgres primary: warning: runs %s but %s/postgres is now %s (replaced underneath it)"
            % (drift["runs"], drift["bindir"], now) in proc.stdout), proc.stdout
    assert "postgres replica: stopped" in proc.stdout and proc.returncode == 1  # this state has no replica
