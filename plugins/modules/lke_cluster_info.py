#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_cluster_info
short_description: Describe an LKE cluster, its pools and nodes joined to their Kubernetes Nodes
version_added: 0.1.0
description:
  - Reads the cluster, the versions LKE offers, and every node pool from the Linode API.
  - When Kubernetes connection options are given, each pool node is joined to its Kubernetes Node
    (C(spec.providerID) is C(linode://<instance_id>)) with its kubelet version, readiness, and
    whether this collection cordoned it.
  - Also checks that the kubeconfig talks to this cluster (its server is one of the cluster's API endpoints).
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.linode
  - kubernetes.core.k8s_auth_options
options:
  target_version:
    description: When set, each node gets C(at_target), whether its kubelet runs this minor or newer.
    type: str
  join_kubernetes:
    description: Join pool nodes to Kubernetes Nodes (needs a kubeconfig or the other connection options).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Pools and nodes of the cluster, with kubelet versions
  fournines.runbooks.lke_cluster_info:
    cluster_id: 314159
    kubeconfig: ~/.kube/lke-314159.yaml
    target_version: "1.35"
  register: lke
"""

RETURN = r"""
cluster:
  description: The cluster (id, label, region, status, k8s_version, tier, control_plane, tags).
  returned: always
  type: dict
versions:
  description: Kubernetes versions LKE offers (GET /lke/versions).
  returned: always
  type: list
  elements: str
  sample: ["1.33", "1.34", "1.35"]
pools:
  description: Node pools with their nodes (id, instance_id, status, node_name, kubelet_version, ready,
    unschedulable, cordoned_by_us, cordoned_by (the owner, usually a run id, that cordoned it), phase, at_target),
    and origin_pool_id (for the new pool of a blue-green rollout the pool it replaces, else the pool's own id).
  returned: always
  type: list
  elements: dict
api_endpoints:
  description: The cluster's Kubernetes API endpoints.
  returned: always
  type: list
  elements: str
kube_host:
  description: The API server the Kubernetes connection options point at.
  returned: when join_kubernetes
  type: str
same_cluster:
  description: Whether RV(kube_host) is one of RV(api_endpoints).
  returned: when join_kubernetes
  type: bool
nodes_not_in_pools:
  description: Kubernetes Nodes that belong to no pool of this cluster.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_view import ClusterMismatch, check_same_cluster, cluster_view


def main():
    module = lke_module(lke_argument_spec(target_version=dict(type="str"), join_kubernetes=dict(type="bool", default=True)),
                        kubernetes=lambda p: p["join_kubernetes"])
    params = module.params
    try:
        lke = lke_from_params(params)
        kube = kube_from_params(params) if params["join_kubernetes"] else None
        view = cluster_view(lke, kube, params["target_version"])
        view.pop("k8s_nodes")
        result = dict(changed=False, api_endpoints=lke.api_endpoints(), **view)
        if kube is not None:
            result["kube_host"] = kube.host
            try:
                check_same_cluster(result["api_endpoints"], kube.host, params["cluster_id"])
                result["same_cluster"] = True
            except ClusterMismatch:
                result["same_cluster"] = False
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
