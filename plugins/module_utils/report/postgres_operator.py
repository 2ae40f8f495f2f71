# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CloudNativePG upgrade report's pieces that are not text: the write outages charged to the
downtime ledger (once per run) and the timeline PNG (steps, write outages, failed writes)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.report import timeline_chart

STEP_COLOUR = "#4c72b0"
OUTAGE_COLOUR = timeline_chart.FAILED


def _epoch(value):
    if isinstance(value, (int, float)):
        return float(value)
    dt = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp()


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def charge(ledger, outages, run_id, tags, source="upgrade-postgres"):
    """Append each closed write outage to the ledger; ids ``<run_id>/write-<start in ms>`` make a re-run charge
    none twice, while a later attempt of the same run (a new writer after a failed one) charges its own.

    Returns the number of intervals added.
    """
    added = 0
    for outage in (o for o in outages if o["seconds"] > 0):
        # The ledger counts whole seconds: round outwards, so a sub-second outage is charged.
        start, end = int(outage["start"]), int(outage["end"]) + (1 if outage["end"] % 1 else 0)
        if slo.append_downtime(ledger, _iso(start), _iso(max(end, start + 1)), tags=tags, source=source,
                               run_id="%s/write-%d" % (run_id, round(outage["start"] * 1000)),
                               note="write outage measured by the write prober (%.1f s)" % outage["seconds"]):
            added += 1
    return added


def timeline(path, title, steps, summary, started):
    """Draw the run: one lane per step (from the previous step's end to its own ``at``), the write
    outages, and the failed write attempts as ticks; x in seconds since ``started``."""
    origin = _epoch(started)
    bars, previous = [], origin
    for step in steps:
        at = _epoch(step["at"])
        colour = timeline_chart.FAILED if step.get("status") == "failed" else STEP_COLOUR
        bars.append(timeline_chart.lane(str(step["step"])[:48], previous - origin, max(at - previous, 0.0), colour))
        previous = at
    for outage in summary.get("outages") or []:
        bars.append(timeline_chart.lane("writes failing", outage["start"] - origin, outage["seconds"], OUTAGE_COLOUR,
                                        note="%.1f s" % outage["seconds"]))
    ticks = [("failed writes", [f - origin for f in summary.get("failure_times") or []])]
    return timeline_chart.render(path, title, bars, "seconds since the run started", tick_lanes=ticks)
