#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: autopilot_wave_holds
short_description: Which clusters of a fleet may take a change now (the autopilot's waves)
version_added: 0.2.0
description:
  - "With the policy's C(waves) (the first wave is the canary): a cluster of a later wave takes a version of a
    component only once every cluster of every earlier wave took it (the autopilot ledger's C(applied) event, or
    its current version), soaked for its wave's C(soak_hours), and did not regress since: its prober failed at
    most C(regression.max_probe_failure_percent) of its rounds and its error budget fell by at most
    C(regression.max_budget_drop_percent) points."
  - Returns per cluster and component the reason it waits (V(null) when it may go), for
    M(fournines.runbooks.autopilot_decide)'s O(fournines.runbooks.autopilot_decide#module:wave_hold).
  - Reads the ledger, the prober samples and the downtime ledgers; changes nothing.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.autopilot
options:
  clusters:
    description: Every cluster of this run.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The cluster's name as the policy's waves name it (its inventory host name).
        type: str
        required: true
      observations:
        description: What discovery saw for this cluster, as M(fournines.runbooks.autopilot_decide) takes it; the
          candidate of each component is the one the decision would pick.
        type: list
        elements: dict
        default: []
        suboptions:
          component:
            description: The component.
            type: str
            required: true
            choices: [lke_kubernetes, lke_node_patch, postgres]
          current:
            description: Its version now (empty when unknown).
            type: str
          available:
            description: Every version the API or the backend offers for it.
            type: list
            elements: str
            default: []
          images:
            description: "PostgreSQL under CloudNativePG, C({version: image}) of the offered images (not used for the waves)."
            type: dict
            default: {}
      probe_dir:
        description: Directory of the prober that watches this cluster's app after a change (its C(samples.jsonl)).
        type: path
      slo_ledger:
        description: This cluster's downtime ledger (JSON lines), for the error-budget drop since a change.
        type: path
"""

EXAMPLES = r"""
- name: Which clusters' waves are due
  fournines.runbooks.autopilot_wave_holds:
    policy: "{{ autopilot_policy_checked.policy }}"
    state_dir: "{{ reports_dir }}/autopilot"
    clusters:
      - name: staging
        observations:
          - {component: lke_node_patch, current: "1.34.7", available: ["1.34.7"]}
        probe_dir: "{{ reports_dir }}/autopilot/soak/staging"
        slo_ledger: "{{ reports_dir }}/downtime-staging.jsonl"
      - name: production
        observations:
          - {component: lke_node_patch, current: "1.34.6", available: ["1.34.7"]}
  register: autopilot_waves
"""

RETURN = r"""
holds:
  description: Per cluster and component with a candidate, why it waits for an earlier wave, or null.
  returned: success
  type: dict
  sample:
    staging: {lke_node_patch: null}
    production:
      lke_node_patch: "wave rest waits for wave canary: staging regressed: its prober failed 3.5 % of 200 rounds ..."
wave_hold:
  description: Per cluster, its holds in one sentence (empty when none), as autopilot_decide's wave_hold takes it.
  returned: success
  type: dict
  sample: {staging: "", production: "wave rest waits for wave canary: staging took 1.34.7 at ... and soaks 24 h"}
waves:
  description: The waves over this run's clusters, in order (clusters no wave names go last, in C(unlisted)).
  returned: success
  type: list
  elements: dict
  sample: [{name: canary, clusters: [staging], soak_hours: 24.0}, {name: rest, clusters: [production], soak_hours: 0.0}]
health:
  description: Per cluster and component, what was measured since it took the candidate (prober, budget).
  returned: success
  type: dict
  sample: {staging: {lke_node_patch: {probe_failure_percent: 0.0, probe_rounds: 840, budget_drop_percent: 0.0}}}
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import policy, records, waves
from ansible_collections.fournines.runbooks.plugins.module_utils.common import background, prober, slo
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error


def _samples(directory):
    return background.read_jsonl(os.path.join(directory, prober.SAMPLES))


def main():
    module = AnsibleModule(
        argument_spec=policy.decision_argument_spec(
            # the policy was checked by autopilot_policy before it comes here
            clusters=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                observations=dict(type="list", elements="dict", default=[], options=policy.observation_spec()),
                probe_dir=dict(type="path"),
                slo_ledger=dict(type="path"),
            )),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        now = waves.decide_mod.as_time(params["now"]) if params["now"] else datetime.datetime.now(waves.UTC)
        names = [c["name"] for c in params["clusters"]]
        if len(set(names)) != len(names):
            raise RunbookError("clusters: a cluster is named twice in %s; give each cluster once" % ", ".join(names))
        events = records.Records(params["state_dir"]).events()
        holds, health = waves.fleet_holds(params["policy"], params["clusters"], events, now, _samples, slo.read_ledger)
        module.exit_json(
            changed=False, holds=holds, health=health, waves=waves.plan(params["policy"], names),
            wave_hold={name: "; ".join(sorted(set(r for r in holds[name].values() if r))) for name in names})
    except RunbookError as err:
        fail_from_error(module, err)


if __name__ == "__main__":
    main()
