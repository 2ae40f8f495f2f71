"""Fixtures: an in-process simulator (see simharness.py) and a linode_api4 client for it."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simharness import start_sim  # noqa: E402


@pytest.fixture
def sim(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    s = start_sim(tmp_path / "state.json", kubeconfig=str(kubeconfig))
    yield s
    s.server.shutdown()
    s.server.server_close()


@pytest.fixture
def client(sim):
    from linode_api4 import LinodeClient
    return LinodeClient(sim.token, base_url=sim.url, retry_rate_limit_interval=0.05)
