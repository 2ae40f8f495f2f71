# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Maintenance windows and freeze periods of the autopilot's policy, in their own time zones.

A window is ``{"days": ["mon", ...], "start": "HH:MM", "end": "HH:MM", "timezone": "<IANA>"}``. When
``end`` is not after ``start`` the window crosses midnight and belongs to the day it starts on
(``fri 22:00-04:00`` is open from Friday 22:00 to Saturday 04:00). Comparisons are made in UTC, so a
daylight-saving change inside a window shortens or lengthens it as the wall clock does.

A freeze is ``{"start", "end", "reason", "timezone"}``, ISO 8601 dates or date-times; one without an
offset is read in its time zone; a bare date is that day's midnight. ``end`` is excluded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

try:
    import zoneinfo
    HAS_ZONEINFO = True
except ImportError:  # pragma: no cover - Python 3.9+ has it
    zoneinfo = None
    HAS_ZONEINFO = False

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError

UTC = datetime.timezone.utc
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class WindowError(RunbookError):
    """A window, freeze or time zone the autopilot cannot read."""


def timezone(name, where="timezone"):
    """The tzinfo of an IANA name (``UTC`` included)."""
    if name in (None, "", "UTC", "utc", "Z"):
        return UTC
    if not isinstance(name, str) or not HAS_ZONEINFO:
        raise WindowError("%s %r is not a time zone; give an IANA name such as Europe/Berlin or UTC" % (where, name))
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise WindowError("%s %r is not a known time zone; give an IANA name such as Europe/Berlin, "
                          "America/New_York or UTC" % (where, name))


def parse_hhmm(value, where):
    """``datetime.time`` of an ``HH:MM`` string (00:00 to 23:59)."""
    match = _HHMM_RE.match(str(value).strip()) if isinstance(value, (str, int)) else None
    if not match:
        raise WindowError("%s %r is not a time of day; give HH:MM between 00:00 and 23:59, for example \"22:00\""
                          % (where, value))
    return datetime.time(int(match.group(1)), int(match.group(2)))


def parse_moment(value, tz, where):
    """Aware UTC datetime of an ISO 8601 date or date-time; a naive one is read in ``tz``."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value, datetime.time())
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise WindowError("%s %r is not an ISO 8601 date or date-time; give for example 2026-12-20 or "
                              "2026-12-20T18:00" % (where, value))
    else:
        raise WindowError("%s %r is not an ISO 8601 date or date-time; give for example 2026-12-20 or "
                          "2026-12-20T18:00" % (where, value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def _spans(window, default_tz, around):
    """(open, close) in UTC of every occurrence of ``window`` from the day before ``around`` on, 9 days."""
    tz = timezone(window.get("timezone") or default_tz, "window timezone")
    start = parse_hhmm(window["start"], "window start")
    end = parse_hhmm(window["end"], "window end")
    days = window.get("days") or list(DAYS)
    local_day = around.astimezone(tz).date()
    for offset in range(-1, 8):
        day = local_day + datetime.timedelta(days=offset)
        if DAYS[day.weekday()] not in days:
            continue
        end_day = day if end > start else day + datetime.timedelta(days=1)
        opened = datetime.datetime.combine(day, start).replace(tzinfo=tz).astimezone(UTC)
        closed = datetime.datetime.combine(end_day, end).replace(tzinfo=tz).astimezone(UTC)
        yield opened, closed


def window_state(now, windows, default_tz="UTC"):
    """(inside, detail): whether ``now`` (aware) is inside one of ``windows``, and when it closes/opens next."""
    now = now.astimezone(UTC)
    if not windows:
        return False, "the policy has no maintenance window"
    next_open = None
    for window in windows:
        for opened, closed in _spans(window, default_tz, now):
            if opened <= now < closed:
                return True, "inside the window %s until %s" % (describe_window(window), _z(closed))
            if opened > now and (next_open is None or opened < next_open):
                next_open = opened
    if next_open is None:
        return False, "no window opens within a week"
    return False, "outside every window; the next opens at %s" % _z(next_open)


def freeze_state(now, freezes, default_tz="UTC"):
    """(frozen, detail): whether ``now`` falls in a freeze, naming it and its end."""
    now = now.astimezone(UTC)
    for freeze in freezes or []:
        tz = timezone(freeze.get("timezone") or default_tz, "freeze timezone")
        start = parse_moment(freeze["start"], tz, "freeze start")
        end = parse_moment(freeze["end"], tz, "freeze end")
        if start <= now < end:
            return True, "frozen (%s) until %s" % (freeze.get("reason") or "freeze", _z(end))
    return False, "no freeze"


def describe_window(window):
    days = window.get("days") or list(DAYS)
    return ("%s %s-%s %s" % (",".join(days), window["start"], window["end"], window.get("timezone") or "")).strip()


def _z(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
