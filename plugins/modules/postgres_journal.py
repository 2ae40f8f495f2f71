#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_journal
short_description: Record the steps of a Postgres upgrade run in its journal and write its report
version_added: 0.1.0
description:
  - Keeps C(reports/<run_id>/state.json) (module_utils/report/journal.py RunJournal) so that a re-run with
    the same O(run_id) knows which steps are done and carries on.
  - Records one step's status and details, merges O(facts), sets the run's final status and
    writes C(report.md) and C(report.json).
  - With O(finish) and O(ledger), charges the downtime the run measured (O(downtime)) to the
    error-budget ledger once per run (a re-run never charges it twice).
attributes:
  check_mode:
    details: Reads the journal and writes nothing.
  diff_mode:
    support: none
    details: Journal entries only.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.journal.record
options:
  run_id:
    description: Identifier of the run (letters, digits, C(-), C(_)).
    type: str
    required: true
  runbook:
    description: Name of the runbook the run belongs to.
    type: str
    default: upgrade-postgres
  finish:
    description: Final status of the run; also writes the report.
    type: str
  ledger:
    description: Downtime ledger (JSON lines, the format of P(fournines.runbooks.slo_budget_info#module)) to charge on O(finish).
    type: path
  downtime:
    description: The downtime the run measured, charged to O(ledger) when O(finish) is given and C(seconds) is above 0.
    type: dict
    suboptions:
      seconds:
        description: Seconds of downtime.
        type: float
        required: true
      step:
        description: The step whose finish time ends the interval (the current time when absent or unfinished).
        type: str
      tags:
        description: Tags of the ledger record.
        type: list
        elements: str
        default: [postgres-upgrade]
  title:
    description: Report title.
    type: str
    default: PostgreSQL upgrade
  sections:
    description:
      - Extra report sections, each with C(heading) and any of C(body) (Markdown), C(items) (a list
        rendered as bullets) and C(table) (C(headers) and C(rows), rendered as a Markdown table).
    type: list
    elements: dict
    default: []
  find_interrupted:
    description:
      - Step names that take the database down. Other runs of O(runbook) under O(reports_dir) that never
        finished while one of these steps was running are returned in RV(interrupted), so that a new run
        can say which run to carry on instead of starting over.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Record the canary step
  fournines.runbooks.postgres_journal:
    reports_dir: "{{ playbook_dir }}/../reports"
    run_id: "{{ postgres_run_id }}"
    step: major-canary
    details:
      predicted_downtime_seconds: 4.2
"""

RETURN = r"""
journal:
  description: The journal (run_id, status, facts, steps).
  returned: always
  type: dict
done:
  description: Names of steps already done or skipped.
  returned: always
  type: list
  elements: str
report:
  description: Paths of report.md and report.json.
  returned: when O(finish) is set
  type: dict
ledger_recorded:
  description: Whether this task charged the downtime to O(ledger) (false when the run was already charged).
  returned: always
  type: bool
interrupted:
  description: Other runs interrupted in one of the O(find_interrupted) steps, newest first.
  returned: always
  type: list
  elements: dict
  sample: [{"run_id": "upgrade-postgres-minor-20261127T120000Z", "step": "switchover", "started": "2026-11-27T12:00:05Z"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RECORD_ARG_SPEC, RunJournal, interrupted_runs, record
from ansible_collections.fournines.runbooks.plugins.module_utils.common.slo import SLOError, charge_downtime


def main():
    module = AnsibleModule(argument_spec=dict(
        RECORD_ARG_SPEC, run_id=dict(type="str", required=True), runbook=dict(type="str", default="upgrade-postgres"),
        finish=dict(type="str"),
        title=dict(type="str", default="PostgreSQL upgrade"), sections=dict(type="list", elements="dict", default=[]),
        ledger=dict(type="path"),
        downtime=dict(type="dict", options=dict(
            seconds=dict(type="float", required=True), step=dict(type="str"),
            tags=dict(type="list", elements="str", default=["postgres-upgrade"]))),
        find_interrupted=dict(type="list", elements="str", default=[]),
    ), supports_check_mode=True)
    p = module.params
    result = dict(changed=False, ledger_recorded=False, interrupted=[])
    try:
        journal = RunJournal(p["reports_dir"], p["run_id"], p["runbook"])
        if not module.check_mode:
            record(journal, p)
            if p["finish"]:
                journal.finish(p["finish"])
                result["report"] = journal.write_report(p["title"], p["sections"], data=journal.state["facts"])
                if p["ledger"] and p["downtime"] and p["downtime"]["seconds"] > 0:
                    result["ledger_recorded"] = charge_downtime(journal.state, p["ledger"], p["downtime"], p["runbook"])
            journal.save()
            result["changed"] = True
    except (RunbookError, SLOError) as err:
        fail_from_error(module, err)
    if p["find_interrupted"]:
        result["interrupted"] = interrupted_runs(p["reports_dir"], p["runbook"], p["find_interrupted"],
                                                 exclude=p["run_id"])
    result["journal"] = journal.state
    result["done"] = [s["name"] for s in journal.state["steps"] if s["status"] in ("done", "skipped")]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
