#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_upgrade_preflight
short_description: Gate an LKE Kubernetes upgrade and plan its node rollout
version_added: 0.1.0
description:
  - Refuses, before anything changes, a target that is not the cluster's minor or the next one, is not
    offered by C(/lke/versions), or is a downgrade; and a kubeconfig that talks to another cluster than
    O(cluster_id) (its server must be one of the cluster's API endpoints).
  - "Then runs gates, each set to V(fail), V(warn) or V(ignore) with O(gates). Defaults:
    C(skew=fail) (kubelets outside the skew policy after the step), C(pdb=fail) (PodDisruptionBudgets that can
    never allow an eviction), C(single_replica=warn), C(bare_pods=fail), C(local_storage=warn) (emptyDir or
    hostPath, erased by a recycle), C(rwo_volumes=warn) (ReadWriteOnce claims: downtime while they re-attach),
    C(capacity=fail) (a batch's pod requests must fit on the nodes the strategy adds and the other nodes, and the
    cluster must stay within O(node_limit)),
    C(deprecated_apis=fail) (objects last applied with an API version the target removes),
    C(error_budget=fail) (predicted downtime against the budget from the downtime ledger),
    C(window=fail) (outside O(maintenance_window)), C(autoscaler=fail) (a pool whose autoscaler is on is not resized)."
  - "Before any node is bought, simulates the whole rollout's evictions batch by batch against every
    PodDisruptionBudget (RV(eviction_simulation)): the budgets' current C(disruptionsAllowed), server-side dry-run
    evictions (C(dryRun=All)) of the first batch of each pool, and whether each evicted pod's replacement can run
    on a node that is up while its batch drains (a pod that can only come back after a move keeps its budget's
    disruption used), including where the node affinity of a bound PersistentVolume (a local volume) lets it
    run, and whether the replacements' requests fit on the nodes up then, batch after batch. A plan that cannot
    finish is a finding of gate C(pdb) (C(capacity) when a replacement has nowhere to run or no room) naming the
    budget, the batch and node where the rollout would stall and the variable that would relax it."
  - "Returns the plan of O(strategy) and the predicted downtime. V(surge): per pool one extra node and the batches
    of O(concurrency) nodes to recycle. V(blue_green): per pool a whole new pool of the same size (one pool at a
    time), the old pool's drain batches of O(blue_green.batch_size), then the old pool deleted; each batch's pods,
    with those of the batches before it, must fit on the new pool and the nodes outside the pool, and the estimate
    says how long both pools exist and what that costs in node-hours."
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.linode
  - kubernetes.core.k8s_auth_options
options:
  target_version:
    description: Kubernetes minor to upgrade to, for example V(1.35). It must be the current minor or the next one.
    type: str
    required: true
  gates:
    description: Gate name to level (V(fail), V(warn), V(ignore)); unnamed gates keep their default.
    type: dict
    default: {}
    suboptions:
      skew:
        description: Level of the gate for kubelets outside the skew policy after the control-plane step. Default V(fail).
        type: str
        choices: [fail, warn, ignore]
      pdb:
        description: Level of the gate for PodDisruptionBudgets that can never allow an eviction, or that allow none
          now because their pods are unhealthy (the rollout would stall). Default V(fail).
        type: str
        choices: [fail, warn, ignore]
      single_replica:
        description: Level of the gate for Deployments and StatefulSets with one replica (downtime while it moves). Default V(warn).
        type: str
        choices: [fail, warn, ignore]
      bare_pods:
        description: Level of the gate for pods without a controller (lost on recycle). Default V(fail).
        type: str
        choices: [fail, warn, ignore]
      local_storage:
        description: Level of the gate for emptyDir and hostPath volumes (erased on recycle). Default V(warn).
        type: str
        choices: [fail, warn, ignore]
      rwo_volumes:
        description: Level of the gate for pods on ReadWriteOnce claims (downtime while the volume re-attaches). Default V(warn).
        type: str
        choices: [fail, warn, ignore]
      capacity:
        description: Level of the gate for a batch's pods that do not fit on the nodes that stay plus those the strategy
          adds, or a plan past O(node_limit). Default V(fail).
        type: str
        choices: [fail, warn, ignore]
      deprecated_apis:
        description: Level of the gate for objects last applied with an API version the target removes. Default V(fail).
        type: str
        choices: [fail, warn, ignore]
      error_budget:
        description: Level of the gate for the predicted downtime does not fit the error budget. Default V(fail).
        type: str
        choices: [fail, warn, ignore]
      window:
        description: Level of the gate for now is outside the maintenance window. Default V(fail).
        type: str
        choices: [fail, warn, ignore]
      autoscaler:
        description: Level of the gate for pools with the autoscaler on (the rollout will not resize them). Default V(fail).
        type: str
        choices: [fail, warn, ignore]
  concurrency:
    description: Nodes per pool drained and recycled at the same time (V(surge)).
    type: int
    default: 1
  strategy:
    description: The rollout strategy to plan and check (the runbook variable C(upgrade_cluster_strategy)).
    type: str
    choices: [surge, blue_green]
    default: surge
  blue_green:
    description: The V(blue_green) plan's inputs; ignored for V(surge).
    type: dict
    default: {}
    suboptions:
      batch_size:
        description: Old-pool nodes drained per batch, a number or a percentage of the pool (V(10%)).
        type: str
        default: 10%
      batch_soak_seconds:
        description: Soak after each batch, for the estimate.
        type: float
        default: 0
      final_soak_seconds:
        description: Soak before the old pool is deleted, for the estimate.
        type: float
        default: 0
      drain_seconds:
        description: Seconds one batch takes to drain, for the estimate (a measured figure is better).
        type: float
        default: 60
      create_seconds:
        description: Seconds a new pool takes to be Ready, for the estimate.
        type: float
        default: 180
  node_limit:
    description:
      - Most nodes the cluster may have while the rollout runs (the account's or the team's limit). A plan that
        needs more (V(surge) one extra node, V(blue_green) a second pool of the largest pool still to roll) is a
        finding of gate C(capacity). Unset = not checked.
    type: int
  downtime_model:
    description: Seconds of downtime to expect when a single-replica workload moves.
    type: dict
    default: {}
    suboptions:
      pod_restart_seconds:
        description: Downtime of a single-replica workload whose pod moves to another node.
        type: float
        default: 15
      rwo_reattach_seconds:
        description: The extra downtime when that pod mounts a ReadWriteOnce claim (the volume re-attaches).
        type: float
        default: 30
  slo:
    description: Error-budget gate. Without O(slo.ledger) the gate is skipped.
    type: dict
    default: {}
    suboptions:
      ledger:
        description: Path of the downtime ledger (JSON lines).
        type: path
      objective:
        description: Availability objective in percent.
        type: float
        default: 99.99
      window:
        description: The objective's rolling window, for example V(30d).
        type: str
        default: 30d
      min_remaining_percent:
        description: Share of the budget that must remain after the predicted downtime.
        type: float
        default: 0
      exclude_tags:
        description: Ledger records with any of these tags do not count.
        type: list
        elements: str
        default: []
  maintenance_window:
    description: Only start inside this window (UTC). Unset or empty = any time.
    type: dict
    suboptions:
      days:
        description: Days of the week (V(mon) .. V(sun)); empty = every day.
        type: list
        elements: str
      start:
        description: Start, V(HH:MM) in UTC; unset = V(00:00).
        type: str
      end:
        description: End, V(HH:MM) in UTC; unset = V(23:59). An end before the start crosses midnight.
        type: str
  relaxed_pdbs:
    description:
      - PodDisruptionBudgets (V(namespace/name)) the run relaxes for the rollout (see the cluster_preflight role);
        one that allows no disruption is then reported as a warning, not a failure.
    type: list
    elements: str
    default: []
  dry_run_evictions:
    description:
      - Also ask the API server, with server-side dry-run evictions, whether each pod of the nodes to recycle
        could be evicted now (RV(dry_run)). Changes nothing; meant for a C(--check) plan.
    type: bool
    default: false
  fail_on_findings:
    description: Fail the task when a gate at level V(fail) has findings. When false, only report them.
    type: bool
    default: true
  pool_counts:
    description:
      - Pool id to the pool's size before the run changed it (the run's journal fact C(pool_counts)). A V(surge)
        pool one node above it carries the run's surge node already (a run carried on after an interruption), so the
        plan counts that node once, as C(surged), and neither buys another nor counts it against O(node_limit)
        twice. Empty = every pool is at its own size.
    type: dict
    default: {}
  resumed:
    description:
      - The run carries on a rollout already under way (its journal's run was resumed after its node steps had
        begun; not a run that was refused and is tried again). The eviction simulation's
        stalls only warn then, and no server-side dry-run eviction is asked, because both would judge the moment
        the interrupted run left behind (a budget at 0 while an evicted pod's replacement starts, a new pool's
        nodes still joining). The rollout passed them when it started, and its drain waits on the budgets.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Gates for 1.35, with a Saturday-morning window
  fournines.runbooks.k8s_upgrade_preflight:
    cluster_id: 314159
    kubeconfig: ~/.kube/lke.yaml
    target_version: "1.35"
    gates:
      single_replica: warn
      rwo_volumes: ignore
    slo:
      ledger: reports/downtime.jsonl
      objective: 99.99
      window: 30d
    maintenance_window:
      days: [sat]
      start: "06:00"
      end: "10:00"
  register: preflight
