# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Error-budget maths shared by the slo_* modules, the filter plugin and the runbook gates.

An availability objective (e.g. 99.99 %) over a window allows ``(1 - objective) * window``
of downtime. Downtime comes from a ledger of intervals (JSON lines, format below); the
intervals are clipped to the window and merged, so overlapping records count once.

Ledger format, one JSON object per line (blank lines and lines starting with ``#`` are
ignored)::

    {"start": "2026-11-03T10:00:00Z", "end": "2026-11-03T10:07:35Z",
     "tags": ["drill"], "source": "node-failure-drill", "run_id": "20261103T100000Z-ab12",
     "note": "deleted lke node 12345-6aa78910bc"}

``start`` and ``end`` are ISO 8601 timestamps; a timestamp without an offset is UTC.
``tags``, ``source``, ``run_id`` and ``note`` are optional. ``run_id`` makes appends
idempotent: a re-run of the same runbook run does not charge the budget twice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import math
import os
import re

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError

UTC = datetime.timezone.utc
DAY = 86400

#: Window names a user can give; ``<N>d`` (1 to 3660) is a rolling window of N days.
NAMED_WINDOWS = ("calendar_year", "calendar_quarter", "calendar_month")
_ROLLING_RE = re.compile(r"^(?:rolling_)?(\d{1,4})d$")
VALID_WINDOWS_TEXT = "'<N>d' for a rolling window of N days (for example '30d', '28d', '365d') or one of %s" % (
    ", ".join("'%s'" % w for w in NAMED_WINDOWS))


class SLOError(RunbookError):
    """Bad objective, window, interval or ledger."""


