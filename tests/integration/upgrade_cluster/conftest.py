"""Fixtures for the upgrade-cluster tests.

``seeded_lab`` puts the cluster in its seeded state before a test that changes it; the lab is
seeded once more at the end of each test module, so the next module starts from the seed too.
``lab_as_is`` is for tests that must change nothing: it only clears the simulator's request log.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uclab  # noqa: E402

_DIRTY = []


@pytest.fixture(scope="module")
def uc_lab(lab_up, k8s_client):
    from kubernetes import client
    lab_up("k8s", "linode_sim", "edge")
    # one upgrade-cluster test session at a time on the shared cluster (each one resets the simulator)
    with uclab.labenv.held(*uclab.labenv.SIMULATOR_LOCK):
        admin = uclab.simlab.SimAdmin(uclab.labenv.component_env("linode_sim")["LINODE_SIM_ADMIN_URL"])
        lab = (admin, client.CoreV1Api(k8s_client), client.AppsV1Api(k8s_client))
        yield lab
        if _DIRTY:
            del _DIRTY[:]
            uclab.seeded(*lab)


@pytest.fixture
def seeded_lab(uc_lab):
    _DIRTY.append(True)
    uclab.seeded(*uc_lab)
    return uc_lab


@pytest.fixture
def lab_as_is(uc_lab):
    admin = uc_lab[0]
    admin.call("DELETE", "/faults")
    admin.wait_idle()
    admin.call("DELETE", "/requests")
    return uc_lab
