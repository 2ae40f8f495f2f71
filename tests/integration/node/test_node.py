"""The real node: a kubelet with containerd beside the kwok nodes, its pods real processes.

What could fail here and is checked: the node registers Ready with the lab's API server and
carries its taint; pods without the toleration never land there; a pod on it runs a real
process (visible on the host, answering HTTP from its own network namespace); another pod
reaches it through a ClusterIP Service by its DNS name (CoreDNS + kube-proxy); a failing
readiness probe takes it out of the Service's endpoints and a passing one brings it back.
"""

import json
import os
import urllib.error
import urllib.request

import pytest
from kubernetes import client

from conftest import TAINT_KEY, real_pod_spec, wait_for

APP_NS = "realapp"


def app_pod(core):
    pods = [p for p in core.list_namespaced_pod(APP_NS, label_selector="app.kubernetes.io/name=realapp").items
            if p.metadata.deletion_timestamp is None]
    return pods[0] if len(pods) == 1 else None


def ready_app_pod(core, node_name):
    def check():
        pod = app_pod(core)
        if pod is None or pod.spec.node_name != node_name or not pod.status.pod_ip:
            return None
        conds = {c.type: c.status for c in pod.status.conditions or []}
        return pod if conds.get("Ready") == "True" else None
    return wait_for("realapp/web Ready on the real node", check, timeout=120)


def http(url, data=None, timeout=5):
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.read().decode()


def test_node_registers_ready_and_tainted(real_node, k8s_core):
    node = k8s_core.read_node(real_node["NODE_NAME"])
    conds = {c.type: c.status for c in node.status.conditions}
    assert conds["Ready"] == "True"
    assert node.status.node_info.kubelet_version == "v1.35.4"
    assert node.status.node_info.container_runtime_version.startswith("containerd://")
    assert node.metadata.labels["lab.fournines.io/kubelet"] == "real"
    assert any(t.key == TAINT_KEY and t.effect == "NoSchedule" for t in node.spec.taints or [])
    addresses = {a.type: a.address for a in node.status.addresses}
    assert addresses["InternalIP"] == real_node["NODE_IP"]
    # The kwok nodes are not the real node's business: none of them carries its label or taint.
    for other in k8s_core.list_node(label_selector="lab.fournines.io/kubelet=kwok").items:
        assert not any(t.key == TAINT_KEY for t in other.spec.taints or [])


def test_pod_without_toleration_stays_off_the_node(real_node, k8s_core, node_namespace):
    spec = real_pod_spec("none", ["true"])
    spec["tolerations"] = []
    k8s_core.create_namespaced_pod(node_namespace, {"metadata": {"name": "intruder"}, "spec": spec})

    def refused():
        events = k8s_core.list_namespaced_event(node_namespace, field_selector="involvedObject.name=intruder").items
        return [e.message for e in events if e.reason == "FailedScheduling" and "had untolerated taint" in (e.message or "")]
    assert wait_for("FailedScheduling: the real node's taint refused it", refused, timeout=60)
    assert k8s_core.read_namespaced_pod("intruder", node_namespace).spec.node_name is None


def test_app_pod_is_a_real_process_on_the_node(real_node, k8s_core):
    pod = ready_app_pod(k8s_core, real_node["NODE_NAME"])
    # The host reaches the pod's own address (routed into the node's namespace) and the answer
    # comes from the process in that pod.
    status, body = http("http://%s:8080/" % pod.status.pod_ip)
    assert status == 200
    assert body.split()[:2] == ["realapp", pod.metadata.name]
    # ... and that process exists on this machine, inside the node's cgroup subtree.
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as fh:
                cmd = fh.read().split(b"\0")
            with open("/proc/%s/cgroup" % pid) as fh:
                cgroup = fh.read()
        except OSError:
            continue
        if b"/app/server.py" in cmd and "fournines-node" in cgroup and pod.metadata.uid.replace("-", "_") in cgroup.replace("-", "_"):
            found.append(pid)
    assert found, "no /app/server.py process in the pod's cgroup on this machine"


