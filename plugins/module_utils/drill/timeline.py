# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The timeline of a node-failure drill, derived from what was watched.

Inputs are plain records, so the whole derivation is a pure function:

- observations written by the drill watcher (module_utils/drill/watch.py), one per change::

    {"ts": 1764222001.5, "kind": "node", "name": "lke1-2-3", "exists": true, "ready": "Unknown",
     "unschedulable": false, "taints": ["node.kubernetes.io/unreachable:NoExecute"]}
    {"ts": ..., "kind": "nodes", "names": [...], "ready": [...]}
    {"ts": ..., "kind": "pod", "uid": ..., "key": "app/web-5d8-x", "owner": "app/ReplicaSet/web-5d8",
     "node": "lke1-2-3", "exists": true, "phase": "Running", "ready": true, "terminating": false,
     "daemonset": false, "claims": ["web-data"]}
    {"ts": ..., "kind": "va", "name": "csi-...", "pv": "pvc-...", "node": "lke1-2-3", "exists": true,
     "attached": true}
    {"ts": ..., "kind": "event", "reason": "FailedAttachVolume", "type": "Warning", "message": "...",
     "object": "Pod/app/web-5d8-y", "time": 1764222031.0}
    {"ts": ..., "kind": "meta", "node": "lke1-2-3", "pvs": [...], "owners": [...], "app_owners": [...]}

- the prober's samples (module_utils/common/prober.py: ``{"ts", "ok": {target: bool}}``).

The result names a timestamp for every milestone (None when it did not happen), the
segments that partition the outage (detection, eviction toleration, rescheduling, volume
wait, pod start, edge recovery), the downtime the prober measured, and whether the
milestones came in the order a node loss produces them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober

MODES = ("delete", "shutdown", "drain")

#: Milestones in the order a report lists them, with a human label.
MILESTONES = (
    ("fault_injected", "fault injected"),
    ("app_down", "first failed request at the edge"),
    ("node_cordoned", "node cordoned"),
    ("node_not_ready", "node NotReady"),
    ("taint_added", "taint added"),
    ("pods_terminating", "pods evicted / terminating"),
    ("replacement_pod_scheduled", "replacement pod scheduled"),
    ("multi_attach_warning", "Multi-Attach warning"),
    ("volume_detached", "volume detached from the lost node"),
    ("volume_attached", "volume attached to the new node"),
    ("pod_ready", "replacement pod Ready"),
    ("first_200", "first 200 at the edge"),
    ("node_replaced", "replacement node Ready"),
)
MILESTONE_LABELS = dict(MILESTONES)

#: Segments of the outage: (name, milestone that ends it). Each starts where the previous
#: available milestone of the chain was reached, so a missing milestone merges two segments.
SEGMENTS = {
    "delete": (("detection", "node_not_ready"), ("eviction toleration", "pods_terminating"),
               ("rescheduling", "replacement_pod_scheduled"), ("volume wait", "volume_attached"),
               ("pod start", "pod_ready"), ("edge recovery", "first_200")),
    "drain": (("eviction", "pods_terminating"), ("rescheduling", "replacement_pod_scheduled"),
              ("volume wait", "volume_attached"), ("pod start", "pod_ready"), ("edge recovery", "first_200")),
}
SEGMENTS["shutdown"] = SEGMENTS["delete"]

#: (earlier, later) pairs that a node loss (or a drain) must respect when both happened.
ORDER = {
    "delete": (("fault_injected", "node_not_ready"), ("node_not_ready", "taint_added"),
               ("taint_added", "pods_terminating"), ("node_not_ready", "pods_terminating"),
               ("pods_terminating", "replacement_pod_scheduled"),
               ("replacement_pod_scheduled", "multi_attach_warning"),
               ("fault_injected", "volume_detached"), ("volume_detached", "volume_attached"),
               ("replacement_pod_scheduled", "volume_attached"), ("volume_attached", "pod_ready"),
               ("replacement_pod_scheduled", "pod_ready"), ("pod_ready", "first_200"),
               ("fault_injected", "app_down"), ("app_down", "first_200"), ("fault_injected", "node_replaced")),
    "drain": (("fault_injected", "node_cordoned"), ("node_cordoned", "pods_terminating"),
              ("pods_terminating", "replacement_pod_scheduled"), ("volume_detached", "volume_attached"),
              ("replacement_pod_scheduled", "volume_attached"), ("replacement_pod_scheduled", "pod_ready"),
              ("volume_attached", "pod_ready"), ("pod_ready", "first_200"), ("app_down", "first_200"),
              ("pods_terminating", "node_not_ready"), ("fault_injected", "node_replaced")),
}
# A powered-off node comes back: its pods may recover in place (same node, the volume never
# moves), so the volume and replacement steps need not come before pod_ready.
ORDER["shutdown"] = tuple(pair for pair in ORDER["delete"]
                          if pair not in (("volume_attached", "pod_ready"), ("replacement_pod_scheduled", "pod_ready")))

