"""API objects the real node needs, and their removal.

seed.py up KUBECONFIG NODE_NAME NODE_IP   RBAC for CoreDNS, the kube-dns Service (selector-less,
                                          its EndpointSlice points at CoreDNS on the node), the
                                          `kubernetes` Service's EndpointSlice (the API proxy on
                                          the node: lab/k8s runs no endpoint reconciler)
seed.py wait-ready KUBECONFIG NODE_NAME TIMEOUT
seed.py down KUBECONFIG NODE_NAME [--purge]  removes all of it, the Node object and any webhook
                                          configuration whose service lives on the node (the API
                                          server would otherwise dial a ClusterIP nobody routes);
                                          --purge: the local PersistentVolumes too
"""
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException

DNS_IP = "10.96.0.10"
APIPROXY_PORT = 6443
MANAGED = {"app.kubernetes.io/managed-by": "lab-node"}


def ignore_404(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ApiException as err:
        if err.status != 404:
            raise
    return None



def up(api, node_ip):
    dyn = client.ApiClient()
    rbac = client.RbacAuthorizationV1Api(dyn)
    core = client.CoreV1Api(dyn)
    disc = client.DiscoveryV1Api(dyn)
    role = client.V1ClusterRole(
        metadata=client.V1ObjectMeta(name="lab-node:coredns", labels=MANAGED),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["services", "endpoints", "pods", "namespaces"],
                                   verbs=["list", "watch"]),
               client.V1PolicyRule(api_groups=["discovery.k8s.io"], resources=["endpointslices"],
                                   verbs=["list", "watch"])])
    binding = client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name="lab-node:coredns", labels=MANAGED),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="lab-node:coredns"),
        subjects=[client.RbacV1Subject(kind="User", name="lab:coredns", api_group="rbac.authorization.k8s.io")])
    for obj, create, replace in ((role, rbac.create_cluster_role, rbac.replace_cluster_role),
                                 (binding, rbac.create_cluster_role_binding, rbac.replace_cluster_role_binding)):
        try:
            create(obj)
        except ApiException as err:
            if err.status != 409:
                raise
            replace(obj.metadata.name, obj)

    svc = client.V1Service(
        metadata=client.V1ObjectMeta(name="kube-dns", namespace="kube-system",
                                     labels={"k8s-app": "kube-dns", **MANAGED}),
        spec=client.V1ServiceSpec(cluster_ip=DNS_IP, ports=[
            client.V1ServicePort(name="dns", port=53, protocol="UDP", target_port=53),
            client.V1ServicePort(name="dns-tcp", port=53, protocol="TCP", target_port=53)]))
    if ignore_404(core.read_namespaced_service, "kube-dns", "kube-system") is None:
        core.create_namespaced_service("kube-system", svc)

    def slice_(name, ns, service, ports):
        return client.V1EndpointSlice(
            metadata=client.V1ObjectMeta(name=name, namespace=ns, labels={
                "kubernetes.io/service-name": service,
                "endpointslice.kubernetes.io/managed-by": "lab-node", **MANAGED}),
            address_type="IPv4",
            endpoints=[client.V1Endpoint(addresses=[node_ip], conditions=client.V1EndpointConditions(ready=True))],
            ports=ports)

    slices = [
        slice_("kube-dns-lab-node", "kube-system", "kube-dns",
               [client.DiscoveryV1EndpointPort(name="dns", port=53, protocol="UDP"),
                client.DiscoveryV1EndpointPort(name="dns-tcp", port=53, protocol="TCP")]),
        slice_("kubernetes-lab-node", "default", "kubernetes",
               [client.DiscoveryV1EndpointPort(name="https", port=APIPROXY_PORT, protocol="TCP")]),
    ]
    for s in slices:
        if ignore_404(disc.read_namespaced_endpoint_slice, s.metadata.name, s.metadata.namespace) is None:
            disc.create_namespaced_endpoint_slice(s.metadata.namespace, s)
        else:
            disc.patch_namespaced_endpoint_slice(s.metadata.name, s.metadata.namespace, s)


def wait_ready(core, name, timeout):
    deadline = time.time() + timeout
    last = "not registered"
    while time.time() < deadline:
        node = ignore_404(core.read_node, name)
        if node is not None:
            cond = {c.type: c for c in node.status.conditions or []}
            ready = cond.get("Ready")
            if ready is not None and ready.status == "True":
                return
            last = f"Ready={ready.status if ready else '?'} ({ready.message if ready else 'no condition yet'})"
        time.sleep(1)
    sys.exit(f"node {name} not Ready after {timeout}s: {last}")


def down(name, purge=False):
    dyn = client.ApiClient()
    core = client.CoreV1Api(dyn)
    disc = client.DiscoveryV1Api(dyn)
    rbac = client.RbacAuthorizationV1Api(dyn)
    adm = client.AdmissionregistrationV1Api(dyn)
    # Webhooks served by pods on the node: gone with the node, or the API server dials a
    # ClusterIP that only the node's namespace routes.
    real_ns = {ns.metadata.name for ns in core.list_namespace(label_selector="lab.fournines.io/on-real-node=true").items}
    for lister, deleter in ((adm.list_validating_webhook_configuration, adm.delete_validating_webhook_configuration),
                            (adm.list_mutating_webhook_configuration, adm.delete_mutating_webhook_configuration)):
        for cfg in lister().items:
            if any(w.client_config.service is not None and w.client_config.service.namespace in real_ns
                   for w in cfg.webhooks or []):
                ignore_404(deleter, cfg.metadata.name)
    # Namespaces whose workloads only run on the real node go with it (their pods would stay
    # Pending and count against everybody else's checks).
    for ns_name in real_ns:
        ignore_404(core.delete_namespace, ns_name)
    # The pods bound to the node can never stop on their own now: remove them at once.
    for pod in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={name}").items:
        ignore_404(core.delete_namespaced_pod, pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0)
    ignore_404(core.delete_node, name)
    # The local volumes stay (with their data) unless the node is purged: a Cluster whose pods
    # were removed with the node finds its data again when the node comes back.
    if purge:
        for pv in core.list_persistent_volume().items:
            if pv.spec.storage_class_name == STORAGE_CLASS:
                ignore_404(core.delete_persistent_volume, pv.metadata.name)
    ignore_404(disc.delete_namespaced_endpoint_slice, "kube-dns-lab-node", "kube-system")
    ignore_404(disc.delete_namespaced_endpoint_slice, "kubernetes-lab-node", "default")
    ignore_404(core.delete_namespaced_service, "kube-dns", "kube-system")
    ignore_404(rbac.delete_cluster_role_binding, "lab-node:coredns")
    ignore_404(rbac.delete_cluster_role, "lab-node:coredns")


