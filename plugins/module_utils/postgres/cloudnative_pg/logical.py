# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CloudNativePG major upgrade by logical replication (blue-green): a new Cluster at the new
major fed by production, then a short cutover of the application's Service.

- :func:`preflight` refuses, before any change, what logical replication cannot carry: a table
  without a primary key or replica identity (its UPDATEs and DELETEs would fail on production),
  an unlogged table, large objects, a second application database, ``wal_level`` below logical.
- :func:`ensure_target` makes the target Cluster: ``bootstrap.initdb.import`` (microservice,
  ``schemaOnly``) of production's application database, with the application user's password
  taken from a copy of production's app Secret, so the application's credentials still work.
- :func:`ensure_replication` creates a publication ``FOR ALL TABLES`` on production and a
  subscription on the target (SQL through :mod:`.access`, not the Publication/Subscription CRDs:
  the runbook needs SQL anyway to watch the initial copy, the lag and the final LSN, and to drop
  the subscription at the moment it chooses; the CRDs' reconcile loop would add an unknown delay
  and a second owner of the same objects). The subscription's password comes from the
  ``passfile`` the operator writes for the target's ``externalClusters`` entry, so no password
  lands in the target's catalog.
- :func:`cutover`: production's database made read-only (``default_transaction_read_only``) and
  its client sessions ended; the target has applied production's last LSN; every sequence copied;
  the application's Service re-selected to the target's primary; production's sessions ended once
  more; the subscription dropped. Any failure before the Service moved makes production writable
  again. :func:`switch_back` is the way back after it (until the run ends).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, DeadlineExceeded, wait_until
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import K8sApiError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import access
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.compat import finding

#: Label value (fournines.io/role) of the target Cluster; it also carries fournines.io/canary-of, so the
#: canary module's state=absent removes it.
TARGET_ROLE = "logical-target"
#: Annotations on the application's Service: the selector it had before the cutover, and the run.
SELECTOR_ANNOTATION = "fournines.io/selector-before-cutover"
SERVICE_RUN_ANNOTATION = "fournines.io/cutover-run"
#: Annotation on production's Cluster: the run whose target it feeds (a re-run carries it on).
RUN_ANNOTATION = "fournines.io/logical-upgrade-run"
#: Names of the publication, subscription and slot (one per target).
PUB_PREFIX = "fournines_upgrade"
_SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"


def names(target):
    """The publication/subscription/slot name for ``target`` (a lower-case identifier)."""
    ident = "%s_%s" % (PUB_PREFIX, "".join(c if c.isalnum() else "_" for c in target.lower()))
    return ident[:63]


def _ident(name):
    return '"%s"' % name.replace('"', '""')


def _qualified(schema, name):
    return "%s.%s" % (_ident(schema), _ident(name))


# --- preflight -------------------------------------------------------------------------------------

