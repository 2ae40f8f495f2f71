"""The preflight simulates the whole rollout's evictions against every PodDisruptionBudget and refuses, before any
node is bought, a plan that cannot finish: two replicas pinned to one node (required node affinity on its
hostname) under a budget that allows one disruption. The first eviction would pass (a dry-run eviction, or the
budget's disruptionsAllowed, says yes), but its replacement can run nowhere else, so the second is refused for
ever and the drain of that node would wait out its deadline."""

import pytest

import uclab

NAMESPACE = "evsim"


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
        uclab.wait_for("2 pinned pods Ready and the budget allowing 1", lambda: len([
            p for p in core.list_namespaced_pod(NAMESPACE).items
            if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]) == 2 and (
            client.PolicyV1Api(k8s_client).read_namespaced_pod_disruption_budget("pinned", NAMESPACE)
            .status.disruptions_allowed == 1), 120)
        admin.call("DELETE", "/requests")
        yield admin, core, node
    finally:
        core.delete_namespace(NAMESPACE)
        uclab.wait_for("namespace %s gone" % NAMESPACE, lambda: NAMESPACE not in [
            n.metadata.name for n in core.list_namespace().items], 180)


def test_a_plan_the_budget_would_stall_is_refused_before_any_node_is_bought(pinned, tmp_path):
    admin, core, node = pinned
    before = uclab.lke_state(core)
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path))
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert "PodDisruptionBudget %s/pinned would stall the rollout at batch" % NAMESPACE in out, proc.stdout[-4000:]
    assert "node %s: it allows 1 disruption(s) but 2 of its pods there" % node in out
    assert "required node affinity" in out and "cluster_preflight_relax_pdbs" in out
    assert uclab.mutations(admin) == [], "the refused plan sent changes to the Linode API"
    assert uclab.lke_state(core) == before
