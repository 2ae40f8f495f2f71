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
