#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: autopilot_report
short_description: Write the update autopilot run's report (Markdown and JSON)
version_added: 0.2.0
description:
  - Writes C(<reports_dir>/<run_id>/report.md) and C(report.json) for one run of C(playbooks/autopilot.yml) -
    what happened, what was and was not changed, every decision with its reason and the approval requests
    waiting for a person - through the collection's run journal.
extends_documentation_fragment:
  - fournines.runbooks.attributes
attributes:
  check_mode:
    details: Writes nothing; the playbook prints the decisions instead.
  diff_mode:
    support: none
    details: The report's paths are returned.
options:
  reports_dir:
    description: The reports folder; the report goes to C(<reports_dir>/<run_id>/).
    type: path
    required: true
  run_id:
    description: The autopilot run's id.
    type: str
    required: true
  status:
    description: How the run ended.
    type: str
    required: true
    choices: [done, failed, refused, planned]
  summary:
    description: One sentence saying what happened and what was (not) changed.
    type: str
    required: true
  decisions:
    description: The decisions of the run (from M(fournines.runbooks.autopilot_decide)), with an C(outcome) key where acted on.
    type: list
    elements: dict
    default: []
  requests:
    description: Approval requests waiting for a person (from M(fournines.runbooks.autopilot_decide)).
    type: list
    elements: dict
    default: []
  error:
    description: The error that stopped the run, if any.
    type: str
  changed:
    description: What the run changed, one line each.
    type: list
    elements: str
    default: []
  unchanged:
    description: What the run left as it was, one line each.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Report the autopilot run
  fournines.runbooks.autopilot_report:
    reports_dir: "{{ autopilot_reports_dir }}"
    run_id: "{{ autopilot_run_id }}"
    status: done
    summary: "No change was due; 1 request waits for approval."
    decisions: "{{ autopilot_decided.decisions }}"
    requests: "{{ autopilot_decided.requests_new }}"
"""

RETURN = r"""
paths:
  description: Where the report went (dir, json, markdown).
  returned: not in check mode
  type: dict
summary:
  description: status, number of decisions, components applied, request ids.
  returned: not in check mode
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import report
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error


def main():
    module = AnsibleModule(
        argument_spec=dict(
            reports_dir=dict(type="path", required=True),
            run_id=dict(type="str", required=True),
            status=dict(type="str", required=True, choices=list(report.STATUSES)),
            summary=dict(type="str", required=True),
            decisions=dict(type="list", elements="dict", default=[]),  # free-form: autopilot_decide's decisions
            requests=dict(type="list", elements="dict", default=[]),  # free-form: autopilot_decide's requests
            error=dict(type="str"),
            changed=dict(type="list", elements="str", default=[]),
            unchanged=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if module.check_mode:
        module.exit_json(changed=False)
    try:
        result = report.write(params["reports_dir"], params["run_id"], params["status"], params["summary"],
                              params["decisions"], requests=params["requests"], error=params["error"],
                              changed=params["changed"], unchanged=params["unchanged"])
    except RunbookError as err:
        fail_from_error(module, err, changed=False)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
