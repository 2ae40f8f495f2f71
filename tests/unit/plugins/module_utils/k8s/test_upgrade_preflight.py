import datetime
import os
import re

import pytest
import yaml

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import eviction_sim
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import upgrade_preflight
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.versions import VersionError

UTC = datetime.timezone.utc
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 5))


def node(name, kubelet="v1.34.6", cpu="4", mem="8Gi", unschedulable=False):
    return {"metadata": {"name": name, "annotations": {}}, "spec": {"unschedulable": unschedulable},
            "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": kubelet}}}


def view(names, k8s_version="1.34", kubelet="v1.34.6", cpu="4"):
    nodes = [node(n, kubelet, cpu) for n in names]
    pool_nodes = [{"id": "p-%s" % n, "instance_id": i, "status": "ready", "node_name": n, "kubelet_version": kubelet,
                   "ready": True, "unschedulable": False, "at_target": kubelet.startswith("v1.35")}
                  for i, n in enumerate(names)]
    return {"cluster": {"id": 1, "k8s_version": k8s_version}, "versions": ["1.33", "1.34", "1.35"],
            "pools": [{"id": 7, "count": len(names), "autoscaler": {}, "nodes": pool_nodes}], "k8s_nodes": nodes}


def pod(name, node_name, ns="app", owner=("ReplicaSet", "rs"), cpu="100m", labels=None, volumes=None):
    meta = {"name": name, "namespace": ns, "uid": name, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True, "uid": owner[1]}]
    return {"metadata": meta, "spec": {"nodeName": node_name, "volumes": volumes or [],
                                       "containers": [{"resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]},
            "status": {"phase": "Running"}}


def rs(name, ns, deployment):
    return {"metadata": {"name": name, "namespace": ns, "ownerReferences": [
        {"kind": "Deployment", "name": deployment, "controller": True}]}}


def deployment(name, ns, replicas):
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"replicas": replicas}}


def snapshot(v, pods, **extra):
    snap = {"view": v, "pods": pods, "pdbs": [], "replicasets": [], "deployments": [], "statefulsets": [], "pvcs": [],
            "applied": []}
    snap.update(extra)
    return snap


def gates(**over):
    return upgrade_preflight.resolve_gates(over)


def test_plan_batches_and_surge():
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b", "c"]), []), "1.35", gates(), concurrency=2)
    assert out["step"] == "upgrade"
    plan = out["plan"][0]
    assert plan["surge_to"] == 4 and plan["batches"] == [["a", "b"], ["c"]]
    assert out["blocking"] == [] and out["predicted_downtime_seconds"] == 0


def test_resume_plan_skips_nodes_at_target():
    v = view(["a", "b"])
    v["pools"][0]["nodes"][0]["at_target"] = True
    out = upgrade_preflight.evaluate(snapshot(v, []), "1.35", gates())
    assert out["plan"][0]["nodes_to_recycle"] == ["b"]
    assert out["plan"][0]["already_at_target"] == ["a"]


def test_two_minor_jump_is_a_hard_error():
    with pytest.raises(VersionError):
        upgrade_preflight.evaluate(snapshot(view(["a"], "1.33"), []), "1.35", gates())


def test_single_replica_rwo_prediction_and_budget_gate():
    pods = [pod("web-1", "a", owner=("ReplicaSet", "web-rs"),
                volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "web-data"}}])]
    snap = snapshot(view(["a", "b"]), pods, replicasets=[rs("web-rs", "app", "web")],
                    deployments=[deployment("web", "app", 1)],
                    pvcs=[{"metadata": {"name": "web-data", "namespace": "app"}, "spec": {"accessModes": ["ReadWriteOnce"]}}])
    budget = {"remaining_seconds": 40.0, "allowed_seconds": 259.2, "min_remaining_percent": 0}
    out = upgrade_preflight.evaluate(snap, "1.35", gates(), budget=budget, downtime_model={"pod_restart_seconds": 10, "rwo_reattach_seconds": 20})
    assert out["predicted_downtime_seconds"] == 30.0
    gates_hit = sorted(f["gate"] for f in out["findings"])
    assert gates_hit == ["rwo_volumes", "single_replica"]
    budget["remaining_seconds"] = 20.0
    out = upgrade_preflight.evaluate(snap, "1.35", gates(), budget=budget, downtime_model={"pod_restart_seconds": 10, "rwo_reattach_seconds": 20})
    assert [f["gate"] for f in out["blocking"]] == ["error_budget"]


