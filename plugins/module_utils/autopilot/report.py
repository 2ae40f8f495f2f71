# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The autopilot run's report (Markdown + JSON under ``<reports_dir>/<run_id>/``) through the run journal."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import records as records_mod
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal

RUNBOOK = "autopilot"
STATUSES = ("done", "failed", "refused", "planned")


def write(reports_dir, run_id, status, summary, decisions, requests=None, error=None, changed=None, unchanged=None):
    """Write report.json / report.md for one autopilot run; returns the paths and a summary dict."""
    journal = RunJournal(reports_dir, run_id, RUNBOOK)
    for decision in decisions:
        name = "%s/%s" % (decision.get("cluster"), decision.get("component"))
        journal.state["facts"].setdefault("decisions", {})[name] = decision
    journal.set_outcome(summary, error=error, changed=changed, unchanged=unchanged)
    journal.finish("failed" if status in ("failed", "refused") else "done")
    rows = [[d.get("cluster"), d.get("component"), d.get("current") or "", d.get("candidate") or "",
             d.get("kind") or "", d.get("mode") or "", d.get("decision"), d.get("detail", "")] for d in decisions]
    sections = [{"heading": "Decisions", "table": {
        "headers": ["cluster", "component", "current", "candidate", "kind", "mode", "decision", "reason"],
        "rows": rows}, "body": "" if rows else "No decision was made."}]
    # each request as stored now, with the evidence its safe part attached (<reports_dir>/autopilot/requests/)
    stored = records_mod.Records(os.path.join(reports_dir, "autopilot"))
    requests = [stored.request(r["id"]) or r for r in requests or []]
    sections.append({"heading": "Approval requests", "items": [
        "`%s`: %s %s -> %s, expires %s; approve with `-e autopilot_approve=%s`%s" % (
            r["id"], r["component"], r.get("current"), r["candidate"], r["expires"], r["id"], _trial(r)) for r in requests]})
    paths = journal.write_report("Autopilot run", sections=sections,
                                 data={"status": status, "decisions": decisions, "requests": requests})
    return {"paths": paths, "summary": {"status": status, "decisions": len(decisions),
                                        "applied": [d["component"] for d in decisions if d.get("outcome") == "applied"],
                                        "requests": [r["id"] for r in requests]}}


def _trial(request):
    """'; canary trial: passed, predicted downtime 38.4 s' from a request's evidence, or ''."""
    trial = (request.get("evidence") or {}).get("canary_trial")
    if not trial:
        return ""
    predicted = trial.get("predicted_downtime_seconds")
    return "; canary trial: %s%s" % (trial.get("canary"), ", predicted downtime %s s" % predicted if predicted is not None else "")
