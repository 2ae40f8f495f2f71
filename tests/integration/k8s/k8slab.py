"""Helpers for the lab Kubernetes tests: waiting, and a sandbox of two kwok nodes + a namespace.

The sandbox nodes carry a NoSchedule taint only the tests' pods tolerate, so nothing seeded
(and no other area's test) lands on them, and killing one never disturbs the seeded state.
"""

import datetime
import time

import pytest

import kwoknodes

TEST_TAINT = {"key": "lab.fournines.io/test", "value": "k8s", "effect": "NoSchedule"}
TEST_TOLERATION = {"key": "lab.fournines.io/test", "operator": "Equal", "value": "k8s",
                   "effect": "NoSchedule"}
SANDBOX_LABEL = "lab.fournines.io/sandbox"


def wait_for(what, predicate, timeout=60.0, interval=0.25):
    """Poll until predicate() returns something truthy; return it or fail naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


def pod_ready(pod):
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def utc(ts):
    return ts if ts.tzinfo else ts.replace(tzinfo=datetime.timezone.utc)


class Sandbox:
    """Two nodes (a, b) and a namespace; helpers to run workloads pinned to them."""

    def __init__(self, k8s_client, suffix):
        from kubernetes import client  # pylint: disable=import-outside-toplevel
        self.core = client.CoreV1Api(k8s_client)
        self.apps = client.AppsV1Api(k8s_client)
        self.policy = client.PolicyV1Api(k8s_client)
        self.storage = client.StorageV1Api(k8s_client)
        self.suffix = suffix
        self.namespace = "k8s-test-" + suffix
        self.nodes = ["k8s-test-%s-a" % suffix, "k8s-test-%s-b" % suffix]

    def create(self):
        self.core.create_namespace({"metadata": {"name": self.namespace}})
        for i, name in enumerate(self.nodes):
            kwoknodes.create_node(self.core, name, {SANDBOX_LABEL: self.suffix,
                                                    "lab.fournines.io/owner": "tests-k8s"},
                                  "linode://9%05d" % i, "v1.35.4", cpu="8", memory="16Gi",
                                  taints=[TEST_TAINT])
        for name in self.nodes:
            kwoknodes.wait_ready(self.core, name, timeout=60)
        # Wait for the default ServiceAccount, or pod creation is refused.
        wait_for("default ServiceAccount in " + self.namespace,
                 lambda: [sa for sa in self.core.list_namespaced_service_account(self.namespace).items
                          if sa.metadata.name == "default"])

    def deployment(self, name, replicas, claim=None, strategy="RollingUpdate", tolerations=()):
        spec = {
            "nodeSelector": {SANDBOX_LABEL: self.suffix},
            "tolerations": [TEST_TOLERATION] + list(tolerations),
            "containers": [{"name": name, "image": "registry.example.com/test/%s:1" % name,
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
        }
        if claim:
            spec["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
            spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
        body = {
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "strategy": {"type": strategy},
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}},
        }
        return self.apps.create_namespaced_deployment(self.namespace, body)

    def claim(self, name, storage_class="linode-block-storage"):
        body = {"metadata": {"name": name},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                         "resources": {"requests": {"storage": "1Gi"}}}}
        return self.core.create_namespaced_persistent_volume_claim(self.namespace, body)

    def pods(self, app):
        return self.core.list_namespaced_pod(self.namespace, label_selector="app=" + app).items

    def running(self, app, count):
        """The app's pods once exactly `count` are Running and Ready (and none else is alive)."""
        pods = [p for p in self.pods(app) if p.metadata.deletion_timestamp is None]
        ready = [p for p in pods if p.status.phase == "Running" and pod_ready(p)]
        return ready if len(ready) == count == len(pods) else None

    def cordon(self, node, on=True):
        self.core.patch_node(node, {"spec": {"unschedulable": on}})

    def cleanup(self):
        from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel
        for name in self.nodes:
            try:
                kwoknodes.resume_heartbeat(self.core, name)
            except ApiException:
                pass
        try:
            self.core.delete_namespace(self.namespace)
        except ApiException:
            pass

        def gone():
            try:
                self.core.read_namespace(self.namespace)
                return False
            except ApiException as err:
                return err.status == 404
        wait_for("namespace %s deleted" % self.namespace, gone, timeout=120, interval=1)
        for name in self.nodes:
            kwoknodes.delete_node(self.core, name)
