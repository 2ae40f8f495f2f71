# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME (Let's Encrypt) issuance rate-limit headroom.

Let's Encrypt allows, in any sliding window of 7 days:

- 50 new certificates per *registered domain* (the name one label below its public suffix,
  found with the maintained Public Suffix List through ``publicsuffixlist``). A certificate
  counts once per registered domain it names, however many names it has there. A renewal
  (a certificate for a set of names that was issued before) does not count here.
- 5 certificates per *exact set of names*, renewals included.

An issuance is a dict ``{"names": [...], "issued_at": ISO 8601, "serial": optional,
"source": optional}``; issuances come from cert-manager's CertificateRequests or from the
ledger the collection keeps (JSON lines, same fields). The same certificate seen twice
(same serial, or same names and time) counts once. A window edge is exclusive at the old
end: an issuance exactly 7 days old no longer counts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import json
import os

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError

try:
    from publicsuffixlist import PublicSuffixList
    HAS_PSL = True
except ImportError:  # pragma: no cover - pinned in requirements/runtime.txt
    HAS_PSL = False

UTC = datetime.timezone.utc
WINDOW_DAYS = 7
PER_DOMAIN_LIMIT = 50
PER_NAME_SET_LIMIT = 5

_PSL = []


class RateLimitError(RunbookError):
    """Bad issuance record, ledger or planned re-issue."""


def _psl():
    if not HAS_PSL:  # pragma: no cover
        raise RateLimitError("the python 'publicsuffixlist' package is required for registered domains")
    if not _PSL:
        _PSL.append(PublicSuffixList())
    return _PSL[0]


def parse_time(value, what):
    if isinstance(value, datetime.datetime):
        dt = value
    else:
        text = str(value or "").strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise RateLimitError("%s %r is not an ISO 8601 timestamp (for example 2026-11-27T10:00:00Z)"
                                 % (what, value))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def normalize_name(name, what="name"):
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name.strip()):
        raise RateLimitError("%s %r is not a DNS name" % (what, name))
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii") if not name.startswith("*.") else \
            "*." + name[2:].encode("idna").decode("ascii")
    except UnicodeError:
        return name


def registered_domain(name):
    """``www.shop.example.co.uk`` -> ``example.co.uk``; IPs and bare suffixes map to themselves."""
    bare = name[2:] if name.startswith("*.") else name
    try:
        ipaddress.ip_address(bare)
        return bare
    except ValueError:
        pass
    return _psl().privatesuffix(bare) or bare


def name_set(names, what="names"):
    if not isinstance(names, (list, tuple)) or not names:
        raise RateLimitError("%s must be a non-empty list of DNS names, got %r" % (what, names))
    return tuple(sorted(set(normalize_name(n, what) for n in names)))


def normalize_issuances(records, source="input"):
    """Validate issuance dicts; duplicates (same serial, or same names and time) are dropped."""
    out, seen, dropped = [], set(), 0
    for index, rec in enumerate(records or []):
        what = "%s[%d]" % (source, index)
        if not isinstance(rec, dict):
            raise RateLimitError("%s must be a dict with names and issued_at, got %r" % (what, rec))
        names = name_set(rec.get("names"), what + ".names")
        issued = parse_time(rec.get("issued_at"), what + ".issued_at")
        serial = str(rec["serial"]).lower().lstrip("0") if rec.get("serial") not in (None, "") else None
        key = ("serial", serial) if serial else ("names", names, issued)
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        out.append({"names": names, "issued_at": issued, "serial": serial, "source": rec.get("source") or source})
    return out, dropped


def read_ledger(path):
    """Issuances from a JSON-lines ledger; a missing ledger is empty."""
    if not path or not os.path.exists(path):
        return []
    records = []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                rec = json.loads(line)
            except ValueError as err:
                raise RateLimitError("ledger %s line %d is not JSON (%s); each line must be an object like "
                                     '{"names": ["www.example.com"], "issued_at": "2026-11-27T10:00:00Z"}'
                                     % (path, number, err))
            records.append(dict(rec, source=rec.get("source") or "ledger"))
    return records