def preflight(prod_conn, database):
    """Findings (:func:`..compat.finding`) of what logical replication could not carry, read from
    production's ``database`` (and its instance's databases and settings)."""
    findings = []
    db = sql.connect(prod_conn)
    try:
        level = sql.scalar(db, "SHOW wal_level")
        findings.append(finding("wal_level", level == "logical", "wal_level is %s%s" % (
            level, "" if level == "logical" else "; logical replication needs logical: set postgresql.parameters."
            "wal_level: logical on the Cluster (the operator restarts its instances) and run again")))
        others = [r["datname"] for r in sql.query(
            db, "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
                " AND datname NOT IN ('postgres', %s) ORDER BY 1", (database,))]
        findings.append(finding("databases", not others, "only database %s is carried over%s" % (
            database, "" if not others else "; databases %s would be left behind: move them into %s or use "
            "postgres_cnpg_upgrade_major_method=inplace" % (", ".join(others), database))))
        no_key = [r["name"] for r in sql.query(
            db, "SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND n.nspname NOT IN " + _SYSTEM_SCHEMAS +
                " AND n.nspname NOT LIKE 'pg_temp%%' AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS"
                " (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))) ORDER BY 1")]
        findings.append(finding("replica_identity", not no_key, "every table has a primary key or a replica identity%s" % (
            "" if not no_key else ": %s have neither, so their UPDATEs and DELETEs would fail on production once "
            "published; add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL (or USING INDEX of a unique "
            "index), and run again" % ", ".join(no_key[:20]))))
        unlogged = [r["name"] for r in sql.query(
            db, "SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'r' AND c.relpersistence = 'u' AND n.nspname NOT IN " + _SYSTEM_SCHEMAS + " ORDER BY 1")]
        findings.append(finding("unlogged", not unlogged, "no unlogged table%s" % (
            "" if not unlogged else ": %s are not replicated (their rows would be missing on the new major); "
            "ALTER TABLE ... SET LOGGED, and run again" % ", ".join(unlogged[:20]))))
        blobs = int(sql.scalar(db, "SELECT count(*) FROM pg_largeobject_metadata"))
        findings.append(finding("large_objects", blobs == 0, "no large objects%s" % (
            "" if not blobs else ": %d large objects are not carried by logical replication; move them into bytea "
            "columns, or use postgres_cnpg_upgrade_major_method=inplace" % blobs)))
    finally:
        db.close()
    return findings


def preflight_step(kube, clusters, source, target, image, database, app_service):
    """Everything the logical method refuses before any change; raises with every blocking finding."""
    ns = clusters.namespace
    prod = clusters.require(source)
    cnpg_cluster.image_version(image)
    existing = clusters.get(target)
    if existing is None:
        state = "is free"
    elif _is_target_of(existing, source):
        state = "is this run's (a re-run carries it on)"
    else:
        state = "exists and is not a logical-upgrade target of %s; give postgres_cnpg_upgrade_target_name another name" % source
    findings = [finding("target", existing is None or _is_target_of(existing, source),
                        "target Cluster %s/%s %s" % (ns, target, state))]
    svc = kube.get(service_path(ns, app_service), ok_missing=True)
    rw = primary_selector(kube, ns, source)
    ok = svc is not None and ((svc.get("spec") or {}).get("selector") == rw or _is_target_of(existing, source))
    findings.append(finding("app_service", ok, "the application's Service %s/%s %s" % (
        ns, app_service, "selects production's primary" if ok else (
            "does not exist" if svc is None else "does not select production's primary (selector %s, the -rw Service's is %s)"
            % (json.dumps((svc.get("spec") or {}).get("selector"), sort_keys=True), json.dumps(rw, sort_keys=True)))
        + ("" if ok else "; the cutover moves the application by re-selecting that Service: create it with the "
           "selector of %s-rw (kubectl -n %s get service %s-rw -o jsonpath='{.spec.selector}'), point the "
           "application at it, and run again" % (source, ns, source)))))
    if (prod.get("spec") or {}).get("enableSuperuserAccess") is not True:
        raise cnpg_cluster.CnpgError(access.SUPERUSER_OFF % {"ns": ns, "name": source} + "; nothing was changed")
    findings.extend(preflight(access.connection(kube, ns, source, dbname=database), database))
    blocking = [f["message"] for f in findings if not f["ok"]]
    if blocking:
        raise cnpg_cluster.CnpgError("Cluster %s/%s cannot be upgraded by logical replication: %s. Nothing was changed"
                                     % (ns, source, "; ".join(blocking)), details={"findings": findings})
    switched = existing is not None and svc is not None and _is_target_of(existing, source) and \
        (svc.get("spec") or {}).get("selector") == _target_selector(kube, ns, target)
    return {"changed": False, "findings": findings, "run": upgrade_run(prod), "switched": switched}


def _target_selector(kube, namespace, target):
    try:
        return primary_selector(kube, namespace, target)
    except cnpg_cluster.CnpgError:  # the operator has not made its Services yet
        return None


