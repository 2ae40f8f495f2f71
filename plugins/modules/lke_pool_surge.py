#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_pool_surge
short_description: Add one surge node to an LKE pool for its rollout, once, and say what is left to roll
version_added: 0.1.0
description:
  - Finds the pool's old nodes (kubelet below O(target_version)). If any are left, raises the pool to its original
    size plus one and waits until every node is a Ready Node (see P(fournines.runbooks.lke_pool_resize#module)).
  - Resumable through the run's journal (O(journal_dir)). The original size and node ids are recorded before the
    resize and the surge node id after it, so a re-run after an interruption finds the same surge node and never
    adds a second one. Without O(journal_dir) the pool's current size counts as the original. The journal step
    C(resize pool <pool_id> (surge)) is C(running) from the resize until the surge node is Ready, then C(done), also
    when the Ready surge node is found by a re-run that did not ask for it (a run killed while the node joined).
  - Remove the surge node at the end with P(fournines.runbooks.k8s_node_drain#module) and
    P(fournines.runbooks.lke_node_delete#module).
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.linode
  - fournines.runbooks.journal
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Reports the old nodes and whether the pool would be resized.
  diff_mode:
    support: none
    details: No diff; RV(original_count) and RV(surge_node_id) tell the change.
options:
  pool_id:
    description: The node pool id.
    type: int
    required: true
  target_version:
    description: Kubernetes minor the rollout moves the nodes to, for example V(1.35).
    type: str
    required: true
  wait_timeout:
    description: Seconds to wait for the surge node to be a Ready Node.
    type: int
    default: 900
"""

EXAMPLES = r"""
- name: Surge pool 270001 for its rollout
  fournines.runbooks.lke_pool_surge:
    cluster_id: 314159
    pool_id: 270001
    target_version: "1.35"
    kubeconfig: ~/.kube/lke.yaml
    journal_dir: "reports/{{ run_id }}"
  register: surge
"""

RETURN = r"""
old:
  description: The pool's nodes still to roll (as in P(fournines.runbooks.lke_cluster_info#module) pools).
  returned: always
  type: list
  elements: dict
original_count:
  description: The pool's size before the rollout.
  returned: always
  type: int
surge_node_id:
  description: LKE node id of the surge node (null when none is needed or it was already removed).
  returned: always
  type: str
surge_node_name:
  description: Kubernetes Node name of the surge node.
  returned: always
  type: str
unfinished_recycles:
  description:
    - The recycles a killed run requested and left running in the journal whose nodes are no longer in RV(old)
      (each a list of C({id, instance_id}), as given to P(fournines.runbooks.lke_node_recycle#module)). Their
      recycle went through, so the batches will not visit them again; the role gives each to
      P(fournines.runbooks.lke_node_recycle#module), which only waits for the Node and ends the step.
  returned: always
  type: list
  elements: list
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder, open_journal
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_operations import pool_surge, unfinished_recycles
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline


def main():
    module = lke_module(lke_argument_spec(journal=True, pool_id=dict(type="int", required=True),
                                          target_version=dict(type="str", required=True),
                                          wait_timeout=dict(type="int", default=900)))
    p = module.params
    rec = StepRecorder(p["journal_dir"], "resize pool %s (surge)" % p["pool_id"], module.check_mode)
    try:
        # one journal object for the facts and the step, so neither write loses the other
        journal = rec.journal if rec.journal is not None else (
            open_journal(p["journal_dir"]) if p["journal_dir"] else None)
        lke, kube = lke_from_params(p), kube_from_params(p)
        out = pool_surge(lke, kube, p["pool_id"], p["target_version"], Deadline(p["wait_timeout"]),
                         journal=journal, check_mode=module.check_mode, progress=rec.progress, on_change=rec.start)
        step = journal.find_step(rec.name) if journal is not None and not module.check_mode else None
        # done once the surge node is Ready: also when a re-run found the surge node a killed run asked for
        if out["changed"] or (step is not None and step["status"] != "done" and out["surge_node_id"] is not None):
            rec.done(original_count=out["original_count"], surge_node_id=out["surge_node_id"], found=not out["changed"])
        out["unfinished_recycles"] = unfinished_recycles(
            journal.state.get("steps") if journal is not None else [], [n["id"] for n in out["old"]])
    except RunbookError as err:
        rec.failed(str(err))
        fail_from_error(module, err)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
