# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node-failure drills: choosing the target, the budget estimate, advice and comparisons.

A drill causes a node loss on purpose (delete or power off the node's Linode instance, or a
planned drain + recycle) and measures where the minutes went. This file holds the decisions
around that: which node (a named one, the one running a workload's pod, or a random one),
what the workload looks like (replicas, ReadWriteOnce claims, tolerations), how much
downtime to expect from earlier drills, and the advice drawn from a measured timeline.
The timeline itself is module_utils/drill/timeline.py; the watcher watch.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import random
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import timeline
from ansible_collections.fournines.runbooks.plugins.module_utils.drill import watch
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober
from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.drill.timeline import MODES
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report import journal

RUNBOOK = "node-failure-drill"
TARGETS = ("workload", "node", "random")
WORKLOAD_KINDS = {"deployment": ("Deployment", "deployments"), "statefulset": ("StatefulSet", "statefulsets")}
NOT_READY_KEY = "node.kubernetes.io/not-ready"
UNREACHABLE_KEY = "node.kubernetes.io/unreachable"
OUT_OF_SERVICE_KEY = "node.kubernetes.io/out-of-service"
#: Kubernetes' default tolerationSeconds for not-ready/unreachable (DefaultTolerationSeconds).
DEFAULT_TOLERATION = 300


class DrillError(RunbookError):
    """Bad drill input, or a cluster state in which the drill must not start."""


#: The argument spec of the modules that read a drill's timeline (doc fragment drill_observations).
#: The drill's mode as an option (doc fragment drill_observations.mode).
MODE_SPEC = dict(mode=dict(type="str", default="delete", choices=["delete", "shutdown", "drain"]))

OBSERVATION_SPEC = dict(
    MODE_SPEC,
    watch_dir=dict(type="path", required=True),
    probe_dir=dict(type="path"),
    probe_target=dict(type="str"),
    probe_interval=dict(type="float", default=1.0),
    fault_ts=dict(type="float", required=True),
    node=dict(type="str", required=True))


def validate_mode(mode):
    if mode not in MODES:
        raise DrillError("mode %r is not known; valid modes: %s (delete the node's Linode instance, power it off "
                         "and boot it later, or drain and recycle it)" % (mode, ", ".join(MODES)))
    return mode


def parse_workload(text):
    """'namespace/name' (a Deployment) or 'namespace/kind/name' -> (namespace, Kind, plural, name)."""
    parts = str(text or "").split("/")
    if len(parts) == 2:
        parts = [parts[0], "deployment", parts[1]]
    if len(parts) != 3 or not all(parts):
        raise DrillError("workload %r is not valid; give 'namespace/name' for a Deployment or "
                         "'namespace/kind/name' with kind deployment or statefulset, for example app/web" % (text,))
    kind = parts[1].lower()
    if kind not in WORKLOAD_KINDS:
        raise DrillError("workload %r has kind %r; valid kinds: %s" % (text, parts[1], ", ".join(WORKLOAD_KINDS)))
    return parts[0], WORKLOAD_KINDS[kind][0], WORKLOAD_KINDS[kind][1], parts[2]


def app_to_follow(kube, workload):
    """What the drill's watcher follows of ``workload`` (``namespace/name`` or ``namespace/kind/name``):
    ``{"namespace", "selector", "workload"}``, None without one; raises DrillError when it does not exist."""
    if not workload:
        return None
    namespace, kind, plural, name = parse_workload(workload)
    obj = kube.get("/apis/apps/v1/namespaces/%s/%s/%s" % (namespace, plural, name), ok_missing=True)
    if obj is None:
        raise DrillError("workload %s (%s %s in namespace %s) does not exist" % (workload, kind, name, namespace))
    return {"namespace": namespace, "selector": (obj.get("spec") or {}).get("selector"), "workload": workload}


def _toleration_seconds(pod_spec, key):
    """tolerationSeconds the pod has for ``key`` (NoExecute); None = tolerated forever."""
    found = DEFAULT_TOLERATION
    for tol in pod_spec.get("tolerations") or []:
        if tol.get("effect") not in (None, "", "NoExecute"):
            continue
        if tol.get("key") == key or (tol.get("operator") == "Exists" and not tol.get("key")):
            found = tol.get("tolerationSeconds")
            break
    return found


def workload_facts(kube, text):
    """What a drill needs to know about a workload: its pods, replicas, claims, tolerations."""
    namespace, kind, plural, name = parse_workload(text)
    obj = kube.get("/apis/apps/v1/namespaces/%s/%s/%s" % (namespace, plural, name), ok_missing=True)
    if obj is None:
        existing = [o["metadata"]["name"] for o in kube.items("/apis/apps/v1/namespaces/%s/%s" % (namespace, plural))]
        raise DrillError("workload %s (%s %s in namespace %s) does not exist; %ss there: %s" % (
            text, kind, name, namespace, kind, ", ".join(sorted(existing)) or "none"))
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    pods = [p for p in kube.pods(namespace=namespace)
            if objects.selector_matches(selector, p["metadata"].get("labels")) and not objects.is_finished(p)]
    running = [p for p in pods if (p.get("spec") or {}).get("nodeName") and not p["metadata"].get("deletionTimestamp")]
    template = (spec.get("template") or {}).get("spec") or {}
    claims = [v["persistentVolumeClaim"]["claimName"] for v in template.get("volumes") or []
              if v.get("persistentVolumeClaim")]
    for tmpl in spec.get("volumeClaimTemplates") or []:
        claims.append(tmpl["metadata"]["name"])
    rwo = []
    for claim in claims:
        pvc = kube.get("/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (namespace, claim), ok_missing=True)
        modes = ((pvc or {}).get("spec") or {}).get("accessModes") or []
        if pvc is not None and ("ReadWriteOnce" in modes or "ReadWriteOncePod" in modes):
            rwo.append(claim)
    for pod in running:  # StatefulSet claims are per pod: read them from the pods
        for claim in objects.pvc_claims(pod):
            pvc = kube.get("/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (namespace, claim), ok_missing=True)
            modes = ((pvc or {}).get("spec") or {}).get("accessModes") or []
            if pvc is not None and claim not in rwo and ("ReadWriteOnce" in modes or "ReadWriteOncePod" in modes):
                rwo.append(claim)
    sample = running[0] if running else None
    pod_spec = (sample or {}).get("spec") or template
    return {"workload": "%s/%s/%s" % (namespace, kind, name), "namespace": namespace, "kind": kind, "name": name,
            "replicas": int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1),
            "pods": [{"name": p["metadata"]["name"], "node": p["spec"].get("nodeName"), "ready": objects.pod_ready(p)}
                     for p in running],
            "nodes": sorted(set(p["spec"]["nodeName"] for p in running)),
            "claims": claims, "rwo_claims": rwo, "selector": selector,
            "not_ready_toleration_seconds": _toleration_seconds(pod_spec, NOT_READY_KEY),
            "unreachable_toleration_seconds": _toleration_seconds(pod_spec, UNREACHABLE_KEY)}


def cluster_nodes(view):
    """LKE nodes of a cluster view (lke_view.cluster_view) that have a Kubernetes Node."""
    out = []
    for pool in view["pools"]:
        for node in pool["nodes"]:
            if node.get("node_name"):
                out.append(dict(node, pool_id=pool["id"]))
    return out


def choose_target(view, target="workload", node=None, workload=None, seed=None):
    """Pick the node to fail. Returns (lke node dict, why).

    ``workload`` is the result of :func:`workload_facts` when ``target`` is ``workload``.
    """
    if target not in TARGETS:
        raise DrillError("target %r is not known; valid targets: %s" % (target, ", ".join(TARGETS)))
    nodes = cluster_nodes(view)
    names = sorted(n["node_name"] for n in nodes)
    by_name = dict((n["node_name"], n) for n in nodes)
    if target == "node":
        if not node:
            raise DrillError("target 'node' needs the node's name; nodes of cluster %s: %s" % (
                view["cluster"]["id"], ", ".join(names)))
        if node not in by_name:
            raise DrillError("node %r is not a node of LKE cluster %s; its nodes are: %s" % (
                node, view["cluster"]["id"], ", ".join(names) or "none"))
        return by_name[node], "named node"
    if target == "workload":
        if not workload["pods"]:
            raise DrillError("workload %s has no running pod, so no node runs it; scale it up or choose "
                             "target=node or target=random" % workload["workload"])
        on_lke = [p["node"] for p in workload["pods"] if p["node"] in by_name]
        if not on_lke:
            raise DrillError("the pods of workload %s run on %s, none of which is a node of LKE cluster %s (%s)" % (
                workload["workload"], ", ".join(workload["nodes"]), view["cluster"]["id"], ", ".join(names)))
        chosen = sorted(on_lke)[0]
        return by_name[chosen], "runs a pod of %s" % workload["workload"]
    ready = [n for n in nodes if n.get("ready")]
    if not ready:
        raise DrillError("no Ready node in LKE cluster %s to choose from" % view["cluster"]["id"])
    chosen = random.Random(seed).choice(sorted(ready, key=lambda n: n["node_name"]))
    return chosen, "random choice%s" % ("" if seed is None else " (seed %s)" % seed)


def health_problems(view):
    """Reasons the cluster is not healthy enough to start a drill (all nodes Ready, pools complete)."""
    problems = []
    for pool in view["pools"]:
        for node in pool["nodes"]:
            if not node.get("node_name"):
                problems.append("LKE node %s of pool %s has no Kubernetes Node (status %s)" % (
                    node["id"], pool["id"], node.get("status")))
            elif not node.get("ready"):
                problems.append("node %s is not Ready" % node["node_name"])
            elif node.get("unschedulable"):
                problems.append("node %s is cordoned" % node["node_name"])
        if len(pool["nodes"]) != int(pool.get("count") or 0):
            problems.append("pool %s has %d nodes, expected %s" % (pool["id"], len(pool["nodes"]), pool.get("count")))
    return problems


# ---- budget ------------------------------------------------------------------------------------

def previous_drills(records, mode):
    """Ledger records of earlier node-failure drills in ``mode``, oldest first."""
    out = []
    for rec in records:
        tags = rec.get("tags") or []
        if rec.get("source") == RUNBOOK and "drill" in tags and "mode:%s" % mode in tags:
            out.append(rec)
    return sorted(out, key=lambda r: slo.parse_time(r["start"]))


def planned_downtime(records, mode, estimate=None, last=3):
    """(seconds, basis): the longest downtime of the last ``last`` drills in ``mode``, else ``estimate``."""
    past = previous_drills(records, mode)[-last:]
    if past:
        longest = max((slo.parse_time(r["end"]) - slo.parse_time(r["start"])).total_seconds() for r in past)
        return longest, "longest of the last %d %s drill(s) in the ledger" % (len(past), mode)
    if estimate is None:
        raise DrillError("no earlier %s drill in the ledger to estimate the downtime from; give an estimate in "
                         "seconds (estimate_seconds / drill_preflight_estimate_seconds)" % mode)
    try:
        value = float(estimate)
    except (TypeError, ValueError):
        raise DrillError("estimate %r is not a number of seconds" % (estimate,))
    if value < 0:
        raise DrillError("estimate %r is negative; give 0 or more seconds" % (estimate,))
    return value, "stated estimate (no earlier %s drill in the ledger)" % mode


def ledger_record(timeline, run_id, mode, node, fault_ts):
    """(start, end, tags, note) of the downtime a drill charges, or None when the app never went down.

    One record per run spanning the first failed request to the first good one after it (the
    ledger's run_id makes the append idempotent). A drill without downtime records nothing.
    """
    down = timeline["downtime"]
    if not down["intervals"]:
        return None
    note = "node-failure drill (%s) of node %s: %.1f s down in %d interval(s), %d failed requests" % (
        mode, node, down["seconds"], len(down["intervals"]), down["failed"])
    return down["intervals"][0]["start"], down["intervals"][-1]["end"], ["drill", "mode:%s" % mode], note


# ---- advice ------------------------------------------------------------------------------------

def _seg(timeline, name):
    for seg in timeline.get("segments") or []:
        if seg["name"] == name:
            return seg["seconds"]
    return 0.0


def advise(timeline, workload=None, options=None):
    """Advice drawn from the measurements: [{"id", "severity", "text"}], most important first."""
    workload = workload or {}
    options = options or {}
    out = []
    down = timeline["downtime"]["seconds"]
    total = sum(s["seconds"] for s in timeline.get("segments") or []) or down
    replicas = workload.get("replicas")
    rwo = workload.get("rwo_claims") or []
    volume = _seg(timeline, "volume wait")
    toleration = _seg(timeline, "eviction toleration")
    detection = _seg(timeline, "detection")
    edge = _seg(timeline, "edge recovery")
    name = workload.get("workload", "the app")

    def share(seconds):
        return 100.0 * seconds / total if total else 0.0

    if down <= 0 and timeline.get("recovered"):
        out.append({"id": "no-downtime", "severity": "info",
                    "text": "The edge never failed: %s kept serving from pods on other nodes while the node was "
                            "lost." % name})
    if replicas == 1 and rwo and volume > 0 and timeline.get("mode") == "drain":
        out.append({"id": "rwo-single-replica", "severity": "high",
                    "text": "%s is a single replica on the ReadWriteOnce claim(s) %s: even a planned drain takes it down "
                            "while the volume moves (%.0f s, %.0f %% of the outage). Only state that does not pin the pod "
                            "to one node (a replicated database, or ReadWriteMany storage) with two or more replicas "
                            "avoids it." % (name, ", ".join(rwo), volume, share(volume))})
    elif replicas == 1 and rwo and volume > 0:
        out.append({"id": "rwo-single-replica", "severity": "high",
                    "text": "%s is a single replica on the ReadWriteOnce claim(s) %s: %.0f s (%.0f %% of the outage) "
                            "went to waiting for the volume to be force-detached from the lost node (Multi-Attach). "
                            "To shorten it: apply the node.kubernetes.io/out-of-service taint as soon as the node is "
                            "confirmed gone (measure it with drill_observe_out_of_service=when_gone), or move the "
                            "state off the pod's volume (a replicated database, or ReadWriteMany storage) so that two "
                            "or more replicas can run on different nodes." % (name, ", ".join(rwo), volume, share(volume))})
    elif rwo and volume > 30:
        out.append({"id": "rwo-wait", "severity": "medium",
                    "text": "The volume of %s took %.0f s (%.0f %%) to move to the new node. The out-of-service taint "
                            "(once the node is confirmed gone) lets it detach at once." % (name, volume, share(volume))})
    if toleration > 30:
        tol = workload.get("unreachable_toleration_seconds")
        if tol is not None and tol + 15 < toleration:
            text = ("Pods stayed bound to the NotReady node for %.0f s (%.0f %% of the outage) although they tolerate "
                    "the unreachable taint for only %s s: the eviction itself was slow (taint manager, API server "
                    "load); check the control plane's health during the drill." % (toleration, share(toleration), tol))
        else:
            text = ("Pods stayed bound to the NotReady node for %.0f s (%.0f %% of the outage): they tolerate "
                    "node.kubernetes.io/unreachable and not-ready for %s s (Kubernetes' default is 300 s). Give %s "
                    "tolerations for both taints with a shorter tolerationSeconds (for example 30) so they are "
                    "replaced sooner." % (toleration, share(toleration), tol if tol is not None else "ever", name))
        out.append({"id": "eviction-toleration", "severity": "high" if share(toleration) >= 30 else "medium",
                    "text": text})
    if replicas == 1 and down > 0:
        out.append({"id": "single-replica", "severity": "high",
                    "text": "%s runs one replica, so losing its node takes it down for %.0f s. Two or more replicas "
                            "spread across nodes (topologySpreadConstraints or pod anti-affinity) and a "
                            "PodDisruptionBudget turn a node loss into no downtime." % (name, down)})
    if detection > 0:
        out.append({"id": "detection", "severity": "info",
                    "text": "Noticing the lost node took %.0f s (the node-monitor grace period, set by LKE and not "
                            "configurable); only replicas on other nodes hide it." % detection})
    if edge > 5:
        out.append({"id": "edge-recovery", "severity": "medium",
                    "text": "The edge answered %.0f s after the pod was Ready: check the readiness probe's period and "
                            "how fast the ingress picks up new endpoints." % edge})
    node_replaced = (timeline.get("relative") or {}).get("node_replaced")
    if node_replaced is not None and down > 0 and node_replaced > down:
        out.append({"id": "capacity", "severity": "info",
                    "text": "The replacement node was Ready %.0f s after the fault, after the app had recovered: the "
                            "other nodes had room for the evicted pods. Keep that headroom." % node_replaced})
    elif timeline.get("milestones", {}).get("node_replaced") is None and timeline.get("mode") == "delete":
        out.append({"id": "no-replacement", "severity": "medium",
                    "text": "No replacement node became Ready while the drill watched; check the node pool."})
    if options.get("aborted"):
        out.insert(0, {"id": "aborted", "severity": "high",
                       "text": "The drill passed its downtime limit of %s s and was stopped; service was restored by: "
                               "%s." % (options.get("downtime_limit"), ", ".join(options.get("restored_by") or [])
                                        or "nothing (it recovered on its own)")})
    if timeline.get("order_violations"):
        out.append({"id": "order", "severity": "medium",
                    "text": "Milestones out of the expected order: %s." % "; ".join(timeline["order_violations"])})
    return out


# ---- history -----------------------------------------------------------------------------------

def previous_reports(reports_dir, mode, exclude_run=None, environment=None):
    """Summaries of earlier finished drills in ``mode`` under ``reports_dir``, oldest first."""
    out = []
    for name, data in journal.run_documents(reports_dir, "report.json"):
        if name == exclude_run:
            continue
        drill = (data.get("report") or {}).get("drill")
        if data.get("runbook") != RUNBOOK or not drill or drill.get("mode") != mode:
            continue
        if environment is not None and drill.get("environment") != environment:
            continue
        out.append({"run_id": data.get("run_id"), "created": data.get("created"), "status": data.get("status"),
                    "downtime_seconds": drill.get("downtime_seconds"),
                    "segments": dict((s["name"], s["seconds"]) for s in drill.get("segments") or []),
                    "node_replaced": (drill.get("relative") or {}).get("node_replaced")})
    return sorted(out, key=lambda r: r.get("created") or "")


def compare(current, previous):
    """Rows comparing this drill with earlier ones, and a sentence about the change since the last."""
    if not previous:
        return {"rows": [], "text": "First drill of this kind: nothing to compare with yet."}
    last = previous[-1]
    now, before = current.get("downtime_seconds") or 0.0, last.get("downtime_seconds") or 0.0
    delta = now - before
    text = "Downtime %.1f s against %.1f s in the last drill (%s, %+.1f s)." % (now, before, last["run_id"], delta)
    biggest = None
    for name, seconds in (current.get("segments") or {}).items():
        change = seconds - (last["segments"].get(name) or 0.0)
        if biggest is None or abs(change) > abs(biggest[1]):
            biggest = (name, change)
    if biggest and abs(biggest[1]) >= 1:
        text += " The largest change: %s %+.1f s." % biggest
    return {"rows": previous[-5:], "text": text}


# ---- waiting on the watched state --------------------------------------------------------------

def read_samples(probe_dir):
    """The prober's samples (module_utils/common/prober.py SAMPLES), tolerant of a line cut by a kill."""
    out = []
    path = os.path.join(probe_dir, prober.SAMPLES) if probe_dir else None
    if path and os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    return out


def snapshot(watch_dir, probe_dir, fault_ts, node, mode, probe_target, interval=1.0):
    """The timeline as far as it has been watched."""
    return timeline.build(watch.read_observations(watch_dir), read_samples(probe_dir), fault_ts, node, mode,
                          probe_target, interval)


def outage_seconds(timeline, now):
    """How long the current outage has lasted at ``now`` (0 when the app is up)."""
    marks = timeline["milestones"]
    if marks.get("app_down") is None:
        return 0.0
    return max(0.0, (marks.get("first_200") or now) - marks["app_down"])


#: Seconds between two "still waiting" progress lines while no milestone is reached.
PROGRESS_EVERY = 30.0


def wait_for(watch_dir, probe_dir, fault_ts, node, mode, probe_target, until, deadline, downtime_limit=None,
             interval=1.0, poll=1.0, clock=time.time, progress=None):
    """Wait until every milestone in ``until`` was observed, the outage passes ``downtime_limit``
    or the deadline passes. Returns the snapshot with ``reached``, ``limit_exceeded``, ``timed_out``.

    ``progress`` (a callable taking one line) hears each milestone as it is first observed, and
    every PROGRESS_EVERY seconds what is still awaited."""
    unknown = [u for u in until if u not in timeline.MILESTONE_LABELS]
    if unknown:
        raise DrillError("milestone(s) %s not known; valid: %s" % (", ".join(unknown), ", ".join(timeline.MILESTONE_LABELS)))
    told, last_line = set(), clock()
    while True:
        tl = snapshot(watch_dir, probe_dir, fault_ts, node, mode, probe_target, interval)
        now = clock()
        outage = outage_seconds(tl, now)
        tl.update(outage_seconds=round(outage, 1), reached=all(tl["milestones"].get(u) is not None for u in until),
                  limit_exceeded=bool(downtime_limit) and outage > float(downtime_limit), timed_out=False,
                  elapsed=round(now - fault_ts, 1))
        if progress is not None:
            new = sorted((ts, name) for name, ts in tl["milestones"].items() if ts is not None and name not in told)
            for ts, name in new:
                told.add(name)
                progress("%s at +%.1f s" % (timeline.MILESTONE_LABELS[name], ts - fault_ts))
            if new:
                last_line = now
            elif now - last_line >= PROGRESS_EVERY:
                last_line = now
                progress("waiting for %s (%.0f s since the fault, outage %.0f s)" % (
                    ", ".join(u for u in until if tl["milestones"].get(u) is None), now - fault_ts, outage))
        if tl["reached"] or tl["limit_exceeded"]:
            return tl
        if deadline.expired():
            tl["timed_out"] = True
            return tl
        deadline.sleep(poll)
