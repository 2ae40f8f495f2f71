#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_node_taint
short_description: Add or remove one taint on a Node, removing only taints this collection added
version_added: 0.1.0
description:
  - V(present) adds the taint O(key)=O(value):O(effect) and records it in the Node annotation
    C(runbooks.fournines.io/added-taints). V(absent) removes it only if that annotation says this collection
    added it (or with O(force)), so a cleanup never strips a taint someone else set.
  - Made for the C(node.kubernetes.io/out-of-service) taint a node-failure drill may apply once the node is
    confirmed gone, which lets Kubernetes delete its pods and detach its volumes at once.
  - The taint list is rewritten with the Node's resourceVersion, so a concurrent change fails instead of being
    overwritten.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Says what would change, changes nothing.
  diff_mode:
    support: full
    details: The Node's taints before and after.
options:
  node:
    description: Name of the Node.
    type: str
    required: true
  key:
    description: Taint key.
    type: str
    default: node.kubernetes.io/out-of-service
  value:
    description: Taint value.
    type: str
    default: nodeshutdown
  effect:
    description: Taint effect.
    type: str
    choices: [NoSchedule, PreferNoSchedule, NoExecute]
    default: NoExecute
  state:
    description: V(present) or V(absent).
    type: str
    choices: [present, absent]
    default: present
  force:
    description: With V(absent), also remove the taint when this collection did not add it.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Let the lost node's volumes go at once
  fournines.runbooks.k8s_node_taint:
    node: lke314159-270001-4f3a2b1c
    kubeconfig: ~/.kube/lke.yaml

- name: Take it off again
  fournines.runbooks.k8s_node_taint:
    node: lke314159-270001-4f3a2b1c
    state: absent
"""

RETURN = r"""
taints:
  description: The Node's taints after the task (C(key:effect)).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.drill import fault
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib, RunbookError


def _names(taints):
    return ["%s:%s" % (t.get("key"), t.get("effect")) for t in taints]


def main():
    spec = client.k8s_argument_spec(
        node=dict(type="str", required=True),
        key=dict(type="str", default=fault.OUT_OF_SERVICE_KEY, no_log=False),
        value=dict(type="str", default="nodeshutdown"),
        effect=dict(type="str", default="NoExecute", choices=["NoSchedule", "PreferNoSchedule", "NoExecute"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        force=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    require_lib(module, "kubernetes", client.HAS_K8S, client.K8S_IMPORT_ERROR)
    try:
        kube = client.kube_from_params(p)
        changed, before, after = fault.set_taint(kube, p["node"], p["key"], p["value"], p["effect"],
                                                 present=p["state"] == "present", force=p["force"],
                                                 check_mode=module.check_mode)
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(changed=changed, taints=_names(after),
                     diff={"before": {"taints": _names(before)}, "after": {"taints": _names(after)}})


if __name__ == "__main__":
    main()
