# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade run's report: Markdown + JSON from the journal and the prober, and a PNG timeline."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober
from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.report import timeline_chart
from ansible_collections.fournines.runbooks.plugins.module_utils.report import markdown
from ansible_collections.fournines.runbooks.plugins.module_utils.report.markdown import markdown_table
from ansible_collections.fournines.runbooks.plugins.module_utils.report.pod_moves import app_rows, move_rows, moves_markdown

STEP_KINDS = ("control plane", "resize pool", "drain", "recycle", "delete node", "create new pool", "delete pool",
              "soak", "preflight", "postflight")


def _plan_adds(pool):
    """What a pool's plan adds before it drains: the surge node, or a blue-green rollout's new pool."""
    if pool.get("strategy") == "blue_green":
        if pool.get("new_pool"):
            return "new pool of %d" % pool["new_pool"]
        return "new pool %s (there)" % pool["green_pool_id"] if pool.get("green_pool_id") else "-"
    if pool.get("surged"):
        return "surge node already there"
    return "surge to %d" % pool["surge_to"] if pool.get("surge_to", 0) > pool.get("count", 0) else "-"


def _ts(text):
    return slo.parse_time(text).timestamp() if text else None


def step_kind(name):
    for kind in STEP_KINDS:
        if name.startswith(kind):
            return kind
    return "other"


def step_rows(state):
    rows = []
    for step in state.get("steps") or []:
        start, end = _ts(step.get("started")), _ts(step.get("finished"))
        rows.append({"name": step["name"], "kind": step_kind(step["name"]), "status": step["status"],
                     "start": start, "end": end, "seconds": round(end - start, 1) if start and end else None})
    return rows


def probe_intervals(summary):
    """Union of every target's downtime intervals, as (start, end) epoch pairs."""
    pairs = []
    for target in (summary or {}).get("targets", {}).values():
        pairs.extend((i["start"], i["end"]) for i in target["downtime_intervals"])
    return slo.merge_intervals(pairs)


def charge_ledger(ledger, run_id, intervals):
    """Append each downtime interval to the ledger once (idempotent per run and interval)."""
    added = 0
    for index, (start, end) in enumerate(intervals):
        if slo.append_downtime(ledger, start, end, tags=["upgrade"], source="upgrade-cluster",
                               run_id="%s#%d" % (run_id, index + 1), note="failed probe requests during the upgrade"):
            added += 1
    return added


STEP_COLOURS = {"control plane": "#4c72b0", "resize pool": "#55a868", "drain": "#dd8452", "recycle": "#8172b3",
                "delete node": "#937860", "other": "#8c8c8c", "preflight": "#64b5cd", "postflight": "#64b5cd"}


