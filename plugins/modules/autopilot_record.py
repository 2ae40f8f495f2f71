#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: autopilot_record
short_description: Record what the update autopilot did about one decision
version_added: 0.2.0
description:
  - Appends one line to the autopilot's ledger (C(<state_dir>/ledger.jsonl)) for a change decided by
    M(fournines.runbooks.autopilot_decide) - V(started) (the runbook begins; the spacing rule counts from
    here), V(applied) or V(failed) - or attaches the safe part's V(evidence) (plan, canary trial, report
    paths) to the decision's approval request.
  - An applied change whose request was approved marks the request V(applied).
extends_documentation_fragment:
  - fournines.runbooks.attributes
attributes:
  check_mode:
    details: Says what it would record and writes nothing.
  diff_mode:
    support: none
    details: The ledger line is returned as RV(record).
options:
  state_dir:
    description: The autopilot's records folder, normally C(<reports_dir>/autopilot).
    type: path
    required: true
  run_id:
    description: This autopilot run's id.
    type: str
    required: true
  event:
    description: What happened.
    type: str
    required: true
    choices: [started, applied, failed, evidence]
  decision:
    description: The decision (an element of RV(fournines.runbooks.autopilot_decide#module:decisions)).
    type: dict
    required: true
  runbook_run_id:
    description: The run id of the runbook that carries out the change.
    type: str
  error:
    description: Why the change failed (for V(failed)).
    type: str
  evidence:
    description: What the safe part found (for V(evidence)), for example report paths and the plan.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Note that the cluster runbook starts
  fournines.runbooks.autopilot_record:
    state_dir: "{{ autopilot_reports_dir }}/autopilot"
    run_id: "{{ autopilot_run_id }}"
    event: started
    decision: "{{ autopilot_decided.acting }}"
"""

RETURN = r"""
record:
  description: The ledger line written (or that would be written in check mode).
  returned: success
  type: dict
  sample: {ts: "2026-12-04T22:30:00Z", run_id: autopilot-20261204T223000Z-ab12, event: started, cluster: lab,
           component: lke_node_patch, candidate: 1.33.4, kind: patch, request_id: null, disruptive: true}
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import records as records_mod
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state_dir=dict(type="path", required=True),
            run_id=dict(type="str", required=True),
            event=dict(type="str", required=True, choices=["started", "applied", "failed", "evidence"]),
            # free-form: a decision from autopilot_decide (its fields are documented there)
            decision=dict(type="dict", required=True),
            runbook_run_id=dict(type="str"),
            error=dict(type="str"),
            evidence=dict(type="dict", default={}),  # free-form: whatever the safe part produced
        ),
        supports_check_mode=True,
    )
    params = module.params
    now = datetime.datetime.now(datetime.timezone.utc)
    if module.check_mode:
        module.exit_json(changed=True, record={"event": params["event"], "run_id": params["run_id"],
                                               "component": params["decision"].get("component")})
    try:
        record = records_mod.record_event(records_mod.Records(params["state_dir"]), params["run_id"], params["event"],
                                          now, params["decision"], runbook_run_id=params["runbook_run_id"],
                                          error=params["error"], evidence=params["evidence"])
    except RunbookError as err:
        fail_from_error(module, err, changed=False)
    module.exit_json(changed=True, record=record)


if __name__ == "__main__":
    main()
