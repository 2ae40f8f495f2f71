#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lke_cluster_upgrade
short_description: Raise an LKE cluster's control plane one Kubernetes minor and wait for it
version_added: 0.1.0
description:
  - Sets the cluster's C(k8s_version) to O(k8s_version) and waits until the cluster reports it and is ready.
  - Only the next minor is accepted (Kubernetes upgrades one minor at a time); a downgrade, a jump of two
    minors or a version C(/lke/versions) does not list is refused before anything changes.
  - Existing nodes keep their kubelet until they are recycled (see P(fournines.runbooks.lke_node_recycle#module)).
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.journal
  - fournines.runbooks.linode
attributes:
  check_mode:
    details: Validates the step and reports it without changing the cluster.
  diff_mode:
    support: full
    details: Shows the version before and after.
options:
  k8s_version:
    description: Target minor, for example V(1.35). The cluster already on it is a no-op.
    type: str
    required: true
  wait_timeout:
    description: Seconds to wait for the cluster to report the new version.
    type: int
    default: 900
"""

EXAMPLES = r"""
- name: Control plane to 1.35
  fournines.runbooks.lke_cluster_upgrade:
    cluster_id: 314159
    k8s_version: "1.35"
"""

RETURN = r"""
before:
  description: The cluster's minor before.
  returned: always
  type: str
  sample: "1.34"
after:
  description: The cluster's minor after (in check mode, what it would be).
  returned: always
  type: str
  sample: "1.35"
"""

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import lke_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_module import lke_argument_spec, lke_module
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_operations import upgrade_control_plane
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline


def main():
    # the control plane only: no Kubernetes connection
    module = lke_module(lke_argument_spec(journal=True, kube=False, k8s_version=dict(type="str", required=True),
                                          wait_timeout=dict(type="int", default=900)), kubernetes=False)
    p = module.params
    rec = StepRecorder(p["journal_dir"], "control plane %s" % p["k8s_version"], module.check_mode)
    try:
        lke = lke_from_params(p)
        rec.start()
        changed, before, after = upgrade_control_plane(lke, p["k8s_version"], Deadline(p["wait_timeout"]),
                                                       check_mode=module.check_mode, progress=rec.progress)
    except RunbookError as err:
        rec.failed(str(err))
        fail_from_error(module, err)
    rec.done(before=before, after=after, changed=changed)
    module.exit_json(changed=changed, before=before, after=after,
                     diff=dict(before={"k8s_version": before}, after={"k8s_version": after}))


if __name__ == "__main__":
    main()
