#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_switchover
short_description: Promote a streaming replica and turn the old primary into its replica, losing nothing
version_added: 0.1.0
description:
  - Checks that the primary is a primary and the candidate a streaming replica within
    O(max_lag_bytes), stops the primary cleanly, waits until the candidate has replayed up to
    the primary's shutdown checkpoint, promotes it, then runs pg_rewind on the old primary and
    starts it as a replica of the new one on O(target_bindir).
  - When pg_rewind fails (and O(repoint=auto)), the old primary is rebuilt from a fresh base backup
    of the new one instead; its data directory is moved aside, never deleted, and its own
    configuration files (port, access rules) are kept.
  - If the candidate does not catch up within O(catchup_timeout), nothing is promoted and the
    old primary is started again.
  - Downtime (primary stopped until the candidate accepts writes) is returned.
  - With O(resume), a switchover interrupted part-way carries on from what the two servers and the
    old primary's data directory show instead of starting over (see RV(switchover.resumed_at_stage)); a
    state no switchover leaves (both primaries, both replicas, an old primary that crashed before the
    candidate was promoted) stops with an explanation and changes nothing.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.postgres
attributes:
  check_mode:
    details: Runs the preflight checks and returns the plan.
  diff_mode:
    support: full
    details: Shows the primary before and after.
options:
  primary_data_dir:
    description: Data directory of the current primary (the one at O(login_host):O(login_port)).
    type: path
    required: true
  candidate_host:
    description: Host of the replica to promote.
    type: str
    default: 127.0.0.1
  candidate_port:
    description: Port of the replica to promote.
    type: int
    required: true
  target_bindir:
    description: Bindir the old primary runs on once it is a replica (the new minor in a minor upgrade).
    type: path
    required: true
  primary_name:
    description: C(application_name) the old primary uses when it streams from the new one.
    type: str
    default: old-primary
  os_user:
    description: OS user that owns the data directories.
    type: str
    default: postgres
  log_file:
    description: Server log file of the old primary.
    type: path
  max_lag_bytes:
    description: Refuse to start when the candidate lags more than this.
    type: int
    default: 16777216
  catchup_timeout:
    description: Seconds to wait for the candidate to replay the primary's last WAL.
    type: int
    default: 60
  repoint:
    description:
      - How the old primary becomes the new primary's replica.
      - V(auto) runs pg_rewind and falls back to a fresh base backup; V(rewind) stops with an error when
        pg_rewind fails; V(base_backup) skips pg_rewind.
    type: str
    choices: [auto, rewind, base_backup]
    default: auto
  resume:
    description:
      - Carry on an interrupted switchover (the run journal says it was running). Stages, in order
        C(not_started) (a normal switchover), C(primary_stopped) (wait for the candidate to replay
        the primary's shutdown checkpoint, promote), C(promoted) (repoint the old primary; an
        interrupted base backup is redone), C(repointed) (start it), C(done) (nothing changes).
    type: bool
    default: false
  primary_bindir:
    description:
      - Bindir the old primary ran on. Used when a resumed switchover must start a stopped old primary
        again because the candidate did not catch up; O(target_bindir) (same major) when not given.
    type: path
  started_at:
    description:
      - Epoch seconds at which the interrupted run began its switchover. Bounds the downtime of a resumed
        run when the old primary's shutdown time can no longer be read from its data directory.
    type: float
"""

EXAMPLES = r"""
- name: Switch over to the canary replica
  fournines.runbooks.postgres_switchover:
    login_port: 5432
    login_password: "{{ postgres_password }}"
    primary_data_dir: /var/lib/postgresql/15/main
    candidate_host: db2.internal
    candidate_port: 5432
    target_bindir: /usr/lib/postgresql/15/bin
  register: switchover

- name: Carry on a switchover that was interrupted
  fournines.runbooks.postgres_switchover:
    login_port: 5432
    login_password: "{{ postgres_password }}"
    primary_data_dir: /var/lib/postgresql/15/main
    candidate_host: db2.internal
    candidate_port: 5432
    target_bindir: /usr/lib/postgresql/15/bin
    primary_bindir: /usr/lib/postgresql/15/bin
    resume: true
"""

RETURN = r"""
switchover:
  description:
    - Plan (check mode) or result, with C(downtime_seconds), C(shutdown_checkpoint_lsn), C(timings) and C(rewind).
    - C(rewind.method) is C(pg_rewind) or C(base_backup); after a base backup C(rewind.old_data_dir_kept_at)
      names the old data directory and C(rewind.rewind_error) why pg_rewind was not enough.
    - C(resumed) tells whether an interrupted switchover was carried on, C(resumed_at_stage) from where.
      A resumed run's C(downtime_seconds) runs from the old primary's shutdown (or O(started_at)) to the
      promotion (C(downtime_measured_from) says which), rounded up to whole seconds of the file times it reads;
      it is null when neither is known.
  returned: always
  type: dict
  contains:
    resumed:
      description: Whether an interrupted switchover was carried on.
      type: bool
      returned: always
    resumed_at_stage:
      description: The stage the interrupted switchover had reached.
      type: str
      returned: when resumed
      sample: primary_stopped
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.sql import conn_params, CONNECTION_SPEC, HAS_PSYCOPG2
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.server import bindir_version
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.switchover import switchover


def main():
    module = AnsibleModule(argument_spec=dict(
        CONNECTION_SPEC,
        primary_data_dir=dict(type="path", required=True), candidate_host=dict(type="str", default="127.0.0.1"),
        candidate_port=dict(type="int", required=True), target_bindir=dict(type="path", required=True),
        primary_name=dict(type="str", default="old-primary"), os_user=dict(type="str", default="postgres"),
        log_file=dict(type="path"), max_lag_bytes=dict(type="int", default=16777216),
        catchup_timeout=dict(type="int", default=60),
        repoint=dict(type="str", default="auto", choices=["auto", "rewind", "base_backup"]),
        resume=dict(type="bool", default=False), primary_bindir=dict(type="path"), started_at=dict(type="float"),
    ), supports_check_mode=True)
    p = module.params
    require_lib(module, "psycopg2", HAS_PSYCOPG2)
    try:
        bindir_version(p["target_bindir"], what="target_bindir")
        if p["primary_bindir"]:
            bindir_version(p["primary_bindir"], what="primary_bindir")
        primary = conn_params(p)
        candidate = conn_params(p, host=p["candidate_host"], port=p["candidate_port"])
        result = switchover(primary, p["primary_data_dir"], candidate, p["target_bindir"], p["os_user"], p["log_file"],
                            p["max_lag_bytes"], p["catchup_timeout"], primary_name=p["primary_name"],
                            check_mode=module.check_mode, repoint=p["repoint"], resume=p["resume"],
                            primary_bindir=p["primary_bindir"], started_at=p["started_at"])
    except PostgresError as err:
        fail_from_error(module, err)
    module.exit_json(changed=result.get("resumed_at_stage") != "done", switchover=result,
                     diff={"before": {"primary": result["old_primary"]}, "after": {"primary": result["new_primary"]}})


if __name__ == "__main__":
    main()
