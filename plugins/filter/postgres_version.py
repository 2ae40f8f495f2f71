# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Version policy of the Postgres runbook; the rules live in module_utils/postgres/versions.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: postgres_minor_policy
short_description: Whether a target version is an allowed minor upgrade of the running one
version_added: 0.1.0
description:
  - Returns V(upgrade) for a newer patch release of the same major and V(noop) for the same
    version; fails for a downgrade, another major or a version that does not parse.
options:
  _input:
    description: Running version (MAJOR.MINOR, or server_version_num).
    type: raw
    required: true
  target:
    description: Target version (MAJOR.MINOR).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Decide the minor flow
  ansible.builtin.set_fact:
    decision: "{{ '15.17' | fournines.runbooks.postgres_minor_policy('15.18') }}"
"""

RETURN = r"""
_value:
  description: V(upgrade) or V(noop).
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.versions import minor_policy


def postgres_minor_policy(current, target):
    try:
        return minor_policy(current, target)
    except PostgresError as err:
        raise AnsibleFilterError("postgres_minor_policy: %s" % err)


class FilterModule(object):
    def filters(self):
        return {"postgres_minor_policy": postgres_minor_policy}
