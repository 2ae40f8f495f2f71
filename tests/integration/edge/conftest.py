"""Fixtures for the app edge's integration tests (running lab: make lab)."""

import os
import sys
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "linode_sim"))
import simlab  # noqa: E402


@pytest.fixture(scope="session")
def edge_env(lab_up):
    lab_up("k8s", "linode_sim", "edge")
    env = simlab.labenv.component_env("edge")
    if not env:
        pytest.fail("the app edge is not running (no .lab/edge/env): run lab/up")
    return env


@pytest.fixture(scope="session")
def edge_status(edge_env):
    """GET / on the edge for a Host; returns the HTTP status (what a prober sees)."""
    base = edge_env["EDGE_URL"]

    def get(host):
        req = urllib.request.Request(base, headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code
    return get


@pytest.fixture(scope="session")
def edge_k8s(k8s_client, edge_env):
    from kubernetes import client
    return client.CoreV1Api(k8s_client), client.AppsV1Api(k8s_client)


@pytest.fixture(scope="session")
def edge_linode(edge_env):
    from linode_api4 import LinodeClient
    env = simlab.labenv.component_env("linode_sim")
    if not env:
        pytest.fail("the Linode simulator is not running: run lab/up")
    return LinodeClient(env["LINODE_TOKEN"], base_url=env["LINODE_API_URL"])


@pytest.fixture(scope="module", autouse=True)
def edge_seeded(edge_env, edge_k8s):
    """Start from the seeded cluster: the edge's answers are only meaningful on it, and an earlier
    area's destructive test (a drill cut short, a node left offline) must not decide these. The simulator's lock
    (the upgrade-cluster tests') is held for the module: it resets the simulator and shuts an instance down, and the
    autopilot tests on the other xdist workers take that lock around their runs."""
    core, apps = edge_k8s
    sim = simlab.labenv.component_env("linode_sim")
    with simlab.labenv.held(*simlab.labenv.SIMULATOR_LOCK):
        simlab.restore_seed(simlab.SimAdmin(sim["LINODE_SIM_ADMIN_URL"]), core, apps, 240)
        yield
