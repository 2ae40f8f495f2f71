# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS TTLs: the provider interface, input checks, and the lower/restore plan.

One interface (:class:`DNSProvider`), one implementation per provider in
``dns_<provider>.py``: ``rfc2136``, ``powerdns``, ``linode``, ``external_dns``.

A change is planned in full before anything is written: the zone must be hosted, every
record must exist and every TTL must be valid, otherwise nothing changes. Original TTLs
are saved in the run's journal (``reports/<run-id>/state.json``, facts key ``dns_ttl``)
*before* the provider is asked to lower them, and a saved original is never replaced by a
lowered value, so a re-run or a restore from another run always finds the real originals.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import re
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal, iso
from ansible_collections.fournines.runbooks.plugins.module_utils.report import markdown

PROVIDERS = ("rfc2136", "powerdns", "linode", "external_dns")
MAX_TTL = 2147483647  # RFC 2181 section 8
JOURNAL_RUNBOOK = "dns-ttl"
FACT_KEY = "dns_ttl"
_TYPE_RE = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
_LABEL_RE = re.compile(r"^(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$")

#: Resolvers count TTLs in whole seconds and still serve a record whose TTL reads 0 until their
#: clock's second rolls over (unbound does, the lab shows it): the old answer can outlive
#: "fetched + TTL" by up to a second.
CACHE_CLOCK_SLACK = 1.0


class DNSError(RunbookError):
    """Bad DNS input, or a provider/nameserver that refused or failed."""


# ---- input ------------------------------------------------------------------------------------

def normalize_zone(zone):
    """``Lab.Example`` -> ``lab.example.``; raise on an empty or malformed name."""
    if not isinstance(zone, str) or not zone.strip().strip("."):
        raise DNSError("zone %r is not a domain name; give one such as example.com" % (zone,))
    text = zone.strip().lower().rstrip(".")
    for label in text.split("."):
        if not _LABEL_RE.match(label):
            raise DNSError("zone %r is not a valid domain name (label %r); give one such as example.com"
                           % (zone, label))
    return text + "."


def fqdn(name, zone):
    """Absolute, lower-case name of ``name`` in ``zone``; ``@`` or '' is the apex.

    A name that already ends in the zone (with or without the final dot) is taken as is;
    anything else is relative to the zone. A name outside the zone is an error.
    """
    zone = normalize_zone(zone)
    if name is None:
        raise DNSError("a record has no name; give a name such as 'app' or 'app.%s'" % zone)
    text = str(name).strip().lower()
    if text in ("", "@", zone, zone.rstrip(".")):
        return zone
    if text.endswith("."):
        absolute = text
    elif (text + ".").endswith("." + zone):
        absolute = text + "."
    else:
        absolute = text + "." + zone
    if not absolute.endswith("." + zone) and absolute != zone:
        raise DNSError("record %r is not inside zone %s; give a name in that zone" % (name, zone))
    for label in absolute.rstrip(".").split("."):
        if not _LABEL_RE.match(label):
            raise DNSError("record name %r is not a valid domain name (label %r)" % (name, label))
    return absolute


def relative(name, zone):
    """``app.lab.example.`` in ``lab.example.`` -> ``app``; the apex -> ``@``."""
    if name == zone:
        return "@"
    return name[:-len(zone) - 1]


def normalize_type(rtype):
    text = str(rtype or "").strip().upper()
    if not _TYPE_RE.match(text):
        raise DNSError("record type %r is not a DNS type; give one such as A, AAAA, CNAME, TXT" % (rtype,))
    if text == "SOA":
        raise DNSError("the SOA TTL is not changed record by record; leave SOA out of the records")
    return text


def parse_records(value, what="records"):
    """RRsets to act on as ``[{name, type}]`` from any of the forms people and AWX give.

    A list of ``{name, type}`` passes through; a string (an AWX textarea answer) or a list of
    strings holds ``NAME TYPE`` per line or item, with blank lines and ``#`` comments ignored.
    The type may be left out (``NAME`` alone) where the provider knows it (external-dns).
    """
    if value is None or value == "" or value == []:
        raise DNSError("%s is empty; give at least one RRset as {name, type} or 'NAME TYPE'" % what)
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, (list, tuple)):
        raise DNSError("%s must be a list of {name, type} or lines of 'NAME TYPE', not %s"
                       % (what, type(value).__name__))
    out = []
    for number, item in enumerate(value, 1):
        if isinstance(item, dict):
            if not item.get("name"):
                raise DNSError("%s item %d (%r) has no name" % (what, number, item))
            out.append(dict(item))
            continue
        text = str(item).split("#", 1)[0].strip()
        if not text:
            continue
        fields = text.split()
        if len(fields) > 2:
            raise DNSError("%s line %d (%r) is not 'NAME TYPE', for example 'www CNAME'" % (what, number, str(item)))
        out.append(dict(name=fields[0], **({"type": normalize_type(fields[1])} if len(fields) == 2 else {})))
    if not out:
        raise DNSError("%s holds no RRset; give at least one as {name, type} or 'NAME TYPE'" % what)
    return out


