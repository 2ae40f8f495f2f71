#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: http_prober_info
short_description: Read what a background HTTP prober has recorded so far
version_added: 0.1.0
description:
  - Reads the files of a prober started by P(fournines.runbooks.http_prober#module) and returns its summary
    without stopping it; for example to check after each step of a runbook that the app answers again.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
options:
  dir:
    description: The prober's directory.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Wait until the app answers again
  fournines.runbooks.http_prober_info:
    dir: "reports/{{ run_id }}/probe"
  register: probe
  until: probe.last_ok
  retries: 120
  delay: 1
"""

RETURN = r"""
running:
  description: Whether the prober process is alive.
  returned: always
  type: bool
last_ok:
  description: Whether every target answered as expected in the latest round.
  returned: always
  type: bool
requests:
  description: Requests made so far, all targets.
  returned: always
  type: int
failed_requests:
  description: Failed requests so far, all targets.
  returned: always
  type: int
downtime_seconds:
  description: Time during which at least one target failed (failed rounds merged across targets).
  returned: always
  type: float
targets:
  description: Per target, C(requests), C(failed_requests), C(downtime_seconds), C(downtime_intervals) (epoch seconds).
  returned: always
  type: dict
failures_file:
  description: Path of the failed-requests file (JSON lines).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError


def main():
    module = AnsibleModule(argument_spec=dict(dir=dict(type="path", required=True)), supports_check_mode=True)
    try:
        if prober.read_handle(module.params["dir"]) is None:
            raise prober.ProberError("no prober handle in %s; start one first (fournines.runbooks.http_prober)"
                                     % module.params["dir"])
        out = prober.summary(module.params["dir"])
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