def test_zero_pdb_refusal_names_the_variable_that_relaxes_it_for_the_rollout():
    pods = [pod("l1", "a", ns="blocked", labels={"app": "legacy"})]
    pdb = {"metadata": {"name": "legacy", "namespace": "blocked"}, "spec": {"selector": {"matchLabels": {"app": "legacy"}}},
           "status": {"disruptionsAllowed": 0, "expectedPods": 1, "desiredHealthy": 1}}
    out = upgrade_preflight.evaluate(snapshot(view(["a"]), pods, pdbs=[pdb]), "1.35", gates())
    message = out["blocking"][0]["message"]
    assert ("let the run relax it to maxUnavailable 1 for the rollout only (restored afterwards): list it in the "
            'variable cluster_preflight_relax_pdbs, for example -e "{cluster_preflight_relax_pdbs: [blocked/legacy]}"'
            in message), message
    # The example is what ansible-playbook -e reads (a YAML mapping), the role passes that variable to the
    # gate, and with it the budget no longer blocks.
    extra = yaml.safe_load(re.search(r'-e "(\{[^"]*\})"', message).group(1))
    role = os.path.join(REPO, "roles", "cluster_preflight")
    with open(os.path.join(role, "defaults", "main.yml")) as handle:
        assert list(extra) == [upgrade_preflight.RELAX_PDBS_VARIABLE] and list(extra)[0] in yaml.safe_load(handle)
    with open(os.path.join(role, "tasks", "main.yml")) as handle:
        gate = [t for t in yaml.safe_load(handle) if "fournines.runbooks.k8s_upgrade_preflight" in t][0]
    assert gate["fournines.runbooks.k8s_upgrade_preflight"]["relaxed_pdbs"] == "{{ %s }}" % list(extra)[0]
    out = upgrade_preflight.evaluate(snapshot(view(["a"]), pods, pdbs=[pdb]), "1.35", gates(),
                                     relaxed_pdbs=extra["cluster_preflight_relax_pdbs"])
    assert out["blocking"] == [] and out["findings"][0]["level"] == "warn"


def test_zero_pdb_is_one_finding_per_budget():
    pods = [pod("l1", "a", ns="blocked", labels={"app": "legacy"}), pod("l2", "b", ns="blocked", labels={"app": "legacy"})]
    pdb = {"metadata": {"name": "legacy", "namespace": "blocked"}, "spec": {"selector": {"matchLabels": {"app": "legacy"}}},
           "status": {"disruptionsAllowed": 0, "expectedPods": 2, "desiredHealthy": 2}}
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b"]), pods, pdbs=[pdb]), "1.35", gates())
    assert [f["gate"] for f in out["blocking"]] == ["pdb"]
    assert "blocked/l1 on a" in out["blocking"][0]["message"] and "blocked/l2 on b" in out["blocking"][0]["message"]
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b"]), pods, pdbs=[pdb]), "1.35", gates(pdb="warn"))
    assert out["blocking"] == [] and out["findings"][0]["level"] == "warn"
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b"]), pods, pdbs=[pdb]), "1.35", gates(pdb="ignore"))
    assert out["findings"] == []


def test_capacity_gate_counts_surge_node():
    # each node has 1 CPU; node a carries 0.9 CPU of pods: fits on the surge node, not on the cordoned old nodes
    v = view(["a", "b"], cpu="1")
    pods = [pod("p%d" % i, "a", cpu="300m") for i in range(3)]
    out = upgrade_preflight.evaluate(snapshot(v, pods), "1.35", gates())
    assert out["blocking"] == []
    pods.append(pod("big", "a", cpu="500m"))
    out = upgrade_preflight.evaluate(snapshot(v, pods), "1.35", gates())
    assert [f["gate"] for f in out["blocking"]] == ["capacity"]