def validate_ttl(value, what="ttl"):
    """Return ``value`` as an int TTL in [0, 2147483647]; raise on negative or non-numbers."""
    if isinstance(value, bool):
        raise DNSError("%s %r is not a number of seconds; give a whole number from 0 to %d" % (what, value, MAX_TTL))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.match(r"^\s*-?\d+\s*$", value):
        value = int(value)
    if not isinstance(value, int):
        raise DNSError("%s %r is not a number of seconds; give a whole number from 0 to %d" % (what, value, MAX_TTL))
    if value < 0:
        raise DNSError("%s %d is negative; give a whole number of seconds from 0 to %d" % (what, value, MAX_TTL))
    if value > MAX_TTL:
        raise DNSError("%s %d is too large; the largest TTL is %d seconds" % (what, value, MAX_TTL))
    return value


def normalize_records(records, zone):
    """List of ``{name, type}`` (strings ``"name TYPE"`` too) -> unique ``(fqdn, TYPE)`` pairs."""
    if not records:
        raise DNSError("no records given; list the RRsets to change, for example [{name: app, type: A}]")
    seen, out = set(), []
    for index, rec in enumerate(records):
        if isinstance(rec, str):
            parts = rec.split()
            if len(parts) != 2:
                raise DNSError("record %d %r is not 'NAME TYPE'; give for example 'app A'" % (index + 1, rec))
            rec = {"name": parts[0], "type": parts[1]}
        if not isinstance(rec, dict):
            raise DNSError("record %d %r is not a mapping with name and type" % (index + 1, rec))
        key = (fqdn(rec.get("name"), zone), normalize_type(rec.get("type") or "A"))
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def key_of(name, rtype):
    return "%s/%s" % (name, rtype)


# ---- providers --------------------------------------------------------------------------------

class RRset(object):
    """One RRset as a provider sees it. ``ttl`` None means "the provider's default" (no TTL set)."""

    __slots__ = ("name", "rtype", "ttl", "values", "handle")

    def __init__(self, name, rtype, ttl, values=None, handle=None):
        self.name, self.rtype, self.ttl = name, rtype, ttl
        self.values = sorted(values or [])
        self.handle = handle  # provider-private: ids, objects, raw records

    def as_dict(self):
        return {"name": self.name, "type": self.rtype, "ttl": self.ttl, "values": list(self.values)}


class DNSProvider(object):
    """The interface every provider implements.

    ``get`` returns current RRsets (raising for a zone it does not host or a record that
    does not exist); ``set_ttls`` writes new TTLs, keeping the data, all or nothing as far as
    the provider allows (implementations undo partial work themselves).
    """

    name = "base"
    #: Whether the provider's own nameservers can be queried to verify a change.
    verifiable = True

    def check_zone(self, zone):
        raise NotImplementedError

    def get(self, zone, keys):
        """``keys``: list of (fqdn, type). Return {(fqdn, type): RRset}."""
        raise NotImplementedError

    def set_ttls(self, zone, changes):
        """``changes``: list of (RRset, new_ttl). Return nothing; raise DNSError on failure."""
        raise NotImplementedError

    def snap_ttl(self, ttl):
        """The TTL the provider will really store for ``ttl``, and a note when it differs."""
        return ttl, None

    def close(self):
        pass


def missing_records_error(zone, missing, provider):
    names = ", ".join("%s %s" % (n, t) for n, t in missing)
    return DNSError("%s has no such record in zone %s: %s; nothing was changed (list existing RRsets with "
                    "action=read)" % (provider, zone, names))


# ---- the journal of original TTLs -------------------------------------------------------------

#: The sections of the TTL report, as Jinja2 templates (report/markdown.py).
RECORDS_TEMPLATE = """\
{{ ["name", "type", "original TTL", "lowered TTL", "lowered at", "old answers gone at", "restored at"] | md_table(rows) }}
"""

