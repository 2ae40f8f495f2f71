#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_node_delete
short_description: Delete an LKE node (its pool shrinks by one) and wait until its Node is gone
version_added: 0.1.0
description:
  - Deletes one node of a pool, as the upgrade does with its surge node, and waits until the Kubernetes Node
    of its instance has left the cluster.
  - A node that no longer exists is a no-op. Drain the node first.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.journal
  - fournines.runbooks.linode
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Reports whether the node would be deleted.
  diff_mode:
    support: none
    details: No diff.
options:
  node_id:
    description: LKE node id, for example V(270001-4f3a2b1c0d).
    type: str
    required: true
  wait_timeout:
    description: Seconds to wait for the Node to disappear.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Remove the surge node
  fournines.runbooks.lke_node_delete:
    cluster_id: 314159
    node_id: 270001-9e8d7c6b5a
    kubeconfig: ~/.kube/lke.yaml
"""

RETURN = r"""
node_id:
  description: The node id.
  returned: always
  type: str
instance_id:
  description: The deleted instance.
  returned: when the node existed
  type: int
node_name:
  description: The deleted Node's name.
  returned: when the node existed
  type: str
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_operations import delete_node
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline


def main():
    module = lke_module(lke_argument_spec(journal=True, node_id=dict(type="str", required=True),
                                          wait_timeout=dict(type="int", default=600)))
    p = module.params
    rec = StepRecorder(p["journal_dir"], "delete node %s" % p["node_id"], module.check_mode)
    try:
        rec.start()
        out = delete_node(lke_from_params(p), kube_from_params(p), p["node_id"], Deadline(p["wait_timeout"]),
                          check_mode=module.check_mode)
    except RunbookError as err:
        rec.failed(str(err))
        fail_from_error(module, err)
    rec.done(**out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
