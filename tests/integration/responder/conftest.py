"""Fixtures for the node-loss responder tests: the lab parts they need, the seeded cluster before each
destructive test and again at the end of the module, and no out-of-service taint left behind."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labenv  # noqa: E402  (lab/, on the path from tests/integration/conftest.py)
import responderlab  # noqa: E402

_DIRTY = []


@pytest.fixture(scope="module")
def responder_lab(lab_up):
    """The responder's lab parts, with the simulator's lock held for the module (as the drill tests: nodes are
    deleted and the simulator reset; the autopilot tests on the other workers check LKE got no write from them)."""
    try:
        responderlab.drilllab.admin().call("GET", "/health")
        responderlab.drilllab.clients()[0].list_namespace(limit=1)
    except Exception:  # noqa: BLE001 - anything missing means: start it
        lab_up("k8s", "linode_sim", "edge")
    with labenv.held(*labenv.SIMULATOR_LOCK):
        yield responderlab.drilllab.admin()
        if _DIRTY:
            del _DIRTY[:]
            responderlab.untaint_all(responderlab.drilllab.clients()[0])
            responderlab.drilllab.reset()


@pytest.fixture
def seeded(responder_lab):
    _DIRTY.append(True)
    adm, core, apps = responderlab.drilllab.reset()
    responderlab.untaint_all(core)
    yield adm, core, apps
    adm.call("DELETE", "/faults")
    responderlab.untaint_all(core)
