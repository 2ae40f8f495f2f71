"""Where the simulated cloud touches the lab's real Kubernetes: the Node objects.

Every Node change goes through lab/k8s/kwoknodes.py (the lab's one place that knows how
kwok plays kubelets). `NullBackend` is for unit tests without a cluster.
"""

import logging
import os
import sys

LOG = logging.getLogger("linodesim.nodes")
POOL_LABEL = "lke.linode.com/pool-id"

# Capacity of the Linode types a pool may use (vCPUs, memory), as LKE nodes report it.
TYPES = {
    "g6-standard-1": {"vcpus": 1, "memory": 2048, "disk": 51200},
    "g6-standard-2": {"vcpus": 2, "memory": 4096, "disk": 81920},
    "g6-standard-4": {"vcpus": 4, "memory": 8192, "disk": 163840},
    "g6-standard-6": {"vcpus": 6, "memory": 16384, "disk": 327680},
    "g6-standard-8": {"vcpus": 8, "memory": 32768, "disk": 655360},
    "g6-dedicated-2": {"vcpus": 2, "memory": 4096, "disk": 81920},
    "g6-dedicated-4": {"vcpus": 4, "memory": 8192, "disk": 163840},
    "g6-dedicated-8": {"vcpus": 8, "memory": 16384, "disk": 327680},
}


def node_spec(name, pool, instance, kubelet_version, region):
    """What kwoknodes.create_node needs for one LKE node."""
    spec = TYPES[pool["type"]]
    labels = dict(pool.get("labels") or {})
    labels.update({
        POOL_LABEL: str(pool["id"]),
        "node.kubernetes.io/instance-type": pool["type"],
        "topology.kubernetes.io/region": region,
        "lke.linode.com/instance-id": str(instance["id"]),
    })
    return {
        "name": name,
        "labels": labels,
        "taints": [dict(t) for t in pool.get("taints") or []],
        "provider_id": "linode://%d" % instance["id"],
        "kubelet_version": "v" + kubelet_version,
        "capacity": {
            "cpu": str(spec["vcpus"]),
            "memory": "%dMi" % spec["memory"],
            "pods": "110",
            "ephemeral-storage": "%dMi" % spec["disk"],
        },
    }


class NullBackend:
    """No cluster: remembers what it was asked to do (unit tests read `calls`)."""

    def __init__(self):
        self.calls = []
        self.nodes = {}

    def create(self, spec):
        self.calls.append(("create", spec["name"]))
        self.nodes[spec["name"]] = dict(spec, heartbeat=True)

    def update_meta(self, change):
        self.calls.append(("update_meta", change["name"]))
        node = self.nodes.get(change["name"])
        if node is not None:
            for key in change["remove_labels"]:
                node["labels"].pop(key, None)
            node["labels"].update(change["labels"])
            node["taints"] = [t for t in node["taints"] if t["key"] not in change["remove_taints"]]
            node["taints"] += change["taints"]

    def stop_heartbeat(self, name):
        self.calls.append(("stop_heartbeat", name))
        if name in self.nodes:
            self.nodes[name]["heartbeat"] = False

    def resume_heartbeat(self, name):
        self.calls.append(("resume_heartbeat", name))
        if name in self.nodes:
            self.nodes[name]["heartbeat"] = True

    def delete(self, name):
        self.calls.append(("delete", name))
        self.nodes.pop(name, None)

    def list_names(self):
        return set(self.nodes)

    def reset_client(self):
        pass


class KwokBackend:
    """Nodes in the lab cluster, through lab/k8s/kwoknodes.py and a CoreV1Api."""

    def __init__(self, kubeconfig, lab_dir):
        self.kubeconfig = kubeconfig
        self.lab_dir = lab_dir
        self._core = None
        self._kwoknodes = None

    def _client(self):
        if self._core is None:
            from kubernetes import client, config  # pylint: disable=import-outside-toplevel
            k8s_dir = os.path.join(self.lab_dir, "k8s")
            if k8s_dir not in sys.path:
                sys.path.insert(0, k8s_dir)
            import kwoknodes  # pylint: disable=import-outside-toplevel
            api = config.new_client_from_config(config_file=self.kubeconfig)
            self._core = client.CoreV1Api(api)
            self._kwoknodes = kwoknodes
        return self._core, self._kwoknodes

    def reset_client(self):
        """Forget the client: the next call re-reads the kubeconfig (the lab cluster may have
        been restarted with new certificates)."""
        self._core = None

    def create(self, spec):
        core, kn = self._client()
        # the pool's taints are registered with the Node (kubelet --register-with-taints on LKE), so nothing
        # lands there in between; the patch below applies them to a Node that existed already
        kn.create_node(core, spec["name"], spec["labels"], spec["provider_id"],
                       spec["kubelet_version"], taints=[{k: v for k, v in t.items() if v is not None}
                                                        for t in spec.get("taints") or []] or None,
                       **spec["capacity"])
        if spec.get("taints"):
            self.update_meta({"name": spec["name"], "labels": {}, "remove_labels": [],
                              "taints": spec["taints"], "remove_taints": []})

    def update_meta(self, change):
        """Apply a pool's labels and taints to one Node, as LKE does; taints others set
        (the node-lifecycle controller's, a cordon) are kept."""
        core, _ = self._client()
        if not self._exists(core, change["name"]):
            return
        node = core.read_node(change["name"])
        drop = set(change["remove_taints"]) | {t["key"] for t in change["taints"]}
        taints = [{"key": t.key, "value": t.value, "effect": t.effect}
                  for t in node.spec.taints or [] if t.key not in drop]
        taints += [{k: v for k, v in t.items() if v is not None} for t in change["taints"]]
        labels = {key: None for key in change["remove_labels"]}
        labels.update(change["labels"])
        core.patch_node(change["name"], [{"op": "add", "path": "/spec/taints", "value": taints}])
        if labels:
            core.patch_node(change["name"], {"metadata": {"labels": labels}})

    def stop_heartbeat(self, name):
        core, kn = self._client()
        if self._exists(core, name):
            kn.stop_heartbeat(core, name)

    def resume_heartbeat(self, name):
        core, kn = self._client()
        if self._exists(core, name):
            kn.resume_heartbeat(core, name)

    def delete(self, name):
        core, kn = self._client()
        if self._exists(core, name):
            kn.delete_node(core, name)

    def list_names(self):
        core, _ = self._client()
        return {n.metadata.name for n in core.list_node(label_selector=POOL_LABEL).items}

    @staticmethod
    def _exists(core, name):
        from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel
        try:
            core.read_node(name)
            return True
        except ApiException as err:
            if err.status == 404:
                return False
            raise
