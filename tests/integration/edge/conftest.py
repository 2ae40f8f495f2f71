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
def edge_env():
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
def edge_k8s():
    from kubernetes import client, config
    api = config.new_client_from_config(config_file=simlab.labenv.kubeconfig())
    return client.CoreV1Api(api), client.AppsV1Api(api)


@pytest.fixture(scope="session")
def edge_linode():
    from linode_api4 import LinodeClient
    env = simlab.labenv.component_env("linode_sim")
    if not env:
        pytest.fail("the Linode simulator is not running: run lab/up")
    return LinodeClient(env["LINODE_TOKEN"], base_url=env["LINODE_API_URL"])
