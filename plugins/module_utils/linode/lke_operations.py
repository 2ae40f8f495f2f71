# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LKE changes with waits that end on what Kubernetes sees, not on what the API accepted.

A recycle is done when the node's new instance is a Ready Node with the target kubelet
minor; a delete when the Node is gone; a resize when every pool node is a Ready Node.
Every function is idempotent: re-running after an interruption never repeats a change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import versions
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import LinodeError, instance_id_of
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import wait_until


class LKEOpError(RunbookError):
    """An LKE change was refused or did not complete in time."""


def _nodes_by_instance(kube):
    return dict((instance_id_of(n), n) for n in kube.nodes() if instance_id_of(n) is not None)


def node_state(lke, kube, node_id, target=None):
    """The LKE node joined to its Node: dict(id, instance_id, status, node_name, ready, kubelet_version, at_target)."""
    try:
        node = lke.node(node_id)
    except LinodeError as err:
        if err.status == 404:
            return None
        raise
    k8s_node = _nodes_by_instance(kube).get(node.get("instance_id")) if node.get("instance_id") else None
    out = {"id": node["id"], "instance_id": node.get("instance_id"), "status": node.get("status"),
           "node_name": k8s_node["metadata"]["name"] if k8s_node else None,
           "ready": bool(k8s_node) and objects.node_ready(k8s_node),
           "kubelet_version": objects.kubelet_version(k8s_node) if k8s_node else None}
    out["at_target"] = bool(target and out["kubelet_version"] and versions.version_at_least(out["kubelet_version"], target))
    return out


def _every(seconds, progress, text):
    """An on_wait callback that reports ``text`` at most every ``seconds``."""
    state = {"next": seconds}

    def on_wait(elapsed):
        if progress is not None and elapsed >= state["next"]:
            state["next"] = elapsed + seconds
            progress("%s (%.0f s so far)" % (text, elapsed))
    return on_wait


def upgrade_control_plane(lke, target, deadline, check_mode=False, poll=2.0, progress=None):
    """Raise the control plane one minor; return (changed, before, after)."""
    cluster = lke.cluster()
    before = cluster["k8s_version"]
    step = versions.plan_step(before, target, lke.versions())
    if step == "at_target":
        return False, before, before
    if check_mode:
        return True, before, versions.minor(target)
    lke.set_version(versions.minor(target))

    def done():
        now = lke.cluster()
        return versions.minor(now["k8s_version"]) == versions.minor(target) and now.get("status", "ready") == "ready"
    what = "cluster %s to report Kubernetes %s" % (lke.cluster_id, versions.minor(target))
    wait_until(done, deadline, poll, what, on_wait=_every(10, progress, "waiting for " + what))
    return True, before, versions.minor(target)


def pool_ready(lke, kube, pool_id):
    """(ok, pool, pending node ids): every node of the pool is provisioned and a Ready Node."""
    pool = lke.pool(pool_id)
    nodes = pool.get("nodes") or []
    by_instance = _nodes_by_instance(kube)
    pending = []
    for node in nodes:
        k8s_node = by_instance.get(node.get("instance_id"))
        if not node.get("instance_id") or node.get("status") != "ready" or k8s_node is None \
                or not objects.node_ready(k8s_node):
            pending.append(node["id"])
    return (len(nodes) == int(pool["count"]) and not pending), pool, pending


def resize_pool(lke, kube, pool_id, count, deadline, wait=True, check_mode=False, poll=1.0, progress=None):
    pool = lke.pool(pool_id)
    before_ids = [n["id"] for n in pool.get("nodes") or []]
    if (pool.get("autoscaler") or {}).get("enabled"):
        raise LKEOpError("pool %s has the autoscaler enabled (min %s, max %s); disable it or let the autoscaler own "
                         "the size" % (pool_id, pool["autoscaler"].get("min"), pool["autoscaler"].get("max")))
    changed = int(pool["count"]) != int(count)
    if check_mode:
        return {"changed": changed, "before": pool["count"], "after": int(count), "added": [], "pool": pool}
    if changed:
        lke.resize_pool(pool_id, count)
    if wait:
        what = "pool %s to have %d Ready nodes" % (pool_id, count)
        wait_until(lambda: pool_ready(lke, kube, pool_id)[0], deadline, poll, what,
                   on_wait=_every(10, progress, "waiting for " + what))
    after = lke.pool(pool_id)
    added = [n["id"] for n in after.get("nodes") or [] if n["id"] not in before_ids]
    return {"changed": changed, "before": pool["count"], "after": after["count"], "added": added, "pool": after}


