# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the postgres_cnpg_* modules make of their parameters, written once.

The argument specs of the options several of them share, each beside its doc fragment
(``fournines.runbooks.postgres.cnpg_clone``, ``fournines.runbooks.postgres.cnpg_lag``), and the
Kubernetes client and :class:`.cluster.CnpgClusters` a module opens from its parameters.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import replication

#: A clone of a production Cluster (doc fragment fournines.runbooks.postgres.cnpg_clone).
CLONE_SPEC = dict(
    namespace=dict(type="str", required=True),
    source=dict(type="str", required=True),
    name=dict(type="str", required=True),
)

#: How far behind a replica may be (doc fragment fournines.runbooks.postgres.cnpg_lag).
LAG_SPEC = dict(max_lag_bytes=dict(type="int", default=16 * 1024 * 1024))


def clone_argument_spec(**extra):
    """The Kubernetes connection, the clone's ``namespace``, ``source`` and ``name``, and ``extra``."""
    return client.k8s_argument_spec(**dict(CLONE_SPEC, **extra))


def lag_limit(params):
    """``max_lag_bytes`` as :func:`.cluster.summarize` takes it: None (lag is not judged) when negative."""
    return None if params["max_lag_bytes"] < 0 else params["max_lag_bytes"]


def refuse_clone_of_itself(module, suffix):
    """Fail ``module`` when the clone's ``name`` is its ``source``'s: the clone would be production."""
    p = module.params
    if p["name"] == p["source"]:
        module.fail_json(msg="name %r is the source Cluster's; give the clone another name, such as %s-%s"
                         % (p["name"], p["source"], suffix))


def open_clusters(module, judge_lag=False):
    """``(kube, clusters)`` for a module: the Kubernetes client of its connection options and the
    Clusters of its ``namespace``, which with ``judge_lag`` read each replica's lag to judge health.

    Fails the module when the kubernetes library is missing; raises :class:`.client.K8sError`
    (a RunbookError) when the connection options are unusable.
    """
    require_lib(module, "kubernetes", client.HAS_K8S, client.K8S_IMPORT_ERROR)
    kube = client.kube_from_params(module.params)
    lag_reader = replication.lag_reader(kube) if judge_lag else None
    return kube, cnpg_cluster.CnpgClusters(kube, module.params["namespace"], lag_reader=lag_reader)


def image_diff(before, after):
    """The diff of a Cluster whose ``spec.imageName`` goes from ``before`` to ``after``."""
    return {"before": {"imageName": before}, "after": {"imageName": after}}
