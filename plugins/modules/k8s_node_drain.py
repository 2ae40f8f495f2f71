#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_node_drain
short_description: Drain Kubernetes nodes through the Eviction API, patiently and reversibly
version_added: 0.1.0
description:
  - V(drained) cordons each node and marks it with the annotation C(runbooks.fournines.io/cordoned-by), so
    that only nodes this collection cordoned are ever uncordoned by it; a node someone else cordoned stays so.
  - Evicts every pod through the Eviction API. A refusal by a PodDisruptionBudget (HTTP 429) is retried with
    backoff until the one overall deadline O(timeout); the drain does not abort on the first refusal.
  - Before any pod is touched, stops with a clear error when a PodDisruptionBudget can never allow an
    eviction (C(maxUnavailable=0), or C(minAvailable) equal to the replicas) or a pod has no controller, and
    uncordons the nodes it cordoned.
  - DaemonSet pods, mirror pods and finished pods are left alone.
  - Succeeds only when the evicted pods are gone and each of their ReplicaSets and StatefulSets has its
    desired number of Ready pods on other nodes.
  - On failure the nodes this task cordoned are uncordoned unless O(restore_on_failure=false).
  - V(uncordoned) uncordons the nodes this collection cordoned (or any with O(force)), V(cordoned) only cordons.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.journal
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Runs server-side dry-run evictions and reports what would be evicted and what would block.
  diff_mode:
    support: none
    details: No diff; RV(cordoned), RV(uncordoned) and RV(evicted) list the changes.
options:
  nodes:
    description: Names of the Nodes, drained together under one deadline.
    type: list
    elements: str
    required: true
    aliases: [node, name]
  state:
    description: V(drained), V(cordoned) or V(uncordoned).
    type: str
    choices: [drained, cordoned, uncordoned]
    default: drained
  timeout:
    description: One overall deadline in seconds for evictions, their retries and the replacements.
    type: int
    default: 600
  owner:
    description: Value of the cordon annotation, for example the run id, to tell who cordoned the node.
    type: str
    default: fournines.runbooks
  allow_bare_pods:
    description: Evict pods that no controller would recreate (they are lost).
    type: bool
    default: false
  grace_period:
    description: Termination grace period in seconds for evicted pods; unset keeps each pod's own.
    type: int
  restore_on_failure:
    description: Uncordon the nodes this task cordoned when the drain fails.
    type: bool
    default: true
  force:
    description: With V(uncordoned), also uncordon nodes this collection did not cordon.
    type: bool
    default: false
  steer_to_version:
    description:
      - Kubernetes minor (for example V(1.35)) the rollout moves nodes to. While the pods are evicted, the other
        schedulable LKE pool nodes (label C(lke.linode.com/pool-id)) whose kubelet is not at it are cordoned (marked with O(owner) and the phase
        C(steering)) so each pod lands on a node already at that version and moves once; they are uncordoned when
        the drain ends, whether it succeeded or not, and a later drain with the same O(owner) uncordons ones a
        killed drain left. Nothing is steered when the nodes at that version do not accept or have no room for
        every evicted pod (then RV(steered_away_from) is not returned).
    type: str
  undrainable:
    description:
      - What to do with a node that still hosts pods when the drain fails (deadline, disruption budgets).
      - V(fail) restores the cordons (unless O(restore_on_failure=false)) and fails, as C(kubectl drain) would.
      - V(quarantine) leaves each such node cordoned, labelled C(runbooks.fournines.io/quarantined=true) with the
        reason in an annotation (no later restore uncordons it), counts the batch's other nodes as drained and
        succeeds; RV(quarantined) names the nodes a person must see to. A failure that leaves no pod on any node
        still fails.
    type: str
    choices: [fail, quarantine]
    default: fail
"""

EXAMPLES = r"""
- name: Drain one node, waiting up to 10 minutes for disruption budgets
  fournines.runbooks.k8s_node_drain:
    nodes: [lke314159-270001-4f3a2b1c0d]
    kubeconfig: ~/.kube/lke.yaml
    owner: "{{ run_id }}"
    timeout: 600

- name: Put back what the runbook cordoned
  fournines.runbooks.k8s_node_drain:
    nodes: "{{ cordoned_nodes }}"
    state: uncordoned
    kubeconfig: ~/.kube/lke.yaml
"""

RETURN = r"""
cordoned:
  description: Nodes this task cordoned.
  returned: always
  type: list
  elements: str
uncordoned:
  description: Nodes this task uncordoned (with V(uncordoned), or when restoring after a failure).
  returned: always
  type: list
  elements: str
evicted:
  description: Pods evicted (in check mode, the pods that would be).
  returned: always
  type: list
  elements: str
quarantined:
  description: Nodes left cordoned and labelled because they would not drain (O(undrainable=quarantine)), each with
    node_name, the pods still on it and the reason.
  returned: always
  type: list
  elements: dict
left_alone:
  description: Pods left alone, with the reason (DaemonSet, mirror, finished).
  returned: always
  type: list
  elements: str
refusals:
  description: Evictions a disruption budget refused (HTTP 429) before they succeeded.
  returned: always
  type: int
blocked:
  description: Why the drain cannot finish (never-allowing budgets, bare pods; in check mode also refusals now).
  returned: always
  type: list
  elements: str
steered_away_from:
  description: Nodes cordoned while the pods moved (O(steer_to_version)), uncordoned again.
  returned: when O(steer_to_version) steered
  type: list
  elements: str