def timeline_png(path, rows, summary, title):
    """Gantt of the steps with the probe's failed requests underneath; None when no step started."""
    rows = [r for r in rows if r["start"]]
    if not rows:
        return None
    origin = min(r["start"] for r in rows)
    horizon = max((r["end"] or r["start"]) for r in rows)
    bars = [timeline_chart.lane(row["name"][:48], row["start"] - origin, (row["end"] or horizon) - row["start"],
                                timeline_chart.FAILED if row["status"] == "failed" else
                                STEP_COLOURS.get(row["kind"], "#8c8c8c")) for row in rows]
    failures = prober.read_jsonl(os.path.join(summary["dir"], prober.FAILURES)) if summary else []
    lanes = []
    for target in sorted(((summary or {}).get("targets") or {}).keys()):
        xs = [f["ts"] - origin for f in failures if f["target"] == target]
        lanes.append(("probe %s (%d failed)" % (target, len(xs)), xs))
    xlabel = "seconds since %s" % datetime.datetime.fromtimestamp(origin, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")
    return timeline_chart.render(path, title, bars, xlabel, tick_lanes=lanes, fontsize=7)


def pod_moves(state):
    """{namespace/app: times one of its pods was evicted} over the run's finished drains (report/pod_moves.py)."""
    return dict((a["app"], a["moves"]) for a in app_rows(move_rows(state)))


def soak_rows(state):
    """One row per soak step (after a batch or a node, and the final one): what it found."""
    rows = []
    for step in state.get("steps") or []:
        if step["name"].startswith("soak ") and step["status"] != "running":
            d = step.get("details") or {}
            rows.append({"soak": step["name"][len("soak "):], "status": d.get("result", step["status"]),
                         "seconds": d.get("seconds"), "ended_early": d.get("ended_early", False),
                         "requests": d.get("requests", 0), "failed_requests": d.get("failed_requests", 0),
                         "restarts": sum((d.get("restarts") or {}).values()), "not_ready": len(d.get("not_ready") or []),
                         "reasons": d.get("reasons") or []})
    return rows


#: Sections with text around their table, as Jinja2 templates (report/markdown.py); the rest are tables.
ACTION_NEEDED_TEMPLATE = """\
These nodes would not drain in time. They are cordoned, labelled `runbooks.fournines.io/quarantined=true` and still \
run the old version; move or fix their pods, then drain and recycle them (or re-run the upgrade):

{{ ["node", "pods still on it", "why"] | md_table(rows) }}
"""

FAILED_REQUESTS_TEMPLATE = """\
{{ ["target", "requests", "failed", "downtime s"] | md_table(rows) }}

Every failed request is in `{{ failures_file }}`.
"""


def _render(template, **context):
    return markdown.render(template, **context).rstrip("\n")


def build(journal, title, probe_summary=None, preflight=None, budget=None, extra=None):
    """Write report.json/report.md (and timeline.png); return (paths, summary dict)."""
    state = journal.state
    rows = step_rows(state)
    intervals = probe_intervals(probe_summary)
    downtime = round(sum(e - s for s, e in intervals), 3)
    per_node = [r for r in rows if r["kind"] in ("drain", "recycle", "delete node", "resize pool", "create new pool",
                                                 "delete pool")]
    soaks = soak_rows(state)
    starts = [r["start"] for r in rows if r["start"]]
    ends = [r["end"] for r in rows if r["end"]]
    summary = {
        "status": state.get("status"),
        "wall_seconds": round(max(ends) - min(starts), 1) if starts and ends else None,
        "nodes_recycled": sum(len((s.get("details") or {}).get("results") or []) for s in state.get("steps") or []
                              if s["name"].startswith("recycle") and s["status"] == "done"),
        "failed_requests": (probe_summary or {}).get("failed_requests", 0),
        "probe_requests": (probe_summary or {}).get("requests", 0),
        "downtime_seconds": downtime,
        "predicted_downtime_seconds": (preflight or {}).get("predicted_downtime_seconds"),
        # how many times a re-run carried this run on after an interruption (cluster_preflight's fact resumed_at)
        "resumed": len((state.get("facts") or {}).get("resumed_at") or []),
    }
    quarantined = (state.get("facts") or {}).get("quarantined") or []
    move_list = move_rows(state)
    apps = app_rows(move_list)
    moves = dict((a["app"], a["moves"]) for a in apps)
    summary["quarantined_nodes"] = [q["node_name"] for q in quarantined]
    summary["max_moves_per_app"] = max(moves.values()) if moves else 0
    # what a single-replica app paid: from each eviction to its replacement Ready
    summary["single_replica_downtime_seconds"] = dict((a["app"], a["downtime_seconds"]) for a in apps
                                                      if a["replicas"] is not None and int(a["replicas"]) <= 1)
    summary.update(extra or {})
    sections = []
    if quarantined:
        sections.append(("Action needed", _render(ACTION_NEEDED_TEMPLATE, rows=[
            (q["node_name"], ", ".join(q.get("pods") or []), q.get("reason", "")[:300]) for q in quarantined])))
    sections.append(("Summary", markdown_table(["what", "value"], sorted(summary.items()))))
    if preflight:
        findings = preflight.get("findings") or []
        sections.append(("Preflight findings", markdown_table(["gate", "level", "finding"], [
            (f["gate"], f["level"], f["message"]) for f in findings]) if findings else "None."))
        sections.append(("Plan", markdown_table(["pool", "count", "adds", "batches", "already at target"], [
            (p["pool_id"], p["count"], _plan_adds(p), " / ".join(", ".join(b) for b in p["batches"]) or "-",
             ", ".join(str(x) for x in p["already_at_target"]) or "-") for p in preflight.get("plan") or []])))
    sections.append(("Per-node durations", markdown_table(["step", "status", "seconds"], [
        (r["name"], r["status"], r["seconds"]) for r in per_node]) if per_node else "No node was changed."))
    if soaks:
        sections.append(("Soaks", markdown_table(
            ["after", "status", "seconds", "ended early", "failed / requests", "restarts", "not Ready", "regression"],
            [(r["soak"], r["status"], r["seconds"], "yes" if r["ended_early"] else "no",
              "%s / %s" % (r["failed_requests"], r["requests"]), r["restarts"], r["not_ready"],
              "; ".join(r["reasons"]) or "-") for r in soaks])))
    if move_list:
        sections.append(("Pod moves", moves_markdown(move_list)))
    if probe_summary:
        sections.append(("Failed requests", _render(FAILED_REQUESTS_TEMPLATE, rows=[
            (name, t["requests"], t["failed_requests"], t["downtime_seconds"])
            for name, t in sorted(probe_summary["targets"].items())],
            failures_file=os.path.relpath(probe_summary["failures_file"], journal.dir))))
    if budget:
        sections.append(("Error budget", markdown_table(["what", "value"], [
            ("objective", budget.get("objective")), ("window", budget.get("window")),
            ("allowed s", budget.get("allowed_seconds")), ("consumed s (after this run)", budget.get("consumed_seconds")),
            ("remaining s", budget.get("remaining_seconds")), ("charged by this run s", downtime)])))
    png = timeline_png(os.path.join(journal.dir, "timeline.png"), rows, probe_summary, title)
    if png:
        sections.append(("Timeline", "![timeline](timeline.png)"))
    data = {"summary": summary, "preflight": preflight or {}, "probe": probe_summary or {},
            "budget": budget or {}, "steps": rows, "pod_moves": moves, "apps_moved": apps,
            "moves": move_list, "quarantined": quarantined, "soaks": soaks}
    paths = journal.write_report(title, sections, data=data)
    paths["png"] = png
    return paths, summary
