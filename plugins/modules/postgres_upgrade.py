#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_upgrade
short_description: Run pg_upgrade with timing, and tell which rollback is still possible
version_added: 0.1.0
description:
  - V(upgraded) initialises the new cluster (matching the old data-checksum setting), carries
    over O(new_settings) and pg_hba.conf, and runs pg_upgrade with the chosen transfer mode,
    timing each step. The old cluster must be cleanly shut down. A marker file in the new data
    directory makes a re-run report the finished upgrade instead of running again.
  - On failure the message quotes the lines of pg_upgrade's output and logs that say why, and
    which rollback is still possible.
  - V(prepared) initialises the new cluster ahead of the downtime (the old cluster may still
    run), so that V(upgraded) later only runs pg_upgrade.
  - V(status) reports the rollback state without changing anything.
  - V(old_restored) makes the old data directory startable again when the rules allow it
    (C(--copy)/C(--clone) always; C(--link) only while the new cluster has never run) and refuses otherwise.
attributes:
  check_mode:
    details: Validates the inputs and returns the pg_upgrade command it would run.
  diff_mode:
    support: full
    details: Shows the new data directory before and after.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.postgres.pg_upgrade
options:
  state:
    description: What to do.
    type: str
    choices: [prepared, upgraded, status, old_restored]
    default: upgraded
  new_data_dir:
    description: Data directory the new cluster is created in.
    type: path
    required: true
  old_port:
    description: Port pg_upgrade starts the old cluster on while it works.
    type: int
    required: true
  work_dir:
    description: pg_upgrade's working directory (logs, update_extensions.sql).
    type: path
    required: true
  superuser:
    description: Install superuser of the clusters.
    type: str
    default: postgres
  new_settings:
    description: Settings appended to the new cluster's postgresql.conf (port, sockets, preload libraries...).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Upgrade 15 -> 18 with hard links
  fournines.runbooks.postgres_upgrade:
    old_bindir: /usr/lib/postgresql/15/bin
    new_bindir: /usr/lib/postgresql/18/bin
    old_data_dir: /var/lib/postgresql/15/main
    new_data_dir: /var/lib/postgresql/18/main
    transfer: link
    old_port: 50432
    new_port: 50433
    socket_dir: /var/run/postgresql
    work_dir: /var/lib/postgresql/upgrade-work
    new_settings:
      port: 5432
  register: upgrade

- name: Which rollback is still possible?
  fournines.runbooks.postgres_upgrade:
    state: status
    old_bindir: /usr/lib/postgresql/15/bin
    new_bindir: /usr/lib/postgresql/18/bin
    old_data_dir: /var/lib/postgresql/15/main
    new_data_dir: /var/lib/postgresql/18/main
    old_port: 50432
    new_port: 50433
    socket_dir: /var/run/postgresql
    work_dir: /var/lib/postgresql/upgrade-work
"""

RETURN = r"""
upgrade:
  description: The run (timings in seconds per step, command, update_extensions_sql path), or the plan in check mode.
  returned: when O(state=upgraded) or O(state=prepared)
  type: dict
rollback:
  description: C(old_startable), C(transfer), C(new_has_run) and a C(reason) sentence.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.upgrade import (
    PG_UPGRADE_SPEC,
    prepare,
    restore_old,
    rollback_state,
    upgrade,
    validate_pair,
)


def main():
    module = AnsibleModule(argument_spec=dict(
        PG_UPGRADE_SPEC,
        state=dict(type="str", choices=["prepared", "upgraded", "status", "old_restored"], default="upgraded"),
        new_data_dir=dict(type="path", required=True), old_port=dict(type="int", required=True),
        work_dir=dict(type="path", required=True), superuser=dict(type="str", default="postgres"),
        new_settings=dict(type="dict", default={}),  # free-form: any postgresql.conf setting
    ), supports_check_mode=True)
    p = module.params
    result = dict(changed=False)
    try:
        if p["state"] == "status":
            result["rollback"] = rollback_state(p["old_data_dir"], p["new_data_dir"], p["new_bindir"], p["os_user"])
        elif p["state"] == "old_restored":
            state = rollback_state(p["old_data_dir"], p["new_data_dir"], p["new_bindir"], p["os_user"])
            if not state["old_startable"]:
                module.fail_json(msg="rollback refused: %s" % state["reason"], rollback=state)
            result["changed"] = state["transfer"] == "link"
            if not module.check_mode:
                state = restore_old(p["old_data_dir"], p["new_data_dir"], p["new_bindir"], p["os_user"])
            result["rollback"] = state
        elif p["state"] == "prepared":
            validate_pair(p["old_bindir"], p["new_bindir"], p["old_data_dir"], p["old_major"], p["new_major"])
            changed, result["upgrade"] = prepare(p["old_bindir"], p["new_bindir"], p["old_data_dir"], p["new_data_dir"],
                                                 p["os_user"], p["superuser"], p["new_settings"], module.check_mode)
            result["changed"] = changed
            result["rollback"] = {"old_startable": True, "reason": "only the new cluster was initialised"}
        else:
            validate_pair(p["old_bindir"], p["new_bindir"], p["old_data_dir"], p["old_major"], p["new_major"])
            changed, run = upgrade(p["old_bindir"], p["new_bindir"], p["old_data_dir"], p["new_data_dir"], p["transfer"],
                                   p["jobs"], p["old_port"], p["new_port"], p["socket_dir"], p["work_dir"], p["os_user"],
                                   p["superuser"], p["new_settings"], module.check_mode)
            result.update(changed=changed, upgrade=run)
            if changed:
                result["diff"] = {"before": {"new_data_dir": None},
                                  "after": {"new_data_dir": p["new_data_dir"], "transfer": p["transfer"]}}
            result["rollback"] = rollback_state(p["old_data_dir"], p["new_data_dir"], p["new_bindir"], p["os_user"]) \
                if not module.check_mode else {"reason": "check mode: nothing ran"}
    except PostgresError as err:
        fail_from_error(module, err, **{k: v for k, v in err.details.items() if k in ("reasons", "rollback")})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
