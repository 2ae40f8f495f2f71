#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_cnpg_fingerprint
short_description: Smoke queries, row counts and checksums of a CloudNativePG Cluster's database
version_added: 0.1.0
description:
  - What M(fournines.runbooks.postgres_fingerprint) does for a host, for a C(postgresql.cnpg.io/v1) Cluster
    found by namespace and name. It connects through the Cluster's O(service) Service as the user of its
    O(secret) Secret (both read through the Kubernetes API), runs O(smoke_queries) each in a READ ONLY
    transaction, fingerprints the tables (row count and an order-independent checksum), and with
    O(compare_to) lists every difference.
  - The host running the module must reach the Service's cluster IP.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.postgres.cnpg_cluster
  - kubernetes.core.k8s_auth_options
options:
  service:
    description: Which of the Cluster's Services to connect through (C(<name>-rw), C(-ro) or C(-r)).
    type: str
    choices: [rw, ro, r]
    default: rw
  secret:
    description: Whose credentials to use, from the Secret C(<name>-superuser) or C(<name>-app).
    type: str
    choices: [superuser, app]
    default: superuser
  database:
    description: Database to connect to.
    type: str
    default: app
  schemas:
    description: Only tables in these schemas (all user schemas when empty).
    type: list
    elements: str
    default: []
  tables:
    description:
      - Only these tables (C(schema.table)); empty fingerprints every table of O(schemas). Tables that
        change while the runbook runs (the write prober's, an application's busy ones) do not belong here
        when the result is compared with another copy.
    type: list
    elements: str
    default: []
  fingerprint:
    description: Fingerprint tables at all; V(false) runs only O(smoke_queries) (nothing is read from a table).
    type: bool
    default: true
  smoke_queries:
    description:
      - Read-only queries that must succeed. Each runs in its own READ ONLY transaction, rolled back
        afterwards; a query that writes fails (its RV(smoke) entry names it) and changes nothing.
    type: list
    elements: str
    default: []
  compare_to:
    description: Fingerprints (RV(fingerprints)) of another copy to compare with.
    type: dict
"""

EXAMPLES = r"""
- name: Fingerprint production's reference tables
  fournines.runbooks.postgres_cnpg_fingerprint:
    namespace: db
    name: pg
    tables: [public.customers]
  register: prod

- name: Smoke-test the canary and compare its rows with production's
  fournines.runbooks.postgres_cnpg_fingerprint:
    namespace: db
    name: pg-canary
    tables: [public.customers]
    smoke_queries:
      - SELECT count(*) FROM pg_catalog.pg_class
    compare_to: "{{ prod.fingerprints }}"
"""

RETURN = r"""
seconds:
  description: How long fingerprinting and smoke queries took.
  returned: always
  type: float
fingerprints:
  description: Per table (C(schema.table)) its C(rows) and C(checksum).
  returned: always
  type: dict
smoke:
  description: One entry per smoke query with C(query), C(ok) and C(rows) or C(error).
  returned: always
  type: list
  elements: dict
differences:
  description: Differences from O(compare_to) (empty when equal or not compared), and tables of O(tables) that are missing.
  returned: always
  type: list
  elements: str
ok:
  description: All smoke queries passed, every table of O(tables) exists and no difference was found.
  returned: always
  type: bool
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import access
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster


def main():
    module = AnsibleModule(
        argument_spec=cnpg_cluster.cluster_argument_spec(
            service=dict(type="str", choices=list(access.SERVICES), default="rw"),
            secret=dict(type="str", choices=list(access.SECRETS), default="superuser"),
            database=dict(type="str", default="app"),
            schemas=dict(type="list", elements="str", default=[]),
            tables=dict(type="list", elements="str", default=[]),
            fingerprint=dict(type="bool", default=True),
            smoke_queries=dict(type="list", elements="str", default=[]),
            compare_to=dict(type="dict")),
        supports_check_mode=True,
    )
    p = module.params
    require_lib(module, "kubernetes", client.HAS_K8S, client.K8S_IMPORT_ERROR)
    require_lib(module, "psycopg2", sql.HAS_PSYCOPG2)
    bad = [t for t in p["tables"] if t.count(".") != 1 or not all(t.split("."))]
    if bad:
        module.fail_json(msg="tables %s are not valid; give each as schema.table, such as public.customers" % ", ".join(bad))
    started = time.monotonic()
    try:
        conn = access.connection(client.kube_from_params(p), p["namespace"], p["name"], service=p["service"],
                                 secret=p["secret"], dbname=p["database"])
        schemas = p["schemas"] or sorted(set(t.split(".")[0] for t in p["tables"]))
        prints = sql.table_fingerprints(conn, schemas, tables=p["tables"] or None) if p["fingerprint"] else {}
        smoke_results = sql.smoke(conn, p["smoke_queries"]) if p["smoke_queries"] else []
    except RunbookError as err:
        fail_from_error(module, err)
    diffs = []
    if p["tables"] and p["fingerprint"]:
        diffs += ["table %s does not exist in %s/%s (database %s)" % (t, p["namespace"], p["name"], p["database"])
                  for t in p["tables"] if t not in prints]
    if p["compare_to"] is not None:
        diffs += sql.compare_fingerprints(p["compare_to"], prints)
    module.exit_json(changed=False, fingerprints=prints, smoke=smoke_results, differences=diffs,
                     ok=not diffs and all(s["ok"] for s in smoke_results), seconds=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    main()
