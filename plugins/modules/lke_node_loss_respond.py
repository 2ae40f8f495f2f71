#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_node_loss_respond
short_description: Taint fenced lost nodes out-of-service, wait for their workloads to move, remove the taint
version_added: 0.2.0
description:
  - V(responded) carries out a plan of M(fournines.runbooks.lke_node_loss_plan). For each node of O(act) it
    re-reads the Node and fences it again through the Linode API right before the write - a node that is Ready
    again, or whose instance runs, gets nothing - then applies C(node.kubernetes.io/out-of-service:NoExecute),
    so Kubernetes deletes its pods and detaches its volumes at once instead of after the 6-minute
    force-detach. The Node is annotated with the run (C(runbooks.fournines.io/node-loss-incident)).
  - It then waits (O(wait_timeout)) until the node's pods are gone, their controllers have every replica Ready
    elsewhere and their volumes are attached to another node, and (O(settle_timeout)) until the node is gone
    (replaced) or Ready again; on a Ready node it removes the taint. O(resume) nodes, tainted by an interrupted
    run, are waited for and released the same way.
  - V(released) only removes the responder's taint from every Ready node (or those in O(nodes)); the playbook
    runs it in C(always), so the taint is never left on a healthy node.
  - Every milestone is recorded in the run journal O(journal_dir) (C(facts.incidents)).
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.linode
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Fences and says what it would taint or release; changes nothing and does not wait.
  diff_mode:
    support: none
    details: Not supported.
options:
  state:
    description: V(responded) or V(released).
    type: str
    choices: [responded, released]
    default: responded
  act:
    description: The plan's C(act) list (dicts with at least C(node)).
    type: list
    elements: dict
    default: []
  resume:
    description: The plan's C(resume) list (node names).
    type: list
    elements: str
    default: []
  nodes:
    description: With V(released), only these nodes; empty means every Ready node with the responder's taint.
    type: list
    elements: str
    default: []
  journal_dir:
    description: The run's folder (C(<reports_dir>/<run_id>)); created when missing.
    type: path
  key:
    description: What the run acts on (the cluster id), recorded in the journal.
    type: str
  event:
    description: The event that started the run (from ansible-rulebook), recorded in the journal.
    type: dict
    default: {}
  skipped:
    description: The plan's C(skipped) list, recorded in the journal.
    type: list
    elements: dict
    default: []
  wait_timeout:
    description: Seconds to wait for the node's workloads to run elsewhere.
    type: int
    default: 600
  settle_timeout:
    description: Seconds to wait for the node to be gone or Ready before leaving the taint to the next run.
    type: int
    default: 1800
  poll:
    description: Seconds between reads of the cluster.
    type: float
    default: 1.0
"""

EXAMPLES = r"""
- name: Respond
  fournines.runbooks.lke_node_loss_respond:
    cluster_id: 314159
    act: "{{ plan.act }}"
    resume: "{{ plan.resume }}"
    journal_dir: /var/lib/fournines/reports/respond-node-loss-20261204T230000Z-ab12
  register: response

- name: Never leave the taint on a healthy node
  fournines.runbooks.lke_node_loss_respond:
    cluster_id: 314159
    state: released
"""

RETURN = r"""
incidents:
  description: By node - C(verdict), C(reason), C(outcome), epoch times of C(tainted), C(pods_gone), C(replaced),
    C(volumes_attached), C(settled_at), C(released), and C(settled) (V(gone), V(ready) or null).
  returned: always
  type: dict
tainted:
  description: Nodes tainted by this task.
  returned: always
  type: list
  elements: str
released:
  description: Nodes whose taint this task removed (C(node), C(reason)).
  returned: always
  type: list
  elements: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error
from ansible_collections.fournines.runbooks.plugins.module_utils.drill import fault
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec
from ansible_collections.fournines.runbooks.plugins.module_utils.responder import fencing, orchestrate


def main():
    spec = lke_argument_spec(
        state=dict(type="str", default="responded", choices=["responded", "released"]),
        act=dict(type="list", elements="dict", default=[]),
        resume=dict(type="list", elements="str", default=[]),
        nodes=dict(type="list", elements="str", default=[]),
        journal_dir=dict(type="path"),
        key=dict(type="str", no_log=False),
        event=dict(type="dict", default={}),
        skipped=dict(type="list", elements="dict", default=[]),
        wait_timeout=dict(type="int", default=600),
        settle_timeout=dict(type="int", default=1800),
        poll=dict(type="float", default=1.0))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_if=[("state", "responded", ("journal_dir",))])
    p = module.params
    bad = [a for a in p["act"] if not a.get("node")]
    if bad:
        module.fail_json(msg="every item of act needs a node name (the plan's act list); got %r" % (bad[0],))
    try:
        kube = client.kube_from_params(p)
        if p["state"] == "released":
            released = orchestrate.release_healthy(kube, p["nodes"] or None, module.check_mode)
            module.exit_json(changed=bool(released), released=released, incidents={}, tainted=[])
        lke = fault.instance_lke_from_params(p)
        journal = None
        run_id = os.path.basename(p["journal_dir"].rstrip("/"))
        if not module.check_mode:
            journal = orchestrate.open_run(p["journal_dir"], p["key"], p["event"], p["skipped"])
        incidents = orchestrate.respond(kube, journal, run_id, p["act"], p["resume"], lambda node: fencing.fence(lke, node),
                                        p["wait_timeout"], p["settle_timeout"], p["poll"], module.check_mode)
        released = orchestrate.release_healthy(kube, None, module.check_mode)
    except RunbookError as err:
        fail_from_error(module, err)
    tainted = sorted(n for n, r in incidents.items() if r.get("tainted") and not r.get("resumed_from"))
    would = sorted(n for n, r in incidents.items() if module.check_mode and "would taint" in (r.get("outcome") or ""))
    module.exit_json(changed=bool(tainted or would or released or [n for n, r in incidents.items() if r.get("released")]),
                     incidents=incidents, tainted=tainted or would, released=released)


if __name__ == "__main__":
    main()
