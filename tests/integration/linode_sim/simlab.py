"""Helpers for tests that drive the Linode simulator and watch the lab cluster react.

Shared by tests/integration/linode_sim and tests/integration/edge (import simlab after
putting this folder on sys.path; the conftest files do that)."""

import json
import os
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LAB_DIR = os.path.join(REPO, "lab")
if LAB_DIR not in sys.path:
    sys.path.insert(0, LAB_DIR)

import labenv  # noqa: E402

POOL_LABEL = "lke.linode.com/pool-id"
SEEDED_DEPLOYMENTS = (("app", "web"), ("app", "api"))


def wait_for(what, predicate, timeout=120.0, interval=0.25):
    """Poll until predicate() returns something truthy; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


class SimAdmin:
    """The simulator's admin endpoint (outside /v4)."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def pending(self):
        return self.call("GET", "/health")["pending"]

    def wait_idle(self, timeout=60):
        wait_for("simulator idle", lambda: self.pending() == 0, timeout)


def node_ready(node):
    for cond in node.status.conditions or []:
        if cond.type == "Ready":
            return cond.status
    return None


def lke_nodes(core):
    return {n.metadata.name: n for n in core.list_node(label_selector=POOL_LABEL).items}


def node_by_instance(core, instance_id):
    for node in lke_nodes(core).values():
        if node.spec.provider_id == "linode://%d" % instance_id:
            return node
    return None


def force_delete_orphans(core):
    """Delete pods bound to Nodes that no longer exist (the pod GC would after 40 s)."""
    names = {n.metadata.name for n in core.list_node().items}
    for pod in core.list_pod_for_all_namespaces().items:
        if pod.spec.node_name and pod.spec.node_name not in names:
            try:
                core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                           grace_period_seconds=0)
            except Exception:  # noqa: BLE001 - already gone
                pass


def deployments_available(apps):
    for ns, name in SEEDED_DEPLOYMENTS:
        try:
            dep = apps.read_namespaced_deployment(name, ns)
        except Exception:  # noqa: BLE001 - seed not applied (yet)
            return False
        want = dep.spec.replicas or 0
        if (dep.status.available_replicas or 0) < want or (dep.status.updated_replicas or 0) < want:
            return False
    return True


def seeded_budgets():
    """The seed's PodDisruptionBudgets: {(namespace, name): spec} from lab/k8s/seed/20-workloads.yaml."""
    import yaml
    with open(os.path.join(LAB_DIR, "k8s", "seed", "20-workloads.yaml")) as f:
        docs = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "PodDisruptionBudget"]
    return {(d["metadata"]["namespace"], d["metadata"]["name"]): d["spec"] for d in docs}


def restore_seeded_budgets(core):
    """Put the seed's budgets back as seeded. A run killed and never resumed leaves the budgets it relaxed
    (blocked/legacy) relaxed, and a later test that expects the seed's zero-disruption budget would fail."""
    from kubernetes import client
    policy = client.PolicyV1Api(core.api_client)
    for (namespace, name), spec in seeded_budgets().items():
        body = {"spec": {"maxUnavailable": spec.get("maxUnavailable"), "minAvailable": spec.get("minAvailable")}}
        policy.patch_namespaced_pod_disruption_budget(name, namespace, body)


def restore_seed(admin, core, apps, timeout=180):
    """Put the simulated cloud and the lab cluster back to the seeded state."""
    admin.call("DELETE", "/faults")
    admin.call("POST", "/reset", {})
    admin.wait_idle()
    wait_for("seeded LKE Nodes Ready", lambda: lke_nodes(core) and all(
        node_ready(n) == "True" for n in lke_nodes(core).values()), timeout)
    force_delete_orphans(core)
    restore_seeded_budgets(core)
    wait_for("seeded deployments available", lambda: deployments_available(apps), timeout)