def mark_run(clusters, source, target, run_id):
    """Production's annotations name the run and its target (a re-run carries it on)."""
    obj = clusters.require(source)
    if cnpg_cluster.annotations(obj).get(RUN_ANNOTATION) == run_id:
        return False
    clusters.merge_patch(source, {"metadata": {"annotations": {RUN_ANNOTATION: run_id}}})
    return True


def upgrade_run(obj):
    """The run a logical upgrade of this production Cluster left in its annotation (None: none)."""
    return cnpg_cluster.annotations(obj).get(RUN_ANNOTATION)


# --- the target Cluster ------------------------------------------------------------------------------

def app_secret_name(target):
    return "%s-app" % target


def target_body(prod, name, image, database, owner, app_secret):
    """The target Cluster: production's shape on ``image``, its ``database`` imported schema-only
    from production (as production's superuser), the application user ``owner`` with the password
    of Secret ``app_secret`` (a copy of production's)."""
    source = prod["metadata"]["name"]
    body = cnpg_cluster.canary_body(prod, name, image, instances=int((prod.get("spec") or {}).get("instances") or 1),
                                    labels={"fournines.io/role": TARGET_ROLE})
    spec = body["spec"]
    spec["enableSuperuserAccess"] = True
    spec.pop("superuserSecret", None)
    spec["bootstrap"] = {"initdb": {
        "database": database, "owner": owner, "secret": {"name": app_secret},
        "import": {"type": "microservice", "databases": [database], "schemaOnly": True,
                   "source": {"externalCluster": source}},
    }}
    spec["externalClusters"] = [{
        "name": source,
        "connectionParameters": {"host": "%s-rw.%s.svc" % (source, prod["metadata"]["namespace"]),
                                 "user": "postgres", "dbname": database, "sslmode": "require"},
        "password": {"name": cnpg_cluster.superuser_secret(prod), "key": "password"},
    }]
    params = dict((spec.get("postgresql") or {}).get("parameters") or {})
    params.setdefault("wal_level", "logical")
    spec.setdefault("postgresql", {})["parameters"] = params
    return body


def _is_target_of(obj, source):
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get("fournines.io/canary-of") == source and labels.get("fournines.io/role") == TARGET_ROLE


def copy_app_secret(kube, namespace, source, target, check_mode=False):
    """Production's app Secret copied (username, password, dbname) to ``<target>-app``: the target's
    application user gets the same password, and the copy lives on when production is deleted."""
    src = kube.get("/api/v1/namespaces/%s/secrets/%s-app" % (namespace, source), ok_missing=True)
    if src is None:
        raise cnpg_cluster.CnpgError("Secret %s/%s-app (the application user's credentials of Cluster %s) does not exist; "
                                     "the logical method bootstraps the new major with the same credentials, so it "
                                     "needs it" % (namespace, source, source))
    name = app_secret_name(target)
    if kube.get("/api/v1/namespaces/%s/secrets/%s" % (namespace, name), ok_missing=True) is not None:
        return False
    if check_mode:
        return True
    data = dict((k, v) for k, v in (src.get("data") or {}).items() if k in ("username", "password", "dbname"))
    kube.request("POST", "/api/v1/namespaces/%s/secrets" % namespace, body={
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "fournines.runbooks",
                                              "fournines.io/app-credentials-of": source}},
        "data": data})
    return True


