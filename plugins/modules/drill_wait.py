#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: drill_wait
short_description: Wait for a node-failure drill to reach milestones, stopping at a downtime limit
version_added: 0.1.0
description:
  - Reads what the drill watcher (P(fournines.runbooks.k8s_drill_watch#module)) and the prober
    (P(fournines.runbooks.http_prober#module)) have recorded since the fault and waits until every milestone in
    O(until) was observed (for example the replacement pod Ready and the first 200 at the edge).
  - Returns early with RV(limit_exceeded) when the app's current outage passes O(downtime_limit), so the
    runbook can stop the drill and restore service; with RV(timed_out) after O(timeout). Neither fails the
    task - the runbook decides.
  - "Milestones: fault_injected, app_down, node_cordoned, node_not_ready, taint_added, pods_terminating,
    replacement_pod_scheduled, multi_attach_warning, volume_detached, volume_attached, pod_ready, first_200,
    node_replaced."
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.drill_observations
  - fournines.runbooks.drill_observations.mode
attributes:
  check_mode:
    details: Reads only; in check mode it reports the current state without waiting.
  diff_mode:
    support: none
    details: Changes nothing.
options:
  until:
    description: Milestones that must all be observed.
    type: list
    elements: str
    default: [pod_ready, first_200]
  timeout:
    description: Seconds to wait.
    type: int
    default: 900
  downtime_limit:
    description: Stop waiting once the app's current outage lasts longer than this many seconds; 0 = no limit.
    type: float
    default: 0
  poll:
    description: Seconds between reads.
    type: float
    default: 1.0
  progress_file:
    description:
      - File to append a timestamped line to for each milestone as it is first observed, and every 30 s
        for what is still awaited (the run's C(progress.log), which the
        P(fournines.runbooks.progress#callback) callback shows while the task runs). Not written in check mode.
    type: path
"""

EXAMPLES = r"""
- name: Wait for the app to answer again, at most 10 minutes of downtime
  fournines.runbooks.drill_wait:
    watch_dir: "{{ run_dir }}/watch"
    probe_dir: "{{ run_dir }}/probe"
    probe_target: web
    fault_ts: "{{ fault.ts }}"
    node: "{{ target.node }}"
    downtime_limit: 600
  register: recovery
"""

RETURN = r"""
reached:
  description: Every milestone in O(until) was observed.
  returned: always
  type: bool
limit_exceeded:
  description: The outage passed O(downtime_limit).
  returned: always
  type: bool
timed_out:
  description: O(timeout) passed first.
  returned: always
  type: bool
outage_seconds:
  description: How long the app's current outage has lasted (0 when it answers).
  returned: always
  type: float
relative:
  description: Seconds after the fault of each milestone (null when not observed yet).
  returned: always
  type: dict
missing:
  description: Milestones not observed yet.
  returned: always
  type: list
  elements: str
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import scenario
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline


def _progress_writer(path):
    if not path:
        return None

    def write(line):
        with open(path, "a") as handle:
            handle.write("%s drill_wait: %s\n" % (time.strftime("%H:%M:%S", time.gmtime()), line))
    return write


def main():
    module = AnsibleModule(
        argument_spec=dict(
            scenario.OBSERVATION_SPEC,
            until=dict(type="list", elements="str", default=["pod_ready", "first_200"]),
            timeout=dict(type="int", default=900),
            downtime_limit=dict(type="float", default=0),
            poll=dict(type="float", default=1.0),
            progress_file=dict(type="path")),
        supports_check_mode=True)
    p = module.params
    try:
        tl = scenario.wait_for(p["watch_dir"], p["probe_dir"], p["fault_ts"], p["node"], p["mode"], p["probe_target"],
                               p["until"], Deadline(0 if module.check_mode else p["timeout"]), p["downtime_limit"],
                               p["probe_interval"], p["poll"], progress=_progress_writer(None if module.check_mode else p["progress_file"]))
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(changed=False, reached=tl["reached"], limit_exceeded=tl["limit_exceeded"],
                     timed_out=tl["timed_out"], outage_seconds=tl["outage_seconds"], relative=tl["relative"],
                     missing=tl["missing"], downtime_seconds=tl["downtime"]["seconds"], elapsed=tl["elapsed"])


if __name__ == "__main__":
    main()
