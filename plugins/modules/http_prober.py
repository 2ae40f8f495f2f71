#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: http_prober
short_description: Start or stop a background HTTP prober that records every failed request
version_added: 0.1.0
description:
  - V(started) launches a detached process on the controller that requests each target once per O(interval)
    (1 s by default) and appends every failed request to C(failures.jsonl) in O(dir) (time, target, status or
    error, latency) and one line per round to C(samples.jsonl). A prober already running for O(dir) is reused,
    so a resumed runbook keeps one prober.
  - V(stopped) stops it and returns the summary. P(fournines.runbooks.http_prober_info#module) reads the summary
    and leaves it running.
  - The summary has, per target, the requests made, the failed ones and the downtime intervals (consecutive
    failed rounds merged).
attributes:
  check_mode:
    details: In check mode nothing is started or stopped.
  diff_mode:
    support: none
    details: No diff.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.background
options:
  dir:
    description: Directory of the prober's files, for example C(reports/<run-id>/probe).
    type: path
    required: true
  targets:
    description: What to request. Needed with V(started).
    type: list
    elements: dict
    suboptions:
      url:
        description: URL to GET.
        type: str
        required: true
      host:
        description: Host header to send (to reach a virtual host through an edge proxy).
        type: str
      name:
        description: Name in the summary; defaults to O(targets[].host) or O(targets[].url).
        type: str
      expect:
        description: Status codes that count as success.
        type: list
        elements: int
        default: [200]
  interval:
    description: Seconds between rounds (0.1 to 60).
    type: float
    default: 1.0
  timeout:
    description: Per-request timeout in seconds; default 80 % of O(interval).
    type: float
  max_seconds:
    description:
      - The prober stops by itself this many seconds after it started, so a run that was killed and
        never carried on does not leave it running for ever. Give more than the longest run.
    type: float
    default: 86400
"""

EXAMPLES = r"""
- name: Probe the app through the edge during the upgrade
  fournines.runbooks.http_prober:
    dir: "reports/{{ run_id }}/probe"
    targets:
      - url: http://127.0.0.1:18081/
        host: api.lab.fournines.test
  register: prober

- name: Stop and read the failures
  fournines.runbooks.http_prober:
    dir: "reports/{{ run_id }}/probe"
    state: stopped
  register: probe
"""

RETURN = r"""
pid:
  description: Process id of the prober.
  returned: always
  type: int
dir:
  description: The prober's directory.
  returned: always
  type: str
failures_file:
  description: Path of the failed-requests file (JSON lines).
  returned: always
  type: str
already_running:
  description: With V(started), whether a prober was already running for O(dir).
  returned: when state is started
  type: bool
requests:
  description: Requests made so far, all targets.
  returned: when state is stopped
  type: int
failed_requests:
  description: Failed requests, all targets.
  returned: when state is stopped
  type: int
targets:
  description: Per target, C(requests), C(failed_requests), C(downtime_seconds), C(downtime_intervals) (epoch seconds).
  returned: when state is stopped
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common import background
from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            background.STATE_SPEC,
            dir=dict(type="path", required=True),
            targets=dict(type="list", elements="dict", options=dict(
                url=dict(type="str", required=True), host=dict(type="str"), name=dict(type="str"),
                expect=dict(type="list", elements="int", default=[200]))),
            interval=dict(type="float", default=1.0),
            timeout=dict(type="float"),
            max_seconds=dict(type="float", default=86400.0),
        ),
        required_if=[("state", "started", ["targets"])],
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["state"] == "started":
            if module.check_mode:
                prober.normalize_targets(p["targets"])
                module.exit_json(changed=True, pid=0, dir=p["dir"], failures_file="", already_running=False)
            handle = prober.start(p["dir"], p["targets"], p["interval"], p["timeout"], p["max_seconds"])
            module.exit_json(changed=not handle["already_running"], **handle)
        if prober.read_handle(p["dir"]) is None:
            module.exit_json(changed=False, pid=0, dir=p["dir"], failures_file="", requests=0, failed_requests=0,
                             targets={})
        if module.check_mode:
            out = prober.summary(p["dir"])
            module.exit_json(changed=out["running"], **out)
        out = prober.stop(p["dir"])
        module.exit_json(changed=out.pop("was_running"), **out)
    except RunbookError as err:
        fail_from_error(module, err)


if __name__ == "__main__":
    main()
