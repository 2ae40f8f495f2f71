# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node-loss responder's report: one timeline per incident, and the outage it charges.

Outage of an incident: from the node's last heartbeat (when it stopped serving, as the cluster
saw it) to the moment its workloads ran elsewhere with their volumes attached. Phases: detection
(heartbeat -> NotReady), response (NotReady -> taint), moving (taint -> replacements Ready and
volumes attached).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

MILESTONES = (("last_heartbeat", "last heartbeat"), ("lost_since", "NotReady"), ("fenced", "fence confirmed"),
              ("tainted", "out-of-service taint"), ("pods_gone", "pods deleted"),
              ("replaced", "replacements Ready"), ("volumes_attached", "volumes attached elsewhere"),
              ("settled_at", "node gone or back"), ("released", "taint gone"))


def _iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def outage(record):
    """(start, end, phases) of an incident's outage in epoch seconds, or None when not measurable."""
    start = record.get("last_heartbeat") or record.get("lost_since")
    ends = [record.get(k) for k in ("replaced", "volumes_attached") if record.get(k)]
    if not start or not record.get("tainted") or not record.get("replaced"):
        return None
    end = max(ends)
    phases = []
    steps = (("detection", start, record.get("lost_since")),
             ("response", record.get("lost_since"), record.get("tainted")),
             ("moving", record.get("tainted"), end))
    for label, a, b in steps:
        if a and b:
            phases.append({"name": label, "seconds": round(max(0.0, b - a), 1)})
    return start, end, phases


def summarize(state, skipped=None, holds=None, released=None):
    """The report's data: incidents with their outage, plus what was skipped and why."""
    incidents = []
    for name, record in sorted(((state.get("facts") or {}).get("incidents") or {}).items()):
        item = dict(record)
        measured = outage(record)
        if measured:
            item["outage_seconds"] = round(measured[1] - measured[0], 1)
            item["phases"] = measured[2]
        incidents.append(item)
    return {"incidents": incidents, "skipped": list(skipped or []), "holds": list(holds or []),
            "released": list(released or []),
            "tainted": [i["node"] for i in incidents if i.get("tainted")],
            "outage_seconds": max([i.get("outage_seconds", 0) for i in incidents] or [0])}


def sections(data):
    out = []
    for item in data["incidents"]:
        rows = ["| milestone | time (UTC) |", "| --- | --- |"]
        for key, label in MILESTONES:
            if item.get(key):
                rows.append("| %s | %s |" % (label, _iso(item[key])))
        taint = item.get("release_note") or (
            "not applied: %s" % item.get("not_tainted") if item.get("not_tainted") else "")
        fence = "- instance: %s, fencing verdict: **%s** (%s)" % (
            item.get("instance_id"), item.get("verdict"), item.get("reason") or "")
        body = [fence,
                "- outcome: %s" % item.get("outcome", ""),
                "- taint: %s" % taint,
                "- pods: %s" % (", ".join(item.get("pods") or []) or "none"),
                "- force-deleted after the taint: %s" % (", ".join(item.get("force_deleted") or []) or "none"),
                "- volumes: %s" % (", ".join(item.get("volumes") or []) or "none")]
        if "outage_seconds" in item:
            body.append("- outage: **%.1f s** (%s)" % (item["outage_seconds"], ", ".join(
                "%s %.1f s" % (p["name"], p["seconds"]) for p in item["phases"])))
        out.append(("Node %s" % item["node"], "\n".join(body + [""] + rows)))
    if data["skipped"]:
        out.append(("Not acted on", "\n".join("- %s: %s" % (s["node"], s["reason"]) for s in data["skipped"])))
    if data["holds"]:
        out.append(("Held by", "\n".join("- %s run %s" % (h["runbook"], h["run_id"]) for h in data["holds"])))
    if data["released"]:
        out.append(("Taint removed", "\n".join("- %s: %s" % (r["node"], r["reason"]) for r in data["released"])))
    if not data["incidents"] and not data["skipped"] and not data["released"]:
        out.append(("Nothing to do", "No lost node needed a response."))
    return out