def parse_time(value, what="timestamp"):
    """Return an aware UTC datetime from an ISO 8601 string, a datetime or epoch seconds."""
    if isinstance(value, datetime.datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        dt = datetime.datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise SLOError("%s %r is not an ISO 8601 timestamp (for example 2026-11-03T10:00:00Z)" % (what, value))
    else:
        raise SLOError("%s %r is not an ISO 8601 timestamp (for example 2026-11-03T10:00:00Z)" % (what, value))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_time(dt):
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_objective(objective):
    """Return the objective as a float percentage strictly between 0 and 100."""
    try:
        value = float(objective)
    except (TypeError, ValueError):
        raise SLOError("objective %r is not a number; give a percentage strictly between 0 and 100, such as 99.99" % (objective,))
    if math.isnan(value) or not 0 < value < 100:
        raise SLOError("objective %r is outside (0, 100); give a percentage such as 99.9 or 99.99" % (objective,))
    return value


def window_bounds(window, now):
    """Return (start, end) of the window that contains ``now``.

    Rolling windows end at ``now``. Calendar windows run from the start of the current
    year/quarter/month to the start of the next one, so their length follows the calendar
    (366 days in a leap year).
    """
    if not isinstance(window, str):
        raise SLOError("window %r is not valid; use %s" % (window, VALID_WINDOWS_TEXT))
    match = _ROLLING_RE.match(window.strip())
    if match:
        days = int(match.group(1))
        if not 1 <= days <= 3660:
            raise SLOError("window %r is not valid: a rolling window is 1 to 3660 days; use %s" % (window, VALID_WINDOWS_TEXT))
        return now - datetime.timedelta(days=days), now
    name = window.strip()
    if name == "calendar_year":
        start = datetime.datetime(now.year, 1, 1, tzinfo=UTC)
        return start, datetime.datetime(now.year + 1, 1, 1, tzinfo=UTC)
    if name == "calendar_quarter":
        first_month = 3 * ((now.month - 1) // 3) + 1
        start = datetime.datetime(now.year, first_month, 1, tzinfo=UTC)
        return start, _add_months(start, 3)
    if name == "calendar_month":
        start = datetime.datetime(now.year, now.month, 1, tzinfo=UTC)
        return start, _add_months(start, 1)
    raise SLOError("window %r is not valid; use %s" % (window, VALID_WINDOWS_TEXT))


def _add_months(start, months):
    month0 = start.month - 1 + months
    return start.replace(year=start.year + month0 // 12, month=month0 % 12 + 1)


def allowed_downtime_seconds(objective, window, now=None):
    """Seconds of downtime the objective allows over the whole window."""
    objective = validate_objective(objective)
    now = parse_time(now, "now") if now is not None else datetime.datetime.now(UTC)
    start, end = window_bounds(window, now)
    return (100.0 - objective) / 100.0 * (end - start).total_seconds()


def normalize_interval(raw, where="interval"):
    """Validate one ledger record and return it with parsed ``start``/``end`` datetimes."""
    if not isinstance(raw, dict):
        raise SLOError("%s is not an object with 'start' and 'end': %r" % (where, raw))
    for key in ("start", "end"):
        if key not in raw:
            raise SLOError("%s has no '%s'; each interval needs 'start' and 'end' ISO 8601 timestamps" % (where, key))
    start = parse_time(raw["start"], "%s start" % where)
    end = parse_time(raw["end"], "%s end" % where)
    if end < start:
        raise SLOError("%s ends (%s) before it starts (%s)" % (where, format_time(end), format_time(start)))
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise SLOError("%s has tags %r; give a list of strings such as ['drill']" % (where, raw.get("tags")))
    record = dict(raw)
    record.update(start=start, end=end, tags=tags)
    return record


def merge_intervals(intervals):
    """Merge overlapping or touching (start, end) pairs; return them sorted."""
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1][1] = end
        else:
            merged.append([start, end])
    return [tuple(pair) for pair in merged]


def budget(objective, window, intervals, now=None, exclude_tags=None):
    """Compute the error budget.

    ``intervals`` are ledger records (dicts with start/end/tags). Records carrying any tag
    in ``exclude_tags`` (for example planned drills) are left out. Returns a dict of
    plain JSON types.
    """
    objective = validate_objective(objective)
    now = parse_time(now, "now") if now is not None else datetime.datetime.now(UTC)
    start, end = window_bounds(window, now)
    length = (end - start).total_seconds()
    elapsed = (min(end, now) - start).total_seconds()
    allowed = (100.0 - objective) / 100.0 * length
    exclude = set(exclude_tags or [])

    counted, excluded = [], 0
    for index, raw in enumerate(intervals or []):
        rec = normalize_interval(raw, "interval %d" % (index + 1))
        if exclude.intersection(rec["tags"]):
            excluded += 1
            continue
        clipped_start, clipped_end = max(rec["start"], start), min(rec["end"], now, end)
        if clipped_end > clipped_start:
            counted.append((clipped_start, clipped_end))
    merged = merge_intervals(counted)
    consumed = sum((e - s).total_seconds() for s, e in merged)
    remaining = allowed - consumed
    # Burn rate 1.0 means spending the budget exactly as fast as the window allows.
    expected_so_far = allowed * (elapsed / length) if length else 0.0
    burn_rate = consumed / expected_so_far if expected_so_far > 0 else 0.0
    return {
        "objective": objective,
        "window": window,
        "window_start": format_time(start),
        "window_end": format_time(end),
        "now": format_time(now),
        "window_seconds": length,
        "allowed_seconds": round(allowed, 3),
        "consumed_seconds": round(consumed, 3),
        "remaining_seconds": round(remaining, 3),
        "remaining_percent": round(100.0 * remaining / allowed, 3) if allowed else 0.0,
        "consumed_percent": round(100.0 * consumed / allowed, 3) if allowed else 0.0,
        "burn_rate": round(burn_rate, 4),
        "intervals_counted": len(counted),
        "intervals_excluded": excluded,
        "merged_intervals": [{"start": format_time(s), "end": format_time(e)} for s, e in merged],
    }


def budget_allows(report, planned_seconds, min_remaining_percent=0.0):
    """Whether ``planned_seconds`` more downtime keeps the budget above the reserve.

    Returns (ok, reason). The reserve is a percentage of the allowed downtime that must
    remain after the planned work (the SRE workbook halts changes at 0 %).
    """
    try:
        planned = float(planned_seconds)
    except (TypeError, ValueError):
        raise SLOError("planned downtime %r is not a number of seconds" % (planned_seconds,))
    if planned < 0:
        raise SLOError("planned downtime %r is negative; give 0 or more seconds" % (planned_seconds,))
    reserve = report["allowed_seconds"] * float(min_remaining_percent) / 100.0
    after = report["remaining_seconds"] - planned
    if after < reserve:
        reason = "%.0f s of planned downtime would leave %.0f s of the %.0f s budget (%s, %s %%), below the reserve of %.0f s" % (
            planned, after, report["allowed_seconds"], report["window"], report["objective"], reserve)
        return False, reason
    return True, "%.0f s of planned downtime leaves %.0f s of %.0f s" % (planned, after, report["allowed_seconds"])


def ledger_budget(ledger, objective=99.99, window="30d", exclude_tags=None, min_remaining_percent=0.0):
    """:func:`budget` of the ledger file ``ledger``, noting the share of it a gate keeps (``min_remaining_percent``)."""
    report = budget(objective, window, read_ledger(ledger), exclude_tags=exclude_tags or [])
    report["min_remaining_percent"] = float(min_remaining_percent or 0)
    return report


def read_ledger(path):
    """Read a JSON-lines ledger; a missing file is an empty ledger."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path, "r") as handle:
        for lineno, line in enumerate(handle, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                raw = json.loads(text)
            except ValueError as err:
                raise SLOError("ledger %s line %d is not valid JSON (%s); fix or remove that line" % (path, lineno, err))
            rec = normalize_interval(raw, "ledger %s line %d" % (path, lineno))
            records.append(dict(raw, tags=rec["tags"]))
    return records


def append_downtime(path, start, end, tags=None, source=None, run_id=None, note=None):
    """Append one interval to the ledger; return False if ``run_id`` is already there."""
    record = {"start": format_time(parse_time(start, "start")), "end": format_time(parse_time(end, "end"))}
    normalize_interval(record, "new interval")
    if tags:
        record["tags"] = list(tags)
    for key, value in (("source", source), ("run_id", run_id), ("note", note)):
        if value:
            record[key] = value
    if run_id and any(r.get("run_id") == run_id for r in read_ledger(path)):
        return False
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, "a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return True


def charge_downtime(state, ledger, downtime, runbook):
    """Append a run's measured downtime (``downtime``: seconds, step, tags) to the ledger, ending when
    that step of the run journal ``state`` finished (now if it has not); once per run id."""
    end = None
    for step in state["steps"]:
        if step["name"] == downtime.get("step") and step.get("finished"):
            end = parse_time(step["finished"], "finished")
    if end is None:
        end = datetime.datetime.now(UTC)
    start = end - datetime.timedelta(seconds=downtime["seconds"])
    # The ledger counts whole seconds: round outwards, so a sub-second outage is charged, not dropped.
    start = start.replace(microsecond=0)
    if end.microsecond:
        end = end.replace(microsecond=0) + datetime.timedelta(seconds=1)
    return append_downtime(ledger, format_time(start), format_time(end), tags=downtime.get("tags"), source=runbook,
                           run_id=state["run_id"], note="measured by %s" % (downtime.get("step") or runbook))
