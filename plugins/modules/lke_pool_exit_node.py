#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_pool_exit_node
short_description: Choose which node leaves an LKE pool after a surge rollout, so no pod moves twice
version_added: 0.1.0
description:
  - After a surge rollout the pool has one node more than before. Instead of always removing the surge node (every
    pod that landed there would move a second time), chooses the pool's node that hosts the fewest
    disruption-sensitive pods (single replicas, bare pods, ReadWriteOnce claims), then the fewest pods, then the
    surge node.
  - Resumable through the run's journal (O(journal_dir)). The choice is recorded before anything moves, so a re-run
    after an interruption returns the same node; once it has left the pool, RV(node_id) is null.
  - Drain the chosen node with P(fournines.runbooks.k8s_node_drain#module) and delete it with
    P(fournines.runbooks.lke_node_delete#module).
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.linode
  - fournines.runbooks.journal
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Returns the node that would leave; the journal is not written.
  diff_mode:
    support: none
    details: Changes nothing, so there is no diff.
options:
  pool_id:
    description: The node pool id.
    type: int
    required: true
  original_count:
    description: The pool's size before the rollout (RV(fournines.runbooks.lke_pool_surge#module:original_count)).
    type: int
    required: true
  surge_node_id:
    description: LKE node id of the surge node, preferred when several nodes cost the same.
    type: str
"""

EXAMPLES = r"""
- name: Choose the node that leaves pool 270001
  fournines.runbooks.lke_pool_exit_node:
    cluster_id: 314159
    pool_id: 270001
    original_count: "{{ surge.original_count }}"
    surge_node_id: "{{ surge.surge_node_id }}"
    kubeconfig: ~/.kube/lke.yaml
    journal_dir: "reports/{{ run_id }}"
  register: leaving
"""

RETURN = r"""
node_id:
  description: LKE node id of the node to drain and delete; null when the pool is back at its original size.
  returned: always
  type: str
node_name:
  description: Kubernetes Node name of that node.
  returned: always
  type: str
ranking:
  description: Each candidate (node_name, sensitive pods with reasons, pods), cheapest first.
  returned: always
  type: list
  elements: dict
reason:
  description: Why this node (or why none).
  returned: always
  type: str
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import open_journal
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.pool_exit import choose_leaving_node


def main():
    module = lke_module(lke_argument_spec(journal=True, pool_id=dict(type="int", required=True),
                                          original_count=dict(type="int", required=True), surge_node_id=dict(type="str")))
    p = module.params
    if p["original_count"] < 1:
        module.fail_json(msg="original_count must be 1 or more (the pool's size before the surge), got %d"
                         % p["original_count"])
    try:
        journal = open_journal(p["journal_dir"]) if p["journal_dir"] and not module.check_mode else None
        out = choose_leaving_node(lke_from_params(p), kube_from_params(p), p["pool_id"], p["original_count"],
                                  surge_node_id=p["surge_node_id"], journal=journal, check_mode=module.check_mode)
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
