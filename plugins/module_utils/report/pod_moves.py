# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per pod: how often it moved during a rollout and what each move cost.

Read from the run's journal: every finished drain step lists its moves (k8s/drain.py: pod, node,
owner, evicted_at, replicas, ready_at, seconds). A Deployment's pod gets a new name each time it
moves, so "the same pod" is its workload's pod (app_of): for a
single-replica app that is exactly one pod. Its downtime is from the eviction to the replacement
Ready; a workload with more replicas keeps serving from the others (the prober measures that), so
no downtime is claimed for its pods.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.fournines.runbooks.plugins.module_utils.report import markdown

_GENERATED = re.compile(r"^(?P<app>.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")


def app_of(pod_key):
    """namespace/app for a Deployment's pod (``web-7fcfb8468d-jszrv`` -> ``web``); other pods keep their name."""
    match = _GENERATED.match(pod_key)
    return match.group("app") if match else pod_key


def move_rows(state):
    """One row per eviction over the run's finished drains, in order: pod, app, move (1st, 2nd, ... of its app),
    node, evicted_at, ready_at, seconds to a whole workload, replicas, downtime_seconds (single replica only)."""
    rows, count = [], {}
    for step in state.get("steps") or []:
        if not (step["name"].startswith("drain") and step["status"] == "done"):
            continue
        details = step.get("details") or {}
        moves = details.get("moves")
        if moves is None:  # a journal written before moves were recorded: the evicted pods only
            moves = [{"pod": key} for key in details.get("evicted_pods") or []]
        for move in moves:
            app = app_of(move["pod"])
            count[app] = count.get(app, 0) + 1
            replicas = move.get("replicas")
            single = replicas is not None and int(replicas) <= 1
            rows.append({"pod": move["pod"], "app": app, "move": count[app], "node": move.get("node"),
                         "evicted_at": move.get("evicted_at"), "ready_at": move.get("ready_at"),
                         "seconds": move.get("seconds"), "replicas": replicas,
                         "downtime_seconds": move.get("seconds") if single else None})
    return rows


def app_rows(rows):
    """Per app: moves, replicas, and for a single-replica app its total downtime (None when a replacement never
    became Ready, or the workload has more replicas)."""
    out = {}
    for row in rows:
        entry = out.setdefault(row["app"], {"app": row["app"], "moves": 0, "replicas": row["replicas"],
                                            "downtime_seconds": None, "unfinished": False})
        entry["moves"] += 1
        if row["downtime_seconds"] is not None:
            entry["downtime_seconds"] = round((entry["downtime_seconds"] or 0.0) + row["downtime_seconds"], 3)
        elif row["replicas"] is not None and int(row["replicas"]) <= 1:
            entry["unfinished"] = True
    return [out[name] for name in sorted(out)]


def _clock(epoch):
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc).strftime("%H:%M:%S")


def _downtime(row):
    if row["downtime_seconds"] is not None:
        return "%.1f" % row["downtime_seconds"]
    if row["replicas"] is not None and int(row["replicas"]) <= 1:
        return "not Ready again"
    return "- (%s replicas)" % row["replicas"] if row["replicas"] is not None else "-"


def _app_downtime(app):
    parts = []
    if app["downtime_seconds"] is not None:
        parts.append("%.1f" % app["downtime_seconds"])
    if app["unfinished"]:
        parts.append("not Ready again")
    return " + ".join(parts) or "-"


#: The "Pod moves" section as a Jinja2 template (report/markdown.py).
MOVES_TEMPLATE = """\
{{ ["app (namespace/name)", "moves", "replicas", "downtime s (single replica)"] | md_table(apps) }}

{{ ["pod", "move", "from node", "evicted (UTC)", "workload whole again (UTC)", "seconds", "downtime s"] | md_table(moves) }}

Downtime is counted for single-replica workloads only: from the eviction to the replacement's Ready condition (to the \
second). A workload with more replicas keeps serving from the others; the prober's failed requests above say whether \
it did.
"""


def moves_markdown(rows):
    """The report's "Pod moves" section: one table per app, one per move."""
    if not rows:
        return "No pod was evicted."
    apps = [(a["app"], a["moves"], a["replicas"] if a["replicas"] is not None else "?", _app_downtime(a))
            for a in app_rows(rows)]
    moves = [(r["pod"], r["move"], r["node"] or "-", _clock(r["evicted_at"]), _clock(r["ready_at"]),
              r["seconds"] if r["seconds"] is not None else "-", _downtime(r)) for r in rows]
    return markdown.render(MOVES_TEMPLATE, apps=apps, moves=moves).rstrip("\n")
