# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an approval request shows from the safe part of a PostgreSQL upgrade: the canary trial the runbook ran before
its gate (a major upgrade without ``postgres_major_confirm`` stops there), read from that run's ``report.json``.

Two report shapes, one per backend:

- host (``module_utils/report/journal.py``): ``{"status", "facts": {"predicted_downtime_seconds", "gate_reason"},
  "steps": [{"name": "major-canary" | "major-gate", "status", "details"}]}``; a run stopped at its gate has status
  ``stopped-at-gate``.
- CloudNativePG (``roles/postgres_cnpg_upgrade/vars/main.yml``): ``{"backend": "cloudnative_pg", "status", "error",
  "steps": [{"step", "status", "detail"}], "method", "predicted_downtime_seconds"}``; the prediction is that number
  (null when no canary gave one); a report written before the field existed names it only in the canary step's detail
  ("primary back after 12.3 s (the predicted downtime)"), which is read then. A run stopped at its gate has status
  ``stopped-at-gate``, its gate step ``refused`` and the gate's reason as ``error`` (a report written before said
  ``failed`` for both).
  A canary-only minor run (``postgres_cnpg_upgrade_canary_only``, status ``stopped-after-canary``) has a ``smoke``
  step after its canary: its detail joins the canary's.

:func:`canary_evidence` gives ``{"canary", "canary_detail", "predicted_downtime_seconds", "gate", "runbook_status"}``:
``canary`` is ``passed``, ``failed`` or ``not run``; the prediction is None when the canary gave none.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_PREDICTED = re.compile(r"after ([0-9]+(?:\.[0-9]+)?) s \(the predicted downtime\)")
_GATE_STEP = re.compile(r"^gate\b", re.I)
#: Step statuses that mean the canary trial went through.
_PASSED = ("done", "ok")


def _number(value):
    try:
        return round(float(value), 3)
    except (TypeError, ValueError):
        return None


def _host(report):
    steps = {s.get("name"): s for s in report.get("steps") or []}
    canary = steps.get("major-canary") or steps.get("minor-canary")
    facts = report.get("facts") or {}
    gate = steps.get("major-gate") or {}
    details = (canary or {}).get("details") or {}
    return {
        "canary": "not run" if canary is None else ("passed" if canary.get("status") in _PASSED else "failed"),
        "canary_detail": details.get("error") or details.get("reason") or ", ".join(
            "%s %s" % (key, details[key]) for key in ("upgrade_seconds", "tables_compared") if key in details),
        "predicted_downtime_seconds": _number(facts.get("predicted_downtime_seconds")),
        "gate": (gate.get("details") or {}).get("reason") or facts.get("gate_reason") or "",
    }


def _cloudnative_pg(report):
    steps = report.get("steps") or []
    canary = next((s for s in steps if s.get("step") == "canary"), None)
    failed = next((s for s in steps if s.get("status") == "failed"), None)
    # a failed canary task ("Canary - refuse the update when a smoke query failed ...") is the verdict, even after the
    # canary step itself (the clone became healthy) was recorded ok
    if failed is not None and "canary" in str(failed.get("step", "")).lower():
        canary = failed
    detail = str((canary or {}).get("detail") or "")
    match = _PREDICTED.search(detail)
    # the minor flow's checks on the canary are a step of their own: "4 smoke queries passed; rows equal in ..."
    smoke = next((s for s in steps if s.get("step") == "smoke" and s.get("status") in _PASSED), None)
    if canary is not None and canary.get("status") in _PASSED and smoke is not None:
        detail = "%s; %s" % (detail, smoke.get("detail") or "") if detail else str(smoke.get("detail") or "")
    # "gate" (passed) or the failed task "Gate - error budget and explicit confirmation"; not the minor flow's "gates"
    gate = next((s for s in steps if _GATE_STEP.match(str(s.get("step") or ""))), None)
    # the report's own number (null when no canary gave one); a report written before it had the field: the text
    if "predicted_downtime_seconds" in report:
        predicted = _number(report["predicted_downtime_seconds"])
    else:
        predicted = _number(match.group(1)) if match else None
    return {
        "canary": "not run" if canary is None else ("passed" if canary.get("status") in _PASSED else "failed"),
        "canary_detail": detail,
        "predicted_downtime_seconds": predicted,
        "gate": str((gate or {}).get("detail") or ""),
    }


def canary_evidence(report):
    """The canary's verdict and figures from a PostgreSQL runbook's ``report.json`` (a dict; {} or None when the run
    wrote none: ``canary`` is then ``not run``)."""
    report = report if isinstance(report, dict) else {}
    found = _cloudnative_pg(report) if report.get("backend") == "cloudnative_pg" else _host(report)
    found["runbook_status"] = str(report.get("status") or "no report")
    if not found["gate"] and report.get("status") == "failed" and report.get("error"):
        found["gate"] = str(report["error"])
    return found
