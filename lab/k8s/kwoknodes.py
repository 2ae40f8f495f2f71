"""Lab Nodes played by kwok: create, stop/resume the heartbeat, delete.

The one place that knows how the lab fakes kubelets. kwok (started by lab/k8s/up with
--manage-nodes-with-label-selector lab.fournines.io/kubelet=kwok) manages every Node carrying
that label: it marks it Ready, renews its Lease and runs its pods. Flipping the label to
"stopped" makes kwok let go, so the Lease expires and the real node-lifecycle controller marks
the node NotReady (Unknown), taints it and, after the pods' tolerations, evicts them:
what a crashed or unplugged machine looks like to the control plane.

    from kubernetes import client, config
    import kwoknodes
    core = client.CoreV1Api(config.new_client_from_config(config_file=".lab/kubeconfig"))
    kwoknodes.create_node(core, "lke1-pool1-a", {"lke.linode.com/pool-id": "1"},
                          "linode://101", "v1.34.2", cpu="4", memory="8Gi")
    kwoknodes.stop_heartbeat(core, "lke1-pool1-a")
"""

import time
import zlib

from kubernetes.client.rest import ApiException

KUBELET_LABEL = "lab.fournines.io/kubelet"
HEARTBEAT_ON = "kwok"
HEARTBEAT_OFF = "stopped"


def node_manifest(name, labels, provider_id, kubelet_version, cpu="4", memory="16Gi", pods="110",
                  taints=None, **capacity):
    """A Node as a kubelet would register it; extra keyword arguments are more capacity
    entries (e.g. ephemeral_storage="80Gi" or **{"ephemeral-storage": "80Gi"}). `taints`
    (list of {key, value, effect}) are registered with the node, as kubelet --register-with-taints
    does, so nothing is scheduled there before they apply."""
    resources = {"cpu": str(cpu), "memory": str(memory), "pods": str(pods)}
    resources.update({key.replace("_", "-"): str(val) for key, val in capacity.items()})
    all_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    all_labels.update(labels or {})
    all_labels[KUBELET_LABEL] = HEARTBEAT_ON
    # A stable private address per node, in Linode's private range (192.168.128.0/17).
    num = zlib.crc32(name.encode()) % (128 * 256 - 2) + 1
    internal_ip = "192.168.%d.%d" % (128 + num // 256, num % 256)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": all_labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
        },
        "spec": dict({"providerID": provider_id}, **({"taints": list(taints)} if taints else {})),
        # A Node's status may be set on create (kubelets register this way); kwok keeps these.
        "status": {
            "addresses": [{"type": "InternalIP", "address": internal_ip},
                          {"type": "Hostname", "address": name}],
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "nodeInfo": {
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": kubelet_version,
                "architecture": "amd64",
                "operatingSystem": "linux",
                "bootID": "", "machineID": "", "systemUUID": "",
                "containerRuntimeVersion": "containerd://1.7.27",
                "kernelVersion": "6.1.0-lab", "osImage": "Debian GNU/Linux 12 (bookworm)",
            },
        },
    }


def create_node(core, name, labels, provider_id, kubelet_version, **capacity):
    """Create the Node (kwok then marks it Ready); an existing Node is returned unchanged."""
    try:
        return core.create_node(node_manifest(name, labels, provider_id, kubelet_version, **capacity))
    except ApiException as err:
        if err.status != 409:
            raise
        return core.read_node(name)


def _set_kubelet_label(core, name, value):
    return core.patch_node(name, {"metadata": {"labels": {KUBELET_LABEL: value}}})


def stop_heartbeat(core, name):
    """kwok stops playing this node's kubelet: no more Lease renewals or pod updates."""
    return _set_kubelet_label(core, name, HEARTBEAT_OFF)


def resume_heartbeat(core, name):
    """kwok plays this node's kubelet again: the node turns Ready and its pods are served."""
    return _set_kubelet_label(core, name, HEARTBEAT_ON)


def heartbeating(core, name):
    """True when kwok is asked to keep this node alive."""
    return (core.read_node(name).metadata.labels or {}).get(KUBELET_LABEL) == HEARTBEAT_ON


def delete_node(core, name):
    """Delete the Node object (as the cloud controller does for a deleted instance); no error if gone."""
    try:
        core.delete_node(name)
    except ApiException as err:
        if err.status != 404:
            raise


def ready_status(core, name):
    """The node's Ready condition status: "True", "False", "Unknown", or None (no node / no condition)."""
    try:
        node = core.read_node(name)
    except ApiException as err:
        if err.status == 404:
            return None
        raise
    for cond in node.status.conditions or []:
        if cond.type == "Ready":
            return cond.status
    return None


def wait_ready(core, name, ready=True, timeout=60.0, interval=0.5):
    """Wait until the node is Ready (ready=True) or no longer Ready (ready=False); returns the
    status seen, raises TimeoutError naming the node otherwise."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = ready_status(core, name)
        if (status == "True") == ready and (ready or status is not None):
            return status
        time.sleep(interval)
    raise TimeoutError("node %s: Ready=%s after %.0fs, wanted %s" % (name, status, timeout,
                                                                    "True" if ready else "not True"))
