# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The autopilot's own records under ``<reports_dir>/autopilot/`` (formats in the package docstring):
the JSON-lines ledger, the first-seen record and the approval requests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import decide as decide_mod
from ansible_collections.fournines.runbooks.plugins.module_utils.common import background
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import write_json_atomic

UTC = datetime.timezone.utc
REQUEST_STATUSES = ("pending", "approved", "denied", "expired", "applied")
# Terminal control sequences (colour, cursor) a runbook's output may carry: CSI ... final byte, OSC ... BEL/ST, and
# two-character escapes. The evidence a person reads is plain text.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


class ApprovalError(RunbookError):
    """An approval that cannot be honoured; nothing was attempted."""


def zulu(moment):
    """``YYYY-mm-ddTHH:MM:SSZ`` of an aware datetime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Records(object):
    """The files of one autopilot state folder."""

    def __init__(self, state_dir):
        self.state_dir = os.path.abspath(state_dir)
        self.ledger = os.path.join(self.state_dir, "ledger.jsonl")
        self.seen_file = os.path.join(self.state_dir, "seen.json")
        self.requests_dir = os.path.join(self.state_dir, "requests")

    # -- first seen -----------------------------------------------------------------------------
    def seen(self):
        if not os.path.exists(self.seen_file):
            return {}
        with open(self.seen_file) as handle:
            return json.load(handle)

    def first_seen(self, seen, cluster, component, versions, now):
        """(seen updated, {version: first seen}) for ``versions`` offered now; new ones are seen ``now``."""
        seen = dict(seen)
        found = {}
        for version in versions:
            key = "%s/%s/%s" % (cluster, component, version)
            seen.setdefault(key, zulu(now))
            found[str(version)] = seen[key]
        return seen, found

    def save_seen(self, seen):
        write_json_atomic(self.seen_file, seen)

    # -- ledger ---------------------------------------------------------------------------------
    def append(self, run_id, event, now, **fields):
        record = dict(fields, ts=zulu(now), run_id=run_id, event=event)
        if not os.path.isdir(self.state_dir):
            os.makedirs(self.state_dir)
        with open(self.ledger, "a") as handle:
            handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return record

    def events(self):
        # a line cut by a kill mid-write is skipped: the rest of the ledger still counts
        return background.read_jsonl(self.ledger)

    def last_change(self, cluster, events=None):
        """When the cluster's last disruptive change started (ISO), or None."""
        last = None
        for event in events if events is not None else self.events():
            if event.get("event") == "started" and event.get("cluster") == cluster and event.get("disruptive", True):
                if last is None or event["ts"] > last:
                    last = event["ts"]
        return last

    # -- approval requests ----------------------------------------------------------------------
    def _request_path(self, rid):
        return os.path.join(self.requests_dir, "%s.json" % rid)

    def request(self, rid):
        path = self._request_path(rid)
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            return json.load(handle)

    def requests(self):
        if not os.path.isdir(self.requests_dir):
            return []
        out = []
        for name in sorted(os.listdir(self.requests_dir)):
            if name.endswith(".json"):
                with open(os.path.join(self.requests_dir, name)) as handle:
                    out.append(json.load(handle))
        return out

    def save_request(self, request):
        write_json_atomic(self._request_path(request["id"]), request)

    def new_request(self, decision, now, expiry_hours, evidence=None):
        request = {"id": decision["request_id"], "cluster": decision["cluster"], "component": decision["component"],
                   "current": decision["current"], "candidate": decision["candidate"], "kind": decision["kind"],
                   "created": zulu(now), "expires": zulu(now + datetime.timedelta(hours=expiry_hours)),
                   "status": "pending", "evidence": evidence or {}}
        if decision.get("image"):
            request["image"] = decision["image"]  # what a person approves under CloudNativePG: this very image
        return request


def check_approval(approve_id, requests, items, now):
    """Refuse ``-e autopilot_approve=<id>`` unless it names a pending, unexpired request whose version is
    still the candidate offered now. Returns the request."""
    if not approve_id:
        return None
    by_id = {r["id"]: r for r in requests}
    request = by_id.get(approve_id)
    pending = sorted(r["id"] for r in requests if r.get("status") == "pending")
    if request is None:
        raise ApprovalError("autopilot_approve=%s matches no approval request; pending: %s. Nothing was attempted."
                            % (approve_id, ", ".join(pending) or "none"), details={"approve_id": approve_id})
    if request.get("status") != "pending":
        raise ApprovalError("autopilot_approve=%s: that request is %s, not pending; pending: %s. Nothing was attempted."
                            % (approve_id, request.get("status"), ", ".join(pending) or "none"),
                            details={"approve_id": approve_id, "status": request.get("status")})
    expires = decide_mod.as_time(request.get("expires"))
    if expires is not None and now >= expires:
        raise ApprovalError("autopilot_approve=%s: the request expired at %s; it is not asked again for %s %s. "
                            "Nothing was attempted." % (approve_id, request["expires"], request["component"],
                                                        request["candidate"]), details={"approve_id": approve_id})
    offered = [i for i in items if i["cluster"] == request["cluster"] and i["component"] == request["component"]]
    if not offered or str(offered[0].get("candidate")) != str(request["candidate"]):
        now_offered = offered[0].get("candidate") if offered else None
        raise ApprovalError("autopilot_approve=%s: %s %s is no longer offered for cluster %s (the candidate now is %s). "
                            "Nothing was attempted." % (approve_id, request["component"], request["candidate"],
                                                        request["cluster"], now_offered or "none"),
                            details={"approve_id": approve_id, "candidate": now_offered})
    return request


def plain(value):
    """``value`` (evidence: strings, lists, dicts) without terminal escape sequences."""
    if isinstance(value, str):
        return _ESCAPES.sub("", value)
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return dict((key, plain(item)) for key, item in value.items())
    return value


def record_event(records, run_id, event, now, decision, runbook_run_id=None, error=None, evidence=None):
    """Ledger line for ``started`` / ``applied`` / ``failed`` of ``decision``'s change, or ``evidence``
    attached to its approval request. Returns the ledger record."""
    fields = {"cluster": decision.get("cluster"), "component": decision.get("component"),
              "candidate": decision.get("candidate"), "kind": decision.get("kind"),
              "request_id": decision.get("request_id"), "disruptive": decision.get("disruptive", True)}
    if decision.get("image"):
        fields["image"] = decision["image"]  # a resumed run is given the same image (run.run_decisions)
    if runbook_run_id:
        fields["runbook_run_id"] = runbook_run_id
    if error:
        fields["error"] = plain(error)
    rid = decision.get("request_id")
    request = records.request(rid) if rid else None
    evidence = plain(evidence or {})
    if event == "evidence":
        if request is None:
            raise ApprovalError("no approval request %s to attach evidence to" % rid, details={"request_id": rid})
        request["evidence"] = dict(request.get("evidence") or {}, **(evidence or {}))
        records.save_request(request)
        fields["evidence"] = evidence or {}
    elif event == "applied" and request is not None and request.get("status") == "approved":
        request["status"] = "applied"
        request["applied"] = zulu(now)
        records.save_request(request)
    return records.append(run_id, event, now, **fields)
