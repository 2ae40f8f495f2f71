# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a rollout strategy can honour a policy for nodes that will not drain; the rule lives in
module_utils/linode/blue_green.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: undrainable_problem
short_description: Why a node-pool rollout strategy cannot take an undrainable-node policy, or an empty string
version_added: 0.1.0
description:
  - V(surge) takes V(fail) and V(quarantine). V(blue_green) takes only V(fail), because it deletes the whole old pool
    at the end, so a node left cordoned in it (quarantined) would go with the pods it holds.
  - The message names O(variable) and what would be valid; the upgrade-cluster preflight stops with it before any
    change.
options:
  _input:
    description: The strategy, V(surge) or V(blue_green).
    type: str
    required: true
  undrainable:
    description: The policy, V(fail) or V(quarantine).
    type: str
    required: true
  variable:
    description: The variable the user set, named in the message.
    type: str
    default: upgrade_cluster_undrainable
"""

EXAMPLES = r"""
- name: Refuse a policy the strategy cannot honour
  ansible.builtin.fail:
    msg: "{{ 'blue_green' | fournines.runbooks.undrainable_problem('quarantine') }}"
  when: "'blue_green' | fournines.runbooks.undrainable_problem('quarantine') | length > 0"
"""

RETURN = r"""
_value:
  description: The reason, naming O(variable) and the valid values; empty when the pair is fine.
  type: str
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.linode import blue_green


def undrainable_problem(strategy, undrainable, variable="upgrade_cluster_undrainable"):
    return blue_green.undrainable_problem(strategy, undrainable, variable) or ""


class FilterModule(object):
    def filters(self):
        return {"undrainable_problem": undrainable_problem}
