#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_cnpg_base_backup
short_description: Take a base backup of a CloudNativePG Cluster into a volume, without an object store
version_added: 0.1.0
description:
  - Runs a Job of the Cluster's own image that takes C(pg_basebackup) (tar, compressed, WAL streamed,
    fast checkpoint) through the C(-rw) Service as C(streaming_replica), with the operator's replication
    certificate, into a new PersistentVolumeClaim of the Cluster's StorageClass, and waits until it is done.
  - Meant for the end of a major upgrade, when older backups can no longer be restored into the new major.
    A Cluster with an object store is better served by a CloudNativePG C(Backup) object.
  - Job and claim are named after O(run_id) (C(<name>-basebackup-<run_id>)); a re-run finds the Job
    again and only waits. The claim is kept; delete it when a newer backup exists.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.postgres.cnpg_cluster
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Says whether a backup Job would be created; creates nothing.
  diff_mode:
    support: none
    details: A backup has no diff.
options:
  run_id:
    description: Id of the run the backup belongs to (lower case letters, digits and C(-)).
    type: str
    required: true
  size:
    description: Size of the claim the backup is written to (a Kubernetes quantity).
    type: str
    default: 2Gi
  timeout:
    description: Seconds to wait for the backup.
    type: int
    default: 1800
"""

EXAMPLES = r"""
- name: A base backup on the new major before the runbook says done
  fournines.runbooks.postgres_cnpg_base_backup:
    namespace: shop
    name: pg
    run_id: cnpg-20261205t0300z
    size: 20Gi
"""

RETURN = r"""
job:
  description: Name of the backup Job.
  returned: always
  type: str
pvc:
  description: Name of the claim that holds the backup (C(base.tar.gz), C(pg_wal.tar.gz) under C(/<run_id>/)).
  returned: always
  type: str
seconds:
  description: Seconds this run waited for the backup.
  returned: when not in check mode
  type: float
bytes:
  description: Size of the backup.
  returned: when the Job reported it
  type: int
server_version:
  description: pg_config's version of the image that took it (the new major).
  returned: when the Job reported it
  type: str
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import basebackup, params
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster


def main():
    module = AnsibleModule(
        argument_spec=cnpg_cluster.cluster_argument_spec(
            run_id=dict(type="str", required=True),
            size=dict(type="str", default="2Gi"),
            timeout=dict(type="int", default=1800)),
        supports_check_mode=True,
    )
    p = module.params
    if not re.match(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", p["run_id"]):
        module.fail_json(msg="run_id %r is not valid; give lower case letters, digits and '-' (a Kubernetes name), "
                             "such as cnpg-20261205t0300z" % p["run_id"])
    try:
        kube, clusters = params.open_clusters(module)
        obj = clusters.require(p["name"])
        result = basebackup.take(kube, obj, p["run_id"], p["size"], p["timeout"], check_mode=module.check_mode)
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