def recycle_batch(lke, kube, nodes, target, deadline, check_mode=False, poll=1.0, progress=None):
    """Recycle LKE nodes together unless they already were; wait for each new instance's Node.

    ``nodes`` is a list of {"id", "instance_id"}; ``instance_id`` is the instance to replace.
    If a node already has another instance (or none, while it provisions), the recycle was
    requested before (an interrupted run) and only the wait remains, so a node is never
    recycled twice.
    """
    results = []
    on_target = {}  # node id -> its state, for nodes given without an instance that already run the target
    for spec in nodes:
        state = node_state(lke, kube, spec["id"], target)
        if state is None:
            raise LKEOpError("LKE node %s does not exist in cluster %s" % (spec["id"], lke.cluster_id))
        old = spec.get("instance_id") if spec.get("instance_id") is not None else state["instance_id"]
        needs = state["instance_id"] is not None and state["instance_id"] == old
        if needs and spec.get("instance_id") is None and state["at_target"]:
            needs = False  # already runs the target: nothing to replace, nothing to wait for
            on_target[spec["id"]] = state
        results.append({"node_id": spec["id"], "old_instance_id": old, "old_node_name": state["node_name"],
                        "changed": needs})
    if check_mode:
        return results
    started = time.time()
    for res in results:
        if res["changed"]:
            try:
                lke.recycle_node(res["node_id"])
            except LinodeError as err:
                if err.status != 409:
                    raise
                res["changed"] = False  # busy: a recycle is already under way, so only wait
    for res in results:
        node_id, old = res["node_id"], res["old_instance_id"]
        if node_id in on_target:
            state = on_target[node_id]
            res.update(new_instance_id=state["instance_id"], node_name=state["node_name"],
                       kubelet_version=state["kubelet_version"], seconds=0.0)
            continue

        def done():
            now = node_state(lke, kube, node_id, target)
            if now is None:
                raise LKEOpError("LKE node %s vanished while it was being recycled" % node_id)
            return now if (now["instance_id"] not in (None, old) and now["status"] == "ready" and now["ready"]
                           and now["at_target"]) else None
        what = "node %s to come back as a Ready Node running %s" % (node_id, versions.minor(target))
        final = wait_until(done, deadline, poll, what, on_wait=_every(10, progress, "waiting for " + what))
        res.update(new_instance_id=final["instance_id"], node_name=final["node_name"],
                   kubelet_version=final["kubelet_version"], seconds=round(time.time() - started, 1))
    return results


def delete_node(lke, kube, node_id, deadline, check_mode=False, poll=1.0):
    """Delete an LKE node (the pool shrinks by one) and wait until its Node is gone."""
    state = node_state(lke, kube, node_id)
    if state is None:
        return {"changed": False, "node_id": node_id}
    result = {"changed": True, "node_id": node_id, "instance_id": state["instance_id"], "node_name": state["node_name"]}
    if check_mode:
        return result
    lke.delete_node(node_id)
    instance = state["instance_id"]
    if instance is not None:
        wait_until(lambda: instance not in _nodes_by_instance(kube), deadline, poll,
                   "Node of instance %s to leave the cluster" % instance)
    return result


def unfinished_recycles(steps, still_old):
    """The node lists of ``recycle ...`` journal steps a killed run left running whose nodes are no longer among
    ``still_old`` (node ids the batches will still roll): their recycle went through before the kill, so the
    batches will not visit them again and only the wait for their Node and the step's end remain."""
    still_old = {str(i) for i in still_old}
    found = []
    for step in steps or []:
        nodes = (step.get("details") or {}).get("nodes") or []
        if (step.get("status") == "running" and str(step.get("name", "")).startswith("recycle ") and nodes
                and not any(str(n.get("id")) in still_old for n in nodes)):
            found.append([{"id": str(n["id"]), "instance_id": n.get("instance_id")} for n in nodes])
    return found


def pool_surge(lke, kube, pool_id, target, deadline, journal=None, check_mode=False, progress=None, on_change=None):
    """Surge a pool by one node for its rollout, once, resumably.

    The pool's original size and node ids are remembered in the journal before the resize,
    and the surge node id after it, so a re-run after an interruption finds the same surge
    node instead of adding another. Returns the old nodes still to roll (not on ``target``,
    surge excluded) and the surge node; nothing is resized when no old node is left.
    """
    from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_view import (
        cluster_view,
        find_pool,
    )
    key = str(pool_id)
    facts = journal.state["facts"] if journal is not None else {}
    pool = find_pool(cluster_view(lke, kube, target), pool_id)
    ids = [n["id"] for n in pool["nodes"]]
    surge_id = (facts.get("surge_nodes") or {}).get(key)
    surge_id = surge_id if surge_id in ids else None
    old = [n for n in pool["nodes"] if not n.get("at_target") and n["id"] != surge_id]
    original = int((facts.get("pool_counts") or {}).get(key, pool["count"] - (1 if surge_id else 0)))
    out = {"changed": False, "pool_id": int(pool_id), "original_count": original, "old": old,
           "surge_node_id": surge_id, "surge_node_name": None}
    if old:
        before = (facts.get("pool_nodes") or {}).get(key)
        if before is None:
            before = ids
            if journal is not None and not check_mode:
                journal.set_fact("pool_nodes", dict(facts.get("pool_nodes") or {}, **{key: before}))
        if on_change is not None and int(pool["count"]) != original + 1 and not check_mode:
            on_change()
        resized = resize_pool(lke, kube, pool_id, original + 1, deadline, wait=True, check_mode=check_mode,
                              progress=progress)
        out["changed"] = resized["changed"]
        if check_mode:
            return out
        if surge_id is None:
            new = resized["added"] or [n["id"] for n in resized["pool"]["nodes"] if n["id"] not in before]
            surge_id = new[0] if new else None
            if surge_id is not None and journal is not None:
                journal.set_fact("surge_nodes", dict(facts.get("surge_nodes") or {}, **{key: surge_id}))
            # a run cut off before it noted its surge node: that node, still joining, looked old above
            out["old"] = [n for n in old if n["id"] != surge_id]
        out["surge_node_id"] = surge_id
    if surge_id is not None:
        state = node_state(lke, kube, surge_id, target)
        out["surge_node_name"] = state["node_name"] if state else None
    return out
