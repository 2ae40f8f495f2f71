# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The response to one fenced node: taint, wait for its workloads to move, take the taint off.

* :func:`apply_taint` re-reads the Node and asks the fence again right before the write; a node
  that came back (Ready) or whose instance runs again gets nothing. The write carries the Node's
  resourceVersion, so a heartbeat in between makes it re-check instead of tainting a live node.
* :func:`force_delete` deletes the fenced node's pods at once, as the pod GC would on its next pass.
* :func:`wait_moved` waits until the node's pods are gone and their controllers have every
  replica Ready elsewhere, and every ReadWriteOnce volume they used is attached to another node.
* :func:`release` removes the responder's taint from a node that is Ready again; a node that is
  gone took the taint with it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.drill import fault
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import K8sApiError
from ansible_collections.fournines.runbooks.plugins.module_utils.responder import incident

_CONTROLLERS = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets"}


class ResponseError(RunbookError):
    """The response could not be carried out as asked."""


def _ident():
    return "%s:NoExecute" % incident.OUT_OF_SERVICE_KEY


def apply_taint(kube, name, run_id, refence, deadline, check_mode=False):
    """Taint ``name`` out-of-service if it is still lost and still fenced. Returns (applied, reason, verdict)."""
    while True:
        node = kube.node(name)
        if node is None:
            return False, "node %s is gone already: nothing to taint" % name, None
        if not incident.is_lost(node):
            return False, "node %s is Ready again: it came back before the taint, nothing applied" % name, None
        if incident.has_out_of_service(node):
            return False, "node %s already has the out-of-service taint" % name, None
        verdict = refence(node)
        if not verdict["fenced"]:
            return False, verdict["reason"], verdict
        if check_mode:
            return True, "would taint %s: %s" % (name, verdict["reason"]), verdict
        taints = list((node.get("spec") or {}).get("taints") or [])
        taints.append({"key": incident.OUT_OF_SERVICE_KEY, "value": incident.OUT_OF_SERVICE_VALUE, "effect": "NoExecute"})
        added = [a for a in (objects.annotations(node).get(fault.ADDED_TAINTS) or "").split(",") if a]
        if _ident() not in added:
            added.append(_ident())
        try:
            kube.patch_node(name, {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"],
                                                "annotations": {fault.ADDED_TAINTS: ",".join(added),
                                                                incident.INCIDENT: run_id,
                                                                incident.FENCED_INSTANCE: str(verdict["instance_id"])}},
                                   "spec": {"taints": taints}})
        except K8sApiError as err:
            if getattr(err, "status", None) == 409 and not deadline.expired():
                continue  # the Node changed (a heartbeat?): read it again and decide again
            raise
        return True, "tainted %s: %s" % (name, verdict["reason"]), verdict


def release(kube, name, check_mode=False, force=False):
    """Remove the responder's taint from ``name`` when it is Ready (or ``force``). Returns (removed, reason)."""
    for dummy in range(5):
        node = kube.node(name)
        if node is None:
            return False, "node %s is gone; its taint went with it" % name
        if not incident.responder_incident(node):
            return False, "node %s carries no responder taint" % name
        if incident.is_lost(node) and not force:
            return False, "node %s is still lost: the taint stays until it is gone or Ready" % name
        if check_mode:
            return True, "would remove the taint from %s" % name
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("key") != incident.OUT_OF_SERVICE_KEY]
        added = [a for a in (objects.annotations(node).get(fault.ADDED_TAINTS) or "").split(",") if a and a != _ident()]
        try:
            kube.patch_node(name, {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"],
                                                "annotations": {fault.ADDED_TAINTS: ",".join(added) or None,
                                                                incident.INCIDENT: None, incident.FENCED_INSTANCE: None}},
                                   "spec": {"taints": taints or None}})
        except K8sApiError as err:
            if getattr(err, "status", None) == 409:
                continue
            raise
        return True, "removed the out-of-service taint from %s" % name
    raise ResponseError("node %s kept changing; could not remove its taint (the next run will)" % name)


def snapshot(kube, name):
    """What ran on the node: its controller-owned pods and the volumes they claim."""
    pods = []
    for pod in kube.pods(node_name=name):
        if objects.is_daemonset_pod(pod) or objects.is_mirror_pod(pod) or objects.is_finished(pod):
            continue
        owner = objects.controller_of(pod) or {}
        pods.append({"namespace": pod["metadata"]["namespace"], "name": pod["metadata"]["name"],
                     "uid": pod["metadata"]["uid"], "owner_kind": owner.get("kind"), "owner": owner.get("name"),
                     "claims": list(objects.pvc_claims(pod))})
    return pods


