# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's report: Markdown sections and a PNG timeline (matplotlib, Agg backend).

The chart has two rows sharing the time axis (seconds after the fault): the outage's
segments as horizontal bars (plus the node replacement as its own bar, and markers for
the milestones), and below them the prober's up/down line for the app.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import scenario
from ansible_collections.fournines.runbooks.plugins.module_utils.drill.timeline import build as build_timeline
from ansible_collections.fournines.runbooks.plugins.module_utils.drill import watch
from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.drill.timeline import MILESTONES, MILESTONE_LABELS
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal
from ansible_collections.fournines.runbooks.plugins.module_utils.report import timeline_chart
from ansible_collections.fournines.runbooks.plugins.module_utils.report.markdown import markdown_table

SEGMENT_COLOURS = {"detection": "#9e9e9e", "eviction toleration": "#ef6c00", "eviction": "#ef6c00",
                   "rescheduling": "#fdd835", "volume wait": "#c62828", "pod start": "#1565c0",
                   "edge recovery": "#6a1b9a"}


#: Milestones marked on the chart with a dotted line and a short label.
CHART_MARKERS = (("app_down", "edge down"), ("node_not_ready", "NotReady"), ("taint_added", "taint"),
                 ("multi_attach_warning", "Multi-Attach"), ("volume_detached", "detached"),
                 ("first_200", "first 200"))


def _marker_labels(rel, close=1.0):
    """(x, label) for the chart's markers; markers within ``close`` seconds share one label."""
    found = sorted((rel[name], short) for name, short in CHART_MARKERS if rel.get(name) is not None)
    out = []
    for at, short in found:
        if out and at - out[-1][0] <= close:
            out[-1] = (out[-1][0], out[-1][1] + ", " + short)
        else:
            out.append((at, short))
    return out


def _clock(ts):
    if ts is None:
        return ""
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-5] + "Z"


def sections(timeline, advice, comparison, facts):
    """[(heading, markdown)] for RunJournal.write_report."""
    down = timeline["downtime"]
    lines = ["- mode: **%s**, node `%s` (%s)" % (timeline["mode"], timeline["node"], facts.get("why", "")),
             "- fault injected: %s" % _clock(timeline["fault_ts"]),
             "- downtime at the edge (prober, 1 request per %s s): **%.1f s** in %d interval(s), %d of %d requests "
             "failed" % (facts.get("interval", 1), down["seconds"], len(down["intervals"]), down["failed"],
                         down["requests"]),
             "- recovered: %s" % ("yes" if timeline["recovered"] else "**no**")]
    if facts.get("aborted"):
        lines.append("- **aborted**: downtime passed the limit of %s s; restored by %s" % (
            facts.get("downtime_limit"), ", ".join(facts.get("restored_by") or []) or "nothing"))
    if facts.get("workload"):
        wl = facts["workload"]
        lines.append("- workload `%s`: %s replica(s), ReadWriteOnce claims: %s, unreachable toleration %s s" % (
            wl.get("workload"), wl.get("replicas"), ", ".join(wl.get("rwo_claims") or []) or "none",
            wl.get("unreachable_toleration_seconds")))
    if facts.get("environment"):
        lines.append("- environment: %s" % facts["environment"])
    for note in facts.get("notes") or []:
        lines.append("- %s" % note)
    if facts.get("chart"):
        lines += ["", "![timeline](%s)" % facts["chart"]]
    summary = "\n".join(lines)

    rows = []
    for name, label in MILESTONES:
        ts = timeline["milestones"].get(name)
        rel = timeline["relative"].get(name)
        rows.append((label, _clock(ts) if ts else "not observed", "%+.1f" % rel if rel is not None else ""))
    marks = markdown_table(["milestone", "time (UTC)", "s after fault"], rows)
    if timeline["order_violations"]:
        marks += "\n\nOut of order: " + "; ".join(timeline["order_violations"])
    else:
        marks += "\n\nAll observed milestones came in the expected order."

    total = sum(s["seconds"] for s in timeline["segments"])
    seg_rows = [(s["name"], "%.1f" % s["seconds"], "%.0f %%" % (100.0 * s["seconds"] / total if total else 0),
                 MILESTONE_LABELS[s["end_milestone"]]) for s in timeline["segments"]]
    seg_rows.append(("total (fault to recovery)", "%.1f" % total, "100 %", ""))
    segs = markdown_table(["phase", "seconds", "share", "ends at"], seg_rows)
    rel = timeline["relative"].get("node_replaced")
    if rel is not None:
        segs += "\n\nIn parallel, the replacement node was Ready %.1f s after the fault." % rel

    adv = "\n".join("- **%s** %s" % (a["severity"], a["text"]) for a in advice) or "- nothing to add"

    comp = comparison["text"]
    if comparison["rows"]:
        names = sorted(set(n for r in comparison["rows"] for n in r["segments"]))
        comp += "\n\n" + markdown_table(
            ["run", "status", "downtime s"] + names,
            [[r["run_id"], r["status"], r["downtime_seconds"]] + [r["segments"].get(n, "") for n in names]
             for r in comparison["rows"]])
    return [("Drill", summary), ("Timeline", marks), ("Where the time went", segs), ("Advice", adv),
            ("Compared with earlier drills", comp)]


