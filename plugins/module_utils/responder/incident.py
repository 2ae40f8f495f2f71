# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which lost nodes the responder may act on: lost Nodes, its own taints, holds and the limit.

Pure functions over plain dicts (Nodes as the API returns them, run journals as state.json
holds them), so every rule is unit-tested without a cluster:

* a node is lost while its Ready condition is not True (False or Unknown);
* the responder's taint is the out-of-service taint plus the annotation INCIDENT naming the run
  that applied it; the cluster is the one source of truth about what is in progress, so a
  responder killed mid-response is finished by the next run;
* an upgrade or drill runbook of this collection holds the cluster while its journal is still
  running (not older than ``hold_max_age``), unless a drill declares the responder part of it (its
  journal's fact ``responder: true``, set by ``drill_inject_responder``);
* at most ``limit`` nodes carry the responder's taint at once, and a node (same instance) is
  acted on at most once within ``once_within`` seconds (one incident).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.slo import parse_time
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import instance_id_of

RUNBOOK = "respond-node-loss"
OUT_OF_SERVICE_KEY = "node.kubernetes.io/out-of-service"
OUT_OF_SERVICE_VALUE = "nodeshutdown"
#: On a Node the responder tainted: the run (incident) id, and the instance it confirmed gone.
INCIDENT = objects.ANNOTATION_PREFIX + "node-loss-incident"
FENCED_INSTANCE = objects.ANNOTATION_PREFIX + "node-loss-fenced-instance"
#: The runbooks whose runs hold the cluster (their journals' runbook names).
DEFAULT_HOLDERS = ("upgrade-cluster", "node-failure-drill")


def name_of(node):
    return ((node or {}).get("metadata") or {}).get("name")


def ready_condition(node):
    for cond in ((node or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return {}


def is_lost(node):
    """Not Ready: the Ready condition is False or Unknown (or missing)."""
    return node is not None and not objects.node_ready(node)


def lost_since(node):
    """Epoch seconds of the Ready condition's last transition (when it turned NotReady), or None."""
    text = ready_condition(node).get("lastTransitionTime")
    return parse_time(text).timestamp() if text else None


def last_heartbeat(node, lease=None):
    """Epoch seconds of the kubelet's last heartbeat (the outage's start as the cluster saw it), or None.

    The node's Lease (``kube-node-lease``) is renewed every few seconds; the Ready condition's
    lastHeartbeatTime only at the node-status report interval (minutes), so the Lease wins when given.
    """
    text = ((lease or {}).get("spec") or {}).get("renewTime") or ready_condition(node).get("lastHeartbeatTime")
    return parse_time(text).timestamp() if text else None


def has_out_of_service(node):
    return any(t.get("key") == OUT_OF_SERVICE_KEY for t in ((node or {}).get("spec") or {}).get("taints") or [])


def responder_incident(node):
    """The incident (run) id when the responder's out-of-service taint is on ``node``, else None."""
    if not has_out_of_service(node):
        return None
    return objects.annotations(node).get(INCIDENT)


def _read_state(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _states(reports_dir):
    if not reports_dir or not os.path.isdir(reports_dir):
        return
    for run_id in sorted(os.listdir(reports_dir)):
        state = _read_state(os.path.join(reports_dir, run_id, "state.json"))
        if state:
            yield run_id, state


def holds(reports_dirs, cluster_id, runbooks=DEFAULT_HOLDERS, max_age=6 * 3600, now=None):
    """(holding, allowing): runs of ``runbooks`` on this cluster still running, as dicts.

    A run holds while its journal says ``running``, its key is this cluster (``<id>`` or
    ``<id>/...``) and it was updated within ``max_age`` seconds (an abandoned journal does not
    block the responder for ever). A drill whose journal says ``responder: true`` allows it instead.
    """
    now = time.time() if now is None else now
    holding, allowing = [], []
    for reports_dir in reports_dirs or []:
        for run_id, state in _states(reports_dir):
            if state.get("runbook") not in runbooks or state.get("status") != "running":
                continue
            facts = state.get("facts") or {}
            if str(facts.get("key", "")).split("/", 1)[0] != str(cluster_id):
                continue
            try:
                age = now - parse_time(state.get("updated") or state.get("created")).timestamp()
            except Exception:  # pylint: disable=broad-except
                continue
            if age > max_age:
                continue
            entry = {"runbook": state["runbook"], "run_id": run_id, "updated": state.get("updated"),
                     "dir": os.path.join(reports_dir, run_id)}
            if str(facts.get("responder", "")).lower() == "true":
                allowing.append(entry)
            else:
                holding.append(entry)
    return holding, allowing


def handled_recently(reports_dir, node, instance_id, once_within, now=None, exclude=None):
    """The earlier responder run that already tainted this node and instance within ``once_within`` s."""
    now = time.time() if now is None else now
    for run_id, state in _states(reports_dir):
        if state.get("runbook") != RUNBOOK or run_id == exclude:
            continue
        inc = ((state.get("facts") or {}).get("incidents") or {}).get(node)
        if not inc or not inc.get("tainted") or inc.get("instance_id") != instance_id:
            continue
        if now - float(inc["tainted"]) <= once_within:
            return run_id
    return None


def classify(nodes, wanted=None):
    """Sort the cluster's Nodes into (lost, in_progress, release).

    ``lost``: NotReady nodes without the responder's taint (candidates; only those named in
    ``wanted`` when given), oldest loss first. ``in_progress``: NotReady nodes with it (a response
    under way or interrupted). ``release``: Ready nodes that still carry it (never left there).
    """
    lost, in_progress, release = [], [], []
    for node in nodes:
        name = name_of(node)
        incident = responder_incident(node)
        if not is_lost(node):
            if incident:
                release.append(node)
            continue
        if incident:
            in_progress.append(node)
        elif not wanted or name in wanted:
            lost.append(node)
    lost.sort(key=lambda n: (lost_since(n) or 0, name_of(n)))
    return lost, in_progress, release


def plan(nodes, wanted, limit, holding, recent, fence, ignore_holds=False, lease=None):
    """Decide what this run does. ``recent(node) -> run id or None``; ``fence(node) -> verdict dict``.

    Returns ``{act, resume, release, skipped, verdicts}``: ``act`` new nodes to taint (fenced, within
    the limit), ``resume`` tainted lost nodes whose response must be finished, ``release`` healthy
    nodes whose taint must go, ``skipped`` [{node, reason}]. Fencing is asked only for nodes that
    could be acted on, so a held cluster or a full limit costs no API call. ``lease(name)`` returns the
    node's Lease (for the last heartbeat), or None.
    """
    lost, in_progress, release = classify(nodes, wanted)
    out = {"act": [], "resume": [name_of(n) for n in in_progress], "release": [name_of(n) for n in release],
           "skipped": [], "verdicts": {}}
    room = max(0, int(limit) - len(in_progress))
    for node in lost:
        name = name_of(node)
        if holding and not ignore_holds:
            out["skipped"].append({"node": name, "reason": "held: %s run %s is in progress on this cluster "
                                   "(set ignore_holds to act anyway)" % (holding[0]["runbook"], holding[0]["run_id"])})
            continue
        earlier = recent(name, instance_id_of(node))
        if earlier:
            out["skipped"].append({"node": name, "reason": "already acted on in run %s: at most once per incident"
                                   % earlier})
            continue
        if room <= 0:
            out["skipped"].append({"node": name, "reason": "limit of %d node(s) at once reached; reported, not acted on"
                                   % int(limit)})
            continue
        verdict = fence(node)
        out["verdicts"][name] = verdict
        if not verdict["fenced"]:
            out["skipped"].append({"node": name, "reason": verdict["reason"], "verdict": verdict["verdict"]})
            continue
        out["act"].append(dict(verdict, lost_since=lost_since(node),
                               last_heartbeat=last_heartbeat(node, lease(name) if lease else None)))
        room -= 1
    return out
