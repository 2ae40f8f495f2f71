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
from ansible_collections.fournines.runbooks.plugins.module_utils.report import markdown

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


#: The report's sections as Jinja2 templates (rendered by report/markdown.py); Python below only prepares rows.
DRILL_TEMPLATE = """\
- mode: **{{ timeline["mode"] }}**, node `{{ timeline["node"] }}` ({{ facts.get("why", "") }})
- fault injected: {{ clock(timeline["fault_ts"]) }}
- downtime at the edge (prober, 1 request per {{ facts.get("interval", 1) }} s): **{{ "%.1f" | format(down["seconds"]) }} s** \
in {{ down["intervals"] | length }} interval(s), {{ "%d" | format(down["failed"]) }} of {{ "%d" | format(down["requests"]) }} \
requests failed
- recovered: {{ "yes" if timeline["recovered"] else "**no**" }}
{% if facts.get("aborted") %}
- **aborted**: downtime passed the limit of {{ facts.get("downtime_limit") }} s; restored by \
{{ (facts.get("restored_by") or []) | join(", ") or "nothing" }}
{% endif %}
{% if facts.get("workload") %}
{% set wl = facts["workload"] %}
- workload `{{ wl.get("workload") }}`: {{ wl.get("replicas") }} replica(s), ReadWriteOnce claims: \
{{ (wl.get("rwo_claims") or []) | join(", ") or "none" }}, unreachable toleration {{ wl.get("unreachable_toleration_seconds") }} s
{% endif %}
{% if facts.get("environment") %}
- environment: {{ facts["environment"] }}
{% endif %}
{% for note in facts.get("notes") or [] %}
- {{ note }}
{% endfor %}
{% if facts.get("chart") %}

![timeline]({{ facts["chart"] }})
{% endif %}
"""

TIMELINE_TEMPLATE = """\
{{ ["milestone", "time (UTC)", "s after fault"] | md_table(rows) }}

{% if violations %}
Out of order: {{ violations | join("; ") }}
{% else %}
All observed milestones came in the expected order.
{% endif %}
"""

SEGMENTS_TEMPLATE = """\
{{ ["phase", "seconds", "share", "ends at"] | md_table(rows) }}
{% if replaced is not none %}

In parallel, the replacement node was Ready {{ "%.1f" | format(replaced) }} s after the fault.
{% endif %}
"""

ADVICE_TEMPLATE = """\
{% for item in advice %}
- **{{ item["severity"] }}** {{ item["text"] }}
{% else %}
- nothing to add
{% endfor %}
"""

COMPARISON_TEMPLATE = """\
{{ comparison["text"] }}
{% if comparison["rows"] %}

{{ (["run", "status", "downtime s"] + names) | md_table(rows) }}
{% endif %}
"""

REFUSED_TEMPLATE = """\
The preflight **refused** this drill: {{ reason.rstrip(". ") }}.

Nothing was changed: {{ nothing_changed }}.

- mode: {{ refusal["mode"] }}
- node: {{ ("`%s` (%s)" | format(refusal["node"], refusal["why"])) if refusal["node"] else "none chosen" }}
{% if refusal["environment"] %}
- environment: {{ refusal["environment"] }}
{% endif %}
"""


def _render(template, **context):
    """A section's Markdown: the template's text without the newline that ends its last line."""
    text = markdown.render(template, **context)
    return text[:-1] if text.endswith("\n") else text


def sections(timeline, advice, comparison, facts):
    """[(heading, markdown)] for RunJournal.write_report."""
    summary = _render(DRILL_TEMPLATE, timeline=timeline, facts=facts, down=timeline["downtime"], clock=_clock)

    rows = []
    for name, label in MILESTONES:
        ts = timeline["milestones"].get(name)
        rel = timeline["relative"].get(name)
        rows.append((label, _clock(ts) if ts else "not observed", "%+.1f" % rel if rel is not None else ""))
    marks = _render(TIMELINE_TEMPLATE, rows=rows, violations=timeline["order_violations"])

    total = sum(s["seconds"] for s in timeline["segments"])
    seg_rows = [(s["name"], "%.1f" % s["seconds"], "%.0f %%" % (100.0 * s["seconds"] / total if total else 0),
                 MILESTONE_LABELS[s["end_milestone"]]) for s in timeline["segments"]]
    seg_rows.append(("total (fault to recovery)", "%.1f" % total, "100 %", ""))
    segs = _render(SEGMENTS_TEMPLATE, rows=seg_rows, replaced=timeline["relative"].get("node_replaced"))

    adv = _render(ADVICE_TEMPLATE, advice=advice)

    names = sorted(set(n for r in comparison["rows"] for n in r["segments"]))
    comp = _render(COMPARISON_TEMPLATE, comparison=comparison, names=names,
                   rows=[[r["run_id"], r["status"], r["downtime_seconds"]] + [r["segments"].get(n, "") for n in names]
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
    body = _render(REFUSED_TEMPLATE, reason=reason, nothing_changed=NOTHING_CHANGED, refusal=refusal)
    journal.write_report("Node-failure drill %s" % run_id, [("Refused", body)], {"refused": refusal})
    return result
