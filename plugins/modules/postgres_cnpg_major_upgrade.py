#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_cnpg_major_upgrade
short_description: Check and run the in-place major upgrade of a CloudNativePG Cluster
version_added: 0.1.0
description:
  - O(step=preflight) reads the running Cluster over SQL (extensions of every database, preloaded
    libraries, prepared transactions, logical slots) and what the new O(image) provides (a one-shot
    pod of that image, placed like the Cluster's instances, lists its extensions and libraries), and
    fails, before any change, when the upgrade could not succeed. The verdicts are the host
    backend's (M(fournines.runbooks.postgres_upgrade_check)).
  - O(step=upgrade) raises C(spec.imageName) to O(image) (a higher major) and waits while the
    operator deletes the pods, runs its C(pg_upgrade --link) Job and re-clones the replicas. A
    failing Job stops the wait with the error from the Job's log (the operator would retry for ever).
    It returns how long the primary was unavailable, from which a canary predicts production's downtime.
  - "With O(smart_shutdown_timeout), O(step=upgrade) first lowers the Cluster's C(spec.smartShutdownTimeout)
    for the upgrade: the operator deletes every pod, and with CloudNativePG's default (180 s) PostgreSQL's
    smart shutdown waits that long for open client sessions while it refuses new ones. The Cluster's own
    value is kept in an annotation and put back when the wait ends, whether the upgrade succeeded or
    failed; a re-run after a killed run puts it back once the Cluster is done. The field is not part of
    the pod spec: changing it restarts nothing."
  - O(step=post), once the Cluster is healthy on the new major, runs in every database
    C(ALTER EXTENSION ... UPDATE) for each extension older than the new default version (what
    pg_upgrade's C(update_extensions.sql) does; that file stays in the operator's Job pod) and C(ANALYZE).
  - A Cluster already set to O(image) (a re-run after a killed run) is not patched again; the module
    waits for the operator. A Cluster already upgraded and healthy is left alone, but for the
    C(smartShutdownTimeout) a killed run left lowered. The run that raised the image is kept in the
    Cluster's annotation C(fournines.io/major-upgrade-run) until then (RV(resumed_run)), also when the
    upgrade failed (the Job's error, or O(timeout) ran out), so that a re-run carries that run on; only a
    refused image change, which changed nothing, removes it.
  - After the Job has run, putting the old image back does not recover a Cluster; the way back is a
    pre-upgrade replica clone promoted (see the role C(postgres_cnpg_upgrade)).
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.postgres.cnpg_cluster
  - fournines.runbooks.postgres.cnpg_lag
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: >-
      O(step=preflight) runs in full (its pod changes nothing); O(step=upgrade) says whether the image would change;
      O(step=post) lists the extensions it would update.
  diff_mode:
    support: full
    details: The image before and after.
options:
  image:
    description: The new major's image; its tag must start with the major (C(18), C(18.1)).
    type: str
    required: true
  step:
    description: >-
      V(preflight) checks only; V(upgrade) runs the operator's in-place upgrade; V(post) updates the
      extensions and analyzes.
    type: str
    choices: [preflight, upgrade, post]
    default: preflight
  secret:
    description: Which of the Cluster's Secrets the SQL connection of O(step=preflight) and O(step=post) uses.
    type: str
    choices: [superuser, app]
    default: superuser
  timeout:
    description: Seconds to wait for the preflight pod, or for the upgrade.
    type: int
    default: 1200
  smart_shutdown_timeout:
    description:
      - O(step=upgrade) sets the Cluster's C(spec.smartShutdownTimeout) to this many seconds while the
        operator stops the pods for the upgrade, and then restores the Cluster's own value. V(0) stops
        PostgreSQL with a fast shutdown at once (open sessions are ended, their committed work kept).
      - Unset, the Cluster's setting is not touched.
    type: int
  run_id:
    description: The run raising the image, kept in an annotation on the Cluster until the upgrade is over.
    type: str
requirements:
  - kubernetes
  - psycopg2 (O(step=preflight), O(step=post))
"""

EXAMPLES = r"""
- name: Would PostgreSQL 18 take this Cluster's extensions?
  fournines.runbooks.postgres_cnpg_major_upgrade:
    namespace: shop
    name: pg
    image: ghcr.io/cloudnative-pg/postgresql:18.1
    step: preflight

- name: The operator's in-place major upgrade
  fournines.runbooks.postgres_cnpg_major_upgrade:
    namespace: shop
    name: pg
    image: ghcr.io/cloudnative-pg/postgresql:18.1
    step: upgrade
  register: upgraded
"""

RETURN = r"""
findings:
  description: Preflight verdicts (check, ok, severity, message).
  returned: step=preflight
  type: list
  elements: dict
inventory:
  description: What the new image provides (version, pkglibdir, extensions, libraries).
  returned: step=preflight
  type: dict
patched:
  description: This run changed the image (false on a re-run that found it already set).
  returned: step=upgrade
  type: bool
primary_ready_seconds:
  description: Seconds from the image change until the primary was Ready on the new major.
  returned: step=upgrade, when this run waited for an upgrade
  type: float
healthy_seconds:
  description: Seconds from the image change until every instance was healthy.
  returned: step=upgrade, when this run waited for an upgrade
  type: float
extensions_updated:
  description: Extensions updated by O(step=post), as C(database.extension old -> new).
  returned: step=post
  type: list
  elements: str
analyzed:
  description: Databases O(step=post) analyzed.
  returned: step=post
  type: list
  elements: str
after:
  description: The Cluster's health after (see M(fournines.runbooks.postgres_cnpg_cluster_info)).
  returned: step=upgrade
  type: dict
smart_shutdown_before:
  description: The Cluster's own C(smartShutdownTimeout), saved before this run lowered it.
  returned: step=upgrade, when this run lowered it
  type: int
smart_shutdown_restored:
  description: The C(smartShutdownTimeout) put back after the upgrade (null when nothing was lowered).
  returned: step=upgrade, when the upgrade ended in this run
  type: int
resumed_run:
  description: The run whose image change this run found and carried on (null for a fresh upgrade).
  returned: step=upgrade
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import access
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import major, params, update


def _preflight(kube, clusters, p):
    obj = clusters.require(p["name"])
    update.check_target(obj["spec"]["imageName"], p["image"], "major")
    conn = access.connection(kube, p["namespace"], p["name"], secret=p["secret"], dbname="postgres")
    info = sql.cluster_info(conn)
    inventory = major.image_inventory(kube, obj, p["image"], timeout=min(p["timeout"], 300))
    findings = major.preflight_findings(info, inventory, p["image"])
    blocking = major.blocking(findings)
    if blocking:
        raise cnpg_cluster.CnpgError(
            "Cluster %s/%s cannot be upgraded to %s: %s. Nothing was changed"
            % (p["namespace"], p["name"], p["image"], "; ".join(blocking)), details={"findings": findings})
    return {"changed": False, "findings": findings, "inventory": inventory}


def main():
    module = AnsibleModule(
        argument_spec=cnpg_cluster.cluster_argument_spec(
            image=dict(type="str", required=True),
            step=dict(type="str", choices=["preflight", "upgrade", "post"], default="preflight"),
            secret=dict(type="str", choices=list(access.SECRETS), default="superuser"),
            timeout=dict(type="int", default=1200),
            smart_shutdown_timeout=dict(type="int"),
            run_id=dict(type="str"), **params.LAG_SPEC),
        supports_check_mode=True,
    )
    p = module.params
    if p["smart_shutdown_timeout"] is not None and p["smart_shutdown_timeout"] < 0:
        module.fail_json(msg="smart_shutdown_timeout %d is not valid; give 0 or more seconds (0 = a fast shutdown at "
                             "once), or leave it unset to keep the Cluster's own" % p["smart_shutdown_timeout"])
    try:
        kube, clusters = params.open_clusters(module, judge_lag=True)
        if p["step"] == "preflight":
            require_lib(module, "psycopg2", sql.HAS_PSYCOPG2)
            module.exit_json(**_preflight(kube, clusters, p))
        if p["step"] == "post":
            require_lib(module, "psycopg2", sql.HAS_PSYCOPG2)
            clusters.require(p["name"])
            conn = access.connection(kube, p["namespace"], p["name"], secret=p["secret"], dbname="postgres")
            done = major.post_upgrade(conn, check_mode=module.check_mode)
            module.exit_json(changed=bool(done["extensions_updated"] or done["analyzed"]), **done)
        result = major.upgrade_in_place(clusters, p["name"], p["image"], p["timeout"], check_mode=module.check_mode,
                                        max_lag_bytes=params.lag_limit(p),
                                        smart_shutdown_timeout=p["smart_shutdown_timeout"], run_id=p["run_id"])
    except RunbookError as err:
        fail_from_error(module, err)
    result["diff"] = params.image_diff(result["image_before"], p["image"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
