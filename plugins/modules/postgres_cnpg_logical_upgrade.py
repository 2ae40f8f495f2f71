#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_cnpg_logical_upgrade
short_description: Upgrade a CloudNativePG Cluster's major by logical replication into a new Cluster, then cut over
version_added: 0.1.0
description:
  - The blue-green major upgrade of a CloudNativePG Cluster (O(source), production) into a new Cluster
    (O(name), the target) on the new major's O(image). Its write downtime is the cutover only, a few
    seconds, where the operator's in-place upgrade stops production for the whole C(pg_upgrade).
  - O(step=preflight) refuses, before any change, what logical replication cannot carry (a table without
    a primary key or replica identity, an unlogged table, large objects, a second application database,
    C(wal_level) below C(logical)), an O(app_service) that does not exist, and a O(name) taken by another
    Cluster. The extension and library check is M(fournines.runbooks.postgres_cnpg_major_upgrade)'s.
  - O(step=replicate) copies production's app Secret to C(<name>-app), creates the target (production's
    shape on O(image), O(database) imported schema-only from production with C(bootstrap.initdb.import),
    the application user with the same password), then a publication C(FOR ALL TABLES) on production and
    a subscription on the target, and waits until every table's initial copy is done and the lag is under
    O(max_lag_bytes). Everything found already there (a re-run) is only waited for.
  - "O(step=cutover) stops writes on production (C(ALTER DATABASE ... SET default_transaction_read_only = on),
    then every client session of O(database) ended), waits until the target confirms production's last
    LSN, copies every sequence's value, re-selects O(app_service) to the target's primary (its selector
    before is kept in the annotation C(fournines.io/selector-before-cutover)), ends production's sessions
    again once the Service's endpoints moved, and drops the subscription. A failure before the Service
    moved makes production writable again. Production is otherwise left as it was (read-only)."
  - O(step=switch_back) is the way back after the cutover (production writable again, the target's database made
    read-only, O(app_service)'s selector from before, the target's sessions ended). Writes made on the target since
    the cutover stay on the target only.
  - O(step=writable) makes production writable again (what a killed cutover may have left read-only).
  - O(step=remove) deletes the target before a cutover (its subscription, production's publication and slot,
    the Cluster and the Secret copy); production is not changed. It refuses once O(app_service) selects the target.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.postgres.cnpg_lag
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Every step says whether it would change something and changes nothing; O(step=preflight) runs in full.
  diff_mode:
    support: full
    details: O(step=cutover) and O(step=switch_back) return the Service's selector before and after.