def apply_file(path):
    """Server-side apply of every document in a YAML file (the seeds' way: fields we set win)."""
    import yaml
    from kubernetes import dynamic
    dyn = dynamic.DynamicClient(client.ApiClient())
    with open(path, encoding="utf-8") as fh:
        for doc in yaml.safe_load_all(fh):
            if not doc:
                continue
            if doc["kind"] == "Namespace":  # still terminating after a lab/down node: wait
                deadline = time.time() + 120
                while time.time() < deadline:
                    ns = ignore_404(client.CoreV1Api().read_namespace, doc["metadata"]["name"])
                    if ns is None or ns.metadata.deletion_timestamp is None:
                        break
                    time.sleep(1)
            res = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
            ns = doc["metadata"].get("namespace")
            res.server_side_apply(body=doc, name=doc["metadata"]["name"], namespace=ns,
                                  field_manager="lab-node", force_conflicts=True)


STORAGE_CLASS = "lab-node-local"


def volumes(name, count, base):
    """Local PersistentVolumes on the real node (real directories, bind-mounted by the kubelet):
    the lab's other StorageClasses are simulated and cannot be mounted by a real kubelet.
    A Released or Failed one is wiped and made Available again (any of the StorageClass, also
    beyond ``count``: a caller passing a smaller count still recycles them all); missing ones up
    to ``count`` are created."""
    import fcntl
    import os
    import shutil
    # One pass at a time: two test sessions recycling at once both deleted and re-created the same Released
    # volume (the second create failed with 409 AlreadyExists). Held until this process ends.
    os.makedirs(base, exist_ok=True)
    lock = open(os.path.join(base, ".seed-volumes.lock"), "w")  # noqa: SIM115  pylint: disable=consider-using-with
    fcntl.flock(lock, fcntl.LOCK_EX)
    api = client.ApiClient()
    core = client.CoreV1Api(api)
    storage = client.StorageV1Api(api)
    if ignore_404(storage.read_storage_class, STORAGE_CLASS) is None:
        storage.create_storage_class(client.V1StorageClass(
            metadata=client.V1ObjectMeta(name=STORAGE_CLASS, labels=MANAGED),
            provisioner="kubernetes.io/no-provisioner", volume_binding_mode="WaitForFirstConsumer",
            reclaim_policy="Retain"))
    existing = {pv.metadata.name: pv for pv in core.list_persistent_volume().items
                if pv.spec.storage_class_name == STORAGE_CLASS}
    names = ["lab-node-pv-%d" % i for i in range(count)]
    names += sorted(set(existing) - set(names))
    for pv_name in names:
        path = os.path.join(base, pv_name)
        pv = existing.get(pv_name)
        if pv is not None and pv.status.phase in ("Released", "Failed"):
            ignore_404(core.delete_persistent_volume, pv_name)
            deadline = time.time() + 30
            while ignore_404(core.read_persistent_volume, pv_name) is not None and time.time() < deadline:
                time.sleep(0.5)
            pv = None
        if pv is not None:
            # Kept across a node restart, like a disk across a reboot: its directory must be there.
            if not os.path.isdir(path):
                os.makedirs(path, mode=0o700)
                os.chown(path, 26, 26)
            continue
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, mode=0o700)
        os.chown(path, 26, 26)  # PostgreSQL's uid/gid in the lab images (CloudNativePG's default)
        core.create_persistent_volume(client.V1PersistentVolume(
            metadata=client.V1ObjectMeta(name=pv_name, labels=MANAGED),
            spec=client.V1PersistentVolumeSpec(
                capacity={"storage": "2Gi"}, access_modes=["ReadWriteOnce"],
                persistent_volume_reclaim_policy="Retain", storage_class_name=STORAGE_CLASS,
                volume_mode="Filesystem", local=client.V1LocalVolumeSource(path=path),
                node_affinity=client.V1VolumeNodeAffinity(required=client.V1NodeSelector(node_selector_terms=[
                    client.V1NodeSelectorTerm(match_expressions=[client.V1NodeSelectorRequirement(
                        key="kubernetes.io/hostname", operator="In", values=[name])])])))))


def main():
    action, kubeconfig = sys.argv[1], sys.argv[2]
    config.load_kube_config(kubeconfig)
    if action == "up":
        up(None, sys.argv[4])
    elif action == "wait-ready":
        wait_ready(client.CoreV1Api(), sys.argv[3], int(sys.argv[4]))
    elif action == "apply":
        apply_file(sys.argv[3])
    elif action == "volumes":
        volumes(sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif action == "down":
        down(sys.argv[3], purge=len(sys.argv) > 4 and sys.argv[4] == "--purge")
    else:
        sys.exit(f"unknown action {action}")


if __name__ == "__main__":
    main()