def run_client(core, ns, name, image, url):
    """A pod on the real node that fetches url and reports what it got as its termination message."""
    code = ("import urllib.request,sys\n"
            "try:\n"
            "    r = urllib.request.urlopen(%r, timeout=5)\n"
            "    out = '%%d %%s' %% (r.status, r.read().decode().strip())\n"
            "except Exception as e:\n"
            "    out = 'ERR %%s' %% e\n"
            "open('/dev/termination-log', 'w').write(out)\n") % url
    core.create_namespaced_pod(ns, {"metadata": {"name": name},
                                    "spec": real_pod_spec(image, ["python3", "-c", code])})

    def done():
        pod = core.read_namespaced_pod(name, ns)
        for st in pod.status.container_statuses or []:
            if st.state.terminated is not None:
                return st.state.terminated.message or "(no message, exit %s)" % st.state.terminated.exit_code
        return None
    return wait_for("client pod %s to finish" % name, done, timeout=120)


def test_service_reachable_by_dns_name(real_node, k8s_core, node_namespace):
    pod = ready_app_pod(k8s_core, real_node["NODE_NAME"])
    svc = k8s_core.read_namespaced_service("web", APP_NS)
    assert svc.spec.cluster_ip.startswith("10.96.")
    out = run_client(k8s_core, node_namespace, "client", real_node["NODE_IMAGE_APP"],
                     "http://web.realapp.svc.cluster.local/")
    assert out.startswith("200 realapp " + pod.metadata.name), out
    # A name that does not exist fails to resolve (CoreDNS answers for the cluster, nothing else).
    out = run_client(k8s_core, node_namespace, "client-nx", real_node["NODE_IMAGE_APP"],
                     "http://nothing-here.realapp.svc.cluster.local/")
    assert out.startswith("ERR") and ("Name or service not known" in out or "resolution" in out), out


def endpoint_states(core, disc):
    slices = disc.list_namespaced_endpoint_slice(APP_NS, label_selector="kubernetes.io/service-name=web").items
    return [(ep.target_ref.name if ep.target_ref else None, ep.conditions.ready)
            for s in slices for ep in s.endpoints or []]


def test_readiness_failure_removes_pod_from_endpoints(real_node, k8s_core, k8s_client):
    disc = client.DiscoveryV1Api(k8s_client)
    pod = ready_app_pod(k8s_core, real_node["NODE_NAME"])
    base = "http://%s:8080" % pod.status.pod_ip
    assert (pod.metadata.name, True) in endpoint_states(k8s_core, disc)
    try:
        assert http(base + "/ready", b"0")[0] == 200
        wait_for("the pod marked not ready in the EndpointSlice",
                 lambda: (pod.metadata.name, False) in endpoint_states(k8s_core, disc), timeout=60)
        eps = k8s_core.read_namespaced_endpoints("web", APP_NS)
        ready = [a.ip for s in eps.subsets or [] for a in s.addresses or []]
        assert pod.status.pod_ip not in ready
        # The kubelet's own view: the container runs (not restarted), it just is not ready.
        st = k8s_core.read_namespaced_pod(pod.metadata.name, APP_NS).status.container_statuses[0]
        assert st.ready is False and st.state.running is not None and st.restart_count == 0
    finally:
        http(base + "/ready", b"1")
    wait_for("the pod back in the EndpointSlice",
             lambda: (pod.metadata.name, True) in endpoint_states(k8s_core, disc), timeout=60)


def edge_get(lab_env, host):
    req = urllib.request.Request("http://127.0.0.1:%d/" % lab_env.port("EDGE_HTTP_PORT"), headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_edge_serves_realapp_from_its_real_endpoints(real_node, k8s_core, lab_up, lab_env):
    lab_up("edge")
    host = "realapp.lab.fournines.test"
    state = json.loads(urllib.request.urlopen(
        "http://127.0.0.1:%d/__edge/state" % lab_env.port("EDGE_HTTP_PORT"), timeout=5).read())
    if host not in state["routes"]:
        pytest.skip("the running edge was started before lab/edge/routes.json had %s; lab/down edge && lab/up edge" % host)
    pod = ready_app_pod(k8s_core, real_node["NODE_NAME"])
    code, body = wait_for("the edge to answer 200 for realapp", lambda: (lambda r: r if r[0] == 200 else None)(
        edge_get(lab_env, host)), timeout=30)
    assert pod.metadata.name in body and real_node["NODE_NAME"] in body
    base = "http://%s:8080" % pod.status.pod_ip
    try:
        http(base + "/ready", b"0")
        code, body = wait_for("the edge to answer 503 once the kubelet's probe fails",
                              lambda: (lambda r: r if r[0] == 503 else None)(edge_get(lab_env, host)), timeout=60)
        assert "not ready" in body
    finally:
        http(base + "/ready", b"1")
    wait_for("the edge to answer 200 again", lambda: edge_get(lab_env, host)[0] == 200, timeout=60)