moves:
  description:
    - One entry per evicted pod, C(pod), C(node), C(owner), C(evicted_at) (epoch seconds), C(replicas) (its owner's
      desired count), C(ready_at) (when the owner had every desired pod Ready again on other nodes, from the pods'
      Ready condition, to the second) and C(seconds) between the two; for a single-replica workload that is its
      downtime. C(ready_at) is null when the replacements never became Ready.
    - With O(journal_dir), the journal step C(drain <nodes>) keeps every move of this drain in the run, written as
      each eviction happens, so a run killed mid-drain and carried on counts the killed attempt's moves too (this
      call waits for their replacements and stamps their C(ready_at)); a drain found done that evicts nothing
      more is left as recorded.
  returned: always
  type: list
  elements: dict
replacements:
  description: Ready replicas per owner at the end, for example C(app/ReplicaSet/api-7d9 "3/3 ready").
  returned: always
  type: dict
seconds:
  description: Duration of the drain.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.drain import Drainer, DrainError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline


def earlier_moves(drainer):
    """The moves a killed attempt at this drain made (stamped with their Ready time by this one, when it waited)."""
    return list(drainer.earlier_moves) if drainer is not None else []


def main():
    spec = client.k8s_argument_spec(
        nodes=dict(type="list", elements="str", required=True, aliases=["node", "name"]),
        state=dict(type="str", default="drained", choices=["drained", "cordoned", "uncordoned"]),
        timeout=dict(type="int", default=600),
        owner=dict(type="str", default="fournines.runbooks"),
        allow_bare_pods=dict(type="bool", default=False),
        grace_period=dict(type="int"),
        restore_on_failure=dict(type="bool", default=True),
        force=dict(type="bool", default=False),
        undrainable=dict(type="str", default="fail", choices=["fail", "quarantine"]),
        steer_to_version=dict(type="str"),
        journal_dir=dict(type="path"))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    require_lib(module, "kubernetes", client.HAS_K8S, client.K8S_IMPORT_ERROR)
    started = time.time()
    result = dict(changed=False, cordoned=[], uncordoned=[], evicted=[], left_alone=[], refusals=0, blocked=[],
                  replacements={}, quarantined=[], moves=[])
    rec = StepRecorder(p["journal_dir"] if p["state"] == "drained" else None, "drain %s" % ",".join(p["nodes"]),
                       module.check_mode)
    # the same drain in this run's journal: a killed attempt's moves are carried on (the report counts them once),
    # and a drain found done that evicts nothing more is left as it was recorded
    step = rec.journal.find_step(rec.name) if rec.journal is not None else None
    earlier = list(((step or {}).get("details") or {}).get("moves") or [])
    was_done = bool(step and step["status"] == "done")

    def record_moves(moves):
        rec.done("running", moves=earlier_moves(drainer) + list(moves),
                 evicted_pods=[m["pod"] for m in earlier_moves(drainer) + list(moves)])

    drainer = None
    try:
        if not was_done:
            rec.start()
        kube = client.kube_from_params(p)
        if p["state"] == "uncordoned":
            for name in p["nodes"]:
                node = kube.node(name)
                if node is not None and (objects.cordoned_by_us(node) or (p["force"] and objects.node_unschedulable(node))):
                    if not module.check_mode:
                        objects.uncordon(kube, name, force=p["force"])
                    result["uncordoned"].append(name)
        elif p["state"] == "cordoned":
            for name in p["nodes"]:
                node = kube.node(name)
                if node is None:
                    raise client.K8sError("node %r does not exist" % name)
                if not objects.node_unschedulable(node):
                    if not module.check_mode:
                        objects.cordon(kube, name, p["owner"])
                    result["cordoned"].append(name)
        else:
            drainer = Drainer(kube, Deadline(p["timeout"]), p["owner"], allow_bare=p["allow_bare_pods"],
                              grace_period=p["grace_period"], restore_on_failure=p["restore_on_failure"],
                              progress=rec.progress, steer_to_version=p["steer_to_version"], earlier_moves=earlier,
                              on_move=record_moves)
            if module.check_mode:
                result.update(drainer.dry_run(p["nodes"]))
            elif p["undrainable"] == "quarantine":
                result.update(drainer.drain_or_quarantine(p["nodes"]))
            else:
                result.update(drainer.drain(p["nodes"]))
            result["changed"] = bool(result["cordoned"] or result["evicted"] or result["quarantined"])
            if result["quarantined"] and rec.journal is not None:
                known = [q for q in rec.journal.state["facts"].get("quarantined") or []
                         if q["node_name"] not in set(n["node_name"] for n in result["quarantined"])]
                rec.journal.set_fact("quarantined", known + result["quarantined"])
    except DrainError as err:
        details = dict((k, v) for k, v in err.details.items() if k in result)
        result.update(details)
        moves = earlier_moves(drainer) + list(result["moves"])  # the evictions that happened, not those refused
        rec.done("failed", error=str(err), moves=moves, evicted_pods=[m["pod"] for m in moves])
        result.update(changed=True, seconds=round(time.time() - started, 1))
        fail_from_error(module, err, **result)
    except RunbookError as err:
        rec.failed(str(err))
        fail_from_error(module, err, **result)
    if p["state"] != "drained":
        result["changed"] = bool(result["cordoned"] or result["uncordoned"])
    if not (was_done and not result["changed"]):
        moves = earlier_moves(drainer) + result["moves"]
        rec.done(evicted=len(moves), evicted_pods=[m["pod"] for m in moves], moves=moves, refusals=result["refusals"],
                 quarantined=[q["node_name"] for q in result["quarantined"]], seconds=round(time.time() - started, 1))
    module.exit_json(seconds=round(time.time() - started, 1), **result)


if __name__ == "__main__":
    main()
