# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the runbook reaches a CloudNativePG Cluster over SQL: the address of one of its Services
(``<cluster>-rw``, ``-ro`` or ``-r``) and the credentials of one of the Secrets the operator keeps
(``<cluster>-superuser``, ``<cluster>-app``), both read through the Kubernetes API.

The result is the connection dict of :mod:`..sql` (host, port, user, password, dbname), so the
host backend's SQL helpers (smoke queries, table fingerprints) run unchanged against it. The
runbook must reach the Service's cluster IP (the lab does; in a real cluster run it where the
Service is routed, such as a pod or a host with a route to the Service network).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg.cluster import CnpgError

SERVICES = ("rw", "ro", "r")
SECRETS = ("superuser", "app")
#: Said when a Cluster does not let the runbook in as its superuser.
SUPERUSER_OFF = ("Cluster %(ns)s/%(name)s does not allow superuser access (spec.enableSuperuserAccess is not true), "
                 "so the runbook cannot connect as its superuser; set it (kubectl patch clusters.postgresql.cnpg.io "
                 "-n %(ns)s %(name)s --type merge -p '{\"spec\":{\"enableSuperuserAccess\":true}}'), or use the app Secret")


def _decode(secret, key):
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return None
    return base64.b64decode(raw).decode("utf-8")


def connection(kube, namespace, cluster, service="rw", secret="superuser", dbname=None, connect_timeout=3,
               service_name=None):
    """The :mod:`..sql` connection dict for ``cluster``'s ``-<service>`` Service as the ``-<secret>`` user.

    ``dbname`` defaults to the app Secret's database (CloudNativePG's ``app`` unless the Cluster's
    ``bootstrap.initdb.database`` says otherwise); the superuser Secret names none (``*``).
    ``service_name`` names another Service of the namespace instead (the one the application uses).
    """
    if service not in SERVICES:
        raise CnpgError("service %r is not valid; give one of %s" % (service, ", ".join(SERVICES)))
    if secret not in SECRETS:
        raise CnpgError("secret %r is not valid; give one of %s" % (secret, ", ".join(SECRETS)))
    svc_name = service_name or "%s-%s" % (cluster, service)
    svc = kube.get("/api/v1/namespaces/%s/services/%s" % (namespace, svc_name), ok_missing=True)
    if svc is None:
        raise CnpgError("Service %s/%s of Cluster %s does not exist; is %s/%s a CloudNativePG Cluster?"
                        % (namespace, svc_name, cluster, namespace, cluster))
    ip = (svc.get("spec") or {}).get("clusterIP")
    if not ip or ip == "None":
        raise CnpgError("Service %s/%s has no cluster IP" % (namespace, svc_name))
    sec_name = "%s-%s" % (cluster, secret)
    if secret == "superuser":
        obj = kube.get(cnpg_cluster.cluster_path(namespace, cluster), ok_missing=True)
        if obj is not None:
            if not cnpg_cluster.superuser_access(obj):
                raise CnpgError(SUPERUSER_OFF % {"ns": namespace, "name": cluster})
            sec_name = cnpg_cluster.superuser_secret(obj)
    sec = kube.get("/api/v1/namespaces/%s/secrets/%s" % (namespace, sec_name), ok_missing=True)
    if sec is None:
        hint = " (set enableSuperuserAccess: true on the Cluster, or use the app Secret)" if secret == "superuser" else ""
        raise CnpgError("Secret %s/%s of Cluster %s does not exist%s" % (namespace, sec_name, cluster, hint))
    user = _decode(sec, "username") or ("postgres" if secret == "superuser" else "app")
    return {"host": ip, "port": 5432, "user": user, "password": _decode(sec, "password"),
            "dbname": dbname or (_decode(sec, "dbname") if secret == "app" else None) or "app",
            "connect_timeout": connect_timeout}
