#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_cnpg_cluster_info
short_description: Read a CloudNativePG Cluster's health through the Kubernetes API
version_added: 0.1.0
description:
  - Reads a C(postgresql.cnpg.io/v1) Cluster by namespace and name and judges whether it is healthy
    enough to upgrade, from what the operator reports (phase, ready instances, current and target
    primary, condition Ready), the image each instance pod runs, and each replica's replay lag read
    from the instance managers' status endpoints through the API server's pod proxy.
  - A missing Cluster is not an error here (RV(cluster.exists) is false); when a Crunchy PGO
    C(PostgresCluster) of that name exists, RV(cluster.problems) says the runbook does not upgrade it.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.postgres.cnpg_cluster
  - fournines.runbooks.postgres.cnpg_lag
  - kubernetes.core.k8s_auth_options
"""

EXAMPLES = r"""
- name: Is the team's database healthy?
  fournines.runbooks.postgres_cnpg_cluster_info:
    kubeconfig: ~/.kube/config
    namespace: shop
    name: pg
  register: pg

- name: Refuse to go on when it is not
  ansible.builtin.assert:
    that: pg.cluster.healthy
    fail_msg: "{{ pg.cluster.problems | join('; ') }}"
"""

RETURN = r"""
cluster:
  description: The Cluster as the runbook judges it.
  returned: always
  type: dict
  contains:
    exists:
      description: The Cluster exists.
      type: bool
    healthy:
      description: Phase healthy, every instance ready on the Cluster's image, no switchover under way, replicas within O(max_lag_bytes).
      type: bool
    problems:
      description: Why it is not healthy, in words.
      type: list
      elements: str
    image:
      description: spec.imageName.
      type: str
    version:
      description: The PostgreSQL version the image tag names (C(15.18), or C(17) for a major-only tag).
      type: str
    major:
      description: The image's major version.
      type: int
    phase:
      description: status.phase.
      type: str
    instances:
      description: spec.instances.
      type: int
    ready_instances:
      description: status.readyInstances.
      type: int
    current_primary:
      description: status.currentPrimary.
      type: str
    target_primary:
      description: status.targetPrimary.
      type: str
    pods:
      description: Instance pods (C(name), C(image), C(ready), C(phase), C(role)).
      type: list
      elements: dict
    replication_lag_bytes:
      description: Replay lag of each replica in bytes (null when it could not be read or is not streaming).
      type: dict
    superuser_access:
      description: spec.enableSuperuserAccess is true, so a runbook can connect as the superuser (the smoke queries, row
        comparison and write prober of the upgrade runbook do).
      type: bool
    superuser_secret:
      description: The Secret holding the superuser's credentials (spec.superuserSecret, else C(<name>-superuser)).
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import params


def main():
    module = AnsibleModule(
        argument_spec=cnpg_cluster.cluster_argument_spec(**params.LAG_SPEC),
        supports_check_mode=True,
    )
    p = module.params
    try:
        clusters = params.open_clusters(module, judge_lag=True)[1]
        info = clusters.info(p["name"], max_lag_bytes=params.lag_limit(p))
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(changed=False, cluster=info)


if __name__ == "__main__":
    main()
