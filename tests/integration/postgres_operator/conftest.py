"""Fixtures for the CloudNativePG backend's tests: the real node (lab/node/up, as
tests/integration/node does; its helpers are reused), one production Cluster of 2 instances per
module in its own namespace, removed afterwards with its local volumes made Available again."""

import importlib.util
import os
import subprocess
import sys
import uuid

import labenv
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)

_SPEC = importlib.util.spec_from_file_location("node_helpers", os.path.join(REPO, "tests", "integration", "node", "conftest.py"))
node_helpers = importlib.util.module_from_spec(_SPEC)
sys.modules["node_helpers"] = node_helpers
_SPEC.loader.exec_module(node_helpers)

import oplab  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="session")
def real_node(lab_up, lab_env):
    """lab/node/up (idempotent), then the node's env file as a dict."""
    lab_up("k8s")
    node_helpers.node_up()
    return lab_env.component_env("node")


@pytest.fixture(scope="module")
def op_lab(real_node, k8s_client, k8s_core, tmp_path_factory):
    """A fresh namespace with Cluster ``pg`` (2 instances, the old minor image), healthy; the CloudNativePG tests'
    lock held (the node's 12 local volumes are shared: another session's Clusters would take them)."""
    ns = "pgop-" + uuid.uuid4().hex[:6]
    lab = oplab.OpLab(k8s_client, real_node, ns, str(tmp_path_factory.mktemp("pgop")))
    with labenv.held("node", "cnpg-tests.lock"):
        try:
            lab.create_namespace()
            lab.create_cluster("pg", real_node["NODE_IMAGE_PG_OLD"])
            lab.wait_healthy("pg", real_node["NODE_IMAGE_PG_OLD"])
            yield lab
        finally:
            k8s_core.delete_namespace(ns)
            node_helpers.wait_for("namespace %s gone" % ns, lambda: not [
                n for n in k8s_core.list_namespace().items if n.metadata.name == ns], timeout=300, every=2)
            subprocess.run([sys.executable, os.path.join(REPO, "lab", "node", "seed.py"), "volumes",
                            os.path.join(REPO, ".lab", "kubeconfig"), real_node["NODE_NAME"], "6",
                            "/var/lib/fournines-node/volumes"], check=True, timeout=120)
