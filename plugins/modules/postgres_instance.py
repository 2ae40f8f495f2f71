#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_instance
short_description: Start, stop or restart a PostgreSQL server with pg_ctl on a chosen bindir
version_added: 0.1.0
description:
  - V(started) on a server that already runs from O(bindir) changes nothing; one that runs from
    another bindir of the same major is restarted on O(bindir) (how a minor upgrade swaps binaries).
  - The bindir must hold the major of the data directory.
attributes:
  check_mode:
    details: Reports what would change.
  diff_mode:
    support: full
    details: Shows running state and bindir before and after.
extends_documentation_fragment:
  - fournines.runbooks.attributes
options:
  data_dir:
    description: Data directory of the cluster.
    type: path
    required: true
  bindir:
    description: Bindir to run the server from (required unless O(state=stopped)).
    type: path
  state:
    description: Desired state.
    type: str
    choices: [started, stopped, restarted]
    default: started
  os_user:
    description: OS user that owns the data directory.
    type: str
    default: postgres
  log_file:
    description: Server log file (pg_ctl C(-l)).
    type: path
  stop_mode:
    description: pg_ctl shutdown mode.
    type: str
    choices: [smart, fast, immediate]
    default: fast
  timeout:
    description: Seconds pg_ctl waits for start or stop.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Run the replica on the new minor's binaries
  fournines.runbooks.postgres_instance:
    data_dir: /var/lib/postgresql/15/main
    bindir: /usr/lib/postgresql/15/bin
    log_file: /var/log/postgresql/replica.log
"""

RETURN = r"""
seconds:
  description: How long the start/stop took (the canary uses it to predict downtime).
  returned: always
  type: float
before:
  description: C(running) and C(bindir) before.
  returned: always
  type: dict
after:
  description: C(running) and C(bindir) after.
  returned: always
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.server import instance


def main():
    module = AnsibleModule(argument_spec=dict(
        data_dir=dict(type="path", required=True), bindir=dict(type="path"),
        state=dict(type="str", choices=["started", "stopped", "restarted"], default="started"),
        os_user=dict(type="str", default="postgres"), log_file=dict(type="path"),
        stop_mode=dict(type="str", choices=["smart", "fast", "immediate"], default="fast"),
        timeout=dict(type="int", default=120),
    ), required_if=[("state", "started", ["bindir"]), ("state", "restarted", ["bindir"])], supports_check_mode=True)
    p = module.params
    started = time.monotonic()
    try:
        changed, before, after = instance(p["data_dir"], p["bindir"], p["state"], p["os_user"], p["log_file"],
                                          module.check_mode, p["timeout"], p["stop_mode"])
    except PostgresError as err:
        fail_from_error(module, err)
    module.exit_json(changed=changed, before=before, after=after, diff={"before": before, "after": after},
                     seconds=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    main()
