#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_cnpg_canary
short_description: Create or delete a throw-away CloudNativePG canary cloned from production
version_added: 0.1.0
description:
  - O(state=present) creates a Cluster bootstrapped with C(pg_basebackup) from O(source) (through its
    C(-rw) Service as C(streaming_replica), with the source's replication and CA Secrets) on O(image),
    labelled C(fournines.io/canary-of=<source>), and waits until it is healthy. Production is only read.
  - O(state=absent) deletes it and waits until its pods are gone; it refuses to delete a Cluster that
    is not labelled as a canary of O(source).
  - A canary that already exists on O(image) is only waited for (a re-run after a killed run).
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.postgres.cnpg_clone
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Says whether the canary would be created or deleted; changes nothing.
  diff_mode:
    support: none
    details: Creating or deleting a whole Cluster has no diff.
options:
  image:
    description: The canary's image (O(state=present)); same major as the source (a base backup cannot change the major).
    type: str
  instances:
    description: Instances of the canary.
    type: int
    default: 1
  state:
    description: V(present) or V(absent).
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description: Seconds to wait until the canary is healthy, or gone.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: A clone of production on the new patch release
  fournines.runbooks.postgres_cnpg_canary:
    namespace: shop
    source: pg
    name: pg-canary
    image: ghcr.io/cloudnative-pg/postgresql:17.6

- name: Gone again
  fournines.runbooks.postgres_cnpg_canary:
    namespace: shop
    source: pg
    name: pg-canary
    state: absent
"""

RETURN = r"""
cluster:
  description: The canary's health (see M(fournines.runbooks.postgres_cnpg_cluster_info)).
  returned: when O(state=present)
  type: dict
ready_seconds:
  description: Seconds until the canary was healthy.
  returned: when O(state=present) and not in check mode
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import params, update


def main():
    module = AnsibleModule(
        argument_spec=params.clone_argument_spec(
            image=dict(type="str"),
            instances=dict(type="int", default=1),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            timeout=dict(type="int", default=600)),
        required_if=[("state", "present", ["image"])],
        supports_check_mode=True,
    )
    p = module.params
    params.refuse_clone_of_itself(module, "canary")
    try:
        clusters = params.open_clusters(module)[1]
        if p["state"] == "present":
            result = update.ensure_canary(clusters, p["source"], p["name"], p["image"], p["timeout"],
                                          check_mode=module.check_mode, instances=p["instances"])
        else:
            result = update.remove_cluster(clusters, p["name"], p["timeout"], check_mode=module.check_mode,
                                           canary_of=p["source"])
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
