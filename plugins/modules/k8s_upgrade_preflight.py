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
    C(capacity=fail) (a batch's pod requests must fit on the surge node and the other nodes),
    C(deprecated_apis=fail) (objects last applied with an API version the target removes),
    C(error_budget=fail) (predicted downtime against the budget from the downtime ledger),
    C(window=fail) (outside O(maintenance_window)), C(autoscaler=fail) (a pool whose autoscaler is on is not resized)."
  - Returns the plan (per pool the surge size and the batches of nodes to recycle) and the predicted downtime.
author:
  - fournines.runbooks engineers (@fournines)
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.linode
  - fournines.runbooks.linode.lke
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
  concurrency:
    description: Nodes per pool drained and recycled at the same time.
    type: int
    default: 1
  downtime_model:
    description:
      - Seconds of downtime to expect when a single-replica workload moves (C(pod_restart_seconds), default 15)
        and the extra when it mounts a ReadWriteOnce claim (C(rwo_reattach_seconds), default 30).
    type: dict
    default: {}
  slo:
    description:
      - Error-budget gate. Keys C(ledger) (path of the downtime ledger), C(objective) (default 99.99),
        C(window) (default V(30d)), C(min_remaining_percent) (default 0), C(exclude_tags) (default []).
        Without C(ledger) the gate is skipped.
    type: dict
    default: {}
  maintenance_window:
    description: C(days) (mon..sun, empty = every day), C(start) and C(end) (HH:MM, UTC). Unset = any time.
    type: dict
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
  description: Per pool, C(pool_id), C(count), C(surge_to), C(nodes_to_recycle), C(batches), C(already_at_target).
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
dry_run:
  description: With O(dry_run_evictions), C(evicted) (pods that would be evicted) and C(blocked) (why some would not).
  returned: when O(dry_run_evictions)
  type: dict
gates:
  description: The level every gate ran at.
  returned: always
  type: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.drain import Drainer
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import k8s_argument_spec, kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import LKE_ARG_SPEC, lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_view import check_same_cluster, cluster_view
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.upgrade_preflight import evaluate, resolve_gates
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
            "pvcs": kube.items("/api/v1/persistentvolumeclaims"), "applied": []}
    for path in _SCANNED:
        kind = {"deployments": "Deployment", "statefulsets": "StatefulSet", "daemonsets": "DaemonSet",
                "cronjobs": "CronJob", "ingresses": "Ingress", "poddisruptionbudgets": "PodDisruptionBudget",
                "horizontalpodautoscalers": "HorizontalPodAutoscaler"}[path.rsplit("/", 1)[1]]
        objs = snap.get(path.rsplit("/", 1)[1]) or kube.items(path)
        for obj in objs:
            obj.setdefault("kind", kind)
        snap["applied"].extend(_applied(objs))
    return snap


def main():
    spec = k8s_argument_spec(
        target_version=dict(type="str", required=True),
        gates=dict(type="dict", default={}),
        concurrency=dict(type="int", default=1),
        downtime_model=dict(type="dict", default={}),
        slo=dict(type="dict", default={}),
        maintenance_window=dict(type="dict"),
        relaxed_pdbs=dict(type="list", elements="str", default=[]),
        dry_run_evictions=dict(type="bool", default=False),
        fail_on_findings=dict(type="bool", default=True),
    )
    spec.update(LKE_ARG_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    try:
        gates = resolve_gates(p["gates"])
        lke = lke_from_params(p)
        kube = kube_from_params(p)
        check_same_cluster(lke.api_endpoints(), kube.host, p["cluster_id"])
        view = cluster_view(lke, kube, p["target_version"])
        budget = None
        if p["slo"].get("ledger"):
            cfg = p["slo"]
            budget = slo.budget(cfg.get("objective", 99.99), cfg.get("window", "30d"), slo.read_ledger(cfg["ledger"]),
                                exclude_tags=cfg.get("exclude_tags") or [])
            budget["min_remaining_percent"] = float(cfg.get("min_remaining_percent", 0) or 0)
        out = evaluate(snapshot(kube, view), p["target_version"], gates, concurrency=p["concurrency"],
                       downtime_model=p["downtime_model"], budget=budget, window=p["maintenance_window"],
                       relaxed_pdbs=p["relaxed_pdbs"])
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
