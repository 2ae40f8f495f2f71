# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which pods a node move costs something, and which node should leave a pool so no pod moves twice.

A pod is *disruption-sensitive* when moving it means downtime: its workload runs one replica,
it has no controller, or it mounts a ReadWriteOnce claim (detach and re-attach). After a surge
rollout the pool has one node too many; removing the node that hosts the fewest sensitive pods
(ties: fewest pods, then the surge node) means a single-replica pod that landed on the surge node
is not moved a second time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects


def _replicas(obj):
    if obj is None:
        return None
    value = (obj.get("spec") or {}).get("replicas", 1)
    return int(value if value is not None else 1)


def workload_replicas(pod, replicasets, deployments, statefulsets):
    """Desired replicas of the Deployment/StatefulSet behind ``pod`` (None when unknown or bare).

    The three maps are keyed by (namespace, name).
    """
    ref = objects.controller_of(pod)
    if ref is None:
        return None
    namespace = pod["metadata"]["namespace"]
    if ref.get("kind") == "ReplicaSet":
        rs = replicasets.get((namespace, ref["name"]))
        for owner in ((rs or {}).get("metadata") or {}).get("ownerReferences") or []:
            if owner.get("controller") and owner.get("kind") == "Deployment":
                return _replicas(deployments.get((namespace, owner["name"])))
        return _replicas(rs)
    if ref.get("kind") == "StatefulSet":
        return _replicas(statefulsets.get((namespace, ref["name"])))
    return None


def sensitivity(pod, replicasets, deployments, statefulsets, pvcs):
    """Reasons moving ``pod`` costs downtime (empty list: it moves for free)."""
    if objects.is_daemonset_pod(pod) or objects.is_mirror_pod(pod) or objects.is_finished(pod):
        return []
    reasons = []
    if objects.controller_of(pod) is None:
        reasons.append("no controller")
    else:
        replicas = workload_replicas(pod, replicasets, deployments, statefulsets)
        if replicas is not None and replicas <= 1:
            reasons.append("single replica")
    namespace = pod["metadata"]["namespace"]
    for claim in objects.pvc_claims(pod):
        modes = (((pvcs.get((namespace, claim)) or {}).get("spec") or {}).get("accessModes") or [])
        if "ReadWriteOnce" in modes or "ReadWriteOncePod" in modes:
            reasons.append("ReadWriteOnce claim %s" % claim)
    return reasons


def node_costs(pods, replicasets, deployments, statefulsets, pvcs):
    """{node name: {"sensitive": [pod keys with reasons], "pods": count of movable pods}}."""
    out = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or objects.is_daemonset_pod(pod) or objects.is_mirror_pod(pod) or objects.is_finished(pod):
            continue
        entry = out.setdefault(node, {"sensitive": [], "pods": 0})
        entry["pods"] += 1
        reasons = sensitivity(pod, replicasets, deployments, statefulsets, pvcs)
        if reasons:
            entry["sensitive"].append("%s (%s)" % (objects.pod_key(pod), ", ".join(reasons)))
    return out


def pick_leaving_node(candidates, costs, prefer=None):
    """The candidate whose removal moves the fewest sensitive pods, then the fewest pods, then ``prefer``.

    ``candidates`` are node names; returns (name, ranking) where ranking lists each candidate with
    its cost, best first.
    """
    if not candidates:
        return None, []
    ranking = []
    for name in candidates:
        cost = costs.get(name) or {"sensitive": [], "pods": 0}
        ranking.append({"node_name": name, "sensitive": list(cost["sensitive"]), "pods": cost["pods"]})
    ranking.sort(key=lambda r: (len(r["sensitive"]), r["pods"], r["node_name"] != prefer, r["node_name"]))
    return ranking[0]["node_name"], ranking


def _by_key(items):
    return dict(((i["metadata"]["namespace"], i["metadata"]["name"]), i) for i in items)


def cluster_costs(kube):
    """node_costs() for the whole cluster, read through a client.Kube."""
    return node_costs(kube.pods(), _by_key(kube.items("/apis/apps/v1/replicasets")),
                      _by_key(kube.items("/apis/apps/v1/deployments")),
                      _by_key(kube.items("/apis/apps/v1/statefulsets")),
                      _by_key(kube.items("/api/v1/persistentvolumeclaims")))
