# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults on the Linode instance behind a Kubernetes Node, the way a real failure happens.

Chaos tools delete the Node object; a real node loss is the VM going away (or powering off)
while the Node object stays, NotReady, until the cloud replaces it. So these calls act on
``/linode/instances/{id}``: delete, shutdown, boot. Each refuses an instance that does not
belong to the LKE cluster it was given, and is idempotent (a re-run never faults twice).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import LKE, LinodeError, instance_id_of, lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import wait_until
from ansible_collections.fournines.runbooks.plugins.module_utils.common.slo import parse_time

ACTIONS = ("delete", "shutdown", "boot")
OUT_OF_SERVICE_KEY = "node.kubernetes.io/out-of-service"


class FaultError(RunbookError):
    """The fault cannot be injected as asked."""


class InstanceLKE(LKE):
    """The LKE calls plus the instance calls a drill needs."""

    def instance(self, instance_id):
        try:
            return self._call("get", "/linode/instances/%d" % int(instance_id))
        except LinodeError as err:
            if err.status == 404:
                return None
            raise

    def delete_instance(self, instance_id):
        return self._call("delete", "/linode/instances/%d" % int(instance_id), what="delete instance")

    def power(self, instance_id, action):
        return self._call("post", "/linode/instances/%d/%s" % (int(instance_id), action), data={},
                          what="%s instance" % action)


def resolve(lke, kube, node=None, instance_id=None):
    """(node name or None, instance id, instance or None), checking the instance is the cluster's."""
    if instance_id is None:
        if not node:
            raise FaultError("give the node's name or its Linode instance id")
        obj = kube.node(node)
        if obj is None:
            raise FaultError("node %r does not exist in the cluster at %s; nothing was changed" % (node, kube.host))
        instance_id = instance_id_of(obj)
        if instance_id is None:
            raise FaultError("node %r has no Linode instance (spec.providerID is %r, expected linode://<id>); "
                             "nothing was changed" % (node, (obj.get("spec") or {}).get("providerID")))
    inst = lke.instance(instance_id)
    if inst is not None and inst.get("lke_cluster_id") not in (None, lke.cluster_id):
        raise FaultError("instance %s belongs to LKE cluster %s, not %s; nothing was changed" % (
            instance_id, inst.get("lke_cluster_id"), lke.cluster_id))
    return node, int(instance_id), inst


def inject(lke, kube, action, node=None, instance_id=None, check_mode=False, wait=False, deadline=None, poll=1.0):
    """Apply ``action`` to the node's instance. Returns a result dict with ``changed`` and ``ts``."""
    if action not in ACTIONS:
        raise FaultError("action %r is not known; valid actions: %s" % (action, ", ".join(ACTIONS)))
    node, instance_id, inst = resolve(lke, kube, node, instance_id)
    before = inst.get("status") if inst else "deleted"
    result = {"action": action, "node": node, "instance_id": instance_id, "before": before, "ts": None}
    if action == "delete":
        changed = inst is not None
    elif action == "shutdown":
        if inst is None:
            raise FaultError("instance %s does not exist, so it cannot be shut down" % instance_id)
        changed = before not in ("offline", "shutting_down")
    else:
        if inst is None:
            raise FaultError("instance %s does not exist (deleted), so it cannot be booted" % instance_id)
        changed = before not in ("running", "booting")
    result["changed"] = changed
    if check_mode or not changed:
        return result
    result["ts"] = time.time()
    if action == "delete":
        lke.delete_instance(instance_id)
    else:
        lke.power(instance_id, action)
    if wait and deadline is not None:
        if action == "boot":
            def booted():
                if (lke.instance(instance_id) or {}).get("status") != "running":
                    return False
                if not node or kube is None:
                    return True
                return objects.node_ready(kube.node(node))
            wait_until(booted, deadline, poll, "instance %s to run and node %s to be Ready" % (instance_id, node))
        elif action == "shutdown":
            wait_until(lambda: (lke.instance(instance_id) or {}).get("status") == "offline", deadline, poll,
                       "instance %s to be offline" % instance_id)
        else:
            wait_until(lambda: lke.instance(instance_id) is None, deadline, poll,
                       "instance %s to be gone" % instance_id)
    return result


def instance_lke_from_params(params):
    """An :class:`InstanceLKE` built the way linode.lke_from_params builds its LKE."""
    base = lke_from_params(params)
    return InstanceLKE(base.client, base.cluster_id)


# ---- taints the drill adds (node.kubernetes.io/out-of-service) ----------------------------------

#: Annotation listing the taints this collection added ("key:effect,..."), so only those are removed.
ADDED_TAINTS = objects.ANNOTATION_PREFIX + "added-taints"


def _added(node):
    text = objects.annotations(node).get(ADDED_TAINTS) or ""
    return [t for t in text.split(",") if t]


def set_taint(kube, name, key, value=None, effect="NoExecute", present=True, force=False, check_mode=False):
    """Add (present) or remove a taint; returns (changed, before taints, after taints).

    Removal only touches a taint this collection added (recorded in an annotation) unless
    ``force``. The node's resourceVersion guards the read-modify-write of the taint list.
    """
    node = kube.node(name)
    if node is None:
        if present:
            raise FaultError("node %r does not exist; cannot taint it" % name)
        return False, [], []
    taints = list((node.get("spec") or {}).get("taints") or [])
    ident = "%s:%s" % (key, effect)
    has = [t for t in taints if t.get("key") == key and t.get("effect") == effect]
    added = _added(node)
    if present:
        if has:
            return False, taints, taints
        new = taints + [dict({"key": key, "effect": effect}, **({"value": value} if value else {}))]
        added = added + [ident]
    else:
        if not has or (ident not in added and not force):
            return False, taints, taints
        new = [t for t in taints if not (t.get("key") == key and t.get("effect") == effect)]
        added = [a for a in added if a != ident]
    if not check_mode:
        kube.patch_node(name, {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"],
                                            "annotations": {ADDED_TAINTS: ",".join(added) or None}},
                               "spec": {"taints": new or None}})
    return True, taints, new


def earlier_fault_ts(journal, step_name):
    """When an earlier attempt of this run's fault step acted: the request's time it noted, else when the
    step started (interrupted before it was noted); None without such a step (or without a journal)."""
    step = journal.find_step(step_name) if journal is not None else None
    if step is None:
        return None
    return step["details"].get("ts") or parse_time(step["started"]).timestamp()
