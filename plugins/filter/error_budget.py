# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Error-budget filters for templates and gates; the maths lives in module_utils/common/slo.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: error_budget
short_description: Error budget of an availability objective over a window
version_added: 0.1.0
description:
  - Returns allowed, consumed and remaining downtime (seconds and percent) and the burn rate
    for O(objective) over O(window), given recorded downtime intervals.
  - Overlapping intervals count once; intervals tagged with any of O(exclude_tags) are left out.
  - The same file also provides P(fournines.runbooks.allowed_downtime#filter).
options:
  _input:
    description: Downtime intervals, each a dictionary with C(start), C(end) (ISO 8601) and optional C(tags).
    type: list
    elements: dict
    required: true
  objective:
    description: Availability objective in percent, strictly between 0 and 100.
    type: float
    required: true
  window:
    description: C(<N>d) for a rolling window of N days, or C(calendar_year), C(calendar_quarter), C(calendar_month).
    type: str
    default: 30d
  now:
    description: End of the evaluation (ISO 8601); defaults to the current time.
    type: str
  exclude_tags:
    description: Intervals with any of these tags are not charged (for example C(drill)).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Budget left this month
  ansible.builtin.debug:
    msg: "{{ (downtime | fournines.runbooks.error_budget(objective=99.99, window='30d')).remaining_seconds }}"

- name: Allowed downtime of 99.99 % over a year (3153.6 s)
  ansible.builtin.debug:
    msg: "{{ 99.99 | fournines.runbooks.allowed_downtime('365d') }}"
"""

RETURN = r"""
_value:
  description: The budget, with C(allowed_seconds), C(consumed_seconds), C(remaining_seconds),
    C(remaining_percent), C(consumed_percent), C(burn_rate), C(window_start), C(window_end)
    and C(merged_intervals).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.module_utils.common.slo import SLOError, allowed_downtime_seconds, budget


def error_budget(intervals, objective, window="30d", now=None, exclude_tags=None):
    try:
        return budget(objective, window, intervals, now=now, exclude_tags=exclude_tags)
    except SLOError as err:
        raise AnsibleFilterError("error_budget: %s" % err)


def allowed_downtime(objective, window="30d", now=None):
    try:
        return allowed_downtime_seconds(objective, window, now=now)
    except SLOError as err:
        raise AnsibleFilterError("allowed_downtime: %s" % err)


class FilterModule(object):
    def filters(self):
        return {"error_budget": error_budget, "allowed_downtime": allowed_downtime}
