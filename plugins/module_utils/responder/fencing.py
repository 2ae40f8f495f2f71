# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fencing: ask the Linode API whether a lost Node's instance can still write to its volumes.

The ``node.kubernetes.io/out-of-service`` taint force-deletes a node's pods and detaches its
volumes at once; on a node that still runs (a network partition, a hung kubelet) that lets two
writers at one ReadWriteOnce volume. So a node counts as fenced only when the cloud says its
instance is gone (404), powered off, or replaced by LKE; everything else, including an API that
does not answer before the deadline, means: do nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import LinodeError, instance_id_of

#: Verdicts that allow the taint. ``deleted``: the instance answers 404 and an LKE pool still lists
#: it (LKE has not replaced it yet); ``replaced``: 404 and no pool lists it any more; ``offline``: powered off.
FENCED = ("deleted", "replaced", "offline")
#: Instance statuses that may still run the node's containers (anything not offline counts too).
RUNNING = ("running", "booting", "rebooting", "shutting_down", "provisioning", "migrating", "resizing", "restoring")


def _pool_instance_ids(lke):
    ids = set()
    for pool in lke.pools():
        for node in pool.get("nodes") or []:
            if node.get("instance_id") is not None:
                ids.add(int(node["instance_id"]))
    return ids


def fence(lke, node):
    """The fencing verdict for one Kubernetes Node (a dict from the API).

    Returns ``{node, instance_id, verdict, fenced, reason, status, checked}``; ``verdict`` is one of
    FENCED, ``running`` (the instance may still write), ``foreign`` (not this cluster's instance),
    ``no_instance`` (no linode:// providerID) or ``unknown`` (the API failed past its deadline).
    Never raises for an API failure: an unanswered question is a "no".
    """
    name = ((node or {}).get("metadata") or {}).get("name")
    result = {"node": name, "instance_id": instance_id_of(node), "verdict": "unknown", "fenced": False,
              "status": None, "reason": "", "checked": time.time()}
    if result["instance_id"] is None:
        result.update(verdict="no_instance", reason="node %s has no Linode instance (spec.providerID %r); "
                      "cannot confirm it is gone, did nothing" % (name, ((node or {}).get("spec") or {}).get("providerID")))
        return result
    iid = result["instance_id"]
    try:
        inst = lke.instance(iid)
        if inst is None:
            replaced = iid not in _pool_instance_ids(lke)
            result.update(verdict="replaced" if replaced else "deleted", fenced=True, status="deleted",
                          reason="instance %d no longer exists (HTTP 404)%s" % (
                              iid, "; LKE has replaced it in the pool" if replaced else ""))
        elif inst.get("lke_cluster_id") not in (None, lke.cluster_id):
            result.update(verdict="foreign", status=inst.get("status"),
                          reason="instance %d belongs to LKE cluster %s, not %s; did nothing" % (
                              iid, inst.get("lke_cluster_id"), lke.cluster_id))
        elif inst.get("status") == "offline":
            result.update(verdict="offline", fenced=True, status="offline", reason="instance %d is powered off" % iid)
        else:
            result.update(verdict="running", status=inst.get("status"),
                          reason="instance %d is %s: it may still write to its volumes (a network partition or a "
                          "hung kubelet), so no taint" % (iid, inst.get("status")))
    except LinodeError as err:
        result.update(verdict="unknown", reason="could not confirm, did nothing: %s" % err)
    result["checked"] = time.time()
    return result
