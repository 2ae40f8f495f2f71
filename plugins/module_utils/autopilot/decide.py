# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One decision per component and cluster: pure, from the validated policy, the clock and what the
records say (first seen, last change, budget, approval requests). Nothing here reads or writes.

Gates in order (the first that holds gives the decision):

1. an interrupted runbook of this component -> ``resume`` (finish it before anything else)
2. no candidate -> ``up to date``; the kind's mode is ``never`` -> ``never``
3. a request for this very version was denied / expired -> ``skip: denied`` / ``skip: expired``
4. a freeze -> ``wait: frozen``; younger than the release age -> ``wait: too new``
5. mode ``approve`` and no approval -> ``needs approval`` (the safe part runs, a request is published)
6. outside every window -> ``wait: outside window``; budget below the minimum -> ``wait: budget``;
   the last disruptive change too recent -> ``wait: too soon after the last change``; a fleet wave
   not yet due -> ``wait: wave``; a disruptive change already decided this run -> ``wait: one change per run``
7. ``apply``
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import windows
from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot.policy import COMPONENTS
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError

UTC = datetime.timezone.utc
DECISIONS = ("up to date", "resume", "apply", "wait: too new", "wait: outside window", "wait: frozen", "wait: budget",
             "wait: too soon after the last change", "wait: wave", "wait: one change per run", "needs approval",
             "never", "skip: denied", "skip: expired")
#: Decisions that start (or carry on) a runbook this run.
ACTING = ("apply", "resume")
#: The order components are considered in, so "one change per run" picks the same one every time.
ORDER = ("lke_node_patch", "lke_kubernetes", "postgres")
_VERSION_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


class DecisionError(RunbookError):
    """A version the autopilot cannot compare."""


def version_tuple(version):
    match = _VERSION_RE.match(str(version or "").strip())
    if not match:
        raise DecisionError("version %r is not numeric (major[.minor[.patch]])" % (version,))
    return tuple(int(part) for part in match.groups() if part is not None)


def change_kind(component, current, candidate):
    """``patch`` | ``minor`` | ``major`` for ``component`` going from ``current`` to ``candidate``; None if not newer."""
    old, new = version_tuple(current), version_tuple(candidate)
    if new <= old:
        return None
    if component == "lke_node_patch":
        return "patch"
    if new[0] != old[0]:
        return "major"
    if component == "postgres":
        return "patch"
    return "minor"


