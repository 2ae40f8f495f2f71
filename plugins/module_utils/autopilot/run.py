# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One autopilot run's decision step: candidates from what discovery saw, the records read, the
decisions made, and (unless ``check``) the ledger, first-seen record and approval requests written.

An observation is ``{"component", "current", "available": [versions], "interrupted": run id or None}``:
``available`` is everything the API / backend offers, the current version included or not. PostgreSQL
under CloudNativePG adds ``images`` ({version: image}, from :func:`cnpg.observation`): the candidate's image
goes into its decision (and so into the ledger's ``started`` line and the approval request), so the runbook,
a resumed run included, is given the very image the version came from.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import decide as decide_mod
from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import records as records_mod


def candidate(component, current, available):
    """The one version this run would move ``component`` to, or None.

    ``lke_kubernetes``: the next minor LKE offers (one minor per run, as upgrade_cluster does; a new
    major counts when no minor of the current major is left). ``lke_node_patch``: the newest patch of
    the current minor. ``postgres``: the newest patch of the current major, else the newest major.
    """
    cur = decide_mod.version_tuple(current)
    newer = []
    for version in available or []:
        ver = decide_mod.version_tuple(version)
        if ver > cur:
            newer.append((ver, str(version)))
    newer.sort()
    if not newer:
        return None
    if component == "lke_kubernetes":
        return newer[0][1]
    if component == "lke_node_patch":
        same = [v for v in newer if v[0][:2] == cur[:2]]
        return same[-1][1] if same else None
    same_major = [v for v in newer if v[0][0] == cur[0]]
    return (same_major or newer)[-1][1]


def interrupted(records, cluster, runbooks_dir, events=None):
    """{component: its ``started`` ledger event} for this cluster's changes whose runbook run
    (``<runbooks_dir>/<runbook_run_id>/state.json``, or its ``report.json`` for a runbook without a journal:
    the CloudNativePG minor flow) is not ``done``: killed or failed midway, or killed before its journal
    existed. The next autopilot run carries that run on (same run id) first.
    Without ``runbooks_dir`` nothing can be told: {}."""
    if not runbooks_dir:
        return {}
    started = {}
    for event in events if events is not None else records.events():
        if event.get("cluster") != cluster:
            continue
        if event.get("event") == "started":
            started[event.get("component")] = event
        elif event.get("event") == "applied":
            last = started.get(event.get("component"))
            if last and last.get("runbook_run_id") == event.get("runbook_run_id"):
                del started[event.get("component")]
    found = {}
    for component, event in started.items():
        status = None
        for name in ("state.json", "report.json"):
            path = os.path.join(runbooks_dir or "", event.get("runbook_run_id") or "", name)
            if event.get("runbook_run_id") and os.path.isfile(path):
                try:
                    with open(path) as handle:
                        status = json.load(handle).get("status")
                except ValueError:
                    status = None
                break
        if status != "done":
            found[component] = event
    return found


def _answers(ids, requests, cluster):
    """The request ids of ``ids`` (a string or a list) that are this cluster's or match no request at all
    (those are refused); another cluster's requests are left to that cluster's run."""
    ids = [ids] if isinstance(ids, str) else list(ids or [])
    return [rid for rid in ids if rid and (rid not in requests or requests[rid].get("cluster") == cluster)]


def run_decisions(policy, records, run_id, cluster, observations, now, budget_remaining_percent=None,
                  approve=None, deny=None, wave_hold=None, check=False, runbooks_dir=None):
    """Decide for one cluster. ``approve`` / ``deny``: request ids (a string or a list; another cluster's
    are left alone). Returns ``{"decisions", "requests_new", "changed"}``.

    ``runbooks_dir`` is where the runbooks keep their journals: a change this ledger says started and
    whose run is not done there is decided ``resume`` (see :func:`interrupted`).
    Raises :class:`records.ApprovalError` (nothing written) for an approval or denial that names no
    pending request for a version still offered.
    """
    seen = records.seen()
    requests = {r["id"]: r for r in records.requests()}
    events = records.events()
    last_change = records.last_change(cluster, events)
    approve, deny = _answers(approve, requests, cluster), _answers(deny, requests, cluster)
    both = sorted(set(approve) & set(deny))
    if both:
        raise records_mod.ApprovalError("%s both approved and denied; give each request one answer. Nothing was "
                                        "attempted." % ", ".join(both), details={"request_ids": both})
    unfinished = interrupted(records, cluster, runbooks_dir, events)
    items = []
    for obs in observations:
        cand = candidate(obs["component"], obs.get("current"), obs.get("available")) if obs.get("current") else None
        image = (obs.get("images") or {}).get(str(cand)) if cand else None
        kind = None
        left = unfinished.get(obs["component"])
        if left and not obs.get("interrupted"):
            obs = dict(obs, interrupted=left.get("runbook_run_id") or "unknown")
            cand = left.get("candidate") or cand
            image = left.get("image") or image
            kind = left.get("kind")
        seen, first = records.first_seen(seen, cluster, obs["component"], obs.get("available") or [], now)
        rid = decide_mod.request_id(cluster, obs["component"], cand) if cand else None
        items.append({"cluster": cluster, "component": obs["component"], "current": obs.get("current"),
                      "candidate": cand, "first_seen": first.get(str(cand)) if cand else None,
                      "budget_remaining_percent": budget_remaining_percent, "last_change": last_change,
                      "request": requests.get(rid) if rid else None, "approve_id": rid if rid in approve else None,
                      "interrupted": obs.get("interrupted"), "image": image, "kind": kind,
                      # one reason for every component, or {component: reason} (autopilot_wave_holds)
                      "wave_hold": wave_hold.get(obs["component"]) if isinstance(wave_hold, dict) else wave_hold})
    for answer in approve + deny:
        records_mod.check_approval(answer, list(requests.values()), items, now)
    new, changed_requests = [], []
    for rid in deny:
        request = dict(requests[rid], status="denied")
        requests[rid] = request
        changed_requests.append((request, "denied"))
        for item in items:
            if item["request"] and item["request"]["id"] == rid:
                item["request"] = request
    decisions = decide_mod.decide_all(policy, items, now)
    for decision in decisions:
        rid = decision.get("request_id")
        stored = requests.get(rid) if rid else None
        if decision["decision"] == "needs approval" and stored is None:
            request = records.new_request(decision, now, policy["approval_expiry_hours"])
            new.append(request)
            changed_requests.append((request, "request"))
        elif decision["decision"] == "skip: expired" and stored and stored["status"] == "pending":
            changed_requests.append((dict(stored, status="expired"), "expired"))
        elif decision["decision"] == "apply" and stored and stored["status"] == "pending" and rid in approve:
            changed_requests.append((dict(stored, status="approved", approved=records_mod.zulu(now)), "approved"))
    if not check:
        records.save_seen(seen)
        for request, event in changed_requests:
            records.save_request(request)
            records.append(run_id, event, now, cluster=cluster, component=request["component"],
                           candidate=request["candidate"], request_id=request["id"])
        for decision in decisions:
            records.append(run_id, "decision", now, **decision)
    return {"decisions": decisions, "requests_new": new,
            "requests_changed": [{"id": r["id"], "event": e} for r, e in changed_requests],
            "changed": not check and bool(decisions or changed_requests)}
