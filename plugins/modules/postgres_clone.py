#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_clone
short_description: Copy a running PostgreSQL server with pg_basebackup (canary clone or new replica)
version_added: 0.1.0
description:
  - Takes a base backup of the server at O(login_host):O(login_port) into O(data_dir) and appends
    O(settings) (port, sockets) to its postgresql.conf. With O(standby) the copy is a streaming
    replica of the source.
  - An existing cluster in O(data_dir) is left alone unless O(replace) is set.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.postgres
attributes:
  check_mode:
    details: Reports whether a copy would be made.
  diff_mode:
    support: none
    details: A new directory; nothing to diff.
options:
  bindir:
    description: Bindir whose pg_basebackup is used (same major as the source).
    type: path
    required: true
  data_dir:
    description: Where the copy goes.
    type: path
    required: true
  standby:
    description: Make the copy a streaming replica (C(-R)).
    type: bool
    default: false
  application_name:
    description: C(application_name) the copy uses when it streams.
    type: str
  replace:
    description: Replace an existing (stopped) cluster in O(data_dir).
    type: bool
    default: false
  os_user:
    description: OS user that will own the copy.
    type: str
    default: postgres
  settings:
    description: Settings appended to the copy's postgresql.conf.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Clone the primary for a canary upgrade
  fournines.runbooks.postgres_clone:
    login_port: 5432
    login_user: replicator
    login_password: "{{ replication_password }}"
    bindir: /usr/lib/postgresql/15/bin
    data_dir: /srv/canary/15
    settings:
      port: 50440
"""

RETURN = r"""
clone:
  description: C(data_dir), C(seconds) and C(standby), or C(already_present).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.sql import conn_params, CONNECTION_SPEC, HAS_PSYCOPG2
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.server import bindir_version
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.upgrade import clone


def main():
    module = AnsibleModule(argument_spec=dict(
        CONNECTION_SPEC, bindir=dict(type="path", required=True), data_dir=dict(type="path", required=True),
        standby=dict(type="bool", default=False), application_name=dict(type="str"),
        replace=dict(type="bool", default=False), os_user=dict(type="str", default="postgres"),
        settings=dict(type="dict", default={}),  # free-form: any postgresql.conf setting
    ), supports_check_mode=True)
    p = module.params
    require_lib(module, "psycopg2", HAS_PSYCOPG2)
    try:
        bindir_version(p["bindir"])
        changed, result = clone(conn_params(p), p["bindir"], p["data_dir"], p["os_user"], p["standby"], p["settings"],
                                p["application_name"], module.check_mode, p["replace"])
    except PostgresError as err:
        fail_from_error(module, err)
    module.exit_json(changed=changed, clone=result)


if __name__ == "__main__":
    main()
