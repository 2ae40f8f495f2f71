"""Fixtures for the autopilot's single-cluster tests: the upgrade-cluster tests' lock (the autopilot runs
that runbook and resets the simulator), the seeded lab before each test that changes it, seeded again at the end."""

import os
import sys

import pytest
from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aplab  # noqa: E402

uclab = aplab.uclab


@pytest.fixture(scope="module")
def ap_lab(lab_up, k8s_client):
    from kubernetes import client
    lab_up("k8s", "linode_sim", "edge")
    with uclab.labenv.held(*uclab.labenv.SIMULATOR_LOCK):
        admin = uclab.simlab.SimAdmin(uclab.labenv.component_env("linode_sim")["LINODE_SIM_ADMIN_URL"])
        lab = (admin, client.CoreV1Api(k8s_client), client.AppsV1Api(k8s_client))
        uclab.seeded(*lab)
        yield lab
        uclab.seeded(*lab)


@pytest.fixture(autouse=True)
def no_prober_left(tmp_path):
    """No background prober of a test's runs outlives the test: a run the test killed and never resumed (a test
    that failed midway), or a canary's soak prober whose later wave never came, would otherwise probe on until its
    max_seconds (24 h for a runbook's). Stopped here, whatever the test's outcome."""
    yield
    for directory in aplab.running_probers(tmp_path):
        prober.stop(directory)