def test_deprecated_api_gate():
    v = view(["a"], "1.24", "v1.24.1")
    v["versions"] = ["1.24", "1.25"]
    snap = snapshot(v, [], applied=[("CronJob", "app/backup", "batch/v1beta1"), ("CronJob", "app/new", "batch/v1")])
    out = upgrade_preflight.evaluate(snap, "1.25", gates(skew="ignore"))
    assert [(f["gate"], f["subject"]) for f in out["blocking"]] == [("deprecated_apis", "app/backup")]


def test_a_target_past_the_known_removals_is_a_warning_not_a_block():
    v = view(["a"], "1.35", "v1.35.4")
    v["versions"] = ["1.35", "1.36"]
    out = upgrade_preflight.evaluate(snapshot(v, []), "1.36", gates())
    assert out["blocking"] == []
    [finding] = [f for f in out["findings"] if f["gate"] == "deprecated_apis"]
    assert finding["level"] == "warn" and "only up to Kubernetes 1.35" in finding["message"]
    v = view(["a"], "1.34", "v1.34.6")
    v["versions"] = ["1.34", "1.35"]
    assert [f for f in upgrade_preflight.evaluate(snapshot(v, []), "1.35", gates())["findings"] if f["gate"] == "deprecated_apis"] == []


def test_bare_pod_gate():
    out = upgrade_preflight.evaluate(snapshot(view(["a"]), [pod("bare", "a", owner=None)]), "1.35", gates())
    assert [f["gate"] for f in out["blocking"]] == ["bare_pods"]


@pytest.mark.parametrize("now,inside", [
    (datetime.datetime(2026, 11, 28, 7, 0, tzinfo=UTC), True),    # Saturday 07:00
    (datetime.datetime(2026, 11, 28, 11, 0, tzinfo=UTC), False),  # Saturday 11:00
    (datetime.datetime(2026, 11, 27, 7, 0, tzinfo=UTC), False),   # Friday
])
def test_window(now, inside):
    assert upgrade_preflight.in_window({"days": ["sat"], "start": "06:00", "end": "10:00"}, now) is inside