def ensure_target(clusters, source, name, image, database, timeout, check_mode=False):
    """Create (absent) the target Cluster on ``image`` and wait until it is healthy."""
    ns, kube = clusters.namespace, clusters.kube
    prod = clusters.require(source)
    existing = clusters.get(name)
    result = {"namespace": ns, "name": name, "source": source, "image": image, "changed": False}
    if existing is not None:
        if not _is_target_of(existing, source):
            raise cnpg_cluster.CnpgError("Cluster %s/%s exists and is not the logical-upgrade target of %s; give another "
                                         "name (postgres_cnpg_upgrade_target_name), nothing was changed" % (ns, name, source))
    else:
        cnpg_cluster.image_version(image)
        result["changed"] = True
        if check_mode:
            return result
        owner = access.connection(kube, ns, source, secret="app")["user"]
        copy_app_secret(kube, ns, source, name)
        try:
            clusters.create(target_body(prod, name, image, database, owner, app_secret_name(name)))
        except K8sApiError as err:
            raise cnpg_cluster.CnpgError("the operator refused the target Cluster %s/%s: %s; nothing of production was "
                                         "changed" % (ns, name, err), status=err.status)
    if check_mode:
        return result
    started = time.time()
    result["cluster"] = clusters.wait_healthy(name, image, timeout)
    result["ready_seconds"] = round(time.time() - started, 1)
    return result


# --- replication ---------------------------------------------------------------------------------

def _subscription_state(tgt_db, sub):
    row = sql.query(tgt_db, "SELECT s.subenabled AS enabled, (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid)"
                            " AS tables, (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND"
                            " r.srsubstate <> 'r') AS syncing FROM pg_subscription s WHERE s.subname = %s", (sub,))
    return row[0] if row else None


def apply_errors(tgt_db, sub):
    """Errors the subscription's workers hit so far (applying a change or copying a table), from the target."""
    return int(sql.scalar(tgt_db, "SELECT coalesce(sum(apply_error_count + sync_error_count), 0) FROM pg_stat_subscription_stats"
                                  " WHERE subname = %s", (sub,)) or 0)


#: Said when the subscription's workers fail: the likeliest cause, and where the error is.
APPLY_FAILING = ("the subscription %s on the target %s/%s is failing (%d errors applying production's changes since this "
                 "step began; the likeliest cause is DDL on production after the target was made, such as a new table or "
                 "column, which logical replication does not carry; the error is in the target primary's log)")


def _check_apply(tgt_db, sub, baseline, namespace, target):
    errors = apply_errors(tgt_db, sub) - baseline
    if errors > 0:
        raise cnpg_cluster.CnpgError(APPLY_FAILING % (sub, namespace, target, errors))


def uncovered_tables(prod_db, tgt_db, ident):
    """Tables production publishes that the subscription does not carry (created on production after the
    subscription was: their changes are skipped without an error, so the cutover must refuse)."""
    published = set(r["name"] for r in sql.query(
        prod_db, "SELECT schemaname || '.' || tablename AS name FROM pg_publication_tables WHERE pubname = %s", (ident,)))
    carried = set(r["name"] for r in sql.query(
        tgt_db, "SELECT n.nspname || '.' || c.relname AS name FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid"
                " JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE s.subname = %s", (ident,)))
    return sorted(published - carried)


def slot_lag(prod_db, slot):
    """Bytes of production's WAL the subscription has not confirmed (None: no such slot)."""
    return sql.scalar(prod_db, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
                               " FROM pg_replication_slots WHERE slot_name = %s", (slot,))


