"""The preflight simulates the whole rollout's evictions against every PodDisruptionBudget and refuses, before any
node is bought, a plan that cannot finish: two replicas pinned to one node (required node affinity on its
hostname) under a budget that allows one disruption. The first eviction would pass (a dry-run eviction, or the
budget's disruptionsAllowed, says yes), but its replacement can run nowhere else, so the second is refused for
ever and the drain of that node would wait out its deadline. In the same run, a single-replica pod whose claim is
bound to a local PersistentVolume on that node (required node affinity) can be replaced nowhere while the node
drains: a volume_pinned stall naming the volume, the claim and the variable the user sets (upgrade_cluster_undrainable)."""

import pytest

import uclab

NAMESPACE = "evsim"
VOLUME = "evsim-local"


@pytest.fixture
def pinned(lab_as_is, k8s_client):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    admin, core, apps = lab_as_is
    node = sorted(uclab.lke_state(core))[0]
    labels = {"app.kubernetes.io/name": "pinned"}
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    try:
        apps.create_namespaced_deployment(NAMESPACE, {
            "metadata": {"name": "pinned"},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}},
                         "containers": [{"name": "c", "image": "pinned:lab"}]}}}})
        client.PolicyV1Api(k8s_client).create_namespaced_pod_disruption_budget(NAMESPACE, {
            "metadata": {"name": "pinned"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}}})
        # a local volume on that node (its data lives there), claimed by a single-replica Deployment
        core.create_persistent_volume({
            "metadata": {"name": VOLUME}, "spec": {
                "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                "persistentVolumeReclaimPolicy": "Retain", "local": {"path": "/var/lib/evsim"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}})
        core.create_namespaced_persistent_volume_claim(NAMESPACE, {
            "metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                                                   "volumeName": VOLUME, "resources": {"requests": {"storage": "1Gi"}}}})
        local = {"app.kubernetes.io/name": "local-data"}
        apps.create_namespaced_deployment(NAMESPACE, {
            "metadata": {"name": "local-data"},
            "spec": {"replicas": 1, "selector": {"matchLabels": local}, "template": {
                # a local volume needs no attach (the lab's kwok waits for its volume controller's mark otherwise)
                "metadata": {"labels": local, "annotations": {"storage.lab.fournines.io/volumes-attached": "true"}},
                "spec": {"containers": [{"name": "c", "image": "local-data:lab"}],
                         "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}}})
        uclab.wait_for("3 pods Ready (2 pinned, 1 on the local volume) and the budget allowing 1", lambda: len([
            p for p in core.list_namespaced_pod(NAMESPACE).items
            if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]) == 3 and (
            client.PolicyV1Api(k8s_client).read_namespaced_pod_disruption_budget("pinned", NAMESPACE)
            .status.disruptions_allowed == 1), 120)
        admin.call("DELETE", "/requests")
        yield admin, core, node
    finally:
        core.delete_namespace(NAMESPACE)
        uclab.wait_for("namespace %s gone" % NAMESPACE, lambda: NAMESPACE not in [
            n.metadata.name for n in core.list_namespace().items], 180)
        try:
            core.delete_persistent_volume(VOLUME)
        except client.exceptions.ApiException as err:
            if err.status != 404:
                raise


def test_a_plan_the_budget_would_stall_is_refused_before_any_node_is_bought(pinned, tmp_path):
    admin, core, node = pinned
    before = uclab.lke_state(core)
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path))
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert "PodDisruptionBudget %s/pinned would stall the rollout at batch" % NAMESPACE in out, proc.stdout[-4000:]
    assert "node %s: it allows 1 disruption(s) but 2 of its pods there" % node in out
    assert "required node affinity" in out and "cluster_preflight_relax_pdbs" in out
    # the local volume's pod: a volume_pinned stall, naming the volume, its claim and the variable the user sets
    assert "cannot be replaced while" in out and "PersistentVolume %s (claim data) node affinity" % VOLUME in out, \
        proc.stdout[-4000:]
    assert "pins it to a node the rollout replaces" in out and "upgrade_cluster_undrainable=quarantine" in out
    assert "node_pool_rollout_undrainable" not in out
    assert uclab.mutations(admin) == [], "the refused plan sent changes to the Linode API"
    assert uclab.lke_state(core) == before
