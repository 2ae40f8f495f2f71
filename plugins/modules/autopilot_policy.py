#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: autopilot_policy
short_description: Validate the update autopilot's policy and fill in its defaults
version_added: 0.2.0
description:
  - Checks the policy of C(playbooks/autopilot.yml) and returns it with every default written out.
  - "Top-level keys: C(timezone), C(min_release_age_days), C(min_error_budget_percent), C(slo) (C(objective),
    C(window)), C(min_hours_between_changes), C(approval_expiry_hours), C(windows) (list of C(days), C(start),
    C(end), C(timezone); an end not after the start crosses midnight), C(freezes) (list of C(start), C(end),
    C(reason), C(timezone)), C(components), C(waves) (list of C(name), C(clusters), C(soak_hours)) and
    C(regression) (C(max_probe_failure_percent), C(max_budget_drop_percent))."
  - "Components: C(lke_kubernetes) (kinds C(minor), C(major)), C(lke_node_patch) (C(patch)) and C(postgres)
    (C(patch), C(major), C(backend) V(host) or V(cloudnative_pg)); each kind V(auto), V(approve) or V(never);
    per component also C(min_release_age_days) and C(disruptive)."
  - An invalid policy (unknown key or component, bad window or time zone, a freeze ending before it starts,
    a bigger change kind more automatic than a smaller one, a change allowed with no window, a cluster in two
    waves) fails with a message naming the key and what would be valid. Nothing is read or changed elsewhere.
  - The full schema, with an example, is in the README's autopilot section and
    C(inventories/example/group_vars/all/autopilot.yml).
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
options:
  policy:
    description:
      - The policy as a mapping (for example the variable C(autopilot_policy), or a YAML file read with
        C(lookup('ansible.builtin.file', path\) | from_yaml)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the autopilot's policy
  fournines.runbooks.autopilot_policy:
    policy:
      timezone: Europe/Berlin
      windows:
        - {days: [tue, wed, thu], start: "22:00", end: "04:00"}
      components:
        lke_node_patch: {patch: auto}
        lke_kubernetes: {minor: approve, major: never}
        postgres: {backend: host, patch: auto, major: approve}
  register: autopilot_checked
"""

RETURN = r"""
policy:
  description: The validated policy with every default filled in.
  returned: success
  type: dict
  sample:
    timezone: Europe/Berlin
    min_release_age_days: 7
    components:
      lke_node_patch: {patch: auto, min_release_age_days: 7, disruptive: true}
key:
  description: The policy key that was refused.
  returned: failure on an invalid policy
  type: str
  sample: components.postgres.minor
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import policy as policy_mod
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error


def main():
    module = AnsibleModule(
        argument_spec=dict(
            # free-form: the policy's keys are checked by module_utils/autopilot/policy.py, which names the bad one
            policy=dict(type="dict", required=True),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(changed=False, policy=policy_mod.validate(module.params["policy"]))
    except RunbookError as err:
        fail_from_error(module, err, key=(err.details or {}).get("key"))


if __name__ == "__main__":
    main()
