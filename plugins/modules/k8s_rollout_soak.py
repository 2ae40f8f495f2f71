#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_rollout_soak
short_description: Soak after a rollout batch, stopping on a regression of the edge or the pods
version_added: 0.1.0
description:
  - For O(seconds), watches the edge prober's error rate (its directory, O(probe_dir), as written by
    P(fournines.runbooks.http_prober#module)), container restarts of the pods that existed when the soak began and
    pods that are not Ready.
  - A regression past O(thresholds) ends the soak at once and fails the task (the rollout then stops and rolls back
    what it can), unless O(fail_on_regression=false). With O(end_early_after), a soak ends early once that many
    seconds passed with requests answered and no failed request, restart or unready pod (zero error-budget burn).
  - The findings go to the run's journal as a step C(soak <label>), which the upgrade report lists per batch.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.journal
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Watching changes nothing; in check mode the soak is skipped and reported as planned.
  diff_mode:
    support: none
    details: Nothing to diff.
options:
  seconds:
    description: How long to watch.
    type: float
    required: true
  label:
    description: What the soak follows, for the journal and the report, for example V(pool 270001 batch 2).
    type: str
    required: true
  probe_dir:
    description: The prober's directory; empty = the edge is not watched.
    type: str
    default: ""
  namespaces:
    description: Namespaces whose pods are watched; empty = all but kube-system, kube-public and kube-node-lease.
    type: list
    elements: str
    default: []
  thresholds:
    description: What counts as a regression over the soak.
    type: dict
    default: {}
    suboptions:
      error_rate:
        description: Failed requests / all requests above this (0..1) is a regression.
        type: float
        default: 0.0
      restarts:
        description: More container restarts than this is a regression.
        type: int
        default: 0
      not_ready:
        description: More pods not Ready than this is a regression.
        type: int
        default: 0
  end_early_after:
    description: End the soak once this many seconds passed with zero burn; unset = always the full O(seconds).
    type: float
  interval:
    description: Seconds between looks.
    type: float
    default: 1.0
  fail_on_regression:
    description: Fail the task on a regression (the default), or only return RV(status=regressed).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Soak one minute after a batch; end early after 20 s without a failed request
  fournines.runbooks.k8s_rollout_soak:
    seconds: 60
    end_early_after: 20
    label: pool 270001 batch 1
    probe_dir: "reports/{{ run_id }}/probe"
    namespaces: [app]
    journal_dir: "reports/{{ run_id }}"
"""

RETURN = r"""
status:
  description: V(passed), V(regressed) or V(planned) (check mode).
  returned: always
  type: str
reasons:
  description: What regressed, one sentence each.
  returned: always
  type: list
  elements: str
seconds:
  description: How long the soak watched.
  returned: always
  type: float
ended_early:
  description: Whether it ended early on zero burn.
  returned: always
  type: bool
requests:
  description: Prober requests during the soak.
  returned: always
  type: int
failed_requests:
  description: Failed prober requests during the soak.
  returned: always
  type: int
error_rate:
  description: RV(failed_requests) / RV(requests).
  returned: always
  type: float
restarts:
  description: Pod (namespace/name) -> container restarts during the soak.
  returned: always
  type: dict
not_ready:
  description: Pods not Ready at the end of the soak that were Ready (or absent) at its start.
  returned: always
  type: list
  elements: str
resumed:
  description: The run's journal already had this soak as passed (a re-run after an interruption); it was not repeated.
  returned: when true
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import soak
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import HAS_K8S, k8s_argument_spec, K8S_IMPORT_ERROR, kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder


def main():
    spec = k8s_argument_spec(
        seconds=dict(type="float", required=True), label=dict(type="str", required=True),
        probe_dir=dict(type="str", default=""), namespaces=dict(type="list", elements="str", default=[]),
        thresholds=dict(type="dict", default={}, options=dict(
            error_rate=dict(type="float", default=0.0), restarts=dict(type="int", default=0),
            not_ready=dict(type="int", default=0))),
        end_early_after=dict(type="float"), interval=dict(type="float", default=1.0),
        fail_on_regression=dict(type="bool", default=True), journal_dir=dict(type="path"))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    require_lib(module, "kubernetes", HAS_K8S, K8S_IMPORT_ERROR)
    if module.check_mode:
        module.exit_json(changed=False, status="planned", reasons=[], seconds=p["seconds"], ended_early=False,
                         requests=0, failed_requests=0, error_rate=0.0, restarts={}, not_ready=[])
    rec = StepRecorder(p["journal_dir"], "soak %s" % p["label"])
    done = rec.journal.find_step(rec.name) if rec.journal is not None else None
    if done is not None and done["status"] == "done":  # a re-run after an interruption: this soak passed already
        module.exit_json(changed=False, resumed=True, status=done["details"].get("result", "passed"),
                         **dict((k, v) for k, v in done["details"].items() if k not in ("result", "planned_seconds")))
    try:
        rec.start(planned_seconds=p["seconds"])
        out = soak.soak(kube_from_params(p), p["seconds"], probe_dir=p["probe_dir"], namespaces=p["namespaces"],
                        limits=p["thresholds"], end_early_after=p["end_early_after"], interval=p["interval"],
                        progress=rec.progress)
    except RunbookError as err:
        rec.failed(str(err))
        fail_from_error(module, err)
    # the journal step's own status is done/failed: the soak's verdict goes in as "result"
    details = dict((k, out[k]) for k in ("reasons", "seconds", "ended_early", "requests", "failed_requests",
                                         "error_rate", "restarts", "not_ready"))
    details["result"] = out["status"]
    if out["status"] == "regressed":
        msg = "soak after %s found a regression: %s" % (p["label"], "; ".join(out["reasons"]))
        rec.done("failed", error=msg, **details)
        if p["fail_on_regression"]:
            module.fail_json(msg=msg, changed=False, **out)
    else:
        rec.done(**details)
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