START_TEMPLATE = """\
{% for v in gone %}
- {{ v["name"] }} {{ v["type"] }}: old answers gone from every cache at {{ v["old_answers_gone_at"] }} \
({{ v["old_answers_gone_why"] }})
{% endfor %}

The migration may start at **{{ last["old_answers_gone_at"] }}**: by then the answers of every record from before the \
lowering have left every cache (the last is {{ last["name"] }} {{ last["type"] }}).
"""

WAITS_TEMPLATE = """\
{% for name, at in waits %}
- {{ name }}: old answers gone from caches at {{ at }}
{% endfor %}
"""


class TTLState(object):
    """Original and lowered TTLs of one zone, kept in a run's journal facts."""

    def __init__(self, reports_dir, run_id, zone, provider):
        self.journal = RunJournal(reports_dir, run_id, JOURNAL_RUNBOOK) if reports_dir and run_id else None
        self.zone, self.provider = zone, provider
        self.data = {"zone": zone, "provider": provider, "records": {}}
        if self.journal:
            saved = (self.journal.state.get("facts") or {}).get(FACT_KEY)
            if saved:
                if saved.get("zone") != zone:
                    raise DNSError("run %s saved TTLs for zone %s, not %s; use that zone or another run id"
                                   % (run_id, saved.get("zone"), zone))
                self.data = saved

    def new_cycle_if_finished(self):
        """A run whose TTLs were all restored starts over: its old journal is archived beside it."""
        if not self.journal or self.pending() or self.journal.state.get("status") != "done":
            return
        archive = "%s.%s" % (self.journal.state_path, self.journal.state["updated"].replace(":", ""))
        os.rename(self.journal.state_path, archive)
        self.journal = RunJournal(os.path.dirname(self.journal.dir), self.journal.state["run_id"], JOURNAL_RUNBOOK)
        self.data = {"zone": self.zone, "provider": self.provider, "records": {}}

    @property
    def path(self):
        return self.journal.state_path if self.journal else None

    def pending(self):
        """Saved records not restored yet: {key: entry}."""
        return dict((k, v) for k, v in self.data["records"].items() if not v.get("restored"))

    def original(self, key):
        entry = self.data["records"].get(key)
        if entry and not entry.get("restored"):
            return entry
        return None

    def remember(self, rrset, new_ttl):
        """Save the original TTL before lowering; an unrestored original is kept as it is."""
        key = key_of(rrset.name, rrset.rtype)
        entry = self.original(key)
        if entry is None:
            entry = {"name": rrset.name, "type": rrset.rtype, "original_ttl": rrset.ttl, "restored": None,
                     "values": list(rrset.values)}
            self.data["records"][key] = entry
        entry["lowered_ttl"] = new_ttl
        entry["lowered_at"] = iso()

    def mark_restored(self, key):
        entry = self.data["records"].get(key)
        if entry:
            entry["restored"] = iso()

    def write_report(self):
        """report.md/report.json beside the journal: every record's TTLs and the run's steps."""
        if not self.journal:
            return None
        records = [v for _k, v in sorted(self.data["records"].items())]
        rows = [(v["name"], v["type"], v.get("original_ttl"), v.get("lowered_ttl"), v.get("lowered_at"),
                 v.get("old_answers_gone_at") or "", v.get("restored") or "NOT RESTORED") for v in records]
        gone = [v for v in records if v.get("old_answers_gone_at")]
        waits = [(s["name"], s["details"]["expires_at"]) for s in self.journal.state["steps"]
                 if (s.get("details") or {}).get("expires_at")]
        sections = [("Records of %s (provider %s)" % (self.zone, self.provider),
                     markdown.render(RECORDS_TEMPLATE, rows=rows).rstrip("\n"))]
        if gone:
            sections.append(("When the migration may start", markdown.render(
                START_TEMPLATE, gone=gone, last=max(gone, key=lambda v: v["old_answers_gone_at"])).rstrip("\n")))
        if waits:
            sections.append(("Waits", markdown.render(WAITS_TEMPLATE, waits=waits).rstrip("\n")))
        return self.journal.write_report("DNS TTLs: %s" % self.journal.state["run_id"], sections,
                                         data={"zone": self.zone, "provider": self.provider,
                                               "records": self.data["records"]})

    def save(self, step=None, status="done", **details):
        if not self.journal:
            return
        self.journal.state["facts"][FACT_KEY] = self.data
        if step:
            self.journal.step(step, status, **details)
        else:
            self.journal.save()


