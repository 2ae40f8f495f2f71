#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_pool_green
short_description: Create, once, the new pool of a blue-green LKE pool rollout and plan its drain batches
version_added: 0.1.0
description:
  - Creates a pool of the same type, size, labels, taints and tags as O(pool_id) (the "blue" pool), also tagged
    C(fournines-green-of-<pool_id>), and waits until every node of it is a Ready Node on O(target_version). LKE
    creates a new pool's nodes at the cluster's version, so run it after the control plane upgrade.
  - Resumable. The tag (and the journal fact C(green_pools) when O(journal_dir) is given) lets a re-run after an
    interruption find the pool it created, even one cut between the API's answer and the journal write, so a
    second new pool is never bought. Nothing is created when every node of the blue pool already runs the target.
  - With O(wait=false) it returns once the pool exists, and a later call with O(wait=true) (which finds it by its tag
    and creates nothing) waits for it, so the wait can sit inside the rollout's rollback block. The journal step
    C(create new pool for pool <pool_id> (blue-green)) is C(running) from the create until the pool is Ready, then
    C(done), also when the Ready pool is found by a re-run that did not create it; C(failed) when it never got Ready.
  - Plans the drain of the blue pool in batches of O(batch_size) and estimates what the temporary double pool costs
    in node-hours (RV(plan)). With O(node_limit), refuses before any change a rollout that would take the
    cluster, as it is at that moment, past that many nodes (the runbook passes C(upgrade_cluster_node_limit), which
    its preflight also checks against the plan when the run starts).
  - Delete the blue pool at the end (or the green one to roll back) with
    P(fournines.runbooks.lke_pool_delete#module).
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.linode
  - fournines.runbooks.journal
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Returns the plan and whether a pool would be created; creates nothing.
  diff_mode:
    support: none
    details: No diff; RV(green_pool_id) and C(changed) tell the change.
options:
  pool_id:
    description: The pool to replace (the blue pool).
    type: int
    required: true
  target_version:
    description: Kubernetes minor the new pool's nodes must run, for example V(1.35).
    type: str
    required: true
  wait_timeout:
    description: Seconds to wait for the new pool's nodes to be Ready Nodes on O(target_version).
    type: int
    default: 900
  batch_size:
    description: Blue nodes drained per batch, a number (V(2)) or a percentage of the pool (V(10%), rounded up).
    type: str
    default: "10%"
  batch_soak_seconds:
    description: Soak after each batch, for the estimate in RV(plan).
    type: float
    default: 0.0
  final_soak_seconds:
    description: Soak before the blue pool is deleted, for the estimate in RV(plan).
    type: float
    default: 0.0
  drain_seconds:
    description: Seconds one batch takes to drain, for the estimate in RV(plan) (a measured figure is better).
    type: float
    default: 60.0
  create_seconds:
    description: Seconds a new pool takes to be Ready, for the estimate in RV(plan).
    type: float
    default: 180.0
  wait:
    description:
      - Wait until every node of the new pool is a Ready Node on O(target_version). V(false) returns once the pool
        exists. When O(wait_timeout) passes first, the failure's RV(green_pool_id) and RV(green) (the nodes as last
        seen) tell what to roll back.
    type: bool
    default: true
  undrainable:
    description:
      - What the rollout will do with an old-pool node that does not drain in time. Only V(fail) (the rollout stops
        and rolls back) goes with a blue-green rollout, which deletes the whole old pool at the end; V(quarantine)
        (a node left cordoned with its pods) is refused here, before any change.
    type: str
    choices: [fail, quarantine]
    default: fail
  node_limit:
    description:
      - Most nodes the account (or the team's budget) allows in the cluster. The rollout needs the cluster's nodes
        plus one more pool of the blue pool's size for a while; more than this refuses the rollout before any
        change. Unset = not checked.
    type: int
"""

EXAMPLES = r"""
- name: New pool for pool 270001, its nodes Ready on 1.35
  fournines.runbooks.lke_pool_green:
    cluster_id: 314159
    pool_id: 270001
    target_version: "1.35"
    batch_size: "2"
    batch_soak_seconds: 60
    final_soak_seconds: 300
    node_limit: 20
    kubeconfig: ~/.kube/lke.yaml
    journal_dir: "reports/{{ run_id }}"
  register: green
"""

RETURN = r"""
green_pool_id:
  description: The new pool's id (null in check mode before it exists, or when nothing needs to roll); also returned
    when the new pool did not get Ready in time.
  returned: always
  type: int
old:
  description: The blue pool's nodes not on the target (as in P(fournines.runbooks.lke_cluster_info#module) pools).
  returned: always
  type: list
  elements: dict
green:
  description: The new pool's nodes once Ready (as they are with O(wait=false), or when the wait timed out).
  returned: always
  type: list
  elements: dict
batches:
  description: Node names of the blue pool, in drain batches.
  returned: always
  type: list
  elements: list
plan:
  description:
    - nodes, batch_size, batches, double_pool_seconds (how long both pools exist), extra_node_hours (what that
      costs) and the assumed figures behind it.
  returned: always
  type: dict
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode import blue_green
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder, open_journal


def main():
    spec = lke_argument_spec(journal=True, pool_id=dict(type="int", required=True), target_version=dict(type="str", required=True),
                             wait_timeout=dict(type="int", default=900), batch_size=dict(type="str", default="10%"),
                             batch_soak_seconds=dict(type="float", default=0.0), final_soak_seconds=dict(type="float", default=0.0),
                             drain_seconds=dict(type="float", default=60.0), create_seconds=dict(type="float", default=180.0),
                             node_limit=dict(type="int"), wait=dict(type="bool", default=True),
                             undrainable=dict(type="str", default="fail", choices=list(blue_green.UNDRAINABLE_CHOICES)))
    module = lke_module(spec)
    p = module.params
    rec = StepRecorder(p["journal_dir"], "create new pool for pool %s (blue-green)" % p["pool_id"], module.check_mode)
    out = {}
    try:
        journal = rec.journal if rec.journal is not None else (
            open_journal(p["journal_dir"]) if p["journal_dir"] else None)
        problem = blue_green.undrainable_problem("blue_green", p["undrainable"], "undrainable")
        if problem:
            raise blue_green.BlueGreenError("%s; no new pool was created" % problem)
        lke, kube = lke_from_params(p), kube_from_params(p)
        count = int(lke.pool(p["pool_id"])["count"])
        plan = blue_green.estimate(count, p["batch_size"], p["batch_soak_seconds"], p["final_soak_seconds"],
                                   p["drain_seconds"], p["create_seconds"])
        problem = blue_green.node_limit_problem(lke.pools(), p["pool_id"], p["node_limit"], plan)
        if problem:
            raise blue_green.BlueGreenError(problem)
        out = blue_green.create_green(lke, kube, p["pool_id"], p["target_version"], Deadline(p["wait_timeout"]),
                                      journal=journal, check_mode=module.check_mode, progress=rec.progress,
                                      on_change=rec.start, wait=p["wait"])
        names = [n["node_name"] for n in out["old"] if n.get("node_name")]
        out.update(plan=plan, batches=blue_green.batches(names, plan["batch_size"]))
        step = journal.find_step(rec.name) if journal is not None and not module.check_mode else None
        # done once the pool is Ready: also when a re-run found the pool (by its tag) that a killed run created. No
        # "found" here: this waiting call finds the pool the creating call (wait=false) bought, so it cannot tell
        # which run bought it; the step's start (recorded by the call that sent the create) says that.
        if p["wait"] and out["green_pool_id"] is not None and (step is None or step["status"] != "done"):
            rec.done(green_pool_id=out["green_pool_id"], nodes=out["count"], extra_node_hours=plan["extra_node_hours"])
    except RunbookError as err:
        out = dict(out, **dict((k, v) for k, v in (err.details or {}).items() if k in ("green_pool_id", "green")))
        rec.failed(str(err))
        fail_from_error(module, err, **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
