"""Fixtures for the real node's tests: lab/node/up once per session, the node's env, helpers
to run throwaway pods on it (they tolerate its taint and are deleted afterwards)."""

import base64
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


# What a connection to a ClusterIP meets until kube-proxy inside the node has programmed a new
# Service (the node's namespace has no default route, so it answers "Network is unreachable"), or
# while the pod behind it restarts. Seen in CI on a busy machine for a -ro Service made 40 s before.
_NOT_YET_ROUTED = ("Network is unreachable", "Connection refused", "No route to host", "timeout expired")


def pg_connect(core, ns, service, secret, user="postgres", dbname="app", retry_for=60, connect_timeout=3):
    """An autocommit psycopg connection to Service ``ns/service`` as ``user``, password from Secret
    ``secret``. Retries for ``retry_for`` seconds while the Service is not routed yet (0: one try, for
    probes that measure outages). The password is read here, not passed in, and a failure is raised
    afresh, so pytest's traceback (it prints each frame's arguments) never shows it."""
    import psycopg  # pylint: disable=import-outside-toplevel  # only the Postgres tests need it
    password = base64.b64decode(core.read_namespaced_secret(secret, ns).data["password"]).decode()
    ip = core.read_namespaced_service(service, ns).spec.cluster_ip
    deadline = time.monotonic() + retry_for
    while True:
        try:
            return psycopg.connect(host=ip, port=5432, user=user, password=password, dbname=dbname,
                                   connect_timeout=connect_timeout, autocommit=True)
        except psycopg.OperationalError as exc:
            failure = str(exc).strip()
        if time.monotonic() >= deadline or not any(s in failure for s in _NOT_YET_ROUTED):
            break
        time.sleep(1)
    raise psycopg.OperationalError("Service %s/%s (%s) as %s, database %s: %s"
                                   % (ns, service, ip, user, dbname, failure))


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
