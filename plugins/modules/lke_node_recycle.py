#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_node_recycle
short_description: Recycle LKE nodes and wait until each new instance is a Ready Node on the target version
version_added: 0.1.0
description:
  - Asks LKE to replace each node's Linode and waits until the node's new instance is a Ready Kubernetes Node
    whose kubelet runs O(target_version). LKE answering 200 only means the request was accepted.
  - Idempotent across interruptions. A node whose instance is no longer C(instance_id) (or that is
    still provisioning) was recycled before, so only the wait remains; a node is never recycled twice.
  - Drain the nodes first (P(fournines.runbooks.k8s_node_drain#module)); recycling erases emptyDir, hostPath and local volumes.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.journal
  - fournines.runbooks.linode
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Reports which nodes would be recycled.
  diff_mode:
    support: none
    details: No diff; RV(nodes) lists old and new instances.
options:
  nodes:
    description:
      - The nodes to recycle, all at the same time. Each is a dictionary with C(id), the LKE node id (for example
        V(270001-4f3a2b1c0d)), and optionally C(instance_id), the instance to replace. When C(instance_id) is no
        longer the node's instance the recycle already happened; when it is omitted, the node's current instance
        is recycled unless its kubelet already runs the target. Other keys (as in
        P(fournines.runbooks.lke_cluster_info#module) results) are ignored.
    type: list
    elements: dict
    required: true
  target_version:
    description: Kubernetes minor the replacement's kubelet must run, for example V(1.35).
    type: str
    required: true
  wait_timeout:
    description: Seconds to wait for all replacements (one deadline for the whole batch).
    type: int
    default: 1200
"""

EXAMPLES = r"""
- name: Recycle one drained node
  fournines.runbooks.lke_node_recycle:
    cluster_id: 314159
    nodes:
      - id: 270001-4f3a2b1c0d
        instance_id: 81000002
    target_version: "1.35"
    kubeconfig: ~/.kube/lke.yaml
"""

RETURN = r"""
nodes:
  description: Per node, C(node_id), C(old_instance_id), C(old_node_name), C(changed), and after the wait
    C(new_instance_id), C(node_name), C(kubelet_version), C(seconds).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_operations import recycle_batch
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline


def main():
    module = lke_module(lke_argument_spec(
        journal=True,
        nodes=dict(type="list", elements="dict", required=True),
        target_version=dict(type="str", required=True),
        wait_timeout=dict(type="int", default=1200)))
    p = module.params
    try:
        p["nodes"] = [{"id": str(n["id"]), "instance_id": int(n["instance_id"]) if n.get("instance_id") is not None else None}
                      for n in p["nodes"]]
    except (KeyError, TypeError, ValueError):
        module.fail_json(msg="nodes must be a list of {id: <LKE node id>, instance_id: <int, optional>}; got %r"
                         % (p["nodes"],))
    rec = StepRecorder(p["journal_dir"], "recycle %s" % ",".join(n["id"] for n in p["nodes"]), module.check_mode)
    try:
        lke = lke_from_params(p)
        rec.start(nodes=p["nodes"])
        kube = kube_from_params(p)
        nodes = recycle_batch(lke, kube, p["nodes"], p["target_version"], Deadline(p["wait_timeout"]),
                              check_mode=module.check_mode, progress=rec.progress)
    except RunbookError as err:
        rec.failed(str(err))
        fail_from_error(module, err)
    rec.done(results=nodes)
    module.exit_json(changed=any(n["changed"] for n in nodes), nodes=nodes)


if __name__ == "__main__":
    main()
