# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers over Kubernetes objects as plain dicts (the API's JSON): readiness, cordoning by this
collection, PDBs, controllers and volumes of pods.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import K8sError


#: Annotations this collection writes on Nodes. Only a node carrying CORDONED_BY was
#: cordoned by us, so only such a node is ever uncordoned by us.
ANNOTATION_PREFIX = "runbooks.fournines.io/"
CORDONED_BY = ANNOTATION_PREFIX + "cordoned-by"
PHASE = ANNOTATION_PREFIX + "upgrade-phase"
#: A node that would not drain in time, left cordoned for a person (label to find them, annotations say why).
QUARANTINED = ANNOTATION_PREFIX + "quarantined"
QUARANTINED_BY = ANNOTATION_PREFIX + "quarantined-by"
QUARANTINE_REASON = ANNOTATION_PREFIX + "quarantine-reason"


# ---- readiness ------------------------------------------------------------------------------

def _condition(obj, kind):
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("status") == "True"
    return False


def node_ready(node):
    return _condition(node, "Ready")


def pod_ready(pod):
    return (pod.get("status") or {}).get("phase") == "Running" and _condition(pod, "Ready") \
        and not pod["metadata"].get("deletionTimestamp")


def ready_since(pod):
    """Epoch seconds of the pod's Ready condition's last transition, or None."""
    for cond in ((pod or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("lastTransitionTime"):
            try:
                stamp = datetime.datetime.strptime(cond["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                return None
            return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
    return None


def kubelet_version(node):
    return (((node or {}).get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion")


def node_unschedulable(node):
    return bool(((node or {}).get("spec") or {}).get("unschedulable"))


def annotations(obj):
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def cordoned_by_us(node):
    return CORDONED_BY in annotations(node)


def cordoned_by(node):
    """The owner (usually a run id) that cordoned ``node``, or None when this collection did not."""
    return annotations(node).get(CORDONED_BY)


# ---- cordon ---------------------------------------------------------------------------------

def cordon(kube, name, owner):
    """Cordon ``name`` and mark it as ours; a node someone else cordoned is left unmarked.

    Returns True when this call changed the node.
    """
    node = kube.node(name)
    if node is None:
        raise K8sError("node %r does not exist" % name)
    if node_unschedulable(node):
        return False
    kube.patch_node(name, {"spec": {"unschedulable": True}, "metadata": {"annotations": {CORDONED_BY: owner}}})
    return True


def uncordon(kube, name, force=False):
    """Uncordon ``name`` only if we cordoned it (or ``force``); drop our annotations.

    Returns True when this call changed the node; a vanished node is not an error.
    """
    node = kube.node(name)
    if node is None:
        return False
    ours = cordoned_by_us(node)
    if not ours and not force:
        return False
    patch = {"metadata": {"annotations": {CORDONED_BY: None, PHASE: None}}}
    if node_unschedulable(node):
        patch["spec"] = {"unschedulable": None}
    kube.patch_node(name, patch)
    return True


def quarantine(kube, name, owner, reason):
    """Leave ``name`` cordoned for a person: label it, say why, and drop our cordon mark.

    Without CORDONED_BY no restore of this or any run uncordons it; the label
    ``runbooks.fournines.io/quarantined=true`` finds such nodes (``kubectl get nodes -l ...``).
    """
    kube.patch_node(name, {"spec": {"unschedulable": True},
                           "metadata": {"labels": {QUARANTINED: "true"},
                                        "annotations": {CORDONED_BY: None, PHASE: "quarantined",
                                                        QUARANTINED_BY: owner, QUARANTINE_REASON: reason[:1000]}}})


def quarantined(node):
    return ((node or {}).get("metadata") or {}).get("labels", {}).get(QUARANTINED) == "true"


def set_phase(kube, name, phase):
    kube.patch_node(name, {"metadata": {"annotations": {PHASE: phase}}})


# ---- selectors and PDBs -----------------------------------------------------------------------

def selector_matches(selector, labels):
    """Evaluate a LabelSelector (matchLabels + matchExpressions) against ``labels``."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pdbs_for_pod(pod, pdbs):
    meta = pod["metadata"]
    return [p for p in pdbs if p["metadata"]["namespace"] == meta["namespace"]
            and selector_matches((p.get("spec") or {}).get("selector"), meta.get("labels"))]


def pdb_never_allows(pdb):
    """True when the budget can never allow an eviction (maxUnavailable 0, minAvailable = all).

    A budget at zero only because some pods are unhealthy right now may open up later; one
    whose desired healthy count reaches the expected pod count never will, because a
    replacement is only created after an eviction.
    """
    status = pdb.get("status") or {}
    if int(status.get("disruptionsAllowed", 0) or 0) > 0:
        return False
    expected = int(status.get("expectedPods", 0) or 0)
    desired = int(status.get("desiredHealthy", 0) or 0)
    return expected > 0 and desired >= expected


def pdb_name(pdb):
    return "%s/%s" % (pdb["metadata"]["namespace"], pdb["metadata"]["name"])


# ---- pods ------------------------------------------------------------------------------------

def controller_of(pod):
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def is_daemonset_pod(pod):
    ref = controller_of(pod)
    return bool(ref and ref.get("kind") == "DaemonSet")


def is_mirror_pod(pod):
    return "kubernetes.io/config.mirror" in annotations(pod)


def is_finished(pod):
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_key(pod):
    return "%s/%s" % (pod["metadata"]["namespace"], pod["metadata"]["name"])


def local_volumes(pod):
    """Names of volumes that a recycle erases (emptyDir, hostPath, local PVs are not seen here)."""
    out = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if "emptyDir" in vol or "hostPath" in vol:
            out.append(vol["name"])
    return out


def pvc_claims(pod):
    return [v["persistentVolumeClaim"]["claimName"] for v in (pod.get("spec") or {}).get("volumes") or []
            if v.get("persistentVolumeClaim")]