options:
  namespace:
    description: Namespace of production, of the target and of O(app_service).
    type: str
    required: true
  source:
    description: Name of the production Cluster. Changed only by the cutover (made read-only) and O(step=switch_back).
    type: str
    required: true
  name:
    description: Name of the target Cluster on the new major; it must differ from O(source).
    type: str
    required: true
  image:
    description: The new major's image for the target; its tag must start with the major (C(18), C(18.1)).
    type: str
  step:
    description: What to do (see the description).
    type: str
    choices: [preflight, replicate, cutover, switch_back, writable, remove]
    default: preflight
  database:
    description: The application database carried over (production's C(bootstrap.initdb.database)).
    type: str
    default: app
  app_service:
    description: >-
      The Service the application connects through, in O(namespace); the cutover re-selects it to the
      target's primary. Required for O(step=preflight), O(step=cutover), O(step=switch_back) and O(step=remove).
    type: str
  run_id:
    description: The run; kept in annotations on production and on O(app_service).
    type: str
  timeout:
    description: Seconds to wait for the target (O(step=replicate), also for the initial copy) or for the last LSN (O(step=cutover)).
    type: int
    default: 1800
requirements:
  - kubernetes
  - psycopg2
"""

EXAMPLES = r"""
- name: Can production be carried over by logical replication?
  fournines.runbooks.postgres_cnpg_logical_upgrade:
    namespace: shop
    source: pg
    name: pg18
    image: ghcr.io/cloudnative-pg/postgresql:18.1
    app_service: pg-app
    step: preflight

- name: The target on PostgreSQL 18, fed by production
  fournines.runbooks.postgres_cnpg_logical_upgrade:
    namespace: shop
    source: pg
    name: pg18
    image: ghcr.io/cloudnative-pg/postgresql:18.1
    step: replicate

- name: The cutover (seconds of write downtime)
  fournines.runbooks.postgres_cnpg_logical_upgrade:
    namespace: shop
    source: pg
    name: pg18
    app_service: pg-app
    run_id: cnpg-20260101T000000Z
    step: cutover
  register: cutover
"""

RETURN = r"""
findings:
  description: Preflight verdicts (check, ok, severity, message).
  returned: step=preflight
  type: list
  elements: dict
run:
  description: The run a logical upgrade of production left in its annotation C(fournines.io/logical-upgrade-run) (a re-run carries it on).
  returned: step=preflight
  type: str
switched:
  description: O(app_service) already selects the target's primary (the cutover is done).
  returned: step=preflight
  type: bool
ready_seconds:
  description: Seconds until the new target Cluster was healthy (schema imported).
  returned: step=replicate, when the target was made by this call
  type: float
sync_seconds:
  description: Seconds until every table's initial copy was done and the lag under O(max_lag_bytes).
  returned: step=replicate
  type: float
tables:
  description: Tables the subscription carries.
  returned: step=replicate
  type: int
lag_bytes:
  description: Production's WAL not yet confirmed by the target when the wait ended.
  returned: step=replicate
  type: int
write_stop_seconds:
  description: Seconds from production made read-only until the Service selected the target.
  returned: step=cutover, when it cut over
  type: float
lsn_wait_seconds:
  description: Of those, the wait for the target to confirm production's last LSN.
  returned: step=cutover, when it cut over
  type: float
sequences_copied:
  description: Sequences whose value was copied to the target.
  returned: step=cutover, when it cut over
  type: int
already_switched:
  description: The Service already selected the target (a re-run); nothing was done.
  returned: step=cutover, when so
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import logical
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import params

NEEDS_SERVICE = ("preflight", "cutover", "switch_back", "remove")


def main():
    module = AnsibleModule(
        argument_spec=params.clone_argument_spec(
            image=dict(type="str"),
            step=dict(type="str", choices=["preflight", "replicate", "cutover", "switch_back", "writable", "remove"],
                      default="preflight"),
            database=dict(type="str", default="app"),
            app_service=dict(type="str"),
            run_id=dict(type="str"),
            timeout=dict(type="int", default=1800), **params.LAG_SPEC),
        required_if=[("step", "preflight", ["image", "app_service"]), ("step", "replicate", ["image"]),
                     ("step", "cutover", ["app_service", "run_id"]), ("step", "switch_back", ["app_service"]),
                     ("step", "remove", ["app_service"])],
        supports_check_mode=True,
    )
    p = module.params
    params.refuse_clone_of_itself(module, "next")
    require_lib(module, "psycopg2", sql.HAS_PSYCOPG2)
    try:
        kube, clusters = params.open_clusters(module)
        ns, step = p["namespace"], p["step"]
        if step == "preflight":
            module.exit_json(**logical.preflight_step(kube, clusters, p["source"], p["name"], p["image"], p["database"],
                                                      p["app_service"]))
        if step == "replicate":
            if p["run_id"] and not module.check_mode:  # before anything is made: a re-run after a kill carries this run on
                logical.mark_run(clusters, p["source"], p["name"], p["run_id"])
            result = logical.ensure_target(clusters, p["source"], p["name"], p["image"], p["database"], p["timeout"],
                                           check_mode=module.check_mode)
            repl = logical.ensure_replication(kube, ns, p["source"], p["name"], p["database"], p["timeout"],
                                              max(params.lag_limit(p) or 0, 0), check_mode=module.check_mode)
            result.update(repl, changed=result["changed"] or repl["changed"])
            module.exit_json(**result)
        if step == "cutover":
            result = logical.cutover(kube, ns, p["source"], p["name"], p["app_service"], p["database"], p["run_id"],
                                     timeout=min(p["timeout"], 60), check_mode=module.check_mode)
        elif step == "switch_back":
            result = logical.switch_back(kube, ns, p["source"], p["name"], p["app_service"], p["database"],
                                         check_mode=module.check_mode)
        elif step == "writable":
            result = {"changed": logical.make_writable(kube, ns, p["source"], p["database"], check_mode=module.check_mode)}
        else:
            result = logical.remove_target(clusters, p["source"], p["name"], p["app_service"], p["database"], p["timeout"],
                                           check_mode=module.check_mode)
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