# ---- plan and apply ---------------------------------------------------------------------------

def plan_set(provider, zone, keys, ttl, per_record=None):
    """Read every RRset and return (changes, rows). Raises before any write on bad input."""
    zone = normalize_zone(zone)
    ttl = validate_ttl(ttl) if ttl is not None else None
    provider.check_zone(zone)
    current = provider.get(zone, keys)
    changes, rows = [], []
    for key in keys:
        rrset = current[key]
        wanted = (per_record or {}).get(key, ttl)
        if wanted is None:
            raise DNSError("no TTL for %s %s; give ttl (or a ttl on that record)" % key)
        stored, note = provider.snap_ttl(validate_ttl(wanted, "ttl for %s %s" % key))
        row = {"name": rrset.name, "type": rrset.rtype, "old_ttl": rrset.ttl, "new_ttl": stored,
               "requested_ttl": wanted, "values": list(rrset.values), "changed": rrset.ttl != stored}
        if note:
            row["note"] = note
        rows.append(row)
        if rrset.ttl != stored:
            changes.append((rrset, stored))
    return changes, rows


def read(provider, zone, keys):
    zone = normalize_zone(zone)
    provider.check_zone(zone)
    current = provider.get(zone, keys)
    return [current[k].as_dict() for k in keys]


def lower(provider, zone, keys, ttl, state, check_mode=False, per_record=None, publish_lag=0.0):
    """Set TTLs, saving originals first. Returns the rows of the plan (with old/new TTLs, and when each
    record's old answers have left every cache: :func:`old_answers_gone`)."""
    changes, rows = plan_set(provider, normalize_zone(zone), keys, ttl, per_record)
    if not check_mode:
        state.new_cycle_if_finished()
        for rrset, new_ttl in changes:
            state.remember(rrset, new_ttl)
    for row in rows:  # an unchanged record lowered by an earlier run keeps its saved original
        saved = state.original(key_of(row["name"], row["type"]))
        if saved:
            row["original_ttl"] = saved["original_ttl"]
            if not row["changed"]:
                row["lowered_at"] = saved["lowered_at"]
    if check_mode:
        old_answers_gone(rows, publish_lag)  # as if lowered now
        return rows
    state.save()
    if changes:
        try:
            provider.set_ttls(normalize_zone(zone), changes)
        except RunbookError as err:
            # Nothing was lowered (providers undo partial work): forget what we saved.
            for rrset, _ttl in changes:
                entry = state.original(key_of(rrset.name, rrset.rtype))
                if entry and entry.get("original_ttl") == rrset.ttl:
                    del state.data["records"][key_of(rrset.name, rrset.rtype)]
            state.save("dns_ttl_lower", "failed", error=str(err))
            raise
    old_answers_gone(rows, publish_lag, changed_at=iso())
    for row in rows:
        entry = state.original(key_of(row["name"], row["type"]))
        if entry:
            entry.update(old_answers_gone_at=row["old_answers_gone_at"], old_answers_gone_why=row["old_answers_gone_why"])
    state.save("dns_ttl_lower", "done", records=len(rows), changed=len(changes))
    state.write_report()
    return rows


def _epoch(stamp):
    return datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def _stamp(epoch):
    return iso(datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc))