#: Observations carry poll times; two changes seen in one poll may be up to this far apart.
ORDER_TOLERANCE = 1.5


def _first(records, fault_ts, test):
    for rec in records:
        if rec["ts"] >= fault_ts and test(rec):
            return rec["ts"]
    return None


def _meta(observations):
    meta = {}
    for rec in observations:
        if rec.get("kind") == "meta":
            meta.update(rec)
    return meta


def _baseline_node(observations, node, fault_ts):
    """The target node's last observation before the fault (None if never seen before)."""
    last = None
    for rec in observations:
        if rec.get("kind") == "node" and rec.get("name") == node and rec["ts"] < fault_ts:
            last = rec
    return last


def _pods_before(observations, fault_ts):
    """{uid: last observation before the fault} for pods that existed then."""
    pods = {}
    for rec in observations:
        if rec.get("kind") == "pod" and rec["ts"] < fault_ts:
            if rec.get("exists", True):
                pods[rec["uid"]] = rec
            else:
                pods.pop(rec["uid"], None)
    return pods


def milestones(observations, samples, fault_ts, node, mode="delete", probe_target=None):
    """{milestone: epoch seconds or None} from the watcher's observations and prober samples."""
    if mode not in MODES:
        raise ValueError("mode %r is not one of %s" % (mode, ", ".join(MODES)))
    obs = sorted(observations, key=lambda r: r["ts"])
    meta = _meta(obs)
    node_obs = [r for r in obs if r.get("kind") == "node" and r.get("name") == node]
    base = _baseline_node(obs, node, fault_ts)
    base_taints = set((base or {}).get("taints") or [])
    before = _pods_before(obs, fault_ts)
    affected = dict((uid, p) for uid, p in before.items() if p.get("node") == node and not p.get("daemonset"))
    owners = set(p.get("owner") for p in affected.values() if p.get("owner")) or set(meta.get("owners") or [])
    app_owners = set(meta.get("app_owners") or []) & owners or owners
    pvs = set(meta.get("pvs") or [])
    out = dict((name, None) for name, dummy in MILESTONES)
    out["fault_injected"] = fault_ts

    out["node_not_ready"] = _first(node_obs, fault_ts, lambda r: not r.get("exists", True) or r.get("ready") != "True")
    out["node_cordoned"] = _first(node_obs, fault_ts, lambda r: r.get("unschedulable"))
    out["taint_added"] = _first(node_obs, fault_ts, lambda r: set(r.get("taints") or []) - base_taints)
    if mode != "drain":
        out["node_cordoned"] = None  # a lost node is tainted by the node controller, nobody cordons it

    pod_obs = [r for r in obs if r.get("kind") == "pod"]
    out["pods_terminating"] = _first(pod_obs, fault_ts, lambda r: r["uid"] in affected and (
        r.get("terminating") or not r.get("exists", True)))

    def replacement(rec):
        return (rec["uid"] not in before and rec.get("owner") in owners and rec.get("exists", True)
                and rec.get("node") and rec.get("node") != node)
    out["replacement_pod_scheduled"] = _first(pod_obs, fault_ts, replacement)

    def back_in_place(rec):
        # shutdown: the node returns, and its pods (the same ones restarted by the kubelet, or new
        # ones scheduled back onto it) serve again there; that is the recovery too.
        lost = out["node_not_ready"]
        return (mode == "shutdown" and lost is not None and rec["ts"] > lost and rec.get("owner") in owners
                and rec.get("exists", True) and rec.get("node") == node)
    # Ready when every affected owner of the app has a Ready replacement (or, after a shutdown,
    # a Ready pod on the node that came back).
    ready_at = {}
    for rec in pod_obs:
        if rec["ts"] >= fault_ts and (replacement(rec) or back_in_place(rec)) and rec.get("ready") \
                and not rec.get("terminating"):
            ready_at.setdefault(rec.get("owner"), rec["ts"])
    if ready_at and all(o in ready_at for o in app_owners):
        out["pod_ready"] = max(ready_at[o] for o in app_owners)

    events = [r for r in obs if r.get("kind") == "event"]
    out["multi_attach_warning"] = _first(events, fault_ts, lambda r: "Multi-Attach" in (r.get("message") or ""))

    vas = [r for r in obs if r.get("kind") == "va" and (not pvs or r.get("pv") in pvs)]
    out["volume_detached"] = _first(vas, fault_ts, lambda r: r.get("node") == node and (
        not r.get("exists", True) or not r.get("attached")))
    out["volume_attached"] = _first(vas, fault_ts, lambda r: r.get("node") != node and r.get("exists", True)
                                    and r.get("attached"))
    if out["volume_attached"] is None:
        out["volume_attached"] = _first(events, fault_ts, lambda r: r.get("reason") == "SuccessfulAttachVolume")

    if mode == "shutdown":
        back = out["node_not_ready"]
        out["node_replaced"] = _first(node_obs, back, lambda r: r.get("exists", True) and r.get(
            "ready") == "True") if back else None
    else:
        base_names = set()
        for rec in obs:
            if rec.get("kind") == "nodes" and rec["ts"] < fault_ts:
                base_names = set(rec.get("names") or [])
        out["node_replaced"] = _first([r for r in obs if r.get("kind") == "nodes"], fault_ts,
                                      lambda r: set(r.get("ready") or []) - base_names)

    if probe_target:
        ordered = sorted(samples or [], key=lambda s: s["ts"])
        down = _first(ordered, fault_ts, lambda s: s.get("ok", {}).get(probe_target) is False)
        out["app_down"] = down
        if down is not None:
            out["first_200"] = _first(ordered, down, lambda s: s.get("ok", {}).get(probe_target) is True)
    return out