"""

RETURN = r"""
step:
  description: V(upgrade) (control plane one minor up) or V(at_target) (already there, as after an interrupted run).
  returned: always
  type: str
current_version:
  description: The cluster's minor now.
  returned: always
  type: str
target_version:
  description: The target minor.
  returned: always
  type: str
findings:
  description: Every finding (gate, level, subject, message); level V(fail) ones stop the run.
  returned: always
  type: list
  elements: dict
blocking:
  description: The findings at level V(fail).
  returned: always
  type: list
  elements: dict
plan:
  description:
    - Per pool, C(pool_id), C(count), C(strategy), C(surge_to), C(nodes_to_recycle) (the old nodes), C(batches),
      C(already_at_target); V(surge) adds C(surged) (the surge node is there already, see O(pool_counts); C(count)
      is then the size without it); V(blue_green) adds C(new_pool) (nodes to buy), C(green_pool_id) (an existing new pool)
      and C(estimate) (C(batches), C(batch_size), C(double_pool_seconds), C(extra_node_hours), C(assumed)).
  returned: always
  type: list
  elements: dict
predicted_downtime_seconds:
  description: Downtime the plan expects (single-replica workloads while they move).
  returned: always
  type: float
predicted_downtime_by_workload:
  description: The same, per workload.
  returned: always
  type: dict