def request_id(cluster, component, candidate):
    """``ap-<cluster>-<component>-<candidate>``, characters outside [A-Za-z0-9._-] replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", "ap-%s-%s-%s" % (cluster, component, candidate))


def as_time(value):
    if value is None or isinstance(value, datetime.datetime):
        return value
    return windows.parse_moment(value, UTC, "timestamp")


def _z(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decide(policy, item, now, changes_this_run=0):
    """The decision (dict, format in the package docstring) for one ``item``.

    ``item`` keys: ``cluster``, ``component``, ``current``, ``candidate`` (None when up to date),
    ``first_seen`` (when the candidate was first seen), ``budget_remaining_percent`` (None: no ledger,
    a full budget), ``last_change`` (the cluster's last disruptive change started), ``request`` (the
    stored request for this version or None), ``approve_id`` (``-e autopilot_approve``), ``interrupted``
    (run id of this component's unfinished runbook), ``wave_hold`` (a reason the fleet wave is not due),
    ``image`` (the candidate's image under CloudNativePG; copied into the decision).
    """
    now = now.astimezone(UTC)
    component = item["component"]
    spec = policy["components"][component]
    current, candidate = item.get("current"), item.get("candidate")
    result = {"cluster": item["cluster"], "component": component, "current": current, "candidate": candidate,
              "kind": None, "mode": None, "first_seen": None, "age_days": None, "request_id": None,
              "disruptive": spec["disruptive"], "backend": spec.get("backend")}
    if item.get("image"):
        # what the runbook is given for the candidate when that is not the version itself (CloudNativePG: the image)
        result["image"] = item["image"]

    def done(decision, detail):
        result["decision"], result["detail"] = decision, detail
        return result

    if item.get("interrupted"):
        result["runbook_run_id"] = item["interrupted"]
        # the kind the interrupted change started as (its runbook is run the same way: a PostgreSQL major stays major)
        result["kind"] = item.get("kind")
        request = item.get("request") or {}
        if request.get("status") == "approved" and str(request.get("candidate")) == str(candidate):
            # the change a person approved, carried on: its request ends applied (or stays approved if it fails)
            result["request_id"] = request.get("id")
        return done("resume", "the runbook run %s did not finish; it is carried on before anything new" % item["interrupted"])
    if not candidate:
        return done("up to date", "nothing newer is available to the %s" % component)
    kind = change_kind(component, current, candidate)
    if kind is None:
        return done("up to date", "%s is not newer than %s" % (candidate, current))
    result["kind"] = kind
    mode = spec.get(kind, "never")
    result["mode"] = mode
    if mode == "never":
        return done("never", "the policy says never for a %s change of %s" % (kind, component))
    rid = request_id(item["cluster"], component, candidate)
    request = item.get("request")
    approved = False
    if request:
        result["request_id"] = rid
        status = request.get("status")
        expires = as_time(request.get("expires"))
        if status == "denied":
            return done("skip: denied", "request %s for %s was denied; it is not asked again for this version"
                        % (rid, candidate))
        if status == "expired" or (status == "pending" and expires is not None and now >= expires):
            late = " (the approval came too late)" if item.get("approve_id") == rid else ""
            return done("skip: expired", "request %s for %s expired at %s unanswered%s; it is not asked again for "
                        "this version" % (rid, candidate, _z(expires) if expires else "?", late))
        approved = status == "approved" or (status == "pending" and item.get("approve_id") == rid)
    frozen, detail = windows.freeze_state(now, policy["freezes"], policy["timezone"])
    if frozen:
        return done("wait: frozen", detail)
    first_seen = as_time(item.get("first_seen")) or now
    age = (now - first_seen).total_seconds() / 86400.0
    result["first_seen"], result["age_days"] = _z(first_seen), round(age, 3)
    if age < spec["min_release_age_days"]:
        due = first_seen + datetime.timedelta(days=spec["min_release_age_days"])
        return done("wait: too new", "%s was first seen %s (%.1f days ago); the policy wants %g days, so not before %s"
                    % (candidate, _z(first_seen), age, spec["min_release_age_days"], _z(due)))
    if mode == "approve" and not approved:
        result["request_id"] = rid
        if request and request.get("status") == "pending":
            return done("needs approval", "request %s is waiting for a person until %s" % (rid, request.get("expires")))
        return done("needs approval", "a %s change of %s needs a person's approval: request %s" % (kind, component, rid))
    if spec["disruptive"]:
        inside, detail = windows.window_state(now, policy["windows"], policy["timezone"])
        if not inside:
            return done("wait: outside window", detail)
        remaining = item.get("budget_remaining_percent")
        if remaining is not None and remaining < policy["min_error_budget_percent"]:
            return done("wait: budget", "%.1f %% of the error budget is left; the policy wants at least %g %%"
                        % (remaining, policy["min_error_budget_percent"]))
        last = as_time(item.get("last_change"))
        spacing = datetime.timedelta(hours=policy["min_hours_between_changes"])
        if last is not None and now - last < spacing:
            return done("wait: too soon after the last change", "the last disruptive change started %s; the policy "
                        "wants %g h between two, so not before %s" % (_z(last), policy["min_hours_between_changes"],
                                                                      _z(last + spacing)))
        if item.get("wave_hold"):
            return done("wait: wave", item["wave_hold"])
        if changes_this_run >= 1:
            return done("wait: one change per run", "another disruptive change goes first this run")
    if approved:
        return done("apply", "approved (request %s) and every gate passes" % rid)
    return done("apply", "a %s change of %s is auto and every gate passes" % (kind, component))


def decide_all(policy, items, now):
    """Decisions for ``items`` (interrupted first, then approved now, then :data:`ORDER`), at most one
    disruptive ``apply``/``resume`` in all."""
    order = {name: index for index, name in enumerate(ORDER)}
    # an interrupted run first, then what a person approved just now, then the usual order
    ranked = sorted(items, key=lambda i: (0 if i.get("interrupted") else 1 if i.get("approve_id") else 2,
                                          order.get(i["component"], 99), i["cluster"]))
    decisions, acting = [], 0
    for item in ranked:
        if item["component"] not in COMPONENTS:
            raise DecisionError("unknown component %r; known: %s" % (item["component"], ", ".join(COMPONENTS)))
        if item["component"] not in policy["components"]:
            continue
        decision = decide(policy, item, now, changes_this_run=acting)
        if decision["decision"] == "resume" and acting:
            decision["decision"], decision["detail"] = "wait: one change per run", "another interrupted run goes first"
        if decision["decision"] in ACTING and decision["disruptive"]:
            acting += 1
        decisions.append(decision)
    return decisions
