"""k8s/rollout_plan.py: which pods a move costs, and which node should leave a pool."""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import rollout_plan


def _pod(name, node, kind=None, owner=None, ns="app", claims=(), mirror=False):
    meta = {"name": name, "namespace": ns, "uid": name}
    if kind:
        meta["ownerReferences"] = [{"kind": kind, "name": owner, "controller": True}]
    if mirror:
        meta["annotations"] = {"kubernetes.io/config.mirror": "x"}
    volumes = [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]
    return {"metadata": meta, "spec": {"nodeName": node, "volumes": volumes}, "status": {"phase": "Running"}}


def _obj(name, ns="app", replicas=1, owner=None):
    meta = {"name": name, "namespace": ns}
    if owner:
        meta["ownerReferences"] = [{"kind": "Deployment", "name": owner, "controller": True}]
    return {"metadata": meta, "spec": {"replicas": replicas}}


RS = {("app", "web-1"): _obj("web-1", owner="web"), ("app", "api-1"): _obj("api-1", replicas=3, owner="api")}
DEPLOY = {("app", "web"): _obj("web", replicas=1), ("app", "api"): _obj("api", replicas=3)}
STS = {("db", "postgres"): _obj("postgres", ns="db", replicas=3)}
PVCS = {("db", "data-0"): {"spec": {"accessModes": ["ReadWriteOnce"]}},
        ("app", "shared"): {"spec": {"accessModes": ["ReadWriteMany"]}}}


@pytest.mark.parametrize("pod, reasons", [
    (_pod("web-x", "n1", "ReplicaSet", "web-1"), ["single replica"]),
    (_pod("api-x", "n1", "ReplicaSet", "api-1"), []),
    (_pod("bare", "n1"), ["no controller"]),
    (_pod("postgres-0", "n1", "StatefulSet", "postgres", ns="db", claims=["data-0"]), ["ReadWriteOnce claim data-0"]),
    (_pod("api-y", "n1", "ReplicaSet", "api-1", claims=["shared"]), []),
    (_pod("ds", "n1", "DaemonSet", "agent"), []),
    (_pod("static", "n1", mirror=True), []),
])
def test_sensitivity(pod, reasons):
    assert rollout_plan.sensitivity(pod, RS, DEPLOY, STS, PVCS) == reasons


def test_node_costs_count_movable_pods_and_sensitive_ones():
    pods = [_pod("web-x", "surge", "ReplicaSet", "web-1"), _pod("api-x", "surge", "ReplicaSet", "api-1"),
            _pod("api-y", "n1", "ReplicaSet", "api-1"), _pod("ds", "n2", "DaemonSet", "agent")]
    costs = rollout_plan.node_costs(pods, RS, DEPLOY, STS, PVCS)
    assert costs["surge"] == {"sensitive": ["app/web-x (single replica)"], "pods": 2}
    assert costs["n1"] == {"sensitive": [], "pods": 1}
    assert "n2" not in costs  # DaemonSet pods stay wherever the node goes


@pytest.mark.parametrize("costs, prefer, expected", [
    # the single-replica app landed on the surge node: another node leaves
    ({"surge": {"sensitive": ["app/web"], "pods": 2}, "n1": {"sensitive": [], "pods": 3}}, "surge", "n1"),
    # equal sensitivity: the fewest pods
    ({"surge": {"sensitive": [], "pods": 2}, "n1": {"sensitive": [], "pods": 1}}, "surge", "n1"),
    # all equal: the surge node, as before
    ({}, "surge", "surge"),
    ({"n1": {"sensitive": ["a"], "pods": 1}, "n2": {"sensitive": ["b", "c"], "pods": 2}}, None, "n1"),
])
def test_pick_leaving_node(costs, prefer, expected):
    name, ranking = rollout_plan.pick_leaving_node(["n1", "surge"] if "n2" not in costs else ["n1", "n2"], costs,
                                                   prefer=prefer)
    assert name == expected
    assert ranking[0]["node_name"] == expected


def test_pick_leaving_node_without_candidates():
    assert rollout_plan.pick_leaving_node([], {}) == (None, [])
