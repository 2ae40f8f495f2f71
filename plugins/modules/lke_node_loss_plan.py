#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_node_loss_plan
short_description: Decide which lost LKE nodes the node-loss responder may taint, fencing them first
version_added: 0.2.0
description:
  - Reads the cluster's Nodes and sorts them - lost nodes (Ready is False or Unknown) are candidates, lost
    nodes that already carry the responder's out-of-service taint are a response to finish, Ready nodes that
    still carry it must be released.
  - Fences each candidate through the Linode API - only an instance that answers 404 (deleted or replaced)
    or is powered off counts as fenced. A running instance (a network partition), an instance of another
    cluster, or an API that fails past O(api_timeout) (429 and 5xx are retried with backoff) means no taint.
  - Refuses to act while an upgrade or drill runbook of this collection holds the cluster (its journal in
    O(hold_reports_dirs) is still running), unless O(ignore_holds); a drill whose plan allows the responder does
    not hold it. Never plans more than O(limit) tainted nodes at once, and a node (same instance) only once
    within O(once_within) seconds.
  - Only reads; changes nothing, so it runs the same in check mode.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.linode
  - kubernetes.core.k8s_auth_options
options:
  nodes:
    description: Only consider these Nodes (the event's node); empty considers every lost node.
    type: list
    elements: str
    default: []
  limit:
    description: Most nodes carrying the responder's taint at once (those of unfinished responses count).
    type: int
    default: 1
  reports_dir:
    description: Where the responder's run journals are (for O(once_within)).
    type: path
    required: true
  hold_reports_dirs:
    description: Where the journals of the runbooks that hold the cluster are; empty means O(reports_dir).
    type: list
    elements: path
    default: []
  hold_runbooks:
    description: Runbooks (journal names) whose running runs hold the cluster.
    type: list
    elements: str
    default: [upgrade-cluster, node-failure-drill]
  hold_max_age:
    description: Seconds after its last journal update a running run stops holding (an abandoned journal).
    type: int
    default: 21600
  ignore_holds:
    description: Act even while a hold exists.
    type: bool
    default: false
  once_within:
    description: Seconds during which a node with the same instance is not tainted again (one incident).
    type: int
    default: 1800
"""

EXAMPLES = r"""
- name: Plan the response to the node an event named
  fournines.runbooks.lke_node_loss_plan:
    cluster_id: 314159
    nodes: [lke314159-270001-4f3a2b1c]
    reports_dir: /var/lib/fournines/reports
    kubeconfig: ~/.kube/lke.yaml
  register: plan
"""

RETURN = r"""
run_id:
  description: A new run id for this response (C(respond-node-loss-<time>-<random>)); the plan itself writes nothing.
  returned: always
  type: str
act:
  description: Fenced lost nodes to taint now, each with C(node), C(instance_id), C(verdict), C(reason), C(checked),
    C(lost_since), C(last_heartbeat).
  returned: always
  type: list
  elements: dict
resume:
  description: Lost nodes that already carry the responder's taint (a response to finish).
  returned: always
  type: list
  elements: str
release:
  description: Ready nodes that still carry the responder's taint.
  returned: always
  type: list
  elements: str
skipped:
  description: Lost nodes not acted on, with C(node) and C(reason).
  returned: always
  type: list
  elements: dict
verdicts:
  description: The fencing verdict of each node asked about, by node name.
  returned: always
  type: dict
holds:
  description: Runs that hold the cluster (C(runbook), C(run_id), C(updated), C(dir)).
  returned: always
  type: list
  elements: dict
allowing:
  description: Drill runs that hold the cluster but allow the responder.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error
from ansible_collections.fournines.runbooks.plugins.module_utils.drill import fault
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import new_run_id
from ansible_collections.fournines.runbooks.plugins.module_utils.responder import fencing, incident


def main():
    spec = lke_argument_spec(
        nodes=dict(type="list", elements="str", default=[]),
        limit=dict(type="int", default=1),
        reports_dir=dict(type="path", required=True),
        hold_reports_dirs=dict(type="list", elements="path", default=[]),
        hold_runbooks=dict(type="list", elements="str", default=list(incident.DEFAULT_HOLDERS)),
        hold_max_age=dict(type="int", default=21600),
        ignore_holds=dict(type="bool", default=False),
        once_within=dict(type="int", default=1800))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    if p["limit"] < 0:
        module.fail_json(msg="limit=%d is not valid; give 0 (act on none) or more nodes" % p["limit"])
    try:
        kube = client.kube_from_params(p)
        lke = fault.instance_lke_from_params(p)
        holding, allowing = incident.holds(p["hold_reports_dirs"] or [p["reports_dir"]], p["cluster_id"],
                                           p["hold_runbooks"], p["hold_max_age"])
        result = incident.plan(
            kube.nodes(), [n for n in p["nodes"] if n], p["limit"], holding,
            lambda name, iid: incident.handled_recently(p["reports_dir"], name, iid, p["once_within"]),
            lambda node: fencing.fence(lke, node), ignore_holds=p["ignore_holds"],
            lease=lambda name: kube.get("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s" % name,
                                        ok_missing=True))
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(changed=False, run_id=new_run_id(incident.RUNBOOK), holds=holding, allowing=allowing, **result)


if __name__ == "__main__":
    main()
