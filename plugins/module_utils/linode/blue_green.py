# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blue-green node-pool rollouts on LKE: the new ("green") pool, its plan and cost, pool deletes.

LKE creates a new pool's nodes at the cluster's current Kubernetes version, so after the control
plane upgrade a new pool of the same type and size *is* the upgraded pool. The green pool carries
the tag ``fournines-green-of-<blue pool id>``: a re-run after an interruption (even one between the
API's answer and the journal write) finds it instead of buying a second one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import DeadlineExceeded, wait_until
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import versions
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import LinodeError, instance_id_of
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_view import GREEN_TAG_PREFIX, cluster_view, find_pool
#: What a blue-green rollout costs by default when nothing was measured: seconds to create a pool and
#: see its nodes Ready, and to drain one batch (the lab's and LKE's orders of magnitude; pass measured ones).
DEFAULT_CREATE_SECONDS = 180.0
DEFAULT_DRAIN_SECONDS = 60.0


class BlueGreenError(RunbookError):
    """A blue-green step was refused, or its input is not valid."""


def green_tag(blue_pool_id):
    return "%s%s" % (GREEN_TAG_PREFIX, int(blue_pool_id))


def find_green(pools, blue_pool_id):
    """The pool tagged as the green pool of ``blue_pool_id`` (lowest id first), or None."""
    tag = green_tag(blue_pool_id)
    tagged = sorted((p for p in pools if tag in (p.get("tags") or [])), key=lambda p: int(p["id"]))
    return tagged[0] if tagged else None


def batch_count(value, count):
    """Nodes per drain batch from an int or a percentage string ("10%") of ``count``; at least 1."""
    text = str(value).strip()
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 < percent <= 100:
                raise ValueError(text)
            return max(1, int(math.ceil(int(count) * percent / 100.0)))
        number = int(text)
        if number < 1:
            raise ValueError(text)
        return number
    except ValueError:
        raise BlueGreenError("batch_size %r is not valid; give a number of nodes (1 or more) or a percentage of "
                             "the pool such as \"10%%\"" % (value,))


def batches(names, size):
    size = max(1, int(size))
    return [list(names[i:i + size]) for i in range(0, len(names), size)]


def estimate(count, batch_size, batch_soak, final_soak, drain_seconds=DEFAULT_DRAIN_SECONDS,
             create_seconds=DEFAULT_CREATE_SECONDS):
    """The plan's figures: batches, seconds the two pools coexist, the extra node-hours that costs."""
    per_batch = batch_count(batch_size, count)
    n_batches = int(math.ceil(int(count) / float(per_batch))) if count else 0
    double_seconds = float(create_seconds) + n_batches * (float(drain_seconds) + float(batch_soak)) + float(final_soak)
    return {"nodes": int(count), "batch_size": per_batch, "batches": n_batches,
            "double_pool_seconds": round(double_seconds, 1),
            "extra_node_hours": round(int(count) * double_seconds / 3600.0, 2),
            "assumed": {"create_seconds": float(create_seconds), "drain_seconds_per_batch": float(drain_seconds),
                        "batch_soak_seconds": float(batch_soak), "final_soak_seconds": float(final_soak)}}


#: What a node that will not drain may do in each strategy (upgrade_cluster_undrainable). blue_green deletes
#: the whole old pool at the end, so a node left cordoned in it (quarantine) would go with its pods.
UNDRAINABLE_CHOICES = ("fail", "quarantine")
UNDRAINABLE_BY_STRATEGY = {"surge": ("fail", "quarantine"), "blue_green": ("fail",)}


def undrainable_problem(strategy, undrainable, variable="upgrade_cluster_undrainable"):
    """Why ``undrainable`` cannot go with ``strategy`` (a message naming ``variable`` and what is valid), or None."""
    valid = UNDRAINABLE_BY_STRATEGY.get(strategy, UNDRAINABLE_CHOICES)
    if undrainable in valid:
        return None
    if undrainable not in UNDRAINABLE_CHOICES:
        return "%s=%r is not valid; give one of: %s" % (variable, undrainable, ", ".join(UNDRAINABLE_CHOICES))
    return ("%s=%s is not supported with upgrade_cluster_strategy=%s: a blue-green rollout deletes the whole old pool "
            "at the end, so a node left cordoned in it would go with the pods it holds. Valid with %s: %s (a node "
            "that will not drain stops the rollout and rolls it back, naming the node); or use "
            "upgrade_cluster_strategy=surge, which quarantines (the node stays cordoned and labelled on its old "
            "instance, the rest rolls)"
            % (variable, undrainable, strategy, strategy, " | ".join(valid)))


def node_limit_problem(pools, blue_pool_id, node_limit, plan):
    """Why buying the new pool of ``blue_pool_id`` now would take the cluster (``pools`` as the API lists them now)
    past ``node_limit`` nodes, or None (also without a limit, or when the new pool exists already)."""
    if node_limit is None or find_green(pools, blue_pool_id) is not None:
        return None
    count = [int(p["count"]) for p in pools if int(p["id"]) == int(blue_pool_id)]
    count = count[0] if count else int(plan["nodes"])
    total = sum(int(p["count"]) for p in pools)
    if total + count <= int(node_limit):
        return None
    return ("a blue-green rollout of pool %s needs %d more node(s) for about %.1f node-hours, taking the cluster to %d "
            "nodes, more than node_limit %d; nothing was changed. Raise node_limit (the runbook variable "
            "upgrade_cluster_node_limit) or the account's limit, or use upgrade_cluster_strategy=surge (one extra node)"
            % (blue_pool_id, count, plan["extra_node_hours"], total + count, int(node_limit)))


def _green_ready(lke, kube, green_id, target, seen=None):
    view = cluster_view(lke, kube, target)
    pool = find_pool(view, green_id)
    nodes = pool["nodes"]
    if seen is not None:
        seen[:] = nodes
    ok = len(nodes) == int(pool["count"]) and all(
        n["status"] == "ready" and n["ready"] and n.get("at_target") for n in nodes)
    return pool if ok else None


def _not_ready(nodes, count, target):
    """Why the new pool is not Ready yet, one phrase per node (and for nodes LKE has not listed)."""
    out = []
    for node in nodes:
        name = node.get("node_name") or node.get("id")
        if not node.get("node_name"):
            out.append("%s not provisioned yet (LKE status %s)" % (name, node.get("status") or "unknown"))
        elif node.get("status") != "ready":
            out.append("%s LKE status %s" % (name, node.get("status")))
        elif not node.get("ready"):
            out.append("%s NotReady" % name)
        elif not node.get("at_target"):
            out.append("%s on %s, not %s" % (name, node.get("kubelet_version") or "?", target))
    if len(nodes) < int(count):
        out.append("%d of %d node(s) not listed yet" % (int(count) - len(nodes), int(count)))
    return out


def create_green(lke, kube, blue_pool_id, target, deadline, journal=None, check_mode=False, progress=None,
                 on_change=None, poll=1.0, wait=True):
    """Create (once) the green pool for ``blue_pool_id``, same type and size, and wait for it Ready at ``target``.

    Returns dict(changed, blue_pool_id, green_pool_id, type, count, old (blue nodes, as lke_view), green (nodes)).
    Nothing is created when the blue pool already runs ``target`` on every node. ``wait=False`` returns once the
    pool exists (``green`` = its nodes as they are). When the deadline passes first, the BlueGreenError's details
    carry ``green_pool_id`` and ``green`` (the nodes as last seen), so the caller can roll the new pool back.
    """
    view = cluster_view(lke, kube, target)
    blue = find_pool(view, blue_pool_id)
    if (blue.get("autoscaler") or {}).get("enabled"):
        raise BlueGreenError("pool %s has the autoscaler enabled; a blue-green rollout gives the new pool the old "
                             "one's size, so disable the autoscaler first (or use upgrade_cluster_strategy=surge)"
                             % blue_pool_id)
    key = str(blue_pool_id)
    green_raw = find_green(lke.pools(), blue_pool_id)
    if green_raw is None and journal is not None:
        known = (journal.state["facts"].get("green_pools") or {}).get(key)
        if known is not None:
            try:
                green_raw = lke.pool(known)
            except LinodeError as err:
                if err.status != 404:
                    raise
    old = [n for n in blue["nodes"] if not n.get("at_target")]
    out = {"changed": False, "blue_pool_id": int(blue_pool_id), "green_pool_id": None, "type": blue["type"],
           "count": int(blue["count"]), "old": old, "green": []}
    if green_raw is None and not old:
        return out
    if green_raw is None:
        raw = lke.pool(blue_pool_id)  # labels and taints as LKE applies them to the pool's Nodes
        body = {"type": blue["type"], "count": int(blue["count"]), "labels": dict(raw.get("labels") or {}),
                "taints": [dict((k, t.get(k)) for k in ("key", "value", "effect")) for t in raw.get("taints") or []],
                "tags": [t for t in raw.get("tags") or [] if not t.startswith(GREEN_TAG_PREFIX)]
                + [green_tag(blue_pool_id)]}
        out["changed"] = True
        if check_mode:
            return out
        if on_change is not None:
            on_change()
        green_raw = lke.create_pool(body)
    out["green_pool_id"] = int(green_raw["id"])
    if check_mode:  # before the journal: a check-mode run records nothing, not even a pool it found
        return out
    if journal is not None and (journal.state["facts"].get("green_pools") or {}).get(key) != out["green_pool_id"]:
        journal.set_fact("green_pools", dict(journal.state["facts"].get("green_pools") or {},
                                             **{key: out["green_pool_id"]}))
    seen = []
    if not wait:
        _green_ready(lke, kube, out["green_pool_id"], target, seen)
        out["green"] = seen
        return out
    what = "new pool %s to have %d Ready nodes on %s" % (out["green_pool_id"], out["count"], versions.minor(target))

    def on_wait(elapsed):
        if progress is not None:
            progress("waiting for %s (%.0f s so far)" % (what, elapsed))
    try:
        green = wait_until(lambda: _green_ready(lke, kube, out["green_pool_id"], target, seen), deadline, poll,
                           what, on_wait=on_wait)
    except DeadlineExceeded as err:
        raise BlueGreenError("%s: %s" % (err, "; ".join(_not_ready(seen, out["count"], target)) or "not Ready"),
                             details={"green_pool_id": out["green_pool_id"], "green": list(seen)})
    out["green"] = green["nodes"]
    return out


def delete_pool(lke, kube, pool_id, deadline, check_mode=False, poll=1.0, on_change=None):
    """Delete a whole pool and wait until none of its Nodes is left in the cluster; absent = unchanged.

    ``on_change()`` is called just before the DELETE (the journal step turns running)."""
    try:
        pool = lke.pool(pool_id)
    except LinodeError as err:
        if err.status == 404:
            return {"changed": False, "pool_id": int(pool_id), "nodes": []}
        raise
    instances = set(n.get("instance_id") for n in pool.get("nodes") or [] if n.get("instance_id"))
    names = sorted(n["metadata"]["name"] for n in kube.nodes() if instance_id_of(n) in instances)
    out = {"changed": True, "pool_id": int(pool_id), "nodes": names}
    if check_mode:
        return out
    if on_change is not None:
        on_change()
    lke.delete_pool(pool_id)
    wait_until(lambda: not any(instance_id_of(n) in instances for n in kube.nodes()), deadline, poll,
               "the Nodes of pool %s to leave the cluster" % pool_id)
    return out