def ensure_replication(kube, namespace, source, target, database, timeout, max_lag_bytes, check_mode=False, interval=1.0,
                       clock=time.time):
    """Publication on production, subscription on the target; wait for the initial copy of every
    table and for the lag to drop under ``max_lag_bytes``. Returns what it saw."""
    ident = names(target)
    result = {"publication": ident, "subscription": ident, "slot": ident, "changed": False}
    prod = _prod_session(kube, namespace, source, database)
    tgt = sql.connect(access.connection(kube, namespace, target, dbname=database))
    try:
        if not sql.scalar(prod, "SELECT count(*) FROM pg_publication WHERE pubname = %s", (ident,)):
            result["changed"] = True
            if not check_mode:
                sql.query(prod, "CREATE PUBLICATION %s FOR ALL TABLES" % _ident(ident))
        if _subscription_state(tgt, ident) is None:
            result["changed"] = True
            if not check_mode:
                conninfo = "host=%s-rw.%s.svc port=5432 user=postgres dbname=%s sslmode=require passfile=%s" % (
                    source, namespace, database, "/controller/external/%s/pgpass" % source)
                sql.query(tgt, "CREATE SUBSCRIPTION %s CONNECTION %%s PUBLICATION %s WITH (slot_name = %%s)"
                          % (_ident(ident), _ident(ident)), (conninfo, ident))
        if check_mode:
            return result
        started = clock()
        baseline = apply_errors(tgt, ident)

        def caught_up():
            _check_apply(tgt, ident, baseline, namespace, target)
            state = _subscription_state(tgt, ident) or {}
            lag = slot_lag(prod, ident)
            result.update(tables=int(state.get("tables") or 0), syncing=int(state.get("syncing") or 0), lag_bytes=lag)
            return state and not state["syncing"] and lag is not None and lag <= max_lag_bytes
        try:
            wait_until(caught_up, Deadline(timeout), interval=interval, what="logical replication into %s" % target)
        except cnpg_cluster.CnpgError as err:
            raise cnpg_cluster.CnpgError("%s; production was not changed (delete the target to start again)" % err)
        except DeadlineExceeded:
            raise cnpg_cluster.CnpgError(
                "the target %s did not catch up with production within %d s: %s of %s tables still in their initial copy, "
                "%s bytes of lag (limit %d); production was not changed (delete the target to start again)"
                % (target, timeout, result.get("syncing"), result.get("tables"), result.get("lag_bytes"),
                   max_lag_bytes))
        result["sync_seconds"] = round(clock() - started, 1)
    finally:
        prod.close()
        tgt.close()
    return result


# --- cutover ------------------------------------------------------------------------------------

def service_path(namespace, name):
    return "/api/v1/namespaces/%s/services/%s" % (namespace, name)


def read_service(kube, namespace, name):
    svc = kube.get(service_path(namespace, name), ok_missing=True)
    if svc is None:
        raise cnpg_cluster.CnpgError(
            "Service %s/%s (postgres_cnpg_upgrade_app_service: the Service the application connects through) does not "
            "exist; the logical method moves the application by re-selecting that Service, so create it with the "
            "selector of the Cluster's -rw Service and point the application at it first; nothing was changed"
            % (namespace, name))
    return svc


def primary_selector(kube, namespace, cluster):
    """The selector of ``cluster``'s ``-rw`` Service (the operator's: its current primary)."""
    svc = kube.get(service_path(namespace, "%s-rw" % cluster), ok_missing=True)
    if svc is None:
        raise cnpg_cluster.CnpgError("Service %s/%s-rw does not exist" % (namespace, cluster))
    return dict(svc["spec"]["selector"])


def _prod_session(kube, namespace, source, database):
    """A superuser session on production that may write whatever the database's default (the runbook's own
    DDL: publication, slot, the read-only switch itself)."""
    db = sql.connect(access.connection(kube, namespace, source, dbname=database))
    sql.query(db, "SET default_transaction_read_only = off")
    return db


def _set_read_only(db, database, on):
    sql.query(db, "ALTER DATABASE %s %s" % (_ident(database), "SET default_transaction_read_only = on" if on
                                            else "RESET default_transaction_read_only"))


def _end_sessions(db, database):
    """End every client session of ``database`` but ours; returns how many."""
    return int(sql.scalar(db, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s"
                              " AND pid <> pg_backend_pid() AND backend_type = 'client backend'", (database,)) or 0)


def is_read_only(db, database):
    return bool(sql.scalar(db, "SELECT EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
                               " WHERE d.datname = %s AND s.setrole = 0 AND 'default_transaction_read_only=on' = ANY(s.setconfig))",
                           (database,)))


def copy_sequences(prod_db, tgt_db):
    """Every sequence's value from production to the target; returns how many were set."""
    rows = sql.query(prod_db, "SELECT schemaname, sequencename, last_value FROM pg_sequences WHERE last_value IS NOT NULL")
    for row in rows:
        sql.query(tgt_db, "SELECT setval(%s, %s, true)", (_qualified(row["schemaname"], row["sequencename"]), row["last_value"]))
    return len(rows)


