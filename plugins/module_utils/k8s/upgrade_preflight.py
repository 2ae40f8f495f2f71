# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade preflight: gates, findings and the rollout plan.

Pure functions over a snapshot (dicts as the APIs return them), so every gate is unit
tested without a cluster. Each gate resolves to ``fail``, ``warn`` or ``ignore``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import eviction_sim
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import versions
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.capacity import fits, node_free, pod_requests
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.linode import blue_green as bg

LEVELS = ("fail", "warn", "ignore")

#: Gate -> default level. Documented in k8s_upgrade_preflight and cluster_preflight.
GATE_DEFAULTS = {
    "skew": "fail",             # kubelets outside the skew policy after the control-plane step
    "pdb": "fail",              # PodDisruptionBudgets that can never allow an eviction, or none now (unhealthy pods)
    "single_replica": "warn",   # Deployments/StatefulSets with one replica (downtime while it moves)
    "bare_pods": "fail",        # pods without a controller (lost on recycle)
    "local_storage": "warn",    # emptyDir/hostPath volumes (erased on recycle)
    "rwo_volumes": "warn",      # pods on ReadWriteOnce claims (downtime while the volume re-attaches)
    "capacity": "fail",         # a batch's pods do not fit on the nodes that stay plus the added ones; node limit
    "deprecated_apis": "fail",  # objects last applied with an API version the target removes
    "error_budget": "fail",     # the predicted downtime does not fit the error budget
    "window": "fail",           # now is outside the maintenance window
    "autoscaler": "fail",       # pools with the autoscaler on (the rollout will not resize them)
}


#: The runbook's variable that lists the budgets a run may relax (roles/cluster_preflight; the module's relaxed_pdbs).
RELAX_PDBS_VARIABLE = "cluster_preflight_relax_pdbs"
#: The runbook's variable for the most nodes the cluster may have during the rollout (the module's node_limit).
NODE_LIMIT_VARIABLE = "upgrade_cluster_node_limit"

#: Rollout strategies (the runbook variable upgrade_cluster_strategy): one plan each.
STRATEGIES = ("surge", "blue_green")
#: blue_green plan inputs (the module's blue_green option): drain batch, soaks and the estimate's assumed times.
BLUE_GREEN_DEFAULTS = {"batch_size": "10%", "batch_soak_seconds": 0.0, "final_soak_seconds": 0.0,
                       "drain_seconds": bg.DEFAULT_DRAIN_SECONDS, "create_seconds": bg.DEFAULT_CREATE_SECONDS}


class PreflightError(RunbookError):
    """Bad gate configuration or window."""


def resolve_gates(overrides):
    gates = dict(GATE_DEFAULTS)
    for name, level in (overrides or {}).items():
        if name not in GATE_DEFAULTS:
            raise PreflightError("unknown gate %r; gates are: %s" % (name, ", ".join(sorted(GATE_DEFAULTS))))
        if level not in LEVELS:
            raise PreflightError("gate %s level %r is not valid; use fail, warn or ignore" % (name, level))
        gates[name] = level
    return gates


def _workload_of(pod, replicasets):
    """(kind, namespace/name) of the Deployment/StatefulSet behind a pod, else its controller."""
    ref = objects.controller_of(pod)
    namespace = pod["metadata"]["namespace"]
    if ref is None:
        return None
    if ref["kind"] == "ReplicaSet":
        rs = replicasets.get((namespace, ref["name"]))
        for owner in ((rs or {}).get("metadata") or {}).get("ownerReferences") or []:
            if owner.get("controller") and owner.get("kind") == "Deployment":
                return "Deployment", "%s/%s" % (namespace, owner["name"])
    return ref["kind"], "%s/%s" % (namespace, ref["name"])


