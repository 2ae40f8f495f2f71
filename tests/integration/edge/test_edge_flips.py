"""The edge answers like ingress-nginx: 200 while the app has a ready endpoint on a live,
Ready node; 503 while it has none."""

import ssl
import threading
import time
import urllib.request

import pytest
from kubernetes import client
from linode_api4 import Instance

import simlab

WEB = "web.lab.fournines.test"
API = "api.lab.fournines.test"


class Prober(threading.Thread):
    """Probe the edge every 50 ms and keep the answers in order."""

    def __init__(self, get, host):
        super().__init__(daemon=True)
        self.get, self.host = get, host
        self.statuses = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.statuses.append(self.get(self.host))
            time.sleep(0.05)


def _web_pod(core):
    pods = core.list_namespaced_pod("app", label_selector="app.kubernetes.io/name=web").items
    live = [p for p in pods if p.metadata.deletion_timestamp is None]
    return live[0] if live else None


def _wait_serving(edge_status, core, apps):
    simlab.wait_for("the seeded app to be available",
                    lambda: simlab.deployments_available(apps), timeout=180)
    simlab.wait_for("the edge to answer 200 for %s" % WEB, lambda: edge_status(WEB) == 200,
                    timeout=60)


def test_api_and_web_hosts_answer_and_unknown_host_is_404(edge_status, edge_k8s):
    core, apps = edge_k8s
    _wait_serving(edge_status, core, apps)
    assert edge_status(API) == 200
    assert edge_status("nothing.lab.fournines.test") == 404


def test_https_with_the_lab_certificate(edge_env, edge_status, edge_k8s):
    core, apps = edge_k8s
    _wait_serving(edge_status, core, apps)
    tls = ssl.create_default_context(cafile=edge_env["EDGE_CA_FILE"])
    req = urllib.request.Request(edge_env["EDGE_HTTPS_URL"], headers={"Host": WEB})
    with urllib.request.urlopen(req, timeout=5, context=tls) as resp:
        assert resp.status == 200
        assert resp.read().decode().startswith("app/web via ")


def test_evicting_the_only_web_pod_flips_200_503_200(edge_status, edge_k8s):
    core, apps = edge_k8s
    _wait_serving(edge_status, core, apps)
    pod = _web_pod(core)
    prober = Prober(edge_status, WEB)
    prober.start()
    simlab.wait_for("first probe", lambda: prober.statuses, timeout=10)
    core.create_namespaced_pod_eviction(pod.metadata.name, "app", client.V1Eviction(
        metadata=client.V1ObjectMeta(name=pod.metadata.name, namespace="app")))
    simlab.wait_for("a 503 while the web pod is replaced", lambda: 503 in prober.statuses,
                    timeout=60)
    simlab.wait_for("a new web pod serving", lambda: (
        (_web_pod(core) is not None and _web_pod(core).metadata.name != pod.metadata.name)
        and prober.statuses[-1] == 200), timeout=120)
    prober.stop.set()
    prober.join()
    seq = prober.statuses
    assert seq[0] == 200 and seq[-1] == 200
    first_503 = seq.index(503)
    assert all(s == 200 for s in seq[:first_503])
    assert set(seq) <= {200, 503}


def test_a_dead_instance_under_the_web_pod_is_503_at_once(edge_status, edge_k8s, edge_linode):
    core, apps = edge_k8s
    _wait_serving(edge_status, core, apps)
    node = core.read_node(_web_pod(core).spec.node_name)
    if simlab.POOL_LABEL not in (node.metadata.labels or {}):
        pytest.skip("the web pod runs on %s, a Node another test made, not an LKE node"
                    % node.metadata.name)
    inst = edge_linode.load(Instance, int(node.spec.provider_id.split("//")[1]))
    try:
        inst.shutdown()
        # before the control plane has noticed anything, the ingress already fails
        simlab.wait_for("503 from the edge", lambda: edge_status(WEB) == 503, timeout=10)
    finally:
        simlab.wait_for("the instance offline", lambda: edge_linode.load(
            Instance, inst.id).status == "offline", timeout=30)
        edge_linode.load(Instance, inst.id).boot()
    simlab.wait_for("200 after boot", lambda: edge_status(WEB) == 200, timeout=120)
