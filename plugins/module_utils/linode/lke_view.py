# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One joined view of an LKE cluster: Linode pools and nodes matched to Kubernetes Nodes.

The match is ``Node.spec.providerID == linode://<instance_id>``. The same view feeds
lke_cluster_info, the preflight, the rollout plan and the waits of recycle/delete.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import instance_id_of
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.versions import version_at_least

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit


class ClusterMismatch(RunbookError):
    """The kubeconfig points at another cluster than the Linode API names."""


def _endpoint_key(url):
    parts = urlsplit(url if "//" in url else "https://" + url)
    port = parts.port or (443 if parts.scheme in ("https", "") else 80)
    return (parts.hostname or "").lower(), port


def check_same_cluster(api_endpoints, kube_host, cluster_id):
    """Raise ClusterMismatch unless ``kube_host`` is one of the cluster's API endpoints."""
    wanted = set(_endpoint_key(e) for e in api_endpoints if e)
    if _endpoint_key(kube_host) not in wanted:
        raise ClusterMismatch(
            "the kubeconfig talks to %s, but LKE cluster %s serves its API at %s; use the kubeconfig of cluster %s "
            "(GET /lke/clusters/%s/kubeconfig) or the cluster_id that matches this kubeconfig"
            % (kube_host, cluster_id, ", ".join(sorted(e for e in api_endpoints if e)) or "no endpoint",
               cluster_id, cluster_id))


def node_view(lke_node, k8s_node, target=None):
    out = {"id": lke_node.get("id"), "instance_id": lke_node.get("instance_id"), "status": lke_node.get("status"),
           "node_name": None, "kubelet_version": None, "ready": False, "unschedulable": False,
           "cordoned_by_us": False, "cordoned_by": None, "phase": None}
    if k8s_node is not None:
        out.update(node_name=k8s_node["metadata"]["name"], kubelet_version=objects.kubelet_version(k8s_node),
                   ready=objects.node_ready(k8s_node), unschedulable=objects.node_unschedulable(k8s_node),
                   cordoned_by_us=objects.cordoned_by_us(k8s_node), cordoned_by=objects.cordoned_by(k8s_node),
                   phase=objects.annotations(k8s_node).get(objects.PHASE))
    if target:
        out["at_target"] = bool(out["kubelet_version"]) and version_at_least(out["kubelet_version"], target)
    return out


#: The tag of a blue-green rollout's new pool: fournines-green-of-<the pool it replaces>.
GREEN_TAG_PREFIX = "fournines-green-of-"


def origin_pool_id(pool):
    """The pool a blue-green rollout's new pool replaces (its ``fournines-green-of-<id>`` tag), else its own id.

    A run's journal key uses it, so an interrupted blue-green rollout is carried on although its pool ids changed.
    """
    for tag in pool.get("tags") or []:
        if tag.startswith(GREEN_TAG_PREFIX) and tag[len(GREEN_TAG_PREFIX):].isdigit():
            return int(tag[len(GREEN_TAG_PREFIX):])
    return pool["id"]


def cluster_view(lke, kube, target=None):
    """Cluster, versions, pools with their nodes joined to Kubernetes Nodes, and the raw Nodes."""
    cluster = lke.cluster()
    versions = lke.versions()
    k8s_nodes = kube.nodes() if kube is not None else []
    by_instance = dict((instance_id_of(n), n) for n in k8s_nodes if instance_id_of(n) is not None)
    pools = []
    for pool in lke.pools():
        nodes = [node_view(n, by_instance.get(n.get("instance_id")), target) for n in pool.get("nodes") or []]
        pools.append({"id": pool["id"], "type": pool.get("type"), "count": pool.get("count"),
                      "autoscaler": pool.get("autoscaler") or {}, "labels": pool.get("labels") or {},
                      "origin_pool_id": origin_pool_id(pool),
                      "nodes": sorted(nodes, key=lambda n: str(n["node_name"] or n["id"]))})
    pool_instances = set(n["instance_id"] for p in pools for n in p["nodes"])
    strays = [n["metadata"]["name"] for n in k8s_nodes if instance_id_of(n) not in pool_instances]
    keys = ("id", "label", "region", "status", "k8s_version", "tier", "control_plane", "tags")
    return {"cluster": dict((k, cluster.get(k)) for k in keys),
            "versions": versions, "pools": sorted(pools, key=lambda p: p["id"]),
            "nodes_not_in_pools": sorted(strays), "k8s_nodes": k8s_nodes}


def find_pool(view, pool_id):
    for pool in view["pools"]:
        if int(pool["id"]) == int(pool_id):
            return pool
    raise RunbookError("pool %s is not in cluster %s; pools: %s" % (
        pool_id, view["cluster"]["id"], ", ".join(str(p["id"]) for p in view["pools"]) or "none"))
