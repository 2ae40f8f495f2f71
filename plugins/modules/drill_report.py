#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: drill_report
short_description: Write a node-failure drill's report (Markdown, JSON, PNG timeline) and charge the ledger
version_added: 0.1.0
description:
  - Builds the drill's timeline from the watcher's observations and the prober's samples - fault injected,
    node NotReady, taint added, pods terminating, replacement pod scheduled, Multi-Attach warning, volume
    detached and attached, pod Ready, first 200 at the edge, replacement node Ready - splits the outage into
    phases (detection, eviction toleration, rescheduling, volume wait, pod start, edge recovery) and checks
    the milestones came in the order a node loss produces them.
  - Derives advice from the measurements and the workload (for example a single replica on a ReadWriteOnce
    volume whose Multi-Attach wait dominates), and compares with the earlier drills of the same mode found
    under O(reports_dir).
  - Writes C(report.md), C(report.json) (the run journal plus the drill) and C(timeline.png) (the phases as
    horizontal bars above the prober's up/down line) into C(<reports_dir>/<run_id>/).
  - With O(ledger), appends the downtime interval (first failed request to the first good one after it) to
    the error-budget ledger with the tags C(drill) and C(mode:<mode>) and the run id, so it can be counted or
    excluded and is never recorded twice. A drill without downtime records nothing.
  - With O(refused), reports a drill the preflight refused instead; the run's journal ends with status
    C(refused) (a later run never carries it on) and C(report.md) and C(report.json) say why and that nothing
    was changed. No timeline, no chart, no ledger line.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.drill_observations
  - fournines.runbooks.drill_observations.mode
attributes:
  check_mode:
    details: Computes the timeline and returns it; writes no file and no ledger line.
  diff_mode:
    support: none
    details: No diff; RV(ledger_recorded) says whether the ledger changed.
options:
  watch_dir:
    description: The watcher's directory (P(fournines.runbooks.k8s_drill_watch#module)). Required unless O(refused).
    type: path
    required: false
  fault_ts:
    description: Epoch seconds of the fault (RV(fournines.runbooks.lke_node_fault#module:ts)). Required unless O(refused).
    type: float
    required: false
  node:
    description: The failed node's name. Required unless O(refused) (then the node the drill had chosen, if any).
    type: str
    required: false
  refused:
    description: Why the preflight refused the drill; report the refusal (nothing was changed) instead of a timeline.
    type: str
  reports_dir:
    description: Directory of the runs.
    type: path
    required: true
  run_id:
    description: The drill's run id (its journal C(state.json) lives in C(<reports_dir>/<run_id>/)).
    type: str
    required: true
  why:
    description: Why the node was chosen (RV(fournines.runbooks.lke_drill_target#module:why)).
    type: str
  workload:
    description: The app's facts (RV(fournines.runbooks.lke_drill_target#module:workload)), used for advice.
    type: dict
  environment:
    description: A label compared drills must share, for example the lab's time profile or V(production).
    type: str
  aborted:
    description: The drill was stopped at its downtime limit.
    type: bool
    default: false
  downtime_limit:
    description: The drill's downtime limit in seconds, for the report.
    type: float
  restored_by:
    description: What the runbook did to restore service after an abort.
    type: list
    elements: str
    default: []
  ledger:
    description: Path of the downtime ledger to charge; unset records nothing.
    type: path
  notes:
    description: Further facts for the report, for example a measure the drill took.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Report and charge the ledger
  fournines.runbooks.drill_report:
    reports_dir: reports
    run_id: "{{ run_id }}"
    watch_dir: "reports/{{ run_id }}/watch"
    probe_dir: "reports/{{ run_id }}/probe"
    probe_target: web
    fault_ts: "{{ fault.ts }}"
    node: "{{ target.node }}"
    workload: "{{ target.workload }}"
    ledger: reports/downtime.jsonl

- name: Report a drill the preflight refused
  fournines.runbooks.drill_report:
    reports_dir: reports
    run_id: "{{ run_id }}"
    mode: delete
    refused: the app was already failing before the drill
"""

RETURN = r"""
drill:
  description: The drill - mode, node, C(downtime_seconds), C(downtime) (prober intervals), C(milestones)
    (epoch), C(relative) (seconds after the fault), C(segments), C(order_violations), C(missing), C(advice),
    C(comparison), C(ledger).
  returned: unless O(refused)
  type: dict
refused:
  description: The refusal as the reports give it - C(reason), C(changed) (what was not done), C(mode), C(node),
    C(why), C(environment).
  returned: with O(refused)
  type: dict
markdown:
  description: Path of report.md.
  returned: always
  type: str
json:
  description: Path of report.json.
  returned: always
  type: str
chart:
  description: Path of timeline.png.
  returned: unless O(refused)
  type: str
ledger_recorded:
  description: Whether a ledger line was appended by this task.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import scenario
from ansible_collections.fournines.runbooks.plugins.module_utils.report import node_drill
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.timeline_chart import HAS_MATPLOTLIB, MATPLOTLIB_IMPORT_ERROR


#: The observation options a refused drill has none of (required otherwise).
_UNLESS_REFUSED = dict((name, dict(scenario.OBSERVATION_SPEC[name], required=False))
                       for name in ("watch_dir", "fault_ts", "node"))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            scenario.OBSERVATION_SPEC,
            reports_dir=dict(type="path", required=True),
            run_id=dict(type="str", required=True),
            why=dict(type="str"),
            workload=dict(type="dict"),  # free-form: lke_drill_target's registered workload
            environment=dict(type="str"),
            aborted=dict(type="bool", default=False),
            downtime_limit=dict(type="float"),
            restored_by=dict(type="list", elements="str", default=[]),
            ledger=dict(type="path"),
            notes=dict(type="list", elements="str", default=[]),
            refused=dict(type="str"),
            **_UNLESS_REFUSED),
        required_one_of=[("refused", name) for name in _UNLESS_REFUSED],
        supports_check_mode=True)
    p = module.params
    if not module.check_mode and not p["refused"]:
        require_lib(module, "matplotlib", HAS_MATPLOTLIB, MATPLOTLIB_IMPORT_ERROR)
    facts = dict((k, p[k]) for k in ("why", "environment", "aborted", "downtime_limit", "restored_by", "notes"))
    if p["refused"]:
        facts.update(mode=p["mode"], node=p["node"])
        module.exit_json(changed=not module.check_mode, ledger_recorded=False,
                         **node_drill.refused(p["reports_dir"], p["run_id"], p["refused"], facts, module.check_mode))
    try:
        result, recorded = node_drill.produce(
            p["reports_dir"], p["run_id"], p["watch_dir"], p["probe_dir"], p["fault_ts"], p["node"], p["mode"],
            p["probe_target"], p["probe_interval"], p["workload"], facts, p["ledger"], module.check_mode)
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(changed=not module.check_mode, ledger_recorded=recorded, **result)


if __name__ == "__main__":
    main()
