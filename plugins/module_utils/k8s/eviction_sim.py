# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Simulate a whole node rollout's evictions against every PodDisruptionBudget, before any node is bought.

The rollout drains its batches in order. A drain evicts every pod of the batch's nodes, retries the
evictions a budget refuses (HTTP 429) and finishes only when each evicted pod's controller has its
pods Ready again on other nodes. So a batch can finish when, for every budget covering its pods:

* the budget allows a disruption at all: not V(0) because some of its pods are unhealthy now (an
  eviction never heals them), unless the run relaxes it;
* each evicted pod's replacement can run on a node that is up while the batch drains (the new or
  surge nodes, nodes outside the rollout, nodes recycled by earlier batches): its nodeSelector,
  required node affinity and tolerations are checked against those nodes' labels and taints. A pod
  that can only come back after a move (on its own node once recycled, or pinned by hostname) keeps
  the budget's disruption used; when a batch holds more such pods of a budget than the budget
  allows, the evictions are refused for ever, and even within the budget the drain waits for a
  replacement that cannot run;
* a replacement whose claim is bound to a PersistentVolume with node affinity (a local volume) can run
  only on the nodes that affinity names: a drained node never comes back under its old name, so such a
  pod has nowhere to go (``volume_pinned``);
* the replacements fit: where the nodes' allocatable resources are known, each batch's pods are placed
  by their requests on the nodes that are up then, after the pods of the batches before them
  (``no_room`` for those that find no room; the replacement would stay Pending).

Pure functions over plain dicts as the API returns them. :func:`simulate` takes the plan's batches,
so any strategy (surge, blue-green) can pass its own order; ``new_nodes`` are the nodes the strategy
adds before it drains (the surge node, the new pool), given as templates (labels and taints).
``refused_now`` are pods a server-side dry-run eviction refused (HTTP 429) just now: their budgets
are taken as allowing nothing, whatever their status says.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.capacity import RESOURCES, node_free, pod_requests

#: The runbook's variables a refusal points at (documented in roles/cluster_preflight and node_pool_rollout).
RELAX_PDBS_VARIABLE = "cluster_preflight_relax_pdbs"
CONCURRENCY_VARIABLE = "cluster_preflight_concurrency"
UNDRAINABLE_VARIABLE = "upgrade_cluster_undrainable"
HOSTNAME_LABEL = "kubernetes.io/hostname"
#: taints a node carries for its state (cordoned, not ready, quarantined), not for what it is: a new node has none
_TRANSIENT_TAINTS = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/", "runbooks.fournines.io/")


def _labels(node):
    return (node.get("metadata") or {}).get("labels") or {}


def _expression_matches(expr, labels):
    key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return not (key in labels and labels[key] in values)
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, IndexError, ValueError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def _tolerates(pod, taint):
    for tol in (pod.get("spec") or {}).get("tolerations") or []:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists":
            if not tol.get("key") or tol["key"] == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _terms_match(terms, labels):
    terms = [t for t in terms or [] if t.get("matchExpressions")]
    return not terms or any(all(_expression_matches(e, labels) for e in t["matchExpressions"]) for t in terms)


