#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_pool_resize
short_description: Set an LKE node pool's size and wait until every node is a Ready Kubernetes Node
version_added: 0.1.0
description:
  - Changes only the pool's C(count); other pools are never touched (unlike a declarative cluster module that
    deletes pools it does not list).
  - With O(wait), returns once the pool has O(count) provisioned nodes and each is a Ready Node.
  - Refuses a pool whose autoscaler is enabled, since the autoscaler would fight the change.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.journal
  - fournines.runbooks.linode
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Reports the change without making it.
  diff_mode:
    support: full
    details: Shows the count before and after.
options:
  pool_id:
    description: The node pool id.
    type: int
    required: true
  count:
    description: Number of nodes the pool should have (1 to 100).
    type: int
    required: true
  wait:
    description: Wait until the pool's nodes are all Ready Nodes.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 900
"""

EXAMPLES = r"""
- name: Surge one node into pool 270001
  fournines.runbooks.lke_pool_resize:
    cluster_id: 314159
    pool_id: 270001
    count: 4
    kubeconfig: ~/.kube/lke.yaml
  register: surge
"""

RETURN = r"""
before:
  description: Count before.
  returned: always
  type: int
after:
  description: Count after.
  returned: always
  type: int
added:
  description: LKE node ids this change added.
  returned: always
  type: list
  elements: str
pool:
  description: The pool as the API returns it after the change.
  returned: always
  type: dict
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_operations import resize_pool
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline


def main():
    module = lke_module(lke_argument_spec(journal=True, pool_id=dict(type="int", required=True),
                                          count=dict(type="int", required=True), wait=dict(type="bool", default=True),
                                          wait_timeout=dict(type="int", default=900)))
    p = module.params
    if not 1 <= p["count"] <= 100:
        module.fail_json(msg="count %d is not valid; an LKE pool has 1 to 100 nodes" % p["count"])
    rec = StepRecorder(p["journal_dir"], "resize pool %s to %s" % (p["pool_id"], p["count"]), module.check_mode)
    try:
        lke = lke_from_params(p)
        rec.start()
        kube = kube_from_params(p) if p["wait"] else None
        out = resize_pool(lke, kube, p["pool_id"], p["count"], Deadline(p["wait_timeout"]), wait=p["wait"],
                          check_mode=module.check_mode, progress=rec.progress)
    except RunbookError as err:
        rec.failed(str(err))
        fail_from_error(module, err)
    rec.done(before=out["before"], after=out["after"], added=out["added"])
    module.exit_json(diff=dict(before={"count": out["before"]}, after={"count": out["after"]}), **out)


if __name__ == "__main__":
    main()
