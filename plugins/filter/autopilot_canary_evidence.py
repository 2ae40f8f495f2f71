# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canary trial of a PostgreSQL runbook run, as an approval request shows it; the rules live in
module_utils/autopilot/evidence.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: autopilot_canary_evidence
short_description: The canary's verdict and predicted downtime from a PostgreSQL runbook's report, for an approval request
version_added: 0.2.0
description:
  - Reads the C(report.json) of an C(upgrade_postgres.yml) run that stopped at its gate (a major upgrade without
    C(postgres_major_confirm) runs its canary trial on a clone and stops there), of either backend (host or
    CloudNativePG).
  - Gives the canary's verdict (C(passed), C(failed) or C(not run)), its detail, the downtime it predicts for
    production (seconds, or null when it gave none), the gate's reason and the run's status.
options:
  _input:
    description: The run's C(report.json) as a mapping; an empty one (no report written) gives C(not run).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The canary trial's figures for the approval request
  ansible.builtin.set_fact:
    evidence: "{{ lookup('ansible.builtin.file', reports_dir ~ '/' ~ run_id ~ '/report.json') | from_json
      | fournines.runbooks.autopilot_canary_evidence }}"
    # {"canary": "passed", "predicted_downtime_seconds": 41.2, "gate": "budget: ...; confirmation: missing ...",
    #  "canary_detail": "...", "runbook_status": "stopped-at-gate"}
"""

RETURN = r"""
_value:
  description: C(canary) (passed, failed or not run), C(canary_detail), C(predicted_downtime_seconds), C(gate) and
    C(runbook_status).
  type: dict
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import evidence


def autopilot_canary_evidence(report):
    return evidence.canary_evidence(report)


class FilterModule(object):
    def filters(self):
        return {"autopilot_canary_evidence": autopilot_canary_evidence}
