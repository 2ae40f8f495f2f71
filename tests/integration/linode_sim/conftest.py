"""Fixtures for the Linode simulator's integration tests (running lab: make lab)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simlab  # noqa: E402


@pytest.fixture(scope="session")
def sim_env(lab_up):
    lab_up("k8s", "linode_sim")
    env = simlab.labenv.component_env("linode_sim")
    if not env:
        pytest.fail("the Linode simulator is not running (no .lab/linode_sim/env): run lab/up")
    return env


@pytest.fixture(scope="session")
def sim_admin(sim_env):
    return simlab.SimAdmin(sim_env["LINODE_SIM_ADMIN_URL"])


@pytest.fixture(scope="session")
def linode(sim_env):
    from linode_api4 import LinodeClient
    return LinodeClient(sim_env["LINODE_TOKEN"], base_url=sim_env["LINODE_API_URL"])


@pytest.fixture(scope="session")
def k8s_api(k8s_client):
    from kubernetes import client
    return client.CoreV1Api(k8s_client), client.AppsV1Api(k8s_client)


@pytest.fixture(scope="module")
def lab_cluster(linode, sim_env, sim_admin, k8s_api):
    """The seeded LKE cluster, back in its seeded state after the module's tests; the simulator's lock (the
    upgrade-cluster tests') held meanwhile: these tests upgrade, resize and recycle LKE, and the autopilot tests on
    the other xdist workers take that lock around their runs to check LKE got no write from them."""
    from linode_api4.objects import LKECluster
    core, apps = k8s_api
    with simlab.labenv.held(*simlab.labenv.SIMULATOR_LOCK):
        sim_admin.wait_idle()
        cluster = linode.load(LKECluster, int(sim_env["LKE_CLUSTER_ID"]))
        versions = [v.id for v in linode.lke.versions()]
        if cluster.k8s_version.id != versions[-2] or any(
                n.status != "ready" for p in cluster.pools for n in p.nodes):
            # an earlier test left it upgraded or changed: start from the seed anyway
            simlab.restore_seed(sim_admin, core, apps)
            cluster.invalidate()
        yield cluster
        simlab.restore_seed(sim_admin, core, apps)
