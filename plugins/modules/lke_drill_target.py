#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_drill_target
short_description: Choose the node a node-failure drill fails, and check the cluster is healthy enough
version_added: 0.1.0
description:
  - Joins the LKE cluster's pools and nodes to the Kubernetes Nodes (C(spec.providerID = linode://<id>)) and
    picks the drill's target node - V(workload) (default) the node that runs a pod of O(workload), the way a real
    outage hits the app; V(node) the node named O(node); V(random) a random Ready node of the cluster.
  - Describes O(workload) (replicas, ReadWriteOnce claims, tolerations of the not-ready/unreachable taints),
    which the drill's report turns into advice.
  - Lists health problems (a node not Ready or cordoned, a pool short of nodes); with O(require_healthy) they
    fail the task, so a drill never starts on a cluster that is already degraded.
  - Reads only. Bad input (an unknown mode, node or workload, a workload without pods) fails with a message
    naming the valid values.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.linode
  - kubernetes.core.k8s_auth_options
options:
  mode:
    description: The drill's mode, validated here so a bad value stops the drill before anything changes.
    type: str
    default: delete
  target:
    description: How to choose the node - V(workload), V(node) or V(random).
    type: str
    default: workload
  node:
    description: Name of the Kubernetes Node to fail, with O(target=node).
    type: str
  workload:
    description:
      - The app whose outage the drill measures, C(namespace/name) for a Deployment or C(namespace/kind/name)
        (kind V(deployment) or V(statefulset)). With O(target=workload) its pod's node is the target.
    type: str
    default: app/web
  seed:
    description: Seed of the random choice with O(target=random), to repeat a drill on the same node.
    type: int
  require_healthy:
    description: Fail when a node of the cluster is not Ready or cordoned, or a pool is short of nodes.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: The node that runs the app's pod
  fournines.runbooks.lke_drill_target:
    cluster_id: 314159
    workload: app/web
    kubeconfig: ~/.kube/lke.yaml
  register: target

- name: A named node
  fournines.runbooks.lke_drill_target:
    cluster_id: 314159
    target: node
    node: lke314159-270001-4f3a2b1c
    kubeconfig: ~/.kube/lke.yaml
"""

RETURN = r"""
node:
  description: Name of the chosen Kubernetes Node.
  returned: success
  type: str
node_id:
  description: LKE node id of the chosen node.
  returned: success
  type: str
instance_id:
  description: Linode instance id of the chosen node.
  returned: success
  type: int
pool_id:
  description: Node pool of the chosen node.
  returned: success
  type: int
why:
  description: Why this node was chosen.
  returned: success
  type: str
k8s_version:
  description: The cluster's Kubernetes minor version (a drain drill recycles onto it).
  returned: success
  type: str
workload:
  description: C(workload), C(replicas), C(pods) (name, node, ready), C(nodes), C(claims), C(rwo_claims),
    C(not_ready_toleration_seconds), C(unreachable_toleration_seconds).
  returned: success
  type: dict
health_problems:
  description: Why the cluster is not healthy (empty when it is).
  returned: always
  type: list
  elements: str
nodes:
  description: The cluster's nodes (name, LKE id, instance id, Ready).
  returned: success
  type: list
  elements: dict
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import scenario
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_view import cluster_view


def main():
    module = lke_module(lke_argument_spec(
        mode=dict(type="str", default="delete"),
        target=dict(type="str", default="workload"),
        node=dict(type="str"),
        workload=dict(type="str", default="app/web"),
        seed=dict(type="int"),
        require_healthy=dict(type="bool", default=True)))
    p = module.params
    problems = []
    try:
        scenario.validate_mode(p["mode"])
        if p["target"] not in scenario.TARGETS:
            raise scenario.DrillError("target %r is not known; valid targets: %s" % (p["target"], ", ".join(scenario.TARGETS)))
        kube = client.kube_from_params(p)
        view = cluster_view(lke_from_params(p), kube)
        workload = scenario.workload_facts(kube, p["workload"])
        chosen, why = scenario.choose_target(view, p["target"], p["node"], workload, p["seed"])
        problems = scenario.health_problems(view)
        if problems and p["require_healthy"]:
            raise scenario.DrillError("the cluster is not healthy enough for a drill: %s; fix it (or wait for it to "
                                      "recover) before causing another failure" % "; ".join(problems))
    except RunbookError as err:
        fail_from_error(module, err, health_problems=problems)
    module.exit_json(changed=False, node=chosen["node_name"], node_id=chosen["id"], instance_id=chosen["instance_id"],
                     pool_id=chosen["pool_id"], why=why, k8s_version=view["cluster"]["k8s_version"],
                     workload=dict((k, v) for k, v in workload.items() if k != "selector"),
                     health_problems=problems,
                     nodes=[{"node": n["node_name"], "node_id": n["id"], "instance_id": n["instance_id"],
                             "ready": n["ready"]} for n in scenario.cluster_nodes(view)])


if __name__ == "__main__":
    main()