def test_window_across_midnight_and_errors():
    night = {"start": "22:00", "end": "02:00"}
    assert upgrade_preflight.in_window(night, datetime.datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
    assert not upgrade_preflight.in_window(night, datetime.datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    with pytest.raises(upgrade_preflight.PreflightError, match="HH:MM"):
        upgrade_preflight.in_window({"start": "6am"}, datetime.datetime(2026, 11, 28, tzinfo=UTC))
    with pytest.raises(upgrade_preflight.PreflightError, match="days"):
        upgrade_preflight.in_window({"days": ["someday"]}, datetime.datetime(2026, 11, 28, tzinfo=UTC))


def test_gate_config_errors():
    with pytest.raises(upgrade_preflight.PreflightError, match="unknown gate 'pdbs'"):
        upgrade_preflight.resolve_gates({"pdbs": "warn"})
    with pytest.raises(upgrade_preflight.PreflightError, match="use fail, warn or ignore"):
        upgrade_preflight.resolve_gates({"pdb": "maybe"})


def test_relaxed_budget_is_a_warning():
    pods = [pod("l1", "a", ns="blocked", labels={"app": "legacy"})]
    pdb = {"metadata": {"name": "legacy", "namespace": "blocked"}, "spec": {"selector": {"matchLabels": {"app": "legacy"}}},
           "status": {"disruptionsAllowed": 0, "expectedPods": 1, "desiredHealthy": 1}}
    out = upgrade_preflight.evaluate(snapshot(view(["a"]), pods, pdbs=[pdb]), "1.35", gates(), relaxed_pdbs=["blocked/legacy"])
    assert out["blocking"] == []
    assert out["findings"][0]["level"] == "warn" and "relaxes it" in out["findings"][0]["message"]


def test_a_budget_at_zero_because_pods_are_unhealthy_is_refused_before_any_node_is_bought():
    """crash-looping replicas: the drain would wait out its deadline on 429s; refuse the plan instead."""
    pods = [pod("w1", "a", labels={"app": "web"}), pod("w2", "b", labels={"app": "web"})]
    pdb = {"metadata": {"name": "web", "namespace": "app"}, "spec": {"selector": {"matchLabels": {"app": "web"}}},
           "status": {"disruptionsAllowed": 0, "expectedPods": 3, "desiredHealthy": 2, "currentHealthy": 1}}
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b"]), pods, pdbs=[pdb]), "1.35", gates())
    assert [f["gate"] for f in out["blocking"]] == ["pdb"]
    message = out["blocking"][0]["message"]
    assert "app/web allows 0 disruptions now: 1 of its 3 pods are healthy and it needs 2" in message
    assert "app/w1" in message and "app/w2" in message
    healthy = dict(pdb, status={"disruptionsAllowed": 1, "expectedPods": 3, "desiredHealthy": 2, "currentHealthy": 3})
    assert upgrade_preflight.evaluate(snapshot(view(["a", "b"]), pods, pdbs=[healthy]), "1.35", gates())["blocking"] == []


def test_a_resumed_rollout_is_warned_not_refused_for_the_moment_its_interrupted_drain_left():
    """A run killed mid-drain leaves a budget at 0 while the evicted pod's replacement starts; the run that carries
    it on passed the gate when it started, and its drain waits on the budget: warn, do not refuse the resume."""
    pods = [pod("w1", "a", labels={"app": "web"}), pod("w2", "b", labels={"app": "web"})]
    pdb = {"metadata": {"name": "web", "namespace": "app"}, "spec": {"selector": {"matchLabels": {"app": "web"}}},
           "status": {"disruptionsAllowed": 0, "expectedPods": 3, "desiredHealthy": 2, "currentHealthy": 1}}
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b"]), pods, pdbs=[pdb]), "1.35", gates(), resumed=True)
    assert out["blocking"] == []
    assert any(f["gate"] == "pdb" and f["level"] == "warn" and "app/web allows 0 disruptions now" in f["message"]
               for f in out["findings"]), out["findings"]


def test_the_eviction_simulation_refuses_a_plan_whose_replacement_has_nowhere_to_run():
    """A replica pinned to its node's hostname comes back only after a move: the drain of its node would wait out
    its deadline. The plan is refused before any node is bought, naming the batch and the node."""
    pinned = pod("w1", "b", labels={"app": "web"})
    pinned["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "b"}
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b"]), [pinned, pod("w2", "a", labels={"app": "web"})]),
                                     "1.35", gates())
    assert [f["gate"] for f in out["blocking"]] == ["capacity"]
    assert "batch 2 (b), node b" in out["blocking"][0]["message"]
    sim = out["eviction_simulation"]
    assert not sim["ok"] and [b["nodes"] for b in sim["batches"]] == [["a"], ["b"]]
    assert upgrade_preflight.evaluate(snapshot(view(["a", "b"]), [pinned]), "1.35", gates(capacity="warn"))["blocking"] == []


def ds_pod(name, node_name, cpu):
    p = pod(name, node_name, ns="kube-system", owner=("DaemonSet", "ds"), cpu=cpu)
    return p


def test_blue_green_plan_is_a_whole_new_pool_in_batches_of_its_batch_size():
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b", "c"]), []), "1.35", gates(), concurrency=1,
                                     strategy="blue_green", blue_green={"batch_size": "50%", "batch_soak_seconds": 30})
    [plan] = out["plan"]
    assert out["strategy"] == "blue_green" and plan["strategy"] == "blue_green"
    assert plan["new_pool"] == 3 and plan["surge_to"] == 3 and plan["green_pool_id"] is None
    assert plan["batches"] == [["a", "b"], ["c"]]  # 50 % of 3 rounds up to 2; concurrency is surge's
    assert plan["estimate"]["batches"] == 2 and plan["estimate"]["assumed"]["batch_soak_seconds"] == 30
    assert out["blocking"] == []


def test_bad_strategy_and_batch_size_are_refused_naming_what_is_valid():
    with pytest.raises(upgrade_preflight.PreflightError, match="surge, blue_green"):
        upgrade_preflight.evaluate(snapshot(view(["a"]), []), "1.35", gates(), strategy="canary")
    with pytest.raises(upgrade_preflight.RunbookError, match="batch_size 'x%' is not valid"):
        upgrade_preflight.evaluate(snapshot(view(["a"]), []), "1.35", gates(), strategy="blue_green",
                                   blue_green={"batch_size": "x%"})


@pytest.mark.parametrize("strategy,limit,blocked", [
    ("surge", 4, False), ("surge", 3, True), ("blue_green", 6, False), ("blue_green", 5, True)])
def test_node_limit_counts_what_each_strategy_adds(strategy, limit, blocked):
    """surge adds one node at a time; blue_green a second pool of the pool's size while both exist."""
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b", "c"]), []), "1.35", gates(), strategy=strategy,
                                     node_limit=limit)
    messages = [f["message"] for f in out["blocking"] if f["gate"] == "capacity"]
    assert bool(messages) == blocked, messages
    if blocked and strategy == "blue_green":
        assert "pool 7 needs 3 more node(s)" in messages[0] and "more than node_limit 5; nothing was changed" in messages[0]
        assert "upgrade_cluster_node_limit" in messages[0] and "upgrade_cluster_strategy=surge" in messages[0]
    if blocked and strategy == "surge":
        assert "taking the cluster to 4 nodes, more than node_limit 3" in messages[0]
    assert upgrade_preflight.evaluate(snapshot(view(["a", "b", "c"]), []), "1.35", gates(), strategy=strategy,
                                      node_limit=None)["blocking"] == []