def in_window(window, now):
    """Whether ``now`` (aware UTC) is inside ``{'days': [...], 'start': 'HH:MM', 'end': 'HH:MM'}``."""
    if not window:
        return True
    days = [d.lower()[:3] for d in window.get("days") or []]
    try:
        start = datetime.datetime.strptime(window.get("start", "00:00"), "%H:%M").time()
        end = datetime.datetime.strptime(window.get("end", "23:59"), "%H:%M").time()
    except ValueError:
        raise PreflightError("maintenance window %r is not valid; give start/end as HH:MM (UTC) and days as "
                             "mon..sun" % (window,))
    bad = [d for d in days if d not in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    if bad:
        raise PreflightError("maintenance window days %s are not valid; use mon, tue, wed, thu, fri, sat, sun" % bad)
    if days and now.strftime("%a").lower() not in days:
        return False
    current = now.time()
    if start <= end:
        return start <= current <= end
    return current >= start or current <= end  # window across midnight


def evaluate(snapshot, target, gates, concurrency=1, downtime_model=None, budget=None, window=None, now=None,
             relaxed_pdbs=None, refused_now=None, strategy="surge", blue_green=None, node_limit=None, resumed=False,
             pool_counts=None):
    """Run every gate. ``snapshot`` keys: view (lke_view.cluster_view), pods, pdbs, replicasets,
    deployments, statefulsets, pvcs, applied (list of (kind, ns/name, apiVersion) of last-applied objects).

    ``relaxed_pdbs`` ("namespace/name") are budgets the run relaxes for the rollout: reported as warnings.
    ``refused_now`` (pod keys) are pods a server-side dry-run eviction refused just now (eviction_sim.simulate).
    ``resumed``: the run carries on a rollout already under way, which passed these gates when it started; the
    simulation's stalls then only warn, because they judge the moment its interrupted drain or a new pool still
    joining left behind (a budget at 0 while an evicted pod's replacement starts), and the drain itself waits
    on the budgets.
    ``strategy`` (surge | blue_green) chooses the plan, the capacity checks and the nodes the simulation lands
    pods on; ``blue_green`` holds that plan's inputs (BLUE_GREEN_DEFAULTS); ``node_limit`` is the most nodes
    the cluster may have while the rollout runs (None: not checked). ``pool_counts`` ({pool id: size}) are the
    pools' sizes before the run changed them (its journal's): a surge pool one node above it carries its surge node
    already (a resumed run), which is counted once, not bought again.
    Returns {"findings": [...], "blocking": [...], "plan": {...}, "predicted_downtime_seconds": n}.
    """
    model = dict({"pod_restart_seconds": 15.0, "rwo_reattach_seconds": 30.0}, **(downtime_model or {}))
    view = snapshot["view"]
    now = now or datetime.datetime.now(datetime.timezone.utc)
    findings = []

    def add(gate, message, subject=None, level=None):
        level = level or gates.get(gate, "fail")
        if level != "ignore" and gates.get(gate) != "ignore":
            findings.append({"gate": gate, "level": level, "subject": subject, "message": message})

    current = view["cluster"]["k8s_version"]
    step = versions.plan_step(current, target, view["versions"])  # hard error, not a gate
    kubelets = [n["kubelet_version"] for p in view["pools"] for n in p["nodes"]]
    for version, reason in versions.skew_problems(target, kubelets):
        add("skew", reason, version)

    pods = snapshot.get("pods") or []
    replicasets = dict(((r["metadata"]["namespace"], r["metadata"]["name"]), r) for r in snapshot.get("replicasets") or [])
    pvcs = dict(((c["metadata"]["namespace"], c["metadata"]["name"]), c) for c in snapshot.get("pvcs") or [])
    desired = {}
    for kind, items in (("Deployment", snapshot.get("deployments")), ("StatefulSet", snapshot.get("statefulsets"))):
        for obj in items or []:
            desired[(kind, "%s/%s" % (obj["metadata"]["namespace"], obj["metadata"]["name"]))] = \
                int((obj.get("spec") or {}).get("replicas", 1) or 0)

    roll_nodes = [n for p in view["pools"] for n in p["nodes"] if not n.get("at_target") and n["node_name"]]
    roll_names = set(n["node_name"] for n in roll_nodes)
    by_node = {}
    for pod in pods:
        by_node.setdefault((pod.get("spec") or {}).get("nodeName"), []).append(pod)

    pdbs = snapshot.get("pdbs") or []
    affected = {}  # workload -> info, for pods the rollout will move
    blocked = {}   # never-allowing PDB -> pods it protects on nodes to roll
    for pod in pods:
        if pod["spec"].get("nodeName") not in roll_names or objects.is_daemonset_pod(pod) or objects.is_mirror_pod(pod) \
                or objects.is_finished(pod):
            continue
        key = objects.pod_key(pod)
        if objects.controller_of(pod) is None:
            add("bare_pods", "pod %s has no controller; recycling its node deletes it for good" % key, key)
        for pdb in objects.pdbs_for_pod(pod, pdbs):
            if objects.pdb_never_allows(pdb):
                blocked.setdefault(objects.pdb_name(pdb), []).append("%s on %s" % (key, pod["spec"]["nodeName"]))
        vols = objects.local_volumes(pod)
        if vols:
            add("local_storage", "pod %s uses emptyDir/hostPath volumes %s that a recycle erases" % (key, ", ".join(vols)), key)
        rwo = [c for c in objects.pvc_claims(pod) if "ReadWriteOnce" in (((pvcs.get((pod["metadata"]["namespace"], c)) or {})
                                                                          .get("spec") or {}).get("accessModes") or [])]
        workload = _workload_of(pod, replicasets)
        if workload:
            info = affected.setdefault(workload, {"pods": 0, "rwo": False})
            info["pods"] += 1
            info["rwo"] = info["rwo"] or bool(rwo)
            if rwo:
                add("rwo_volumes", "pod %s mounts ReadWriteOnce claim(s) %s: expect downtime while the volume "
                    "detaches and re-attaches" % (key, ", ".join(rwo)), key)

    for name, where in sorted(blocked.items()):
        if name in (relaxed_pdbs or []):
            add("pdb", "PodDisruptionBudget %s allows 0 disruptions; the run relaxes it to maxUnavailable 1 for the "
                "rollout and restores it afterwards (pods: %s)" % (name, ", ".join(where)), name,
                level="warn" if gates.get("pdb") != "ignore" else "ignore")
            continue
        add("pdb", "PodDisruptionBudget %s allows 0 disruptions (maxUnavailable 0 or minAvailable = replicas), so its "
            "pods can never be evicted: %s. Scale the workload up and relax the budget, or let the run relax it to "
            "maxUnavailable 1 for the rollout only (restored afterwards): list it in the variable %s, for example "
            '-e "{%s: [%s]}" (module option relaxed_pdbs)'
            % (name, ", ".join(where), RELAX_PDBS_VARIABLE, RELAX_PDBS_VARIABLE, name), name)
    predicted = 0.0
    per_workload = {}
    for workload, info in sorted(affected.items()):
        replicas = desired.get(workload)
        if replicas is not None and replicas <= 1:
            add("single_replica", "%s %s runs 1 replica: it is down while its pod moves" % workload, workload[1])
            seconds = model["pod_restart_seconds"] + (model["rwo_reattach_seconds"] if info["rwo"] else 0.0)
            per_workload["%s/%s" % workload] = seconds
            predicted += seconds

    plan, capacity_problems = build_plan(view, by_node, concurrency, strategy, blue_green, pool_counts)
    for msg in node_limit_problems(view, plan, node_limit, strategy) + capacity_problems:
        add("capacity", msg)
    # every batch of every pool, in the order the rollout drains them, against every budget; blue_green
    # deletes the drained nodes, surge gives them back recycled
    k8s_nodes = view.get("k8s_nodes") or []
    simulation = eviction_sim.simulate([b for p in plan for b in p["batches"]], pods, pdbs, k8s_nodes,
                                       new_nodes=eviction_sim.new_nodes(plan, k8s_nodes), nodes_return=strategy == "surge",
                                       relaxed_pdbs=relaxed_pdbs, refused_now=refused_now,
                                       pvcs=snapshot.get("pvcs"), pvs=snapshot.get("pvs"))
    for stall in simulation["stalls"]:
        if stall["kind"] == "no_room" and capacity_problems:
            continue  # the plan's capacity check above already says the batch does not fit
        add("pdb" if stall["pdb"] else "capacity", stall["message"], stall["pdb"] or stall["pods"][0],
            level="warn" if resumed else None)
    for pool in view["pools"]:
        if (pool.get("autoscaler") or {}).get("enabled"):
            add("autoscaler", "pool %s has the autoscaler on; the rollout does not resize such a pool (the autoscaler "
                "would undo the surge): turn it off for the upgrade" % pool["id"], str(pool["id"]))

    applied_removed = dict(((gv, kind), removed) for gv, kind, removed in versions.removed_between(current, target))
    if versions.parse(target)[1] > versions.REMOVED_APIS_KNOWN_THROUGH:
        add("deprecated_apis", "this collection knows the API removals only up to Kubernetes 1.%d; check the "
            "deprecated API migration guide for %s before going on" % (versions.REMOVED_APIS_KNOWN_THROUGH, versions.minor(target)),
            versions.minor(target), level="warn")
    for kind, name, api_version in snapshot.get("applied") or []:
        if (api_version, kind) in applied_removed:
            add("deprecated_apis", "%s %s was last applied as %s, which Kubernetes 1.%d no longer serves; update its "
                "manifest" % (kind, name, api_version, applied_removed[(api_version, kind)]), name)

    if budget is not None:
        remaining = budget.get("remaining_seconds", 0.0)
        reserve = budget.get("allowed_seconds", 0.0) * float(budget.get("min_remaining_percent", 0.0)) / 100.0
        if remaining - predicted < reserve:
            add("error_budget", "predicted downtime %.0f s would leave %.0f s of the error budget (%.0f s allowed), "
                "below the reserve of %.0f s" % (predicted, remaining - predicted, budget.get("allowed_seconds", 0.0),
                                                 reserve))
    if window and not in_window(window, now):
        add("window", "now (%s UTC) is outside the maintenance window %s %s-%s" % (
            now.strftime("%a %H:%M"), ",".join(window.get("days") or ["every day"]), window.get("start", "00:00"),
            window.get("end", "23:59")))

    return {"step": step, "current_version": versions.minor(current), "target_version": versions.minor(target),
            "findings": findings, "blocking": [f for f in findings if f["level"] == "fail"],
            "plan": plan, "predicted_downtime_seconds": predicted, "predicted_downtime_by_workload": per_workload,
            "eviction_simulation": simulation, "strategy": strategy}


def _blue_green_settings(settings):
    out = dict(BLUE_GREEN_DEFAULTS)
    out.update(dict((k, v) for k, v in (settings or {}).items() if v is not None))
    return out


def _free_of_others(k8s_by_name, pods_by_node, leaving):
    """Free resources of the Ready, schedulable nodes that stay while ``leaving`` drain."""
    free = {}
    for name, node in k8s_by_name.items():
        if name in leaving or objects.node_unschedulable(node) or not objects.node_ready(node):
            continue
        free[name] = node_free(node, pods_by_node.get(name, []))
    return free


def _moving_requests(names, pods_by_node):
    moving = []
    for name in names:
        for pod in pods_by_node.get(name, []):
            if objects.is_daemonset_pod(pod) or objects.is_mirror_pod(pod) or objects.is_finished(pod):
                continue
            moving.append(dict(pod_requests(pod), name=objects.pod_key(pod)))
    return moving


def build_plan(view, pods_by_node, concurrency=1, strategy="surge", blue_green=None, pool_counts=None):
    """Per pool: the strategy's batches, the nodes it adds, and capacity problems.

    ``surge``: one extra node per pool, ``concurrency`` old nodes recycled at a time. Capacity is checked the
    way it runs: the pool's old nodes are cordoned, so a batch's pods must fit on the surge node (sized like
    the pool's nodes) plus the nodes outside the pool and those already at the target version.

    ``blue_green``: a whole new pool of the same size beside each pool (one pool at a time), the old pool
    drained in batches of ``blue_green['batch_size']`` (a number or a percentage) and then deleted. Every
    batch is checked: the pods of that batch and of the batches before it must fit on the new pool plus the
    nodes outside the pool. A pool whose new pool already exists (an interrupted run) adds no node, and neither does
    a surge pool one node above its size in ``pool_counts`` (the run's surge node is there: ``surged``; its count is
    the size before the surge).
    """
    if strategy not in STRATEGIES:
        raise PreflightError("strategy %r is not valid; use one of %s" % (strategy, ", ".join(STRATEGIES)))
    if int(concurrency) < 1:
        raise PreflightError("concurrency %r is not valid; give 1 or more nodes per batch" % (concurrency,))
    settings = _blue_green_settings(blue_green)
    k8s_by_name = dict((n["metadata"]["name"], n) for n in view.get("k8s_nodes") or [])
    greens = dict((p["origin_pool_id"], p["id"]) for p in view["pools"]
                  if p.get("origin_pool_id") is not None and p["origin_pool_id"] != p["id"])
    plan, problems = [], []
    for pool in view["pools"]:
        old = [n for n in pool["nodes"] if not n.get("at_target")]
        names = [n["node_name"] for n in old if n["node_name"]]
        entry = {"pool_id": pool["id"], "count": pool["count"], "strategy": strategy, "nodes_to_recycle": names,
                 "already_at_target": [n["node_name"] or n["id"] for n in pool["nodes"] if n.get("at_target")]}
        if strategy == "blue_green":
            green_id = greens.get(pool["id"])
            per_batch = bg.batch_count(settings["batch_size"], pool["count"] or 1)
            entry.update(batches=bg.batches(names, per_batch), surge_to=pool["count"], green_pool_id=green_id,
                         new_pool=int(pool["count"]) if names and green_id is None else 0,
                         estimate=bg.estimate(pool["count"], settings["batch_size"], settings["batch_soak_seconds"],
                                              settings["final_soak_seconds"], settings["drain_seconds"],
                                              settings["create_seconds"]) if names else None)
            added = entry["new_pool"]
        else:
            before = (pool_counts or {}).get(str(pool["id"]))
            surged = before is not None and int(pool["count"]) == int(before) + 1
            count = int(before) if surged else pool["count"]
            entry.update(batches=[names[i:i + int(concurrency)] for i in range(0, len(names), int(concurrency))],
                         count=count, surge_to=count + 1 if names or surged else count, surged=surged)
            added = 1 if names and not surged else 0
        plan.append(entry)
        if not names or not k8s_by_name:
            continue
        sample = k8s_by_name.get(names[0])
        ds_pods = [p for p in pods_by_node.get(names[0], []) if objects.is_daemonset_pod(p)]
        template_free = node_free(sample, ds_pods) if sample else None
        free = _free_of_others(k8s_by_name, pods_by_node, set(names))
        if entry.get("surged") and not any(n.get("at_target") and n["node_name"] in free for n in pool["nodes"]):
            added = 1  # the surge node is there but not a Ready Node yet: count the room it will have, once
        if template_free:
            for i in range(added):
                free["(new node %d)" % (i + 1) if strategy == "blue_green" else "(surge node)"] = dict(template_free)
        where = "the new pool" if strategy == "blue_green" else "the surge node"
        # surge: later batches land on nodes recycled before them (same shape), so the first batch decides;
        # blue_green: the drained nodes never come back, so each batch adds its pods to those moved before it
        checked = entry["batches"][:1] if strategy == "surge" else entry["batches"]
        for index in range(len(checked)):
            moved = [n for b in checked[:index + 1] for n in b] if strategy == "blue_green" else checked[index]
            ok, unplaced = fits(_moving_requests(moved, pods_by_node), free)
            if not ok:
                problems.append("pool %s: the pods of %s do not fit on %s and the other nodes: %s"
                                % (pool["id"], ", ".join(checked[index]) if strategy == "surge" else
                                   "batch %d (%s) and the batches before it" % (index + 1, ", ".join(checked[index])),
                                   where, ", ".join(unplaced)))
                break
    return plan, problems


def node_limit_problems(view, plan, node_limit, strategy="surge"):
    """Messages when the most nodes the plan has at once (pools are rolled one after another) pass ``node_limit``."""
    if node_limit is None:
        return []
    total = sum(int(p["count"] or 0) for p in view["pools"])
    if strategy == "blue_green":
        worst = max([p for p in plan if p.get("new_pool")], key=lambda p: p["new_pool"], default=None)
        if worst is None or total + worst["new_pool"] <= int(node_limit):
            return []
        return ["a blue-green rollout of pool %s needs %d more node(s) for about %.1f node-hours, taking the cluster "
                "to %d nodes, more than node_limit %d; nothing was changed. Raise the limit (variable %s, or the "
                "account's), or use upgrade_cluster_strategy=surge (one extra node at a time)"
                % (worst["pool_id"], worst["new_pool"], worst["estimate"]["extra_node_hours"],
                   total + worst["new_pool"], int(node_limit), NODE_LIMIT_VARIABLE)]
    if not any(p["nodes_to_recycle"] for p in plan) or any(p.get("surged") for p in plan) or total + 1 <= int(node_limit):
        return []  # a surge node already there is in the total: pools roll one after another
    return ["a surge rollout needs 1 more node at a time (the surge node), taking the cluster to %d nodes, more "
            "than node_limit %d; nothing was changed. Raise the limit (variable %s, or the account's)"
            % (total + 1, int(node_limit), NODE_LIMIT_VARIABLE)]
