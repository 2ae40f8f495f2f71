# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """What autopilot_decide and autopilot_wave_holds decide from: the policy, the autopilot's records
    and the time (module_utils/autopilot/policy.py DECISION_SPEC)."""

    DOCUMENTATION = r"""
options:
  policy:
    description:
      - The policy as M(fournines.runbooks.autopilot_policy) returns it
        (RV(fournines.runbooks.autopilot_policy#module:policy)), validated and with every default filled in.
    type: dict
    required: true
  state_dir:
    description: The autopilot's records folder (its C(ledger.jsonl)), normally C(<reports_dir>/autopilot).
    type: path
    required: true
  now:
    description: Decide as at this time (ISO 8601) instead of the current time; for tests and replays.
    type: str
"""