def _flushed(prod_db, slot, lsn):
    return bool(sql.scalar(prod_db, "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots WHERE slot_name = %s",
                           (lsn, slot)))


def drop_subscription(tgt_db, prod_db, ident):
    """Drop the subscription (its slot on production too); False when there was none."""
    if _subscription_state(tgt_db, ident) is None:
        return False
    sql.query(tgt_db, "ALTER SUBSCRIPTION %s DISABLE" % _ident(ident))
    sql.query(tgt_db, "ALTER SUBSCRIPTION %s SET (slot_name = NONE)" % _ident(ident))
    sql.query(tgt_db, "DROP SUBSCRIPTION %s" % _ident(ident))
    if prod_db is not None:
        drop_slot(prod_db, ident)
    return True


def drop_slot(prod_db, ident, wait=10.0):
    """Drop production's slot of the subscription (else it keeps WAL for ever). Its walsender outlives the
    subscription's drop for a moment: wait for it to let go, then end it."""
    def released():
        return not sql.scalar(prod_db, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s AND active", (ident,))
    try:
        wait_until(released, Deadline(wait), interval=0.2, what="slot %s released" % ident)
    except DeadlineExceeded:
        sql.query(prod_db, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = %s AND active",
                  (ident,))
        wait_until(released, Deadline(wait), interval=0.2, what="slot %s released" % ident)
    sql.query(prod_db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s", (ident,))


def patch_selector(kube, namespace, service, selector, annotations):
    """Replace the Service's selector (a JSON patch: a merge patch would keep the old keys)."""
    ops = [{"op": "replace", "path": "/spec/selector", "value": selector}]
    if annotations:
        ops.append({"op": "add", "path": "/metadata/annotations", "value": annotations})
    kube.request("PATCH", service_path(namespace, service), body=ops, content_type="application/json-patch+json",
                 retry_status=True)


def _endpoints_on(kube, namespace, service, selector):
    """Whether the Service's ready endpoints are exactly the pods ``selector`` picks."""
    pods = kube.items("/api/v1/namespaces/%s/pods" % namespace,
                      {"labelSelector": ",".join("%s=%s" % kv for kv in sorted(selector.items()))})
    wanted = set(p["status"].get("podIP") for p in pods if (p.get("status") or {}).get("podIP"))
    slices = kube.items("/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % namespace,
                        {"labelSelector": "kubernetes.io/service-name=%s" % service})
    have = set()
    for item in slices:
        for ep in item.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready", True):
                have.update(ep.get("addresses") or [])
    return bool(wanted) and have == wanted


def cutover(kube, namespace, source, target, service, database, run_id, timeout=60, check_mode=False, clock=time.time,
            interval=0.05):
    """Stop writes on production, wait for the target to apply its last LSN, copy the sequences, move
    the application's Service to the target's primary. Returns the timings (``write_stop_seconds``:
    from the read-only switch to the Service moved) and what it did."""
    ident = names(target)
    svc = read_service(kube, namespace, service)
    tgt_selector = primary_selector(kube, namespace, target)
    result = {"service": service, "target": target, "changed": False}
    if svc["spec"].get("selector") == tgt_selector:
        result["already_switched"] = True
        if not check_mode:  # a run killed after the switch: what it had still to do
            prod = _prod_session(kube, namespace, source, database)
            tgt = sql.connect(access.connection(kube, namespace, target, dbname=database))
            try:
                result["sessions_ended_after"] = _end_sessions(prod, database)
                result["changed"] = drop_subscription(tgt, prod, ident)
                sql.query(prod, "DROP PUBLICATION IF EXISTS %s" % _ident(ident))
            finally:
                prod.close()
                tgt.close()
        return result
    result["changed"] = True
    if check_mode:
        return result
    notes = dict((svc.get("metadata") or {}).get("annotations") or {})
    if SELECTOR_ANNOTATION not in notes:
        notes[SELECTOR_ANNOTATION] = json.dumps(svc["spec"].get("selector") or {}, sort_keys=True)
    notes[SERVICE_RUN_ANNOTATION] = run_id
    prod = _prod_session(kube, namespace, source, database)
    tgt = sql.connect(access.connection(kube, namespace, target, dbname=database))
    marks = {}
    moved = False
    try:
        missing = uncovered_tables(prod, tgt, ident)
        if missing:
            raise cnpg_cluster.CnpgError(
                "tables %s were created on production after the target %s/%s was made, so logical replication does not "
                "carry them; production was not changed: remove the target (step=remove) and run again"
                % (", ".join(missing[:20]), namespace, target))
        baseline = apply_errors(tgt, ident)
        marks["read_only"] = clock()
        _set_read_only(prod, database, True)
        result["sessions_ended"] = _end_sessions(prod, database)
        lsn = sql.scalar(prod, "SELECT pg_current_wal_lsn()::text")
        result["final_lsn"] = lsn
        try:
            wait_until(lambda: _check_apply(tgt, ident, baseline, namespace, target) or _flushed(prod, ident, lsn),
                       Deadline(timeout), interval=interval, what="the target applying production's last LSN")
        except DeadlineExceeded:
            raise cnpg_cluster.CnpgError("the target %s/%s did not confirm production's last LSN %s within %d s; production "
                                         "was made writable again, nothing of it changed" % (namespace, target, lsn, timeout))
        except cnpg_cluster.CnpgError as err:
            raise cnpg_cluster.CnpgError("%s; production was made writable again, nothing of it changed" % err)
        marks["applied"] = clock()
        result["sequences_copied"] = copy_sequences(prod, tgt)
        marks["sequences"] = clock()
        patch_selector(kube, namespace, service, tgt_selector, notes)
        moved = True
        marks["switched"] = clock()
        try:  # new connections reach the target once the Service's endpoints name only its primary
            wait_until(lambda: _endpoints_on(kube, namespace, service, tgt_selector), Deadline(30), interval=interval,
                       what="Service %s/%s's endpoints on the target" % (namespace, service))
        except DeadlineExceeded:
            result["endpoints_late"] = True
        marks["endpoints"] = clock()
        result["sessions_ended_after"] = _end_sessions(prod, database)
    except Exception:
        if not moved:  # production takes writes again: nothing of it changed
            try:
                _set_read_only(prod, database, False)
            except Exception:  # pylint: disable=broad-except
                pass
        raise
    finally:
        try:
            if moved:  # production keeps nothing of the replication
                drop_subscription(tgt, prod, ident)
                sql.query(prod, "DROP PUBLICATION IF EXISTS %s" % _ident(ident))
        finally:
            prod.close()
            tgt.close()
    result["diff"] = {"before": {"selector": svc["spec"].get("selector")}, "after": {"selector": tgt_selector}}
    start = marks["read_only"]
    result.update(write_stop_seconds=round(marks["switched"] - start, 3),
                  lsn_wait_seconds=round(marks["applied"] - start, 3),
                  sequences_seconds=round(marks["sequences"] - marks["applied"], 3),
                  endpoints_seconds=round(marks["endpoints"] - marks["switched"], 3))
    return result


def switch_back(kube, namespace, source, target, service, database, check_mode=False, interval=0.05):
    """The way back after the cutover: production writable again, the target's database read-only (no new
    write lands there), the Service's selector from before (its annotation), the target's client sessions
    ended once the endpoints moved. Writes made on the target since the cutover stay there only."""
    svc = read_service(kube, namespace, service)
    notes = dict((svc.get("metadata") or {}).get("annotations") or {})
    before = notes.get(SELECTOR_ANNOTATION)
    db = _prod_session(kube, namespace, source, database)
    try:
        read_only = is_read_only(db, database)
        result = {"changed": bool(before) or read_only, "service": service}
        if before:
            result["diff"] = {"before": {"selector": svc["spec"].get("selector")}, "after": {"selector": json.loads(before)}}
        if check_mode:
            return result
        if read_only:
            _set_read_only(db, database, False)
    finally:
        db.close()
    if before:
        try:
            tgt = _prod_session(kube, namespace, target, database)
        except RunbookError:  # the target is gone: nothing can write there
            tgt = None
        try:
            if tgt is not None:
                _set_read_only(tgt, database, True)
            notes.pop(SELECTOR_ANNOTATION, None)
            notes.pop(SERVICE_RUN_ANNOTATION, None)
            patch_selector(kube, namespace, service, json.loads(before), notes)
            try:
                wait_until(lambda: _endpoints_on(kube, namespace, service, json.loads(before)), Deadline(30), interval=interval,
                           what="Service %s/%s's endpoints on production" % (namespace, service))
            except DeadlineExceeded:
                result["endpoints_late"] = True
            if tgt is not None:
                result["target_sessions_ended"] = _end_sessions(tgt, database)
        finally:
            if tgt is not None:
                tgt.close()
    return result


def make_writable(kube, namespace, source, database, check_mode=False):
    """Production writable again (a cutover that failed before the switch, or a killed run)."""
    db = _prod_session(kube, namespace, source, database)
    try:
        read_only = is_read_only(db, database)
        if read_only and not check_mode:
            _set_read_only(db, database, False)
        return read_only
    finally:
        db.close()


def remove_target(clusters, source, target, app_service, database, timeout, check_mode=False):
    """Delete the target before any cutover: its subscription, production's publication and slot, the
    Cluster, the Secret copy. Production is not changed (made writable if a killed cutover left it read-only)."""
    ns, kube = clusters.namespace, clusters.kube
    obj = clusters.get(target)
    if obj is not None and not _is_target_of(obj, source):
        raise cnpg_cluster.CnpgError("Cluster %s/%s is not the logical-upgrade target of %s; it is not deleted" % (ns, target, source))
    svc = kube.get(service_path(ns, app_service), ok_missing=True)
    if obj is not None and svc is not None and (svc.get("spec") or {}).get("selector") == primary_selector(kube, ns, target):
        raise cnpg_cluster.CnpgError("Service %s/%s already selects the target %s (the cutover is done); it is not deleted: "
                                     "switch back first (step=switch_back)" % (ns, app_service, target))
    ident = names(target)
    secret = kube.get("/api/v1/namespaces/%s/secrets/%s" % (ns, app_secret_name(target)), ok_missing=True)
    prod = _prod_session(kube, ns, source, database)
    try:
        has_pub = bool(sql.scalar(prod, "SELECT count(*) FROM pg_publication WHERE pubname = %s", (ident,)))
        has_slot = slot_lag(prod, ident) is not None
        read_only = is_read_only(prod, database)
        result = {"changed": bool(obj is not None or secret is not None or has_pub or has_slot or read_only),
                  "namespace": ns, "name": target}
        if check_mode:
            return result
        if read_only:
            _set_read_only(prod, database, False)
        if obj is not None:
            try:
                tgt = sql.connect(access.connection(kube, ns, target, dbname=database))
                try:
                    drop_subscription(tgt, None, ident)
                finally:
                    tgt.close()
            except RunbookError:  # a target that never came up has no subscription to drop
                pass
            clusters.delete(target)
        if has_pub:
            sql.query(prod, "DROP PUBLICATION %s" % _ident(ident))
        if obj is not None:
            clusters.wait_gone(target, timeout)
        if has_slot:
            drop_slot(prod, ident)
    finally:
        prod.close()
    if secret is not None:
        kube.request("DELETE", "/api/v1/namespaces/%s/secrets/%s" % (ns, app_secret_name(target)), ok_missing=True)
    if RUN_ANNOTATION in cnpg_cluster.annotations(clusters.get(source)):
        clusters.merge_patch(source, {"metadata": {"annotations": {RUN_ANNOTATION: None}}})
    return result
