import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import eviction_sim


def node(name, labels=None, taints=None, unschedulable=False):
    return {"metadata": {"name": name, "labels": dict({"kubernetes.io/hostname": name, "pool": "p1"}, **(labels or {}))},
            "spec": {"unschedulable": unschedulable, "taints": taints or []},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name, node_name, app="web", ns="app", phase="Running", ready=True, owner=True, spec=None):
    meta = {"name": name, "namespace": ns, "uid": name, "labels": {"app": app}}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": app + "-rs", "controller": True, "uid": app}]
    return {"metadata": meta, "spec": dict({"nodeName": node_name}, **(spec or {})),
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def pdb(app, allowed, current, desired, expected, ns="app", policy=None):
    spec = {"selector": {"matchLabels": {"app": app}}}
    if policy:
        spec["unhealthyPodEvictionPolicy"] = policy
    return {"metadata": {"name": app, "namespace": ns}, "spec": spec,
            "status": {"disruptionsAllowed": allowed, "currentHealthy": current, "desiredHealthy": desired,
                       "expectedPods": expected}}


NODES = [node("a"), node("b"), node("c")]
SURGE = [eviction_sim.recycled(NODES[0], "(surge)")]
PINNED = {"nodeSelector": {"kubernetes.io/hostname": "b"}}


def test_a_healthy_plan_finishes_and_reports_each_batch():
    pods = [pod("w1", "a"), pod("w2", "b"), pod("w3", "c")]
    out = eviction_sim.simulate([["a"], ["b"], ["c"]], pods, [pdb("web", 1, 3, 2, 3)], NODES, new_nodes=SURGE)
    assert out["ok"] and out["stalls"] == []
    assert [b["nodes"] for b in out["batches"]] == [["a"], ["b"], ["c"]]
    assert out["batches"][1]["budgets"] == {"app/web": {"allowed": 1, "pods": 1}}


def test_unhealthy_budget_names_the_first_batch_and_node_and_the_variables():
    pods = [pod("w1", "b"), pod("w2", "c"), pod("w3", "c", ready=False, phase="Pending")]
    out = eviction_sim.simulate([["a"], ["b"], ["c"]], pods, [pdb("web", 0, 2, 3, 4)], NODES, new_nodes=SURGE)
    assert not out["ok"]
    [stall] = out["stalls"]
    assert (stall["pdb"], stall["kind"], stall["batch"], stall["node"]) == ("app/web", "budget_at_zero", 2, "b")
    assert stall["pods"] == ["app/w1", "app/w2"]  # later batches add their pods; the pending one evicts freely
    assert "batch 2 (b), node b" in stall["message"] and "2 of its 4 pods are healthy and it needs 3" in stall["message"]
    assert "cluster_preflight_relax_pdbs" in stall["message"] and "upgrade_cluster_undrainable" in stall["message"]


def test_relaxed_budget_and_always_allow_policy_let_the_plan_finish():
    pods = [pod("w1", "a")]
    stalled = pdb("web", 0, 1, 2, 2)
    assert eviction_sim.simulate([["a"]], pods, [stalled], NODES, new_nodes=SURGE, relaxed_pdbs=["app/web"])["ok"]
    unhealthy = [pod("w1", "a", ready=False)]
    policy = pdb("web", 0, 1, 2, 3, policy="AlwaysAllow")
    assert eviction_sim.simulate([["a"]], unhealthy, [policy], NODES, new_nodes=SURGE)["ok"]
    assert not eviction_sim.simulate([["a"]], unhealthy, [pdb("web", 0, 1, 2, 3)], NODES, new_nodes=SURGE)["ok"]


def test_never_allowing_budget_is_left_to_the_pdb_gate():
    out = eviction_sim.simulate([["a"]], [pod("l1", "a", app="legacy")], [pdb("legacy", 0, 1, 1, 1)], NODES)
    assert out["ok"]


def test_a_dry_run_refusal_counts_even_when_the_status_says_otherwise():
    pods = [pod("w1", "a"), pod("w2", "b")]
    out = eviction_sim.simulate([["a"], ["b"]], pods, [pdb("web", 1, 2, 1, 2)], NODES, new_nodes=SURGE,
                                refused_now=["app/w1"])
    [stall] = out["stalls"]
    assert stall["kind"] == "budget_at_zero" and stall["batch"] == 1 and "dry-run eviction was refused" in stall["message"]


def test_pods_that_come_back_only_after_a_move_use_up_the_budget():
    """Two replicas pinned to the old pool's label, both on the batch: only recycled nodes take them back,
    so with one disruption allowed the second eviction is refused for ever."""
    pinned = {"nodeSelector": {"pool": "p1"}}
    surge = [eviction_sim.recycled(node("s", labels={"pool": "p2"}), "(surge)")]
    pods = [pod("w1", "a", spec=pinned), pod("w2", "b", spec=pinned), pod("w3", "c")]
    nodes = [node("a"), node("b"), node("c", labels={"pool": "p2"})]
    out = eviction_sim.simulate([["a", "b"]], pods, [pdb("web", 1, 3, 2, 3)], nodes, new_nodes=surge)
    [stall] = out["stalls"]
    assert (stall["kind"], stall["pdb"], stall["node"]) == ("budget_used_up", "app/web", "b")
    assert "nodeSelector pool=p1" in stall["message"]
    assert "cluster_preflight_concurrency" in stall["message"]  # the pods sit on two nodes: smaller batches help
    # one node at a time: within the budget, but the replacement still has nowhere to run until the recycle
    out = eviction_sim.simulate([["a"], ["b"]], pods, [pdb("web", 1, 3, 2, 3)], nodes, new_nodes=surge)
    assert [s["kind"] for s in out["stalls"]] == ["no_landing"]
    assert out["stalls"][0]["node"] == "a" and "upgrade_cluster_undrainable" in out["stalls"][0]["message"]


def test_recycled_nodes_take_back_pods_of_later_batches_but_not_hostname_pins():
    pods = [pod("x", "b", app="x", spec={"nodeSelector": {"pool": "p1"}})]
    # no surge node of the right kind, but batch 1's node is recycled before b drains
    assert eviction_sim.simulate([["a"], ["b"]], pods, [], NODES[:2])["ok"]
    assert not eviction_sim.simulate([["a"], ["b"]], pods, [], NODES[:2], nodes_return=False)["ok"]
    pinned = [pod("y", "b", app="y", spec=PINNED)]
    out = eviction_sim.simulate([["a"], ["b"]], pinned, [], NODES, new_nodes=SURGE)
    assert out["stalls"][0]["kind"] == "no_landing" and "nodeSelector kubernetes.io/hostname=b" in out["stalls"][0]["message"]


@pytest.mark.parametrize("spec, node_labels, taints, problem", [
    ({}, {}, [], None),
    ({"nodeSelector": {"disk": "ssd"}}, {}, [], "nodeSelector disk=ssd"),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["x"]}]},
        {"matchExpressions": [{"key": "zone", "operator": "Exists"}, {"key": "gen", "operator": "Gt", "values": ["2"]}]}]}}}},
     {"zone": "y", "gen": "3"}, [], None),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["y"]}]}]}}}},
     {"zone": "y"}, [], "required node affinity"),
    ({}, {}, [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}], "taint dedicated=db:NoSchedule"),
    ({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db"}]}, {},
     [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}], None),
    ({"tolerations": [{"operator": "Exists"}]}, {}, [{"key": "any", "effect": "NoExecute"}], None),
    ({"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}]}, {},
     [{"key": "dedicated", "effect": "NoSchedule"}], "taint dedicated=:NoSchedule"),
    ({}, {}, [{"key": "soft", "effect": "PreferNoSchedule"}], None),
])
def test_placement_problem(spec, node_labels, taints, problem):
    assert eviction_sim.placement_problem(pod("p", "a", spec=spec), node("n", labels=node_labels, taints=taints)) == problem