def volume_pins(pods, pvcs, pvs):
    """{pod key: [(PersistentVolume name, claim, nodeSelectorTerms)]} for pods whose claims are bound to a
    volume with required node affinity (local volumes: a pod can only run where its data is)."""
    claims = dict(((c["metadata"].get("namespace"), c["metadata"]["name"]), c) for c in pvcs or [])
    volumes = dict((v["metadata"]["name"], v) for v in pvs or [])
    out = {}
    for pod in pods:
        for claim in objects.pvc_claims(pod):
            pvc = claims.get((pod["metadata"]["namespace"], claim)) or {}
            pv = volumes.get((pvc.get("spec") or {}).get("volumeName") or "")
            terms = ((((pv or {}).get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get(
                "nodeSelectorTerms")
            if terms:
                out.setdefault(objects.pod_key(pod), []).append((pv["metadata"]["name"], claim, terms))
    return out


def placement_problem(pod, node, pins=()):
    """Why ``pod`` cannot run on ``node`` (nodeSelector, required node affinity, taints, the node affinity of
    its bound volumes ``pins`` as volume_pins() gives them), or None when it can."""
    spec = pod.get("spec") or {}
    labels = _labels(node)
    for volume, claim, terms in pins or ():
        if not _terms_match(terms, labels):
            return "PersistentVolume %s (claim %s) node affinity" % (volume, claim)
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return "nodeSelector %s=%s" % (key, value)
    required = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
                 .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    if not _terms_match(required, labels):
        return "required node affinity"
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(pod, taint):
            return "taint %s=%s:%s" % (taint.get("key"), taint.get("value") or "", taint.get("effect"))
    return None


def recycled(node, suffix="(recycled)"):
    """The node a recycle gives back: same labels and taints, a new name (so a hostname pin no longer matches)."""
    meta = dict(node.get("metadata") or {})
    name = "%s %s" % (meta.get("name"), suffix)
    meta["name"] = name
    meta["labels"] = dict(_labels(node), **{HOSTNAME_LABEL: name})
    taints = [t for t in (node.get("spec") or {}).get("taints") or []
              if not str(t.get("key", "")).startswith(_TRANSIENT_TAINTS)]
    # allocatable as the source node's; "source" names it, for the room its DaemonSet pods take on any such node
    status = {"allocatable": dict(((node.get("status") or {}).get("allocatable")) or {})}
    return {"metadata": meta, "spec": {"taints": taints}, "status": status,
            "source": node.get("source") or (node.get("metadata") or {}).get("name")}


def _moves(pod):
    return not (objects.is_daemonset_pod(pod) or objects.is_mirror_pod(pod) or objects.is_finished(pod)
                or (pod.get("metadata") or {}).get("deletionTimestamp"))


def _budget_state(pdbs, refused_now, pods):
    refused_pdbs = set()
    for pod in pods:
        if objects.pod_key(pod) in refused_now:
            refused_pdbs.update(objects.pdb_name(b) for b in objects.pdbs_for_pod(pod, pdbs))
    state = {}
    for pdb in pdbs:
        status = pdb.get("status") or {}
        name = objects.pdb_name(pdb)
        state[name] = {"allowed": 0 if name in refused_pdbs else int(status.get("disruptionsAllowed", 0) or 0),
                       "current": int(status.get("currentHealthy", 0) or 0),
                       "desired": int(status.get("desiredHealthy", 0) or 0),
                       "expected": int(status.get("expectedPods", 0) or 0),
                       "refused_now": name in refused_pdbs}
    return state


def _where(index, names):
    return "batch %d (%s)" % (index + 1, ", ".join(names))


def _room(node, pods_on):
    """Free requests of ``node`` (allocatable less ``pods_on``), or None when its allocatable is not known."""
    alloc = (node.get("status") or {}).get("allocatable") or {}
    if not alloc.get("cpu") and not alloc.get("memory"):
        return None
    free = node_free(node, pods_on)
    for res in RESOURCES:
        if res not in alloc:
            free[res] = float("inf")
    return free


def _place(pods, landing, room, pins, skip):
    """Place ``pods`` (largest requests first) on the first ``landing`` node that accepts each and has room;
    ``room`` is updated. Returns {pod key: why} for the pods that find no room."""
    no_room = {}
    sized = [(pod_requests(p), p) for p in pods if objects.controller_of(p) is not None and objects.pod_key(p) not in skip]
    for req, pod in sorted(sized, key=lambda rp: (rp[0]["cpu"], rp[0]["memory"]), reverse=True):
        key = objects.pod_key(pod)
        accepting = [n for n in landing if placement_problem(pod, n, pins.get(key)) is None]
        for node in accepting:
            free = room.get(node["metadata"]["name"])
            if free is None:
                break
            if all(free[res] >= req[res] for res in RESOURCES):
                for res in RESOURCES:
                    free[res] -= req[res]
                break
        else:
            no_room[key] = ("it requests %g CPU and %d MiB, more than any node that accepts it has left (%d such "
                            "node(s) up then)" % (req["cpu"], int(req["memory"] / 1048576), len(accepting)))
    return no_room


def simulate(batches, pods, pdbs, nodes, new_nodes=(), relaxed_pdbs=(), refused_now=(), nodes_return=True,
             pvcs=(), pvs=()):
    """Walk ``batches`` (lists of node names, in the order the rollout drains them) and find where it would stall.

    ``nodes`` are the cluster's Nodes now; every node named in a batch is taken as cordoned from the start
    (the rollout cordons the old nodes first so pods land on new ones) until its batch is done, when it
    comes back as a recycled node (``nodes_return``; False for a strategy that deletes drained nodes).
    ``pvcs`` and ``pvs`` (the claims and volumes as the API returns them) pin pods to where their local
    volumes are. Budgets that can never allow an eviction (objects.pdb_never_allows) are left to the pdb
    gate unless relaxed. Returns ``{"ok": bool, "stalls": [...], "batches": [...]}``; each stall names the
    budget (or None), the batch and node, the pods, why, and ``relax``: what would let the plan finish.
    """
    relaxed = set(relaxed_pdbs or [])
    refused = set(refused_now or [])
    pins = volume_pins(pods, pvcs, pvs)
    by_name = dict((n["metadata"]["name"], n) for n in nodes)
    in_rollout = set(name for batch in batches for name in batch)
    running = {}  # node name -> pods that take room there (DaemonSet pods too)
    for pod in pods:
        if not objects.is_finished(pod):
            running.setdefault((pod.get("spec") or {}).get("nodeName"), []).append(pod)
    room = {}

    def land(node, pods_on):
        landing.append(node)
        room[node["metadata"]["name"]] = _room(node, pods_on)

    def daemons_of(node):
        return [p for p in running.get(node.get("source") or node["metadata"]["name"], []) if objects.is_daemonset_pod(p)]

    landing = []
    for node in nodes:
        if node["metadata"]["name"] not in in_rollout and not objects.node_unschedulable(node) and objects.node_ready(node):
            land(node, running.get(node["metadata"]["name"], []))
    for node in new_nodes or []:
        land(node, daemons_of(node))
    budget = _budget_state(pdbs, refused, pods)
    by_node = {}
    for pod in pods:
        if _moves(pod):
            by_node.setdefault((pod.get("spec") or {}).get("nodeName"), []).append(pod)
    stalls, report = [], []
    for index, batch in enumerate(batches):
        moving = [p for name in batch for p in by_node.get(name, [])]
        homeless = {}
        for pod in moving:
            if objects.controller_of(pod) is None:
                continue  # a bare pod is the bare_pods gate's; nothing recreates it anyway
            key = objects.pod_key(pod)
            if not any(placement_problem(pod, n, pins.get(key)) is None for n in landing):
                why = sorted(set(placement_problem(pod, n, pins.get(key)) for n in landing)) or ["no node is up"]
                homeless[key] = ", ".join(why)
        no_room = _place(moving, landing, room, pins, homeless)
        per_pdb = {}
        for pod in moving:
            for pdb in objects.pdbs_for_pod(pod, pdbs):
                per_pdb.setdefault(objects.pdb_name(pdb), (pdb, []))[1].append(pod)
        row = {"batch": index + 1, "nodes": list(batch), "evictions": len(moving), "budgets": {}}
        for name, (pdb, covered) in sorted(per_pdb.items()):
            state = budget[name]
            row["budgets"][name] = {"allowed": state["allowed"], "pods": len(covered)}
            guarded = [p for p in covered if (p.get("status") or {}).get("phase") == "Running" and not (
                (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow" and not objects.pod_ready(p))]
            if not guarded:
                continue  # pending or unhealthy-and-always-allowed pods are evicted whatever the budget says
            keys = [objects.pod_key(p) for p in guarded]
            node_of = dict((objects.pod_key(p), p["spec"]["nodeName"]) for p in guarded)
            allowed = state["allowed"]
            if name in relaxed:
                allowed = max(allowed, 1)
            elif objects.pdb_never_allows(pdb):
                continue  # reported by the pdb gate with its own advice
            if allowed <= 0 and not state["refused_now"] and state["current"] >= state["desired"]:
                # at zero only while some pods start (all it needs are healthy): the drain retries until they are
                row["budgets"][name]["waits"] = True
            elif allowed <= 0:
                if state["refused_now"]:
                    reason = "a server-side dry-run eviction was refused just now (it allows 0 disruptions)"
                else:
                    reason = ("%d of its %d pods are healthy and it needs %d, and an eviction never heals them"
                              % (state["current"], state["expected"], state["desired"]))
                _add(stalls, {"pdb": name, "kind": "budget_at_zero", "batch": index + 1, "nodes": list(batch),
                              "node": node_of[keys[0]], "pods": keys, "reason": reason,
                              "relax": [RELAX_PDBS_VARIABLE, UNDRAINABLE_VARIABLE]})
                continue
            stuck = [k for k in keys if k in homeless or k in no_room]
            if len(stuck) > allowed:
                spread = len(set(node_of[k] for k in stuck)) > 1
                _add(stalls, {"pdb": name, "kind": "budget_used_up", "batch": index + 1, "nodes": list(batch),
                              "node": node_of[stuck[allowed]], "pods": stuck, "allowed": allowed,
                              "reason": "; ".join(sorted(set(homeless.get(k) or no_room[k] for k in stuck))),
                              "relax": [RELAX_PDBS_VARIABLE] + ([CONCURRENCY_VARIABLE] if spread else [])})
                for key in stuck:
                    homeless.pop(key, None)  # explained by the budget
                    no_room.pop(key, None)
        node_of_pod = dict((objects.pod_key(p), p["spec"]["nodeName"]) for p in moving)
        for key, why in sorted(homeless.items()):
            pinned = all(w.startswith("PersistentVolume ") for w in why.split(", "))
            _add(stalls, {"pdb": None, "kind": "volume_pinned" if pinned else "no_landing", "batch": index + 1,
                          "nodes": list(batch), "node": node_of_pod[key], "pods": [key], "reason": why,
                          "relax": [UNDRAINABLE_VARIABLE]})
        if no_room:
            keys = sorted(no_room)
            _add(stalls, {"pdb": None, "kind": "no_room", "batch": index + 1, "nodes": list(batch),
                          "node": node_of_pod[keys[0]], "pods": keys, "reason": no_room[keys[0]],
                          "relax": [CONCURRENCY_VARIABLE] if nodes_return else [UNDRAINABLE_VARIABLE]})
        report.append(row)
        if nodes_return:
            for name in batch:
                if name in by_name:
                    node = recycled(by_name[name])
                    land(node, daemons_of(node))
    for stall in stalls:
        stall["message"] = stall_message(stall)
    return {"ok": not stalls, "stalls": stalls, "batches": report}


def _add(stalls, stall):
    """One stall per budget and kind (the first batch where it stops the rollout); later batches add their pods."""
    for known in stalls:
        if stall["pdb"] is not None and (known["pdb"], known["kind"]) == (stall["pdb"], stall["kind"]):
            known["pods"].extend(k for k in stall["pods"] if k not in known["pods"])
            return
    stalls.append(stall)


def stall_message(stall):
    """One sentence: what would stall, where, why, and the variable that would let the plan finish."""
    where = "%s, node %s" % (_where(stall["batch"] - 1, stall["nodes"]), stall["node"])
    if stall["kind"] == "budget_at_zero":
        return ("PodDisruptionBudget %s allows 0 disruptions now: %s, so the rollout would stall at %s (pods %s). "
                "Fix its unhealthy pods first, or let the run relax it (variable %s), or leave that node to a "
                "person (variable %s=quarantine)" % (stall["pdb"], stall["reason"], where, ", ".join(stall["pods"]),
                                                     RELAX_PDBS_VARIABLE, UNDRAINABLE_VARIABLE))
    if stall["kind"] == "budget_used_up":
        return ("PodDisruptionBudget %s would stall the rollout at %s: it allows %d disruption(s) but %d of its pods "
                "there (%s) can come back only after a move (%s), so the next eviction is refused for ever. Let the "
                "run relax it (variable %s)%s, or let those pods run on the new nodes"
                % (stall["pdb"], where, stall["allowed"], len(stall["pods"]), ", ".join(stall["pods"]),
                   stall["reason"], RELAX_PDBS_VARIABLE,
                   (" or drain fewer nodes at a time (variable %s)" % CONCURRENCY_VARIABLE)
                   if CONCURRENCY_VARIABLE in stall["relax"] else ""))
    if stall["kind"] == "volume_pinned":
        return ("pod %s cannot be replaced while %s drains: its %s pins it to a node the rollout replaces, so the "
                "replacement would stay Pending until the drain's deadline. Move its data to storage the new nodes "
                "can reach (a replica there, or a backup restored onto a new claim), or leave that node to a person "
                "(variable %s=quarantine)" % (", ".join(stall["pods"]), where, stall["reason"], UNDRAINABLE_VARIABLE))
    if stall["kind"] == "no_room":
        advice = ("drain fewer nodes at a time (variable %s)" % CONCURRENCY_VARIABLE
                  if CONCURRENCY_VARIABLE in stall["relax"] else
                  "make room on the nodes outside the pool, or leave that node to a person (variable %s=quarantine)"
                  % UNDRAINABLE_VARIABLE)
        return ("pods %s would not fit anywhere while %s drains: %s, so their replacements would stay Pending "
                "until the drain's deadline. Free room on the other nodes, lower the pods' requests, or %s"
                % (", ".join(stall["pods"]), where, stall["reason"], advice))
    return ("pod %s cannot be replaced while %s drains: no node that is up then accepts it (%s), and the drain "
            "would wait for its replacement until its deadline. Let it run on the new nodes, or leave that node to a "
            "person (variable %s=quarantine)" % (", ".join(stall["pods"]), where, stall["reason"],
                                                 UNDRAINABLE_VARIABLE))


def new_nodes(plan, nodes):
    """Templates (labels and taints of the pool's first node) of the nodes a preflight plan adds before it drains:
    the surge node of each pool, or a blue-green pool's whole new pool (``new_pool`` nodes)."""
    by_name = dict((n["metadata"]["name"], n) for n in nodes)
    out = []
    for pool in plan:
        names = [n for n in pool.get("nodes_to_recycle") or [] if n in by_name]
        if not names:
            continue
        if pool.get("strategy") == "blue_green":
            out.extend(recycled(by_name[names[0]], "(new node %d of pool %s)" % (i + 1, pool["pool_id"]))
                       for i in range(int(pool.get("new_pool") or 0)))
        elif pool.get("surge_to", 0) > pool.get("count", 0) and not pool.get("surged"):  # else it is a node already
            out.append(recycled(by_name[names[0]], "(surge node of pool %s)" % pool["pool_id"]))
    return out


def refused_by_server(kube, pods, node_names):
    """Pod keys of ``node_names``' movable pods whose server-side dry-run eviction (dryRun=All) the API server
    refuses now with HTTP 429 (a budget says no). Changes nothing; other errors are left to the drain."""
    wanted = set(node_names)
    refused = []
    for pod in pods:
        if (pod.get("spec") or {}).get("nodeName") not in wanted or not _moves(pod) or objects.controller_of(pod) is None:
            continue
        try:
            kube.evict(pod["metadata"]["namespace"], pod["metadata"]["name"], dry_run=True)
        except client.K8sApiError as err:
            if err.status == 429:
                refused.append(objects.pod_key(pod))
    return refused
