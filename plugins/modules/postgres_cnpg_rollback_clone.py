#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_cnpg_rollback_clone
short_description: Keep, or promote, the pre-upgrade replica clone of a CloudNativePG Cluster
version_added: 0.1.0
description:
  - The way back from a failed in-place major upgrade. Once the operator's upgrade Job has run,
    putting the old image back does not recover a Cluster, whose data directory belongs to the new major.
  - O(state=present) creates a replica Cluster of O(source) on the source's current (old) image,
    bootstrapped with C(pg_basebackup) and streaming from the source's C(-rw) Service, labelled
    C(fournines.io/canary-of=<source>) and C(fournines.io/role=pre-upgrade-clone), and waits until it is
    healthy. It streams until the source stops for the upgrade, so it holds every write committed before.
    Take it before the upgrade; a source already being raised is refused.
  - O(state=promoted) turns the clone into a standalone primary (C(spec.replica.enabled=false),
    irreversible) and returns only once it really serves writes and the operator is done with it. Right after
    the promotion the operator restarts the new primary once more in place to apply a primary's configuration
    (phases C(Applying configuration), then C(Primary instance is being restarted in-place)), and a client that
    connects then is told "the database system is shutting down". So the module waits until the primary is out of
    recovery with no restart pending, the Cluster is healthy, and a write transaction (C(txid_current()), no row)
    through C(<name>-rw) succeeds at every poll for 5 s; point the application at C(<name>-rw) afterwards.
  - Delete it with M(fournines.runbooks.postgres_cnpg_canary) O(fournines.runbooks.postgres_cnpg_canary#module:state=absent)
    (it carries the canary label of its source).
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.postgres.cnpg_clone
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Says whether the clone would be created or promoted; changes nothing.
  diff_mode:
    support: none
    details: Creating a whole Cluster, or promoting it, has no diff.
options:
  state:
    description: V(present) (a streaming replica clone) or V(promoted) (a standalone primary).
    type: str
    choices: [present, promoted]
    default: present
  timeout:
    description: Seconds to wait until the clone is healthy.
    type: int
    default: 900
requirements:
  - kubernetes
  - psycopg2 (O(state=promoted))
"""

EXAMPLES = r"""
- name: Keep a way back before the major upgrade
  fournines.runbooks.postgres_cnpg_rollback_clone:
    namespace: shop
    source: pg
    name: pg-preupgrade

- name: The upgrade failed - promote the clone, then point the app at pg-preupgrade-rw
  fournines.runbooks.postgres_cnpg_rollback_clone:
    namespace: shop
    source: pg
    name: pg-preupgrade
    state: promoted
"""

RETURN = r"""
image:
  description: The clone's image (the source's major before the upgrade).
  returned: state=present, not in check mode
  type: str
cluster:
  description: The clone's health (see M(fournines.runbooks.postgres_cnpg_cluster_info)).
  returned: not in check mode
  type: dict
serving_after_seconds:
  description: Seconds from the promotion until the clone began serving writes steadily (after the operator's restart).
  returned: state=promoted, not in check mode
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import major, params


def main():
    module = AnsibleModule(
        argument_spec=params.clone_argument_spec(
            state=dict(type="str", choices=["present", "promoted"], default="present"),
            timeout=dict(type="int", default=900)),
        supports_check_mode=True,
    )
    p = module.params
    params.refuse_clone_of_itself(module, "preupgrade")
    if p["state"] == "promoted" and not module.check_mode:
        require_lib(module, "psycopg2", sql.HAS_PSYCOPG2)  # the write that proves the promoted clone serves
    try:
        clusters = params.open_clusters(module)[1]
        if p["state"] == "present":
            result = major.ensure_rollback_clone(clusters, p["source"], p["name"], p["timeout"], check_mode=module.check_mode)
        else:
            result = major.promote_rollback_clone(clusters, p["source"], p["name"], p["timeout"], check_mode=module.check_mode)
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
