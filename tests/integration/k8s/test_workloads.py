"""Pods run on kwok nodes, and evictions go through the real API server's PDB checks."""

import pytest
from kubernetes.client.rest import ApiException

import kwoknodes
from k8slab import wait_for


def _evict(sandbox, pod):
    body = {"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": pod.metadata.name, "namespace": sandbox.namespace}}
    return sandbox.core.create_namespaced_pod_eviction(pod.metadata.name, sandbox.namespace, body)


def _pdb_allows(sandbox, name, allowed):
    pdb = sandbox.policy.read_namespaced_pod_disruption_budget(name, sandbox.namespace)
    status = pdb.status
    return (status is not None and status.observed_generation == pdb.metadata.generation
            and status.disruptions_allowed == allowed)


def test_deployment_pods_run_on_kwok_nodes(sandbox):
    sandbox.deployment("hello", 3)
    pods = wait_for("3 hello pods Running", lambda: sandbox.running("hello", 3))
    for pod in pods:
        assert pod.spec.node_name in sandbox.nodes
        node = sandbox.core.read_node(pod.spec.node_name)
        assert node.metadata.labels[kwoknodes.KUBELET_LABEL] == kwoknodes.HEARTBEAT_ON
        assert pod.status.pod_ip, "kwok gives running pods an IP"
        assert pod.status.container_statuses[0].state.running is not None
    # The real ReplicaSet controller counted them available.
    dep = sandbox.apps.read_namespaced_deployment("hello", sandbox.namespace)
    assert dep.status.available_replicas == 3


def test_eviction_is_refused_by_pdb_with_429(sandbox):
    wait_for("hello running", lambda: sandbox.running("hello", 3))
    sandbox.policy.create_namespaced_pod_disruption_budget(sandbox.namespace, {
        "metadata": {"name": "hello"},
        "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "hello"}}}})
    wait_for("PDB hello to allow 0 disruptions", lambda: _pdb_allows(sandbox, "hello", 0))
    victim = sandbox.pods("hello")[0]
    with pytest.raises(ApiException) as refused:
        _evict(sandbox, victim)
    assert refused.value.status == 429
    assert "disruption budget" in refused.value.body
    assert sandbox.core.read_namespaced_pod(victim.metadata.name, sandbox.namespace).metadata.deletion_timestamp is None

    # One disruption allowed: the eviction goes through and the pod is replaced.
    sandbox.policy.patch_namespaced_pod_disruption_budget("hello", sandbox.namespace,
                                                          {"spec": {"minAvailable": 2}})
    wait_for("PDB hello to allow 1 disruption", lambda: _pdb_allows(sandbox, "hello", 1))
    _evict(sandbox, victim)
    pods = wait_for("hello back to 3 Running without the evicted pod",
                    lambda: (lambda ps: ps if ps and victim.metadata.name not in
                             [p.metadata.name for p in ps] else None)(sandbox.running("hello", 3)))
    assert len(pods) == 3
