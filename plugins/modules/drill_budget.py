#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: drill_budget
short_description: Gate a node-failure drill on the error budget, using the downtime earlier drills took
version_added: 0.1.0
description:
  - Estimates the drill's downtime as the longest of the last O(last) drills of the same O(mode) recorded in the
    ledger (records with source C(node-failure-drill) and the tags C(drill) and C(mode:<mode>)), or
    O(estimate_seconds) when there is none, and checks it against the error budget of O(objective) over
    O(window) (module_utils/common/slo.py, the same maths as P(fournines.runbooks.slo_budget_info#module)).
  - Fails with the reason when the drill would leave less than O(min_remaining_percent) of the allowed
    downtime, unless O(fail_on_refusal=false).
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.drill_observations.mode
options:
  ledger:
    description: Path of the downtime ledger (JSON lines); a missing file is an empty ledger.
    type: path
    required: true
  estimate_seconds:
    description: Downtime to plan for when the ledger has no earlier drill of this mode.
    type: float
  last:
    description: How many earlier drills to consider.
    type: int
    default: 3
  objective:
    description: Availability objective in percent.
    type: float
    default: 99.99
  window:
    description: Budget window, V(<N>d) or V(calendar_month), V(calendar_quarter), V(calendar_year).
    type: str
    default: 30d
  exclude_tags:
    description: Ledger records with any of these tags are not charged.
    type: list
    elements: str
    default: []
  min_remaining_percent:
    description: Share of the allowed downtime that must remain after the drill.
    type: float
    default: 0
  fail_on_refusal:
    description: Fail the task when the budget refuses the drill.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Refuse the drill if it would exhaust the month's budget
  fournines.runbooks.drill_budget:
    ledger: reports/downtime.jsonl
    mode: delete
    estimate_seconds: 480
    window: 30d
"""

RETURN = r"""
planned_seconds:
  description: The downtime planned for.
  returned: always
  type: float
basis:
  description: Where RV(planned_seconds) comes from.
  returned: always
  type: str
ok:
  description: Whether the budget allows the drill.
  returned: always
  type: bool
reason:
  description: The budget's verdict in words.
  returned: always
  type: str
budget:
  description: The budget (allowed, consumed, remaining seconds and percent, burn rate, window).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import scenario
from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            scenario.MODE_SPEC,
            ledger=dict(type="path", required=True),
            estimate_seconds=dict(type="float"),
            last=dict(type="int", default=3),
            objective=dict(type="float", default=99.99),
            window=dict(type="str", default="30d"),
            exclude_tags=dict(type="list", elements="str", default=[]),
            min_remaining_percent=dict(type="float", default=0),
            fail_on_refusal=dict(type="bool", default=True)),
        supports_check_mode=True)
    p = module.params
    try:
        records = slo.read_ledger(p["ledger"])
        planned, basis = scenario.planned_downtime(records, p["mode"], p["estimate_seconds"], p["last"])
        report = slo.budget(p["objective"], p["window"], records, exclude_tags=p["exclude_tags"])
        ok, reason = slo.budget_allows(report, planned, p["min_remaining_percent"])
    except RunbookError as err:
        fail_from_error(module, err)
    result = dict(changed=False, planned_seconds=planned, basis=basis, ok=ok, reason=reason, budget=report)
    if not ok and p["fail_on_refusal"]:
        module.fail_json(msg="the error budget refuses this %s drill: %s (planned from the %s)" % (
            p["mode"], reason, basis), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
