#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_cluster_info
short_description: Facts about one PostgreSQL server that upgrades and switchovers depend on
version_added: 0.1.0
description:
  - Returns the version, the role (primary or replica), replication state and lag, long
    transactions, prepared transactions, replication slots, installed extensions per database,
    the running bindir and the settings that matter to pg_upgrade.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.postgres
options:
  long_transaction_seconds:
    description: Transactions open longer than this are listed in RV(info.long_transactions).
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Read the primary
  fournines.runbooks.postgres_cluster_info:
    login_port: 15432
    login_password: "{{ postgres_password }}"
  register: primary
"""

RETURN = r"""
info:
  description: The facts.
  returned: always
  type: dict
  contains:
    version:
      description: Server version, MAJOR.MINOR.
      type: str
      sample: "15.17"
    major:
      description: Major version.
      type: int
      sample: 15
    role:
      description: V(primary) or V(replica).
      type: str
    bindir:
      description: Directory of the running postgres binary (when the server runs on this host).
      type: str
    replication:
      description: On a primary the connected replicas and their lag in bytes; on a replica receive/replay LSNs and whether it streams.
      type: dict
    long_transactions:
      description: Client transactions open longer than O(long_transaction_seconds).
      type: list
      elements: dict
    prepared_transactions:
      description: Number of prepared transactions.
      type: int
    replication_slots:
      description: Replication slots.
      type: list
      elements: dict
    extensions:
      description: Installed extensions per database.
      type: dict
    settings:
      description: data_checksums, encoding, locale, shared_preload_libraries and other settings that matter to pg_upgrade.
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.sql import cluster_info, conn_params, CONNECTION_SPEC, HAS_PSYCOPG2
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError


def main():
    spec = dict(CONNECTION_SPEC, long_transaction_seconds=dict(type="int", default=60))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    require_lib(module, "psycopg2", HAS_PSYCOPG2)
    try:
        info = cluster_info(conn_params(module.params), module.params["long_transaction_seconds"])
    except PostgresError as err:
        fail_from_error(module, err)
    module.exit_json(changed=False, info=info)


if __name__ == "__main__":
    main()
