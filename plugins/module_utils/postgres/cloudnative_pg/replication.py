# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replication lag of a CloudNativePG Cluster, read from each instance manager's status
endpoint (port 8000, ``/pg/status``) through the API server's pod proxy, as ``kubectl cnpg
status`` does: no SQL connection and no SSH needed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError


def lsn_bytes(lsn):
    """'16/B374D848' -> its byte position; None for an empty value."""
    if not lsn:
        return None
    try:
        high, low = str(lsn).split("/", 1)
        return (int(high, 16) << 32) + int(low, 16)
    except ValueError:
        raise PostgresError("%r is not a PostgreSQL LSN (like 16/B374D848)" % (lsn,))


def lags_from_statuses(statuses, primary):
    """Bytes each replica's replay position is behind the primary's current WAL position.

    ``statuses`` maps pod names to their ``/pg/status`` answer (or None when unreadable);
    a replica whose answer or replay position is missing maps to None (not streaming).
    """
    prim = statuses.get(primary) or {}
    head = lsn_bytes(prim.get("currentLsn"))
    lags = {}
    for pod, st in sorted(statuses.items()):
        if pod == primary:
            continue
        replay = lsn_bytes((st or {}).get("replayLsn") or (st or {}).get("receivedLsn"))
        lags[pod] = None if head is None or replay is None else max(0, head - replay)
    return lags


def read_status(kube, namespace, pod):
    """The instance manager's ``/pg/status`` answer for ``pod``; None when it cannot be read."""
    for scheme in ("https", "http"):
        try:
            return kube.get("/api/v1/namespaces/%s/pods/%s:%s:8000/proxy/pg/status" % (namespace, scheme, pod))
        except (RunbookError, ValueError):
            continue
    return None


def lag_reader(kube):
    """A function Cluster -> {replica: lag bytes or None}, for :class:`.cluster.CnpgClusters`."""
    def read(obj):
        st = obj.get("status") or {}
        primary = st.get("currentPrimary")
        names = st.get("instanceNames") or []
        if not primary or not names:
            return {}
        ns = obj["metadata"]["namespace"]
        return lags_from_statuses(dict((pod, read_status(kube, ns, pod)) for pod in names), primary)
    return read
