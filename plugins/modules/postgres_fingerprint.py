#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_fingerprint
short_description: Row counts and per-table checksums of a database, smoke queries, and a comparison
version_added: 0.1.0
description:
  - For every user table returns the row count and an order-independent checksum of its rows.
  - Runs O(smoke_queries) and reports each one's success.
  - With O(compare_to) (an earlier RV(fingerprints)) lists every difference.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.postgres
options:
  schemas:
    description: Only tables in these schemas (all user schemas when empty).
    type: list
    elements: str
    default: []
  smoke_queries:
    description:
      - Read-only queries that must succeed. Each runs in its own READ ONLY transaction, rolled back
        afterwards; a query that writes fails (its RV(smoke) entry names it) and changes nothing.
    type: list
    elements: str
    default: []
  compare_to:
    description: Fingerprints of the source to compare with.
    type: dict
"""

EXAMPLES = r"""
- name: Fingerprint the upgraded copy and compare with the source
  fournines.runbooks.postgres_fingerprint:
    login_port: 50440
    login_db: appdb
    compare_to: "{{ source.fingerprints }}"
    smoke_queries:
      - SELECT count(*) FROM public.orders
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
  description: One entry per smoke query with C(ok) and C(rows) or C(error).
  returned: always
  type: list
  elements: dict
differences:
  description: Differences from O(compare_to) (empty when equal or not compared).
  returned: always
  type: list
  elements: str
ok:
  description: All smoke queries passed and no difference was found.
  returned: always
  type: bool
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.sql import HAS_PSYCOPG2
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.sql import (
    CONNECTION_SPEC,
    compare_fingerprints,
    conn_params,
    smoke,
    table_fingerprints,
)
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError


def main():
    module = AnsibleModule(argument_spec=dict(
        CONNECTION_SPEC, schemas=dict(type="list", elements="str", default=[]),
        smoke_queries=dict(type="list", elements="str", default=[]), compare_to=dict(type="dict"),
    ), supports_check_mode=True)
    p = module.params
    require_lib(module, "psycopg2", HAS_PSYCOPG2)
    started = time.monotonic()
    try:
        conn = conn_params(p)
        prints = table_fingerprints(conn, p["schemas"])
        smoke_results = smoke(conn, p["smoke_queries"]) if p["smoke_queries"] else []
    except PostgresError as err:
        fail_from_error(module, err)
    diffs = compare_fingerprints(p["compare_to"], prints) if p["compare_to"] is not None else []
    module.exit_json(changed=False, fingerprints=prints, smoke=smoke_results, differences=diffs,
                     ok=not diffs and all(s["ok"] for s in smoke_results), seconds=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    main()
