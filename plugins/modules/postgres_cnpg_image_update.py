#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_cnpg_image_update
short_description: Change a CloudNativePG Cluster's PostgreSQL image and wait for the operator's update
version_added: 0.1.0
description:
  - Sets C(spec.imageName) of a C(postgresql.cnpg.io/v1) Cluster. For O(upgrade=minor) it also sets
    C(primaryUpdateMethod=switchover), so the operator updates the replicas first and then switches
    over to an updated replica instead of restarting the primary; for O(upgrade=major) the operator
    runs its in-place C(pg_upgrade) Job.
  - Refuses, before any change, a Cluster that does not exist or is not healthy (phase, ready
    instances, a switchover under way, a replica behind by more than O(max_lag_bytes)) and a target
    image of the wrong major (a minor update keeps the major; a major upgrade raises it).
  - A Cluster already set to O(image) (a re-run after a killed run) is not changed again; the module
    waits until it is healthy on it.
  - A change the operator's admission webhook refuses fails with the webhook's message; nothing is changed.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.postgres.cnpg_cluster
  - fournines.runbooks.postgres.cnpg_lag
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Says whether the image would change, after the same refusals; patches nothing.
  diff_mode:
    support: full
    details: The image before and after.
options:
  image:
    description: The target image; its tag must start with the PostgreSQL version (C(15.20), C(17)).
    type: str
    required: true
  upgrade:
    description: V(minor) keeps the major (rolling update with a switchover); V(major) raises it (in-place pg_upgrade).
    type: str
    choices: [minor, major]
    default: minor
  wait:
    description: Wait until every instance runs O(image) and the Cluster is healthy.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the update.
    type: int
    default: 900
  label_primary:
    description:
      - With O(upgrade=minor) and O(wait), label the new primary pod for the C(-rw) Service (C(cnpg.io/instanceRole=primary),
        the old one C(replica)) as soon as the switchover is over, as the operator does a few seconds later. The new
        primary records itself in C(status.currentPrimary) after its promotion, which follows the old primary's clean
        shutdown, while the operator is still busy with the old primary's restart; until the labels change the C(-rw)
        Service selects no pod and writes fail. The rule is the operator's own (the pod C(currentPrimary) names, once it
        equals C(targetPrimary)), and the operator finds the labels right and leaves them.
      - Needs C(patch) on pods in the namespace. V(false) leaves the labels to the operator.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: New patch release, replicas first, then a switchover
  fournines.runbooks.postgres_cnpg_image_update:
    namespace: shop
    name: pg
    image: ghcr.io/cloudnative-pg/postgresql:17.6
    upgrade: minor
"""

RETURN = r"""
image_before:
  description: spec.imageName before the run.
  returned: always
  type: str
patched:
  description: This run patched the image (false on a re-run that found it already set).
  returned: always
  type: bool
before:
  description: The Cluster's health before (see M(fournines.runbooks.postgres_cnpg_cluster_info)).
  returned: always
  type: dict
after:
  description: The Cluster's health after the update.
  returned: when waited or in check mode
  type: dict
labelled:
  description: Pods whose role label this run set ahead of the operator (C(pod), C(role), C(at) epoch seconds).
  returned: when O(label_primary) applied
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import params, update


def main():
    module = AnsibleModule(
        argument_spec=cnpg_cluster.cluster_argument_spec(
            image=dict(type="str", required=True),
            upgrade=dict(type="str", choices=list(update.UPGRADES), default="minor"),
            wait=dict(type="bool", default=True),
            timeout=dict(type="int", default=900),
            label_primary=dict(type="bool", default=True), **params.LAG_SPEC),
        supports_check_mode=True,
    )
    p = module.params
    try:
        clusters = params.open_clusters(module, judge_lag=True)[1]
        result = update.update_image(clusters, p["name"], p["image"], p["upgrade"], p["timeout"],
                                     check_mode=module.check_mode, wait=p["wait"],
                                     max_lag_bytes=params.lag_limit(p), label_primary=p["label_primary"])
    except RunbookError as err:
        fail_from_error(module, err)
    result["diff"] = params.image_diff(result["image_before"], p["image"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