def test_blue_green_resumed_with_its_new_pool_there_buys_nothing_more():
    v = view(["a", "b", "c"])
    green_nodes = [dict(n, id="g-%s" % n["node_name"], node_name="g" + n["node_name"], at_target=True)
                   for n in v["pools"][0]["nodes"]]
    v["pools"].append({"id": 8, "count": 3, "autoscaler": {}, "origin_pool_id": 7, "nodes": green_nodes})
    v["pools"][0]["origin_pool_id"] = 7
    v["k8s_nodes"] += [node("g" + n, "v1.35.1") for n in ("a", "b", "c")]
    out = upgrade_preflight.evaluate(snapshot(v, []), "1.35", gates(), strategy="blue_green", node_limit=6)
    blue, green = out["plan"]
    assert blue["new_pool"] == 0 and blue["green_pool_id"] == 8 and blue["batches"] == [["a"], ["b"], ["c"]]
    assert green["nodes_to_recycle"] == [] and green["batches"] == []
    assert out["blocking"] == []  # 6 nodes now, none to add


def test_surge_resumed_with_its_surge_node_there_counts_it_once():
    """A run killed after the surge: the pool has 4 nodes, one of them the surge node at the target. The plan says
    the pool's own size, buys nothing more (no template node in the simulation, none against node_limit)."""
    v = view(["a", "b", "c"])
    v["pools"][0]["nodes"].append({"id": "p-s", "instance_id": 9, "status": "ready", "node_name": "s",
                                   "kubelet_version": "v1.35.1", "ready": True, "unschedulable": False,
                                   "at_target": True})
    v["pools"][0]["count"] = 4
    v["k8s_nodes"].append(node("s", "v1.35.1"))
    out = upgrade_preflight.evaluate(snapshot(v, []), "1.35", gates(), node_limit=4, pool_counts={"7": 3})
    [plan] = out["plan"]
    assert (plan["count"], plan["surge_to"], plan["surged"]) == (3, 4, True) and plan["nodes_to_recycle"] == ["a", "b", "c"]
    assert out["blocking"] == []  # 4 nodes now, the surge node among them: nothing to add
    assert eviction_sim.new_nodes(out["plan"], v["k8s_nodes"]) == []
    fresh = upgrade_preflight.evaluate(snapshot(view(["a", "b", "c"]), []), "1.35", gates(), pool_counts={"7": 3})
    assert (fresh["plan"][0]["count"], fresh["plan"][0]["surge_to"], fresh["plan"][0]["surged"]) == (3, 4, False)
    # a surge node still joining (not a Ready Node yet) is counted as the room it will have: the capacity gate
    # passes (the simulation's stall, with no node up to land on yet, only warns for the resumed run)
    joining = dict(v, k8s_nodes=[n for n in v["k8s_nodes"] if n["metadata"]["name"] != "s"])
    pods = [pod("p%d" % i, "a", cpu="1500m") for i in range(2)]
    out = upgrade_preflight.evaluate(snapshot(joining, pods), "1.35", gates(), pool_counts={"7": 3}, resumed=True)
    assert out["blocking"] == [] and out["findings"], out["findings"]
    # without the journal's sizes (or at any other size) the pool's count is its size, as before
    other = upgrade_preflight.evaluate(snapshot(v, []), "1.35", gates(), node_limit=4)
    assert other["plan"][0]["surge_to"] == 5 and [f["gate"] for f in other["blocking"]] == ["capacity"]