def chart(path, timeline, samples, title="node-failure drill"):
    """Write the PNG timeline; returns ``path``."""
    fault = timeline["fault_ts"]
    target = timeline.get("probe_target")
    points = [(s["ts"] - fault, 1 if s["ok"].get(target) else 0) for s in sorted(samples or [], key=lambda s: s["ts"])
              if target in (s.get("ok") or {})]
    rel = timeline["relative"]
    ends = [v for v in rel.values() if v is not None] + [p[0] for p in points]
    right = max(ends + [10.0]) * 1.05
    left = max(-5.0, min([p[0] for p in points] + [-2.0]))
    bars = [timeline_chart.lane(s["name"], s["start"] - fault, s["seconds"], SEGMENT_COLOURS.get(s["name"], "#607d8b"),
                                note="%.1f s" % s["seconds"]) for s in timeline["segments"]]
    if rel.get("node_replaced") is not None:
        bars.append(timeline_chart.lane("node replacement", 0.0, rel["node_replaced"], "#2e7d32",
                                        note="%.1f s" % rel["node_replaced"]))
    heading = "%s: %s of node %s, downtime %.1f s" % (
        title, timeline["mode"], timeline["node"], timeline["downtime"]["seconds"])
    return timeline_chart.render(path, heading, bars, "seconds after the fault",
                                 markers=_marker_labels(rel, close=max(1.0, (right - left) * 0.02)),
                                 availability=(target or "prober", [p[0] for p in points], [p[1] for p in points]),
                                 xlim=(left, right), zero_line=True, dpi=110)


def produce(reports_dir, run_id, watch_dir, probe_dir, fault_ts, node, mode, probe_target=None, interval=1.0,
            workload=None, facts=None, ledger=None, check_mode=False):
    """Build the timeline, advice and comparison; write report.md/.json/timeline.png; charge the ledger.

    Returns (result dict, ledger_recorded). Nothing is written in check mode.
    """
    facts = dict(facts or {}, interval=interval, workload=workload)
    obs = watch.read_observations(watch_dir)
    samples = scenario.read_samples(probe_dir)
    timeline = build_timeline(obs, samples, fault_ts, node, mode, probe_target, interval)
    advice = scenario.advise(timeline, workload, facts)
    previous = scenario.previous_reports(reports_dir, mode, exclude_run=run_id, environment=facts.get("environment"))
    current = {"downtime_seconds": timeline["downtime"]["seconds"],
               "segments": dict((s["name"], s["seconds"]) for s in timeline["segments"])}
    comparison = scenario.compare(current, previous)
    journal = RunJournal(reports_dir, run_id, scenario.RUNBOOK)
    chart_path = os.path.join(journal.dir, "timeline.png")
    rec = scenario.ledger_record(timeline, run_id, mode, node, fault_ts)
    drill = {"mode": mode, "node": node, "why": facts.get("why"), "environment": facts.get("environment"),
             "fault_ts": timeline["fault_ts"], "probe_target": probe_target, "downtime_seconds": timeline["downtime"]["seconds"],
             "downtime": timeline["downtime"], "milestones": timeline["milestones"], "relative": timeline["relative"],
             "segments": timeline["segments"], "order_violations": timeline["order_violations"],
             "missing": timeline["missing"], "recovered": timeline["recovered"], "advice": advice,
             "comparison": comparison, "workload": workload, "aborted": bool(facts.get("aborted")),
             "downtime_limit": facts.get("downtime_limit"), "restored_by": facts.get("restored_by") or [],
             "notes": facts.get("notes") or [],
             "observations": len(obs), "probe_samples": len(samples),
             "ledger": None if rec is None else {"start": slo.format_time(slo.parse_time(rec[0])),
                                                 "end": slo.format_time(slo.parse_time(rec[1])), "tags": rec[2],
                                                 "note": rec[3]}}
    result = {"drill": drill, "dir": journal.dir, "chart": chart_path, "markdown": os.path.join(journal.dir, "report.md"),
              "json": os.path.join(journal.dir, "report.json")}
    if check_mode:
        return result, False
    chart(chart_path, timeline, samples)
    journal.write_report("Node-failure drill %s" % run_id,
                         sections(timeline, advice, comparison, dict(facts, chart="timeline.png")), {"drill": drill})
    recorded = False
    if ledger and rec is not None:
        recorded = slo.append_downtime(ledger, rec[0], rec[1], tags=rec[2], source=scenario.RUNBOOK, run_id=run_id,
                                       note=rec[3])
    return result, recorded


#: What a refused drill did not do; the Markdown and the JSON report say the same.
NOTHING_CHANGED = ("no node was touched, no prober or watcher was started and the downtime ledger was not "
                   "charged")


def refused(reports_dir, run_id, reason, facts=None, check_mode=False):
    """Report a drill the preflight refused: the run's journal ends with status ``refused`` (never
    carried on by a later run), and report.md/report.json say why and that nothing was changed.

    Returns the result dict. Nothing is written in check mode.
    """
    facts = facts or {}
    refusal = {"reason": reason, "changed": NOTHING_CHANGED, "mode": facts.get("mode"), "node": facts.get("node") or None,
               "why": facts.get("why") or None, "environment": facts.get("environment")}
    journal = RunJournal(reports_dir, run_id, scenario.RUNBOOK)
    result = {"refused": refusal, "dir": journal.dir, "markdown": os.path.join(journal.dir, "report.md"),
              "json": os.path.join(journal.dir, "report.json")}
    if check_mode:
        return result
    journal.step("preflight", "failed", refused=reason)
    journal.finish("refused")
    lines = ["The preflight **refused** this drill: %s." % reason.rstrip(". "), "",
             "Nothing was changed: %s." % NOTHING_CHANGED, "",
             "- mode: %s" % refusal["mode"],
             "- node: %s" % ("`%s` (%s)" % (refusal["node"], refusal["why"]) if refusal["node"] else "none chosen")]
    if refusal["environment"]:
        lines.append("- environment: %s" % refusal["environment"])
    journal.write_report("Node-failure drill %s" % run_id, [("Refused", "\n".join(lines))], {"refused": refusal})
    return result