def duration(seconds):
    """``90061`` -> ``1 d 1 h 1 min 1 s``: from the largest unit that is not zero down to seconds."""
    left, parts = int(round(max(0.0, seconds))), []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if parts or left >= size:
            parts.append("%d %s" % (left // size, unit))
            left %= size
    return " ".join(parts + ["%d s" % left])


def old_answers_gone(rows, publish_lag=0.0, changed_at=None, now=None):
    """When the answers resolvers may have cached before the lowering have left every cache.

    Per row: its change (``lowered_at`` when an earlier attempt lowered it, else ``changed_at``, else
    ``now``: a plan made in check mode), plus the provider's ``publish_lag`` (the old answer is served
    until the change is published), plus the TTL caches may hold (``original_ttl`` when saved, else
    ``old_ttl``), plus CACHE_CLOCK_SLACK. Sets ``old_answers_gone_at`` (UTC, ISO 8601),
    ``old_answers_gone_in`` (seconds from ``now``, 0 once past), ``old_answers_gone_from`` (the change,
    or ``now``), ``old_answers_gone_why`` (the sum, in words) and ``old_answers_gone`` (all of it as one
    line for people) on each row; returns :func:`migration_start` of the rows.
    """
    now = time.time() if now is None else now
    lag = float(publish_lag or 0)
    for row in rows:
        old_ttl = row.get("original_ttl", row.get("old_ttl")) or 0
        lowered = row.get("lowered_at") or changed_at
        moment = (_epoch(lowered) if lowered else now) + lag + old_ttl + CACHE_CLOCK_SLACK
        row["old_answers_gone_at"] = _stamp(moment)
        row["old_answers_gone_in"] = round(max(0.0, moment - now), 3)
        row["old_answers_gone_from"] = lowered or "now"
        row["old_answers_gone_why"] = "%s + publish lag %g s + old TTL %d s + %d s for resolvers' whole-second " \
            "clocks" % ("lowered at %s" % lowered if lowered else "now", lag, old_ttl, CACHE_CLOCK_SLACK)
        row["old_answers_gone"] = "%s %s: old answers gone from every cache at %s, %s (%s)" % (
            row["name"], row["type"], row["old_answers_gone_at"], "in " + duration(moment - now) if moment > now
            else "already", row["old_answers_gone_why"])
    return migration_start(rows, now)


def migration_start(rows, now=None):
    """The moment the migration may start: the latest ``old_answers_gone_at`` of ``rows``, as
    ``{"at", "in", "name", "type", "text"}`` (None when no row has one)."""
    now = time.time() if now is None else now
    gone = [r for r in rows if r.get("old_answers_gone_at")]
    if not gone:
        return None
    row = max(gone, key=lambda r: _epoch(r["old_answers_gone_at"]))
    moment = _epoch(row["old_answers_gone_at"])
    return {"at": row["old_answers_gone_at"], "in": round(max(0.0, moment - now), 3), "name": row["name"],
            "type": row["type"],
            "text": "the migration may start at %s, %s%s: then the old answers of every record have left every cache "
                    "(the last is %s %s)" % (row["old_answers_gone_at"], "in " + duration(moment - now) if moment > now
                                             else "now", " if the TTLs are lowered now"
                                             if row.get("old_answers_gone_from") == "now" else "", row["name"],
                                             row["type"])}


def restore(provider, zone, state, check_mode=False, keys=None):
    """Put every saved, unrestored record back to its original TTL. Returns rows.

    A record already at its original TTL is only marked restored. A record that no longer
    exists is reported and left in the journal; the others are still restored.
    """
    zone = normalize_zone(zone)
    pending = state.pending()
    if keys is not None:
        wanted = set(key_of(n, t) for n, t in keys)
        pending = dict((k, v) for k, v in pending.items() if k in wanted)
    if not pending:
        return []
    provider.check_zone(zone)
    pairs = [(v["name"], v["type"]) for v in pending.values()]
    current, missing = {}, []
    for pair in pairs:
        try:
            current.update(provider.get(zone, [pair]))
        except DNSError:
            missing.append(pair)
    changes, rows = [], []
    for pair in pairs:
        if pair in missing:
            continue
        entry = pending[key_of(*pair)]
        rrset = current[pair]
        original = entry["original_ttl"]
        rows.append({"name": pair[0], "type": pair[1], "old_ttl": rrset.ttl, "new_ttl": original,
                     "values": list(rrset.values), "changed": rrset.ttl != original})
        if rrset.ttl != original:
            changes.append((rrset, original))
    if check_mode:
        return rows
    if changes:
        try:
            provider.set_ttls(zone, changes)
        except RunbookError as err:
            state.save("dns_ttl_restore", "failed", error=str(err))
            state.write_report()
            raise
    for row in rows:
        state.mark_restored(key_of(row["name"], row["type"]))
    if missing:
        state.save("dns_ttl_restore", "failed", missing=["%s %s" % p for p in missing])
        state.write_report()
        names = ", ".join("%s %s" % p for p in missing)
        raise DNSError("restored %d record(s) but these saved records no longer exist in %s: %s; their "
                       "original TTLs stay in %s" % (len(rows), zone, names, state.path))
    state.save("dns_ttl_restore", "done", records=len(rows), changed=len(changes))
    if state.journal and not state.pending():
        state.journal.finish("done")
    state.write_report()
    return rows


def diff_of(rows):
    before = dict((key_of(r["name"], r["type"]), r["old_ttl"]) for r in rows)
    after = dict((key_of(r["name"], r["type"]), r["new_ttl"]) for r in rows)
    return {"before": before, "after": after}
