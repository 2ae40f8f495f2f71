"""Fixtures for the node-failure drill tests.

``drill_lab`` makes sure the lab parts a drill needs run; ``seeded`` resets the cluster to its
seed before a destructive test, and the lab is reset once more at the end of each test module so
the next module's tests start from the seed too (a session-scoped reset would run only after every
other area's tests, which then inherit a half-drilled cluster).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drilllab  # noqa: E402
import labenv  # noqa: E402  (lab/, on the path from tests/integration/conftest.py)

_DIRTY = []


def _running():
    """The parts a drill needs already answer (lab/up is then skipped: it is idempotent but slow)."""
    try:
        drilllab.admin().call("GET", "/health")
        drilllab.clients()[0].list_namespace(limit=1)
        return drilllab.edge_status("api.lab.fournines.test") is not None
    except Exception:  # noqa: BLE001 - anything missing means: start it
        return False


@pytest.fixture(scope="module")
def drill_lab(lab_up):
    """The drill's lab parts, with the simulator's lock held for the module (the upgrade-cluster tests' lock): a
    drill deletes, recycles and resets LKE nodes, and the autopilot tests on the other xdist workers take that lock
    around their runs to check LKE got no write from them."""
    if not _running():
        lab_up("k8s", "linode_sim", "edge")
    with labenv.held(*labenv.SIMULATOR_LOCK):
        adm = drilllab.admin()
        yield adm
        if _DIRTY:
            del _DIRTY[:]
            drilllab.reset()


@pytest.fixture
def seeded(drill_lab):
    _DIRTY.append(True)
    return drilllab.reset()
