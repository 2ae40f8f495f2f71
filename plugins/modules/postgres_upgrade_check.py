#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_upgrade_check
short_description: Preflight of a PostgreSQL major upgrade, each finding named
version_added: 0.1.0
description:
  - Checks both bindirs (they exist, hold the declared majors and the tools pg_upgrade needs)
    and that O(old_data_dir) is a cluster of the old major.
  - Against the running old cluster, checks every installed extension against what the new
    binaries provide, C(shared_preload_libraries) against the new pkglibdir, C(reg*) columns,
    prepared transactions and replication slots, and reports data-checksum, encoding and
    locale settings (the new cluster is initialised to match them).
  - Runs C(pg_upgrade --check) with the same transfer mode and jobs as the real run against a
    throw-away new cluster under O(work_dir), removed afterwards.
  - Changes nothing on the old cluster, so it runs the same in check mode.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.postgres
  - fournines.runbooks.postgres.pg_upgrade
options:
  work_dir:
    description: Where pg_upgrade writes its output and the throw-away new cluster lives.
    type: path
    required: true
  new_settings:
    description: Settings written into the new cluster's postgresql.conf (for example shared_preload_libraries).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Would 15 -> 18 with --link work?
  fournines.runbooks.postgres_upgrade_check:
    login_port: 5432
    login_password: "{{ postgres_password }}"
    old_bindir: /usr/lib/postgresql/15/bin
    new_bindir: /usr/lib/postgresql/18/bin
    old_data_dir: /var/lib/postgresql/15/main
    old_major: 15
    new_major: 18
    transfer: link
    new_port: 50432
    socket_dir: /var/run/postgresql
    work_dir: /var/lib/postgresql/upgrade-work
  register: check
"""

RETURN = r"""
ok:
  description: Whether no finding of severity V(error) was made and C(pg_upgrade --check) passed.
  returned: always
  type: bool
findings:
  description: One entry per check, with C(check), C(ok), C(severity) (info, warning, error) and C(message).
  returned: always
  type: list
  elements: dict
errors:
  description: Messages of the failed error-severity findings.
  returned: always
  type: list
  elements: str
pg_upgrade_check:
  description: Result of C(pg_upgrade --check) (rc, ok, seconds, reasons, command).
  returned: always
  type: dict
old_version:
  description: Version of the old binaries.
  type: str
  returned: always
new_version:
  description: Version of the new binaries.
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.sql import cluster_info, conn_params, CONNECTION_SPEC, HAS_PSYCOPG2
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.versions import format_version
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.host.upgrade import PG_UPGRADE_SPEC, catalog_findings, run_check, validate_pair


def main():
    spec = dict(CONNECTION_SPEC, work_dir=dict(type="path", required=True), new_settings=dict(type="dict", default={}))
    spec.update(PG_UPGRADE_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    require_lib(module, "psycopg2", HAS_PSYCOPG2)
    try:
        old_version, new_version = validate_pair(p["old_bindir"], p["new_bindir"], p["old_data_dir"], p["old_major"], p["new_major"])
        conn = conn_params(p)
        info = cluster_info(conn)
        findings = catalog_findings(conn, p["new_bindir"], info)
        check = run_check(p["old_bindir"], p["new_bindir"], p["old_data_dir"], p["work_dir"], p["transfer"], p["jobs"],
                          conn["port"], p["new_port"], p["socket_dir"], p["os_user"], conn["user"], p["new_settings"])
    except PostgresError as err:
        fail_from_error(module, err)
    findings.append({"check": "pg_upgrade --check", "ok": check["ok"], "severity": "info" if check["ok"] else "error",
                     "message": "pg_upgrade --check --%s passed" % p["transfer"] if check["ok"] else
                     "pg_upgrade --check --%s failed: %s" % (p["transfer"], " | ".join(check["reasons"]))})
    errors = [f["message"] for f in findings if not f["ok"] and f["severity"] == "error"]
    module.exit_json(changed=False, ok=not errors, findings=findings, errors=errors, pg_upgrade_check=check,
                     old_version=format_version(old_version), new_version=format_version(new_version))


if __name__ == "__main__":
    main()