def test_recycled_and_surge_templates_drop_state_taints_and_hostname():
    cordoned = node("a", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                                 {"key": "dedicated", "value": "web", "effect": "NoSchedule"}])
    again = eviction_sim.recycled(cordoned)
    assert again["metadata"]["labels"]["kubernetes.io/hostname"] == "a (recycled)"
    assert again["spec"]["taints"] == [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]
    plan = [{"pool_id": 7, "count": 1, "surge_to": 2, "nodes_to_recycle": ["a"]},
            {"pool_id": 8, "count": 1, "surge_to": 1, "nodes_to_recycle": []}]
    [surge] = eviction_sim.new_nodes(plan, [cordoned])
    assert surge["metadata"]["labels"]["pool"] == "p1" and "surge node of pool 7" in surge["metadata"]["name"]


def test_bare_and_daemonset_pods_are_not_the_simulations_business():
    bare = pod("b", "a", owner=False, spec=PINNED)
    ds = pod("d", "a", spec=PINNED)
    ds["metadata"]["ownerReferences"][0]["kind"] = "DaemonSet"
    assert eviction_sim.simulate([["a"]], [bare, ds], [], NODES, new_nodes=SURGE)["ok"]


class _Refusing(object):
    """Answers dry-run evictions: 429 for the pods named, 404 for gone ones; records the calls."""

    def __init__(self, refuse=(), gone=()):
        self.refuse, self.gone, self.calls = set(refuse), set(gone), []

    def evict(self, namespace, name, dry_run=False, grace_period=None):
        self.calls.append((namespace, name, dry_run))
        for status, names in ((429, self.refuse), (404, self.gone)):
            if name in names:
                raise client.K8sApiError("HTTP %d" % status, type("E", (), {"status": status, "reason": "x"})())
        return {}


