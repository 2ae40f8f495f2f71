#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_pool_delete
short_description: Delete a whole LKE node pool and wait until its Nodes have left the cluster
version_added: 0.1.0
description:
  - Deletes the pool and waits until no Kubernetes Node of its instances is left. A pool that does not exist is
    left alone (unchanged), so a re-run after an interruption does nothing twice.
  - With O(journal_dir), the step C(delete pool <pool_id>) is C(running) from the DELETE until the Nodes are gone;
    a re-run after an interruption deletes the pool if it is still there, or finds it gone, and marks the step done.
  - Drain the pool's nodes first (P(fournines.runbooks.k8s_node_drain#module)); deleting a pool removes its pods
    with its nodes. The blue-green rollout deletes the old pool at the end, or the new one to roll back.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.linode
  - fournines.runbooks.journal
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Says whether the pool would be deleted and which Nodes would go.
  diff_mode:
    support: none
    details: No diff; RV(nodes) names what goes.
options:
  pool_id:
    description: The pool to delete.
    type: int
    required: true
  wait_timeout:
    description: Seconds to wait for the pool's Nodes to leave the cluster.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Delete the old pool after a blue-green rollout
  fournines.runbooks.lke_pool_delete:
    cluster_id: 314159
    pool_id: 270001
    kubeconfig: ~/.kube/lke.yaml
"""

RETURN = r"""
pool_id:
  description: The pool id.
  returned: always
  type: int
nodes:
  description: Names of the Nodes that left with the pool (empty when it did not exist).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode import blue_green
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder


def main():
    module = lke_module(lke_argument_spec(journal=True, pool_id=dict(type="int", required=True),
                                          wait_timeout=dict(type="int", default=600)))
    p = module.params
    rec = StepRecorder(p["journal_dir"], "delete pool %s" % p["pool_id"], module.check_mode)
    try:
        out = blue_green.delete_pool(lke_from_params(p), kube_from_params(p), p["pool_id"],
                                     Deadline(p["wait_timeout"]), check_mode=module.check_mode,
                                     on_change=rec.start)
    except RunbookError as err:
        rec.failed(str(err))
        fail_from_error(module, err)
    step = rec.journal.find_step(rec.name) if rec.journal is not None else None
    if out["changed"] or (step is not None and step["status"] != "done"):
        rec.done(**out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
