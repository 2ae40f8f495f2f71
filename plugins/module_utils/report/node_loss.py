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

from ansible_collections.fournines.runbooks.plugins.module_utils.report import markdown

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


#: Each incident's section, and the lists after them, as Jinja2 templates (report/markdown.py).
INCIDENT_TEMPLATE = """\
- instance: {{ item.get("instance_id") }}, fencing verdict: **{{ item.get("verdict") }}** ({{ item.get("reason") or "" }})
- outcome: {{ item.get("outcome", "") }}
- taint: {{ taint }}
- pods: {{ (item.get("pods") or []) | join(", ") or "none" }}
- force-deleted after the taint: {{ (item.get("force_deleted") or []) | join(", ") or "none" }}
- volumes: {{ (item.get("volumes") or []) | join(", ") or "none" }}
{% if "outage_seconds" in item %}
- outage: **{{ "%.1f" | format(item["outage_seconds"]) }} s** ({% for phase in item["phases"] %}{{ phase["name"] }} \
{{ "%.1f" | format(phase["seconds"]) }} s{{ ", " if not loop.last else "" }}{% endfor %})
{% endif %}

{{ ["milestone", "time (UTC)"] | md_table(rows) }}
"""

#: One line per entry: ``- <first>: <second>`` (or ``- <first> run <second>``).
LIST_TEMPLATE = """\
{% for entry in entries %}
- {{ entry[first] }}{{ joint }}{{ entry[second] }}
{% endfor %}
"""


def _render(template, **context):
    text = markdown.render(template, **context)
    return text[:-1] if text.endswith("\n") else text


def sections(data):
    out = []
    for item in data["incidents"]:
        rows = [(label, _iso(item[key])) for key, label in MILESTONES if item.get(key)]
        taint = item.get("release_note") or (
            "not applied: %s" % item.get("not_tainted") if item.get("not_tainted") else "")
        out.append(("Node %s" % item["node"], _render(INCIDENT_TEMPLATE, item=item, taint=taint, rows=rows)))
    if data["skipped"]:
        out.append(("Not acted on", _render(LIST_TEMPLATE, entries=data["skipped"], first="node", joint=": ",
                                            second="reason")))
    if data["holds"]:
        out.append(("Held by", _render(LIST_TEMPLATE, entries=data["holds"], first="runbook", joint=" run ",
                                       second="run_id")))
    if data["released"]:
        out.append(("Taint removed", _render(LIST_TEMPLATE, entries=data["released"], first="node", joint=": ",
                                             second="reason")))
    if not data["incidents"] and not data["skipped"] and not data["released"]:
        out.append(("Nothing to do", "No lost node needed a response."))
    return out
