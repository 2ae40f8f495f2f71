#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_upgrade_report
short_description: Write the report of a cluster-upgrade run and charge its downtime to the error budget
version_added: 0.1.0
description:
  - "Builds C(report.md), C(report.json) and C(timeline.png) in the run's directory from its journal
    (C(state.json)), the prober's files and the preflight result: what was done and when, per-node durations,
    preflight findings and plan, failed requests, budget consumed."
  - With O(ledger), appends the downtime the prober measured (failed rounds, merged across targets) to the
    downtime ledger, once per run and interval, and reports the budget after it.
  - With O(finish), also sets the run's final status first.
attributes:
  check_mode:
    details: Computes the summary without writing files or the ledger.
  diff_mode:
    support: none
    details: No diff.
extends_documentation_fragment:
  - fournines.runbooks.attributes
options:
  journal_dir:
    description: The run's directory, C(reports/<run-id>).
    type: path
    required: true
  probe_dir:
    description: The prober's directory (see P(fournines.runbooks.http_prober#module)).
    type: path
  preflight:
    description: The registered result of P(fournines.runbooks.k8s_upgrade_preflight#module).
    type: dict
  ledger:
    description: Downtime ledger to charge (JSON lines, see P(fournines.runbooks.slo_budget_info#module)).
    type: path
  objective:
    description: Availability objective in percent, for the budget section.
    type: float
    default: 99.99
  window:
    description: Budget window, for example V(30d).
    type: str
    default: 30d
  title:
    description: Report title.
    type: str
    default: LKE cluster upgrade
  finish:
    description: Set the run's final status before writing.
    type: str
    choices: [done, failed]
  extra:
    description: More key/values for the summary (for example the versions).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Report
  fournines.runbooks.lke_upgrade_report:
    journal_dir: "reports/{{ run_id }}"
    probe_dir: "reports/{{ run_id }}/probe"
    preflight: "{{ preflight }}"
    ledger: reports/downtime.jsonl
    finish: done
  register: report
"""

RETURN = r"""
paths:
  description: C(dir), C(json), C(markdown), C(png).
  returned: unless check mode
  type: dict
summary:
  description: status, wall_seconds, nodes_recycled, failed_requests, probe_requests, downtime_seconds,
    predicted_downtime_seconds, quarantined_nodes, max_moves_per_app, single_replica_downtime_seconds (per
    single-replica app, seconds from each eviction to its replacement Ready; null when a replacement never became
    Ready) (and O(extra)). The report's C(moves) lists every eviction with its pod, node and times.
  returned: always
  type: dict
charged_intervals:
  description: Downtime intervals appended to the ledger by this task.
  returned: always
  type: int
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober, slo
from ansible_collections.fournines.runbooks.plugins.module_utils.report import cluster_upgrade
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.timeline_chart import HAS_MATPLOTLIB, MATPLOTLIB_IMPORT_ERROR
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import open_journal


def main():
    module = AnsibleModule(
        argument_spec=dict(
            journal_dir=dict(type="path", required=True),
            probe_dir=dict(type="path"),
            preflight=dict(type="dict"),  # free-form: k8s_upgrade_preflight's registered result
            ledger=dict(type="path"),
            objective=dict(type="float", default=99.99),
            window=dict(type="str", default="30d"),
            title=dict(type="str", default="LKE cluster upgrade"),
            finish=dict(type="str", choices=["done", "failed"]),
            extra=dict(type="dict", default={}),  # free-form: any summary fields
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not module.check_mode:
        require_lib(module, "matplotlib", HAS_MATPLOTLIB, MATPLOTLIB_IMPORT_ERROR)
    try:
        if not os.path.exists(os.path.join(p["journal_dir"], "state.json")):
            raise RunbookError("no journal in %s; give the run's directory (reports/<run-id>)" % p["journal_dir"])
        journal = open_journal(p["journal_dir"])
        probe = prober.summary(p["probe_dir"]) if p["probe_dir"] and prober.read_handle(p["probe_dir"]) else None
        keep = ("findings", "plan", "predicted_downtime_seconds", "current_version", "target_version", "step")
        preflight = dict((k, v) for k, v in (p["preflight"] or {}).items() if k in keep) or None
        charged, budget = 0, None
        if module.check_mode:
            rows = cluster_upgrade.step_rows(journal.state)
            module.exit_json(changed=False, summary={"status": journal.state.get("status"), "steps": len(rows)},
                             charged_intervals=0)
        if p["finish"]:
            journal.finish(p["finish"])
        if p["ledger"]:
            charged = cluster_upgrade.charge_ledger(p["ledger"], journal.state["run_id"], cluster_upgrade.probe_intervals(probe))
            budget = slo.budget(p["objective"], p["window"], slo.read_ledger(p["ledger"]))
        paths, summary = cluster_upgrade.build(journal, p["title"], probe, preflight, budget, p["extra"])
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(changed=True, paths=paths, summary=summary, charged_intervals=charged)


if __name__ == "__main__":
    main()