def test_refused_by_server_asks_dry_run_evictions_for_the_first_batch_only():
    ds = pod("d", "a")
    ds["metadata"]["ownerReferences"][0]["kind"] = "DaemonSet"
    pods = [pod("w1", "a"), pod("w2", "a"), pod("w3", "b"), ds, pod("bare", "a", owner=False)]
    kube = _Refusing(refuse=["w2"], gone=["w1"])
    assert eviction_sim.refused_by_server(kube, pods, ["a"]) == ["app/w2"]
    assert kube.calls == [("app", "w1", True), ("app", "w2", True)]


@pytest.mark.parametrize("budget, kwargs, stalled", [
    (pdb("web", 0, 1, 2, 3), {}, True),                          # unhealthy: an eviction never heals it
    (pdb("web", 1, 3, 2, 3), {}, False),                         # headroom
    (pdb("web", 0, 2, 2, 3), {}, False),                         # at zero while a pod starts: the drain waits
    (pdb("web", 0, 2, 2, 3), {"refused_now": ["app/w1"]}, True),  # ... unless the API server refuses it now
    (pdb("web", 0, 3, 3, 3), {}, False),                         # never allows: the pdb gate's
    (pdb("web", 0, 1, 2, 3, policy="AlwaysAllow"), {}, True),    # the policy frees unhealthy pods only
])
def test_budget_verdicts(budget, kwargs, stalled):
    out = eviction_sim.simulate([["a"]], [pod("w1", "a")], [budget], NODES, new_nodes=SURGE, **kwargs)
    assert out["ok"] is not stalled
    assert out["batches"][0]["budgets"]["app/web"].get("waits", False) is (budget["status"]["currentHealthy"] == 2
                                                                          and not kwargs)


# --- PersistentVolume node affinity (local volumes) and room for the replacements -------------------------

def claim_pod(name, node_name, claim, app="db"):
    return pod(name, node_name, app=app, spec={"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]})


def pvc(name, volume, ns="app"):
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"volumeName": volume, "accessModes": ["ReadWriteOnce"]}}