def test_blue_green_capacity_is_checked_batch_by_batch_on_the_new_pool():
    """Drained nodes never come back: each batch's pods join those of the batches before it on the new pool,
    whose nodes are sized like the old ones less their DaemonSet pods."""
    v = view(["a", "b"], cpu="1")
    pods = [ds_pod("ds-a", "a", "500m"), ds_pod("ds-b", "b", "500m"), pod("p1", "a", cpu="400m"),
            pod("p2", "b", cpu="400m"), pod("p3", "b", cpu="300m")]
    out = upgrade_preflight.evaluate(snapshot(v, pods), "1.35", gates(), strategy="blue_green",
                                     blue_green={"batch_size": "1"})
    [finding] = out["blocking"]
    assert finding["gate"] == "capacity"
    assert "batch 2 (b) and the batches before it do not fit on the new pool" in finding["message"]
    assert "app/p" in finding["message"]
    pods.pop()  # without p3 both batches fit
    assert upgrade_preflight.evaluate(snapshot(v, pods), "1.35", gates(), strategy="blue_green",
                                      blue_green={"batch_size": "1"})["blocking"] == []


def test_a_node_too_full_for_one_surge_node_fits_on_a_whole_new_pool():
    v = view(["a", "b"], cpu="1")
    pods = [pod("p%d" % i, "a", cpu="300m") for i in range(3)] + [pod("big", "a", cpu="500m")]
    assert [f["gate"] for f in upgrade_preflight.evaluate(snapshot(v, pods), "1.35", gates())["blocking"]] == ["capacity"]
    assert upgrade_preflight.evaluate(snapshot(v, pods), "1.35", gates(), strategy="blue_green")["blocking"] == []


def test_the_simulation_lands_blue_green_pods_on_the_whole_new_pool_and_never_on_drained_nodes():
    """blue_green adds the pool's size in new nodes before it drains (surge one), and its drained nodes do not
    come back: a pod pinned to its node's hostname has nowhere to go, whichever batch it is in."""
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b", "c"]), []), "1.35", gates(), strategy="blue_green")
    added = eviction_sim.new_nodes(out["plan"], view(["a", "b", "c"])["k8s_nodes"])
    assert len(added) == 3 and all("new node" in n["metadata"]["name"] for n in added)
    surge = upgrade_preflight.evaluate(snapshot(view(["a", "b", "c"]), []), "1.35", gates())
    assert len(eviction_sim.new_nodes(surge["plan"], view(["a", "b", "c"])["k8s_nodes"])) == 1
    pinned = pod("w1", "a", labels={"app": "web"})
    pinned["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "a"}
    out = upgrade_preflight.evaluate(snapshot(view(["a", "b", "c"]), [pinned]), "1.35", gates(), strategy="blue_green")
    assert [s["kind"] for s in out["eviction_simulation"]["stalls"]] == ["no_landing"]
    assert "batch 1 (a), node a" in out["blocking"][0]["message"]


def test_a_local_volume_pinned_to_its_node_is_refused_before_any_node_is_bought():
    db = pod("db-0", "b", owner=("StatefulSet", "db"),
             volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}])
    pvcs = [{"metadata": {"name": "data-db-0", "namespace": "app"}, "spec": {"volumeName": "local-b",
                                                                           "accessModes": ["ReadWriteOnce"]}}]
    pvs = [{"metadata": {"name": "local-b"}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["b"]}]}]}}}}]
    for strategy in ("surge", "blue_green"):
        out = upgrade_preflight.evaluate(snapshot(view(["a", "b"]), [db], pvcs=pvcs, pvs=pvs), "1.35", gates(),
                                         strategy=strategy)
        [finding] = [f for f in out["blocking"] if f["gate"] == "capacity"]
        assert "PersistentVolume local-b (claim data-db-0)" in finding["message"], finding
        assert out["eviction_simulation"]["stalls"][0]["kind"] == "volume_pinned"