def segments(marks, mode="delete"):
    """The outage split into consecutive segments, [{name, end_milestone, start, end, seconds}]."""
    out = []
    start = marks.get("fault_injected")
    if start is None:
        return out
    for name, end_name in SEGMENTS[mode]:
        end = marks.get(end_name)
        if end is None:
            continue
        out.append({"name": name, "end_milestone": end_name, "start": start, "end": max(start, end),
                    "seconds": round(max(0.0, end - start), 1)})
        start = max(start, end)
    return out


def order_violations(marks, mode="delete", tolerance=ORDER_TOLERANCE):
    """Pairs of milestones that happened in the wrong order (both present), as text."""
    out = []
    for earlier, later in ORDER[mode]:
        a, b = marks.get(earlier), marks.get(later)
        if a is not None and b is not None and a > b + tolerance:
            out.append("%s (%+.1f s) came after %s (%+.1f s)" % (
                earlier, a - marks["fault_injected"], later, b - marks["fault_injected"]))
    return out


def downtime(samples, probe_target, fault_ts, interval=1.0):
    """What the prober saw for ``probe_target`` from the fault on: intervals and total seconds."""
    if not probe_target:
        return {"seconds": 0.0, "intervals": [], "requests": 0, "failed": 0}
    ordered = sorted(samples or [], key=lambda s: s["ts"])
    intervals = [i for i in prober.downtime_intervals(ordered, probe_target, interval) if i["end"] > fault_ts]
    rounds = [s for s in ordered if s["ts"] >= fault_ts and probe_target in s.get("ok", {})]
    return {"seconds": round(sum(i["seconds"] for i in intervals), 1), "intervals": intervals,
            "requests": len(rounds), "failed": len([s for s in rounds if not s["ok"][probe_target]]),
            "start": intervals[0]["start"] if intervals else None, "end": intervals[-1]["end"] if intervals else None}


def build(observations, samples, fault_ts, node, mode="delete", probe_target=None, interval=1.0):
    """The whole timeline: milestones (absolute and relative to the fault), segments, downtime, order.

    For a drain the fault is the cordon the watcher saw: the runbook notes the drain's start a few
    seconds before the drain module has started and cordoned the node.
    """
    if mode == "drain":
        cordon = _first(sorted((r for r in observations if r.get("kind") == "node" and r.get("name") == node),
                               key=lambda r: r["ts"]),
                        fault_ts, lambda r: r.get("unschedulable"))
        if cordon is not None and cordon - fault_ts < 60:
            fault_ts = cordon
    marks = milestones(observations, samples, fault_ts, node, mode, probe_target)
    rel = dict((k, round(v - fault_ts, 1) if v is not None else None) for k, v in marks.items())
    segs = segments(marks, mode)
    down = downtime(samples, probe_target, fault_ts, interval)
    recovered = marks["first_200"] is not None or (marks["app_down"] is None and marks["pod_ready"] is not None)
    return {"mode": mode, "node": node, "fault_ts": fault_ts, "milestones": marks, "relative": rel,
            "segments": segs, "downtime": down, "order_violations": order_violations(marks, mode),
            "recovered": recovered, "probe_target": probe_target,
            "missing": [k for k, dummy in MILESTONES if marks[k] is None]}


def dominant(timeline):
    """The longest segment, or None."""
    segs = timeline.get("segments") or []
    return max(segs, key=lambda s: s["seconds"]) if segs else None