def local_pv(name, key, values):
    return {"metadata": {"name": name}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": key, "operator": "In", "values": values}]}]}}}}


def test_a_pod_on_a_local_volume_of_its_node_has_nowhere_to_go_and_the_stall_says_what_relaxes_it():
    pods = [claim_pod("db-0", "b", "data-db-0")]
    out = eviction_sim.simulate([["a"], ["b"], ["c"]], pods, [], NODES, new_nodes=SURGE,
                                pvcs=[pvc("data-db-0", "pv-b")], pvs=[local_pv("pv-b", "kubernetes.io/hostname", ["b"])])
    [stall] = out["stalls"]
    assert (stall["kind"], stall["batch"], stall["node"], stall["pdb"]) == ("volume_pinned", 2, "b", None)
    assert "PersistentVolume pv-b (claim data-db-0) node affinity" in stall["message"]
    assert "upgrade_cluster_undrainable=quarantine" in stall["message"] and stall["relax"] == ["upgrade_cluster_undrainable"]
    # the same claim on a volume any node of the pool can reach (a zone, not a hostname) moves freely
    zonal = eviction_sim.simulate([["a"], ["b"], ["c"]], pods, [], NODES, new_nodes=SURGE,
                                  pvcs=[pvc("data-db-0", "pv-z")], pvs=[local_pv("pv-z", "pool", ["p1"])])
    assert zonal["ok"], zonal["stalls"]


def test_pinned_volumes_use_up_a_budget_and_the_message_names_the_volume():
    pods = [claim_pod("db-0", "a", "d0"), claim_pod("db-1", "a", "d1")]
    out = eviction_sim.simulate([["a"]], pods, [pdb("db", 1, 2, 1, 2)], NODES, new_nodes=SURGE,
                                pvcs=[pvc("d0", "pv0"), pvc("d1", "pv1")],
                                pvs=[local_pv("pv0", "kubernetes.io/hostname", ["a"]),
                                     local_pv("pv1", "kubernetes.io/hostname", ["a"])])
    [stall] = out["stalls"]
    assert stall["kind"] == "budget_used_up" and stall["pdb"] == "app/db"
    assert "PersistentVolume pv0 (claim d0) node affinity" in stall["message"]


def sized(name, cpu="2", labels=None):
    n = node(name, labels=labels)
    n["status"]["allocatable"] = {"cpu": cpu, "memory": "8Gi", "pods": "110"}
    return n


def asking(name, node_name, cpu, app="web", daemon=False):
    p = pod(name, node_name, app=app)
    p["spec"]["containers"] = [{"resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]
    if daemon:
        p["metadata"]["ownerReferences"] = [{"kind": "DaemonSet", "name": "ds", "controller": True, "uid": "ds"}]
    return p


def test_replacements_that_find_no_room_are_a_stall_batch_by_batch():
    """Three 2-CPU nodes, 1.5 CPU of pods on each, one 2-CPU surge node: batch 1's pods fill the surge node,
    batch 2's land on the recycled a, batch 3's on the recycled b. With two nodes per batch the second
    batch's pods find no room: the stall names it and the variable that relaxes it."""
    nodes = [sized("a"), sized("b"), sized("c")]
    pods = [asking("w%s" % n, n, "1500m") for n in "abc"]
    surge = [eviction_sim.recycled(nodes[0], "(surge)")]
    assert eviction_sim.simulate([["a"], ["b"], ["c"]], pods, [], nodes, new_nodes=surge)["ok"]
    out = eviction_sim.simulate([["a", "b"], ["c"]], pods, [], nodes, new_nodes=surge)
    [stall] = out["stalls"]
    assert (stall["kind"], stall["batch"], len(stall["pods"])) == ("no_room", 1, 1)
    assert "cluster_preflight_concurrency" in stall["message"] and "1.5 CPU" in stall["message"]


def test_room_on_new_nodes_is_their_allocatable_less_the_daemonsets_and_drained_nodes_never_return():
    """blue_green: a new pool of two nodes, each with a 1-CPU DaemonSet pod, takes 1 CPU of pods per node; the
    old nodes are deleted, so the third batch's pod has no room (advice: not the concurrency)."""
    nodes = [sized("a"), sized("b"), sized("c")]
    pods = [asking("ds-%s" % n, n, "1", daemon=True) for n in "abc"] + [asking("w%s" % n, n, "800m") for n in "abc"]
    green = [eviction_sim.recycled(nodes[0], "(new %d)" % i) for i in (1, 2)]
    assert green[0]["source"] == "a" and green[0]["status"]["allocatable"]["cpu"] == "2"
    out = eviction_sim.simulate([["a"], ["b"], ["c"]], pods, [], nodes, new_nodes=green, nodes_return=False)
    [stall] = out["stalls"]
    assert (stall["kind"], stall["batch"], stall["pods"]) == ("no_room", 3, ["app/wc"])
    assert stall["relax"] == ["upgrade_cluster_undrainable"] and "cluster_preflight_concurrency" not in stall["message"]
    three = green + [eviction_sim.recycled(nodes[0], "(new 3)")]
    assert eviction_sim.simulate([["a"], ["b"], ["c"]], pods, [], nodes, new_nodes=three, nodes_return=False)["ok"]
