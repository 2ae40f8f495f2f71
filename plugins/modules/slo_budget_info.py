#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: slo_budget_info
short_description: Read a downtime ledger and report the remaining error budget
version_added: 0.1.0
description:
  - Reads a downtime ledger (JSON lines) and computes, for an availability objective over a
    window, the allowed, consumed and remaining downtime and the burn rate.
  - Overlapping intervals count once. Intervals tagged with any of O(exclude_tags), such as
    planned drills, can be left out.
  - With O(planned_downtime_seconds) it also answers whether planned work fits the budget,
    which is how disruptive runbooks gate themselves.
  - "Ledger format: one JSON object per line with C(start) and C(end) (ISO 8601; no offset
    means UTC) and optional C(tags) (list of strings, for example V(drill)), C(source),
    C(run_id) and C(note). Blank lines and lines starting with C(#) are ignored. A missing
    ledger file is an empty ledger."
  - "Example line: C({\"start\": \"2026-11-03T10:00:00Z\", \"end\": \"2026-11-03T10:07:35Z\",
    \"tags\": [\"drill\"], \"source\": \"node-failure-drill\"})."
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
options:
  ledger:
    description: Path of the downtime ledger file.
    type: path
    required: true
  objective:
    description: Availability objective in percent, strictly between 0 and 100 (99.99 is four nines).
    type: float
    default: 99.99
  window:
    description:
      - V(<N>d) for a rolling window of N days ending now (for example V(30d), V(28d), V(365d)),
        or V(calendar_year), V(calendar_quarter), V(calendar_month).
    type: str
    default: 30d
  exclude_tags:
    description: Intervals carrying any of these tags are not charged.
    type: list
    elements: str
    default: []
  now:
    description: Evaluate the budget at this time (ISO 8601) instead of the current time.
    type: str
  planned_downtime_seconds:
    description: Downtime the next change expects; the result then says whether it fits.
    type: float
  min_remaining_percent:
    description: Share of the allowed downtime that must remain after the planned downtime.
    type: float
    default: 0
"""

EXAMPLES = r"""
- name: Error budget of four nines over the last 30 days, planned drills excluded
  fournines.runbooks.slo_budget_info:
    ledger: /var/lib/fournines/downtime.jsonl
    objective: 99.99
    window: 30d
    exclude_tags: [drill]
  register: budget

- name: Stop if a 90 s planned outage would leave less than 20 % of the year's budget
  fournines.runbooks.slo_budget_info:
    ledger: "{{ playbook_dir }}/../reports/downtime.jsonl"
    window: calendar_year
    planned_downtime_seconds: 90
    min_remaining_percent: 20
  register: gate
  failed_when: not gate.fits
"""

RETURN = r"""
budget:
  description: The error budget.
  returned: always
  type: dict
  contains:
    allowed_seconds:
      description: Downtime the objective allows over the whole window.
      type: float
      sample: 259.2
    consumed_seconds:
      description: Downtime recorded inside the window, overlaps counted once.
      type: float
      sample: 120.0
    remaining_seconds:
      description: Allowed minus consumed; negative once the budget is overspent.
      type: float
      sample: 139.2
    remaining_percent:
      description: Remaining as a percentage of allowed.
      type: float
      sample: 53.704
    consumed_percent:
      description: Consumed as a percentage of allowed.
      type: float
      sample: 46.296
    burn_rate:
      description: Consumed divided by what an even spend would have used by now (1.0 = on track).
      type: float
      sample: 0.463
    window_start:
      description: Start of the window (UTC).
      type: str
      sample: "2026-10-28T00:00:00Z"
    window_end:
      description: End of the window (UTC).
      type: str
      sample: "2026-11-27T00:00:00Z"
    intervals_counted:
      description: Ledger intervals that overlap the window and were charged.
      type: int
      sample: 2
    intervals_excluded:
      description: Ledger intervals left out because of O(exclude_tags).
      type: int
      sample: 1
    merged_intervals:
      description: The charged downtime after clipping to the window and merging overlaps.
      type: list
      elements: dict
fits:
  description: Whether O(planned_downtime_seconds) fits the budget above O(min_remaining_percent).
  returned: when O(planned_downtime_seconds) is set
  type: bool
  sample: true
reason:
  description: One line explaining RV(fits).
  returned: when O(planned_downtime_seconds) is set
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error
from ansible_collections.fournines.runbooks.plugins.module_utils.common.slo import SLOError, budget, budget_allows, read_ledger


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ledger=dict(type="path", required=True),
            objective=dict(type="float", default=99.99),
            window=dict(type="str", default="30d"),
            exclude_tags=dict(type="list", elements="str", default=[]),
            now=dict(type="str"),
            planned_downtime_seconds=dict(type="float"),
            min_remaining_percent=dict(type="float", default=0.0),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        intervals = read_ledger(params["ledger"])
        report = budget(params["objective"], params["window"], intervals,
                        now=params["now"], exclude_tags=params["exclude_tags"])
        result = dict(changed=False, budget=report)
        if params["planned_downtime_seconds"] is not None:
            result["fits"], result["reason"] = budget_allows(
                report, params["planned_downtime_seconds"], params["min_remaining_percent"])
    except SLOError as err:
        fail_from_error(module, err)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