budget:
  description: The error budget (see P(fournines.runbooks.slo_budget_info#module)) when O(slo) has a C(ledger).
  returned: when O(slo) has a C(ledger)
  type: dict
eviction_simulation:
  description:
    - The rollout's evictions simulated batch by batch. C(ok) (the plan can finish), C(stalls) (each with C(pdb),
      C(kind) V(budget_at_zero), V(budget_used_up), V(no_landing), V(volume_pinned) or V(no_room), C(batch), C(node),
      C(pods), C(message) and
      C(relax), the variables that would let it finish), C(batches) (per batch C(nodes), C(evictions) and per budget
      C(allowed) and C(pods)) and C(refused_now) (pods of the first batches whose server-side dry-run eviction was
      refused).
  returned: always
  type: dict
dry_run:
  description: With O(dry_run_evictions), C(evicted) (pods that would be evicted) and C(blocked) (why some would not).
  returned: when O(dry_run_evictions)
  type: dict
strategy:
  description: The strategy the plan is for.
  returned: always
  type: str
gates:
  description: The level every gate ran at.
  returned: always
  type: dict
"""

import json

from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import eviction_sim
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.drain import Drainer
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_view import check_same_cluster, cluster_view
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.upgrade_preflight import GATE_DEFAULTS, LEVELS, STRATEGIES, evaluate, resolve_gates
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_SCANNED = ("/apis/apps/v1/deployments", "/apis/apps/v1/statefulsets", "/apis/apps/v1/daemonsets",
            "/apis/batch/v1/cronjobs", "/apis/networking.k8s.io/v1/ingresses", "/apis/policy/v1/poddisruptionbudgets",
            "/apis/autoscaling/v2/horizontalpodautoscalers")


def _applied(objects):
    out = []
    for obj in objects:
        text = (obj["metadata"].get("annotations") or {}).get(LAST_APPLIED)
        if not text:
            continue
        try:
            api_version = json.loads(text).get("apiVersion")
        except ValueError:
            continue
        out.append((obj.get("kind") or "", "%s/%s" % (obj["metadata"].get("namespace"), obj["metadata"]["name"]), api_version))
    return out


def snapshot(kube, view):
    snap = {"view": view, "pods": kube.items("/api/v1/pods"), "pdbs": kube.pdbs(),
            "replicasets": kube.items("/apis/apps/v1/replicasets"),
            "deployments": kube.items("/apis/apps/v1/deployments"),
            "statefulsets": kube.items("/apis/apps/v1/statefulsets"),
            "pvcs": kube.items("/api/v1/persistentvolumeclaims"), "pvs": kube.items("/api/v1/persistentvolumes"),
            "applied": []}
    for path in _SCANNED:
        kind = {"deployments": "Deployment", "statefulsets": "StatefulSet", "daemonsets": "DaemonSet",
                "cronjobs": "CronJob", "ingresses": "Ingress", "poddisruptionbudgets": "PodDisruptionBudget",
                "horizontalpodautoscalers": "HorizontalPodAutoscaler"}[path.rsplit("/", 1)[1]]
        objs = snap.get(path.rsplit("/", 1)[1]) or kube.items(path)
        for obj in objs:
            obj.setdefault("kind", kind)
        snap["applied"].extend(_applied(objs))
    return snap


def _given(options):
    """The suboptions the user set (Ansible fills the others with None)."""
    return dict((k, v) for k, v in (options or {}).items() if v is not None)


def main():
    spec = lke_argument_spec(
        target_version=dict(type="str", required=True),
        gates=dict(type="dict", default={},
                   options=dict((gate, dict(type="str", choices=list(LEVELS))) for gate in GATE_DEFAULTS)),
        concurrency=dict(type="int", default=1),
        strategy=dict(type="str", choices=list(STRATEGIES), default="surge"),
        blue_green=dict(type="dict", default={}, options=dict(
            batch_size=dict(type="str", default="10%"), batch_soak_seconds=dict(type="float", default=0.0),
            final_soak_seconds=dict(type="float", default=0.0), drain_seconds=dict(type="float", default=60.0),
            create_seconds=dict(type="float", default=180.0))),
        node_limit=dict(type="int"),
        downtime_model=dict(type="dict", default={}, options=dict(
            pod_restart_seconds=dict(type="float", default=15.0), rwo_reattach_seconds=dict(type="float", default=30.0))),
        slo=dict(type="dict", default={}, options=dict(
            ledger=dict(type="path"), objective=dict(type="float", default=99.99), window=dict(type="str", default="30d"),
            min_remaining_percent=dict(type="float", default=0.0),
            exclude_tags=dict(type="list", elements="str", default=[]))),
        maintenance_window=dict(type="dict", options=dict(
            days=dict(type="list", elements="str"), start=dict(type="str"), end=dict(type="str"))),
        relaxed_pdbs=dict(type="list", elements="str", default=[]),
        dry_run_evictions=dict(type="bool", default=False),
        fail_on_findings=dict(type="bool", default=True),
        resumed=dict(type="bool", default=False),
        pool_counts=dict(type="dict", default={}),  # free-form: its keys are the cluster's pool ids
    )
    module = lke_module(spec)
    p = module.params
    try:
        gates = resolve_gates(_given(p["gates"]))
        lke = lke_from_params(p)
        kube = kube_from_params(p)
        check_same_cluster(lke.api_endpoints(), kube.host, p["cluster_id"])
        view = cluster_view(lke, kube, p["target_version"])
        budget = None
        if p["slo"]["ledger"]:
            budget = slo.ledger_budget(**p["slo"])
        snap = snapshot(kube, view)
        settings = dict(concurrency=p["concurrency"], downtime_model=p["downtime_model"], budget=budget,
                        window=_given(p["maintenance_window"]), relaxed_pdbs=p["relaxed_pdbs"],
                        strategy=p["strategy"], blue_green=p["blue_green"], node_limit=p["node_limit"],
                        resumed=p["resumed"], pool_counts=p["pool_counts"])
        out = evaluate(snap, p["target_version"], gates, **settings)
        # the first batch of each pool drains against the budgets as they are now: ask the API server itself
        # (not for a resumed run: its own interrupted drain may hold a budget at 0 for a moment)
        first = [n for pool in out["plan"] for n in (pool["batches"] or [[]])[0]]
        refused = eviction_sim.refused_by_server(kube, snap["pods"], first) if first and not p["resumed"] else []
        if refused:
            out = evaluate(snap, p["target_version"], gates, refused_now=refused, **settings)
        out["eviction_simulation"]["refused_now"] = refused
        dry_run = None
        if p["dry_run_evictions"]:
            nodes = [n for pool in out["plan"] for n in pool["nodes_to_recycle"]]
            found = Drainer(kube, Deadline(120), "dry-run").dry_run(nodes) if nodes else {"evicted": [], "blocked": []}
            dry_run = {"evicted": found["evicted"], "blocked": found["blocked"]}
    except RunbookError as err:
        fail_from_error(module, err)
    result = dict(changed=False, gates=gates, **out)
    if dry_run is not None:
        result["dry_run"] = dry_run
    if budget is not None:
        result["budget"] = budget
    if out["blocking"] and p["fail_on_findings"]:
        module.fail_json(msg="preflight stopped the upgrade: %s" % "; ".join(
            "[%s] %s" % (f["gate"], f["message"]) for f in out["blocking"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
