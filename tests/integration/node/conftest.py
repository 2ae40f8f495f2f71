"""Fixtures for the real node's tests: lab/node/up once per session, the node's env, helpers
to run throwaway pods on it (they tolerate its taint and are deleted afterwards)."""

import os
import subprocess
import sys
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NODE_DIR = os.path.join(REPO, "lab", "node")
TAINT_KEY = "lab.fournines.io/real-node"


def run_node_script(name, *args, timeout=900):
    env = dict(os.environ, LAB_PYTHON=os.environ.get("LAB_PYTHON", sys.executable))
    return subprocess.run([os.path.join(NODE_DIR, name), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def node_up():
    proc = run_node_script("up")
    if proc.returncode != 0:
        pytest.fail("lab/node/up failed (exit %d):\n%s%s" % (proc.returncode, proc.stdout, proc.stderr),
                    pytrace=False)


@pytest.fixture(scope="session")
def real_node(lab_up, lab_env):
    """lab/node/up (idempotent), then the node's env file as a dict."""
    lab_up("k8s")
    node_up()
    return lab_env.component_env("node")


def wait_for(what, check, timeout=120, every=0.5):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


@pytest.fixture
def node_namespace(k8s_core):
    """A fresh namespace for one test, deleted afterwards."""
    from kubernetes import client
    name = "node-test-" + uuid.uuid4().hex[:6]
    k8s_core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    k8s_core.delete_namespace(name)


def real_pod_spec(image, command, **extra):
    """A pod that runs on the real node only."""
    spec = {
        "nodeSelector": {"lab.fournines.io/kubelet": "real"},
        "tolerations": [{"key": TAINT_KEY, "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "main", "image": image, "imagePullPolicy": "Never", "command": command,
                        "terminationMessagePolicy": "FallbackToLogsOnError"}],
    }
    spec.update(extra)
    return spec
