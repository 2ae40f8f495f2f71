"""Shared fixtures for the integration tests: the running lab, started once per session.

    def test_x(lab_up, k8s_client, lab_env):
        lab_up("dns")                      # lab/up dns, once per session (k8s is always up)
        core = kubernetes.client.CoreV1Api(k8s_client)
        lab_env.port("DNS_PRIMARY_PORT")

`lab_up` runs `lab/up <component>` (idempotent and fast when it already runs) and fails the
test with lab/up's own message when a component cannot start.
"""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_DIR = os.path.join(REPO, "lab")
for _path in (LAB_DIR, os.path.join(LAB_DIR, "k8s")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import labenv  # noqa: E402  pylint: disable=wrong-import-position

_STARTED = set()


def ensure_lab(*components):
    """Run lab/up for the components not yet ensured in this session."""
    todo = [c for c in components if c not in _STARTED]
    if not todo:
        return
    env = dict(os.environ, LAB_PYTHON=os.environ.get("LAB_PYTHON", sys.executable))
    proc = subprocess.run([os.path.join(LAB_DIR, "up")] + todo, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        pytest.fail("lab/up %s failed (exit %d):\n%s%s" % (" ".join(todo), proc.returncode,
                                                          proc.stdout, proc.stderr), pytrace=False)
    _STARTED.update(todo)


@pytest.fixture(scope="session")
def lab_env():
    """The lab/labenv.py module: ports, paths, time profiles, component env files."""
    return labenv


@pytest.fixture(scope="session")
def lab_up():
    """Call with component names to make sure they run (lab/up once per session)."""
    return ensure_lab


@pytest.fixture(scope="session")
def k8s_client(lab_up):
    """A kubernetes ApiClient for the lab cluster (admin, from .lab/kubeconfig)."""
    from kubernetes import config  # pylint: disable=import-outside-toplevel
    lab_up("k8s")
    return config.new_client_from_config(config_file=labenv.kubeconfig())


@pytest.fixture(scope="session")
def k8s_core(k8s_client):
    """CoreV1Api on the lab cluster."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    return client.CoreV1Api(k8s_client)


@pytest.fixture(scope="session")
def lab_profile(lab_up):
    """{setting: seconds} of the profile the running lab uses (from .lab/k8s/env)."""
    lab_up("k8s")
    env = labenv.component_env("k8s")
    return labenv.profile_values(env.get("LAB_PROFILE") or None)


# Lab parts that may be exercised side by side, for `pytest -n N --dist loadgroup` (pytest-xdist;
# `make integration INTEGRATION_WORKERS=N`). Each test directory joins the group of the lab part it
# changes; a group runs on one worker, in file order, so no two tests that change the same part
# ever overlap. Without -n the marks change nothing.
# - cluster: the seeded LKE cluster (the Linode simulator's /reset rebuilds it and wipes its Domains
#   and fault rules), its kwok Nodes and the app on them, the edge; autopilot and awx_runner run the
#   cluster runbooks.
# - postgres: the host PostgreSQL pair; certificates: the TLS lab; node: the real kubelet node and
#   the CloudNativePG operator on it; dns: the PowerDNS/Knot zone (its Linode provider tests use the
#   simulator's Domains, which a cluster test's /reset wipes: their fixture holds the simulator's lock).
# A group a worker has not started yet goes to the first worker almost out of work: the more groups,
# the better two workers share the run (the cluster group alone is most of it).
# A directory not listed (a new area) joins cluster, the safe choice until someone checks it.
# Session-scoped fixtures are per worker: the tests.lock files of dns and postgres are then held by
# the one worker that runs that group (labenv.hold is re-entrant within a process), which is why
# awx_runner's jobs go to the group of the part their runbook changes rather than all to one worker.
XDIST_GROUPS = {
    "cluster": ("upgrade_cluster", "drill", "responder", "k8s", "edge", "linode_sim", "autopilot", "awx_runner"),
    "dns": ("dns",),
    "postgres": ("postgres",),
    "certificates": ("certificates",),
    "node": ("node", "postgres_operator"),
}
AWX_RUNBOOK_GROUPS = {"playbooks/upgrade-postgres.yml": "postgres",
                      "playbooks/check-certificates.yml": "certificates",
                      "playbooks/dns-migration.yml": "dns",
                      "playbooks/lower-dns-ttl.yml": "dns",
                      "playbooks/restore-dns-ttl.yml": "dns"}
_DIR_GROUP = {d: g for g, dirs in XDIST_GROUPS.items() for d in dirs}


def xdist_group_of(item):
    """The group (above) of a collected integration test. A test module that changes another lab part than
    its directory's names that group itself (pytestmark = pytest.mark.xdist_group("postgres"))."""
    explicit = item.get_closest_marker("xdist_group")
    if explicit is not None and explicit.args:
        return explicit.args[0]
    rel = os.path.relpath(str(item.fspath), os.path.dirname(os.path.abspath(__file__)))
    area = rel.split(os.sep, 1)[0]
    if area == "awx_runner":
        jt = getattr(item, "callspec", None) and item.callspec.params.get("jt")
        if isinstance(jt, dict) and jt.get("playbook") in AWX_RUNBOOK_GROUPS:
            return AWX_RUNBOOK_GROUPS[jt["playbook"]]
    return _DIR_GROUP.get(area, "cluster")


# tryfirst: xdist's worker turns the xdist_group marks into node ids in its own
# pytest_collection_modifyitems, registered after this conftest (so called before it by default);
# marks added after that are ignored and --dist loadgroup spreads one group over several workers.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.xdist_group(xdist_group_of(item)))


def pytest_configure(config):
    # pytest-xdist registers it too; without xdist the mark must still be known
    config.addinivalue_line("markers", "xdist_group(name): run on the same xdist worker as the group's other tests")
    config.addinivalue_line("markers", "slow: a test of several minutes (the CloudNativePG majors)")


# Seconds per (xdist worker, group), setup and teardown included (lock waits show here): printed at the end so
# a CI log says which worker the run waited for and what a new group would balance.
_GROUP_SECONDS = {}


def pytest_runtest_logreport(report):
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    worker = gateway.id if gateway is not None else "main"
    group = report.nodeid.rsplit("@", 1)[1] if "@" in report.nodeid else "-"
    _GROUP_SECONDS[(worker, group)] = _GROUP_SECONDS.get((worker, group), 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    workers = sorted(set(worker for worker, _group in _GROUP_SECONDS))
    if not workers:
        return
    terminalreporter.section("seconds per worker and xdist group (setup and teardown included)")
    for worker in workers:
        groups = sorted(((seconds, group) for (w, group), seconds in _GROUP_SECONDS.items() if w == worker),
                        reverse=True)
        terminalreporter.write_line("%s: %.0f s: %s" % (worker, sum(s for s, _g in groups),
                                                       ", ".join("%s %.0f s" % (g, s) for s, g in groups)))
