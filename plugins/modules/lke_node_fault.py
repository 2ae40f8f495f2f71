#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_node_fault
short_description: Delete, power off or boot the Linode instance behind a Kubernetes Node
version_added: 0.1.0
description:
  - Injects a real node failure for a drill - V(delete) deletes the node's Linode instance (LKE notices and
    replaces it, as after a host failure), V(shutdown) powers it off, V(boot) powers it on again (the
    restore of V(shutdown)). The Node object itself is never touched, unlike chaos tools that delete it.
  - The instance comes from the Node's C(spec.providerID) (C(linode://<id>)) or from O(instance_id). An
    instance that does not belong to LKE cluster O(cluster_id) is refused and nothing changes.
  - Idempotent - an instance already deleted, offline or running is left alone and C(changed) is false, so a
    re-run after an interruption never faults twice.
  - RV(ts) is the epoch time the request was sent, the drill's zero point. When nothing changed and
    O(journal_dir) holds the step of an earlier run of this task (a re-run after an interruption), RV(ts) is the
    time that earlier request was sent.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.linode
  - fournines.runbooks.journal
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Resolves and checks the instance, says whether it would change, changes nothing.
  diff_mode:
    support: full
    details: The instance status before and after.
options:
  node:
    description: Name of the Kubernetes Node whose instance to act on.
    type: str
  instance_id:
    description: The Linode instance id, instead of (or as well as) O(node); used to boot a node whose Node is gone.
    type: int
  action:
    description: V(delete), V(shutdown) or V(boot).
    type: str
    required: true
  wait:
    description:
      - Wait until the action completed - V(delete) the instance is gone, V(shutdown) it is offline, V(boot) it
        runs and its Node is Ready.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait).
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Lose the node that runs the app, as a real host failure would
  fournines.runbooks.lke_node_fault:
    cluster_id: 314159
    node: lke314159-270001-4f3a2b1c
    action: delete
    kubeconfig: ~/.kube/lke.yaml

- name: Power it back on
  fournines.runbooks.lke_node_fault:
    cluster_id: 314159
    instance_id: 81000012
    action: boot
    wait: true
"""

RETURN = r"""
action:
  description: The action.
  returned: always
  type: str
node:
  description: The Node's name (when given).
  returned: always
  type: str
instance_id:
  description: The instance acted on.
  returned: always
  type: int
before:
  description: The instance status before (V(deleted) when it no longer exists).
  returned: always
  type: str
ts:
  description: Epoch seconds when the request was sent (or, on a re-run, was sent before); null when unknown.
  returned: always
  type: float
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import fault
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline

AFTER = {"delete": "deleted", "shutdown": "offline", "boot": "running"}


def main():
    spec = lke_argument_spec(
        journal=True,
        node=dict(type="str"),
        instance_id=dict(type="int"),
        action=dict(type="str", required=True),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600))
    # the Kubernetes connection only finds the instance of O(node) and waits for it
    module = lke_module(spec, kubernetes=lambda p: p["node"] or p["wait"], required_one_of=[("node", "instance_id")])
    p = module.params
    if p["action"] not in fault.ACTIONS:
        module.fail_json(msg="action %r is not known; valid actions: %s" % (p["action"], ", ".join(fault.ACTIONS)))
    rec = StepRecorder(p["journal_dir"], "fault %s %s" % (p["action"], p["node"] or p["instance_id"]),
                       module.check_mode)
    try:
        lke = fault.instance_lke_from_params(p)
        kube = client.kube_from_params(p) if p["node"] or p["wait"] else None
        rec.start()
        result = fault.inject(lke, kube, p["action"], p["node"], p["instance_id"], check_mode=module.check_mode,
                              wait=p["wait"], deadline=Deadline(p["wait_timeout"]))
    except RunbookError as err:
        rec.failed(str(err))
        fail_from_error(module, err)
    if result["ts"] is None:
        result["ts"] = fault.earlier_fault_ts(rec.journal, rec.name)
    rec.done(instance_id=result["instance_id"], ts=result["ts"], changed=result["changed"])
    diff = {"before": {"status": result["before"]},
            "after": {"status": AFTER[p["action"]] if result["changed"] else result["before"]}}
    module.exit_json(diff=diff, **result)


if __name__ == "__main__":
    main()
