"""A PodDisruptionBudget that allows zero disruptions stops the run with a clear error."""

import uclab


def _legacy_nodes(core):
    pods = core.list_namespaced_pod("blocked", label_selector="app.kubernetes.io/name=legacy").items
    return sorted({p.spec.node_name for p in pods})


def test_preflight_refuses_zero_disruption_budget(seeded_lab, tmp_path):
    admin, core, _ = seeded_lab
    before = uclab.lke_state(core)
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path, cluster_preflight_relax_pdbs=[]))
    assert proc.returncode != 0
    assert "PodDisruptionBudget blocked/legacy allows 0 disruptions" in proc.stdout, proc.stdout[-3000:]
    # ... and names the variable that relaxes it for the rollout, in a form -e takes as it is
    assert ('list it in the variable cluster_preflight_relax_pdbs, for example '
            '-e "{cluster_preflight_relax_pdbs: [blocked/legacy]}"') in " ".join((proc.stdout + proc.stderr).split())
    assert uclab.mutations(admin) == []
    assert uclab.lke_state(core) == before


def test_drain_stops_before_touching_pods_and_uncordons(seeded_lab):
    """The drain itself (gate turned to warn, or a budget tightened after the preflight)."""
    admin, core, _ = seeded_lab
    node = _legacy_nodes(core)[0]
    pods_before = sorted(p.metadata.uid for p in core.list_pod_for_all_namespaces(
        field_selector="spec.nodeName=%s" % node).items)
    conn = uclab.connection()
    result = uclab.run_module("fournines.runbooks.k8s_node_drain", {
        "nodes": [node], "kubeconfig": conn["kubeconfig"], "owner": "pdb-test", "timeout": 60})
    assert result.get("failed"), result
    assert "PodDisruptionBudget blocked/legacy allows 0 disruptions" in result["msg"]
    assert result["evicted"] == [] and result["cordoned"] == [node] and result["uncordoned"] == [node]
    state = uclab.lke_state(core)[node]
    assert not state["unschedulable"]
    assert not any(k.startswith("runbooks.fournines.io/") for k in state["annotations"])
    pods_after = sorted(p.metadata.uid for p in core.list_pod_for_all_namespaces(
        field_selector="spec.nodeName=%s" % node).items)
    assert pods_after == pods_before, "a pod was evicted"
    assert uclab.recycles(admin) == {}


def test_budget_with_headroom_is_retried_not_fatal(seeded_lab):
    """api (3 replicas, minAvailable 2): two api pods on one node -> the second eviction is
    refused (429) until the first replacement is Ready, and the drain still succeeds."""
    _, core, apps = seeded_lab
    nodes = sorted(uclab.lke_state(core))
    target = [n for n in nodes if n not in _legacy_nodes(core)][0]  # legacy's budget would refuse the whole drain
    others = [n for n in nodes if n != target]
    conn = uclab.connection()
    # put two api pods on `target`: cordon the others, then roll the api pods
    for name in others:
        core.patch_node(name, {"spec": {"unschedulable": True}})
    try:
        for pod in core.list_namespaced_pod("app", label_selector="app.kubernetes.io/name=api").items:
            if pod.spec.node_name != target:
                core.delete_namespaced_pod(pod.metadata.name, "app")
        uclab.wait_for("3 api pods Ready on %s" % target, lambda: len([
            p for p in core.list_namespaced_pod("app", label_selector="app.kubernetes.io/name=api").items
            if p.spec.node_name == target and p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]) >= 2, 120)
    finally:
        for name in others:
            core.patch_node(name, {"spec": {"unschedulable": False}})
    try:
        result = uclab.run_module("fournines.runbooks.k8s_node_drain", {
            "nodes": [target], "kubeconfig": conn["kubeconfig"], "owner": "pdb-test", "timeout": 180,
            "allow_bare_pods": False})
    finally:
        # A drain leaves its node cordoned by design; later tests expect the seeded, schedulable lab.
        uclab.run_module("fournines.runbooks.k8s_node_drain", {
            "nodes": [target], "kubeconfig": conn["kubeconfig"], "state": "uncordoned"})
    assert not result.get("failed"), result.get("msg")
    assert result["refusals"] >= 1, "expected at least one 429 from the api budget"
    assert any(p.startswith("app/api-") for p in result["evicted"])
    dep = apps.read_namespaced_deployment("api", "app")
    assert (dep.status.ready_replicas or 0) >= 3