def _controller_ready(kube, pod, lost_node):
    """Every replica of the pod's controller Ready on another node (counted from the pods: the controller's
    own status lags behind a force-deleted pod)."""
    kind = pod.get("owner_kind")
    if kind not in _CONTROLLERS:
        return True  # nothing would replace it; reported, not waited for
    obj = kube.get("/apis/apps/v1/namespaces/%s/%s/%s" % (pod["namespace"], _CONTROLLERS[kind], pod["owner"]),
                   ok_missing=True)
    if obj is None:
        return True
    want = int((obj.get("spec") or {}).get("replicas", 1) or 0)
    ready = [p for p in kube.pods(namespace=pod["namespace"])
             if (objects.controller_of(p) or {}).get("name") == pod["owner"]
             and (objects.controller_of(p) or {}).get("kind") == kind
             and (p.get("spec") or {}).get("nodeName") != lost_node and objects.pod_ready(p)]
    return len(ready) >= want


def force_delete(kube, name, pods):
    """Delete the fenced node's pods at once (grace 0), as the pod GC does for an out-of-service node on its
    next pass (every 20 s). Only for a node still lost; returns the pods deleted."""
    node = kube.node(name)
    if node is None or not incident.is_lost(node) or not incident.has_out_of_service(node):
        return []
    here = {p["metadata"]["uid"] for p in kube.pods(node_name=name)}
    done = []
    for pod in pods:
        if pod["uid"] not in here:
            continue
        kube.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (pod["namespace"], pod["name"]),
                     body={"gracePeriodSeconds": 0, "preconditions": {"uid": pod["uid"]}}, ok_missing=True)
        done.append("%s/%s" % (pod["namespace"], pod["name"]))
    return done


def _volume_moved(kube, namespace, claim, lost_node, attachments):
    pvc = kube.get("/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (namespace, claim), ok_missing=True)
    pv = ((pvc or {}).get("spec") or {}).get("volumeName")
    if not pv:
        return True
    mine = [va for va in attachments if ((va.get("spec") or {}).get("source") or {}).get("persistentVolumeName") == pv]
    if not mine:
        return False
    return all(va["spec"].get("nodeName") != lost_node for va in mine) and \
        any((va.get("status") or {}).get("attached") for va in mine)


def progress(kube, name, pods):
    """Which milestones are reached: pods_gone, replaced, volumes_attached (booleans)."""
    left = {p["metadata"]["uid"] for p in kube.pods(node_name=name)} if kube.node(name) is not None else set()
    gone = not any(p["uid"] in left for p in pods)
    replaced = gone and all(_controller_ready(kube, p, name) for p in pods)
    attached = gone  # no volumes: nothing to attach, counted once the pods are gone
    claims = [(p["namespace"], c) for p in pods for c in p["claims"]]
    if claims:
        try:
            attachments = kube.items("/apis/storage.k8s.io/v1/volumeattachments")
        except K8sApiError:
            attachments = None
        if attachments is not None:
            attached = gone and all(_volume_moved(kube, ns, c, name, attachments) for ns, c in claims)
    return {"pods_gone": gone, "replaced": replaced, "volumes_attached": attached}


def node_settled(kube, name):
    """'gone' when the Node object is deleted, 'ready' when it is Ready again, else None."""
    node = kube.node(name)
    if node is None:
        return "gone"
    return "ready" if not incident.is_lost(node) else None


def wait_moved(kube, name, pods, deadline, poll, marks, on_mark=None):
    """Poll until pods_gone, replaced and volumes_attached; record each milestone's time in ``marks``."""
    while True:
        state = progress(kube, name, pods)
        for key in ("pods_gone", "replaced", "volumes_attached"):
            if state[key] and key not in marks:
                marks[key] = time.time()
                if on_mark:
                    on_mark(key)
        if all(state.values()):
            return True
        if deadline.expired():
            return False
        deadline.sleep(poll)


def wait_settled(kube, name, deadline, poll):
    while True:
        settled = node_settled(kube, name)
        if settled or deadline.expired():
            return settled
        deadline.sleep(poll)