def ledger_line(names, issued_at, serial=None, source=None):
    rec = {"names": list(name_set(names)), "issued_at": parse_time(issued_at, "issued_at").strftime("%Y-%m-%dT%H:%M:%SZ")}
    if serial:
        rec["serial"] = serial
    if source:
        rec["source"] = source
    return json.dumps(rec, sort_keys=True)


def headroom(issuances, planned=None, now=None, window_days=WINDOW_DAYS, per_domain_limit=PER_DOMAIN_LIMIT,
             per_name_set_limit=PER_NAME_SET_LIMIT):
    """Count issuances in the window and say whether ``planned`` (lists of names) fits."""
    if window_days <= 0 or per_domain_limit < 1 or per_name_set_limit < 1:
        raise RateLimitError("window_days, per_domain_limit and per_name_set_limit must be positive")
    now = parse_time(now, "now") if now else datetime.datetime.now(UTC)
    start = now - datetime.timedelta(days=window_days)
    records, duplicates = normalize_issuances(issuances)
    planned_sets = [name_set(p, "planned[%d]" % i) for i, p in enumerate(planned or [])]

    # a name set issued before (at any time up to now) makes a later issuance a renewal
    first_seen = {}
    for rec in sorted(records, key=lambda r: r["issued_at"]):
        first_seen.setdefault(rec["names"], rec["issued_at"])
    domains, sets = {}, {}

    def _dom(d):
        return domains.setdefault(d, {"domain": d, "used": 0, "renewals": 0, "planned": 0, "oldest": None})

    def _set(s):
        return sets.setdefault(s, {"names": list(s), "used": 0, "planned": 0, "oldest": None})

    counted = 0
    for rec in records:
        if not (start < rec["issued_at"] <= now):
            continue
        counted += 1
        renewal = first_seen[rec["names"]] < rec["issued_at"]
        for d in sorted(set(registered_domain(n) for n in rec["names"])):
            entry = _dom(d)
            if renewal:
                entry["renewals"] += 1
            else:
                entry["used"] += 1
                entry["oldest"] = min(entry["oldest"] or rec["issued_at"], rec["issued_at"])
        entry = _set(rec["names"])
        entry["used"] += 1
        entry["oldest"] = min(entry["oldest"] or rec["issued_at"], rec["issued_at"])
    for i, s in enumerate(planned_sets):
        renewal = s in first_seen or s in planned_sets[:i]
        for d in sorted(set(registered_domain(n) for n in s)):
            if not renewal:
                _dom(d)["planned"] += 1
        _set(s)["planned"] += 1

    problems = []

    def _finish(entry, limit, label):
        entry["limit"] = limit
        entry["remaining"] = max(0, limit - entry["used"])
        entry["after_planned"] = limit - entry["used"] - entry["planned"]
        entry["fits"] = entry["after_planned"] >= 0
        oldest = entry.pop("oldest")
        entry["next_slot_at"] = (oldest + datetime.timedelta(days=window_days)).strftime("%Y-%m-%dT%H:%M:%SZ") \
            if oldest and entry["remaining"] == 0 else None
        if not entry["fits"]:
            problems.append("%s: %d issued in the last %d days + %d planned exceeds the limit of %d"
                            % (label, entry["used"], window_days, entry["planned"], limit))
        return entry

    domain_list = [_finish(domains[d], per_domain_limit, "registered domain %s" % d) for d in sorted(domains)]
    set_list = [_finish(sets[s], per_name_set_limit, "names [%s]" % ", ".join(s)) for s in sorted(sets)]
    return {
        "window_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window_end": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "issuances_counted": counted,
        "duplicates_dropped": duplicates,
        "registered_domains": domain_list,
        "name_sets": set_list,
        "planned": [list(s) for s in planned_sets],
        "fits": not problems,
        "problems": problems,
    }
