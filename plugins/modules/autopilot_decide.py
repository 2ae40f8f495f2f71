#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: autopilot_decide
short_description: Decide, per component of one cluster, what the update autopilot does this run
version_added: 0.2.0
description:
  - "From what discovery saw (O(observations)), the validated policy and the autopilot's own records under
    O(state_dir) (first-seen record, approval requests, ledger), decides per component one of
    V(up to date), V(resume), V(apply), V(wait: too new), V(wait: outside window), V(wait: frozen),
    V(wait: budget), V(wait: too soon after the last change), V(wait: wave), V(wait: one change per run),
    V(needs approval), V(never), V(skip: denied), V(skip: expired), each with a reason."
  - At most one disruptive V(apply) or V(resume) per run. An interrupted runbook run of a component is
    carried on before anything new.
  - Writes every decision to C(<state_dir>/ledger.jsonl), remembers when each version was first seen
    (C(seen.json)) and writes a request file C(requests/<id>.json) for each change that needs approval;
    a request is asked once per version.
  - O(policy) is validated again, as M(fournines.runbooks.autopilot_policy) does, before anything is decided.
  - O(approve) or O(deny) naming no pending request, an expired one, or a version no longer offered fails
    with a message saying so, and nothing is written.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.autopilot
attributes:
  check_mode:
    details: Decides and returns the decisions; writes no ledger line, first-seen record or request.
  diff_mode:
    support: none
    details: The decisions and the requests created are returned instead.
options:
  run_id:
    description: This autopilot run's id, written on every ledger line.
    type: str
    required: true
  cluster:
    description: The cluster's name (its inventory host name); records are kept per cluster.
    type: str
    required: true
  observations:
    description: What discovery saw, one entry per component.
    type: list
    elements: dict
    required: true
    suboptions:
      component:
        description: The component.
        type: str
        required: true
        choices: [lke_kubernetes, lke_node_patch, postgres]
      current:
        description: Its version now (empty when unknown; then it is V(up to date)).
        type: str
      available:
        description: Every version the API or the backend offers for it.
        type: list
        elements: str
        default: []
      interrupted:
        description: Run id of this component's runbook run that did not finish; it is resumed first.
        type: str
      images:
        description:
          - "PostgreSQL under CloudNativePG, C({version: image}) of the offered images (the filter
            fournines.runbooks.autopilot_cnpg_observation makes it). The candidate's image is written into its
            decision, the ledger's C(started) line and the approval request, and is what the runbook is given."
        type: dict
        default: {}
  runbooks_dir:
    description:
      - Where the runbooks keep their run journals (C(<run id>/state.json)). A change the ledger says started and
        whose runbook run is not V(done) there is decided V(resume) with that run id, before anything new.
      - Omitted, interrupted runs are not looked for.
    type: path
  budget_remaining_percent:
    description: The error budget left (percent of the allowed downtime); omitted means a full budget.
    type: float
  approve:
    description:
      - Approval request ids a person approves (C(-e autopilot_approve=<id>), or the AWX workflow's answer).
      - Ids of another cluster's requests are left to that cluster; an id matching no request, one not pending,
        expired, or for a version no longer offered fails the run before anything is written.
    type: list
    elements: str
    default: []
  deny:
    description: Approval request ids a person denies; those versions are not asked again.
    type: list
    elements: str
    default: []
  wave_hold:
    description:
      - Why this cluster's fleet wave is not due yet (empty when it is); disruptive changes then wait.
      - A string holds every component; a mapping of component to reason (or null) holds each on its own, as
        M(fournines.runbooks.autopilot_wave_holds) returns them for a cluster in RV(fournines.runbooks.autopilot_wave_holds#module:holds).
    type: raw
"""

EXAMPLES = r"""
- name: Decide what the autopilot does for this cluster
  fournines.runbooks.autopilot_decide:
    policy: "{{ autopilot_policy_checked.policy }}"
    state_dir: "{{ autopilot_reports_dir }}/autopilot"
    run_id: "{{ autopilot_run_id }}"
    cluster: "{{ inventory_hostname }}"
    observations:
      - {component: lke_kubernetes, current: "1.33", available: ["1.33", "1.34"]}
      - {component: postgres, current: "15.18", available: ["15.18", "15.20"]}
    budget_remaining_percent: 80
    approve: "{{ autopilot_approve | default(omit) }}"
  register: autopilot_decided
"""

RETURN = r"""
decisions:
  description: One decision per component the policy manages, in the order they are considered.
  returned: success
  type: list
  elements: dict
  sample:
    - {cluster: lab, component: lke_node_patch, current: 1.33.2, candidate: 1.33.4, kind: patch, mode: auto,
       decision: apply, detail: "a patch change of lke_node_patch is auto and every gate passes",
       first_seen: "2026-12-01T02:00:00Z", age_days: 4.0, request_id: null, disruptive: true}
acting:
  description: The decision to carry out this run (V(apply) or V(resume)), or null.
  returned: success
  type: dict
requests_new:
  description: Approval requests created this run.
  returned: success
  type: list
  elements: dict
requests_changed:
  description: Requests whose status this run changed (id and event request, approved, denied or expired).
  returned: success
  type: list
  elements: dict
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import policy as policy_mod
from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import records as records_mod
from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import run as run_mod
from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import windows
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error


def main():
    module = AnsibleModule(
        argument_spec=policy_mod.decision_argument_spec(
            # the policy is validated again below
            run_id=dict(type="str", required=True),
            cluster=dict(type="str", required=True),
            observations=dict(type="list", elements="dict", required=True,
                              options=policy_mod.observation_spec(interrupted=dict(type="str"))),
            runbooks_dir=dict(type="path"),
            budget_remaining_percent=dict(type="float"),
            approve=dict(type="list", elements="str", default=[]),
            deny=dict(type="list", elements="str", default=[]),
            # a reason, or {component: reason}: checked below
            wave_hold=dict(type="raw"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    hold = params["wave_hold"]
    if isinstance(hold, dict):
        bad = sorted(str(k) for k, v in hold.items() if k not in policy_mod.COMPONENTS or not isinstance(v, (str, type(None))))
        if bad:
            module.fail_json(msg="wave_hold: %s is no component with a reason; give {component: reason or null} with "
                                 "components among %s, or one reason for all" % (", ".join(bad), ", ".join(policy_mod.COMPONENTS)))
    elif hold is not None and not isinstance(hold, str):
        module.fail_json(msg="wave_hold must be a reason (text) or {component: reason}, got %s" % type(hold).__name__)
    try:
        policy = policy_mod.validate(params["policy"])
        now = (windows.parse_moment(params["now"], datetime.timezone.utc, "now") if params["now"]
               else datetime.datetime.now(datetime.timezone.utc))
        result = run_mod.run_decisions(
            policy, records_mod.Records(params["state_dir"]), params["run_id"], params["cluster"],
            params["observations"], now, budget_remaining_percent=params["budget_remaining_percent"],
            approve=params["approve"], deny=params["deny"], wave_hold=params["wave_hold"] or None,
            check=module.check_mode, runbooks_dir=params["runbooks_dir"])
    except RunbookError as err:
        fail_from_error(module, err, changed=False)
    acting = [d for d in result["decisions"] if d["decision"] in ("apply", "resume")]
    module.exit_json(acting=acting[0] if acting else None, **result)


if __name__ == "__main__":
    main()
