# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resource quantities and the question "do these pods fit on those nodes?"."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import decimal

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError

try:
    from kubernetes.utils import parse_quantity
except ImportError:  # pragma: no cover - the modules that read the cluster report it with missing_required_lib
    parse_quantity = None

RESOURCES = ("cpu", "memory", "pods")


def quantity(value):
    """A Kubernetes quantity ('250m', '1.5', '128Mi', '1G') as a float in base units (kubernetes.utils.parse_quantity)."""
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if parse_quantity is None:
        raise RunbookError("the Python library kubernetes is needed to read the resource quantity %r" % (value,))
    try:
        return float(parse_quantity(str(value).strip()))
    except (ValueError, TypeError, decimal.InvalidOperation):
        raise RunbookError("%r is not a Kubernetes resource quantity (examples: 250m, 2, 512Mi, 1G)" % (value,))


def pod_requests(pod):
    """Requests of a pod: sum over containers, at least the largest init container; +1 pod."""
    spec = pod.get("spec") or {}
    total = {"cpu": 0.0, "memory": 0.0}
    for cont in spec.get("containers") or []:
        req = (cont.get("resources") or {}).get("requests") or {}
        for res in ("cpu", "memory"):
            total[res] += quantity(req.get(res))
    for cont in spec.get("initContainers") or []:
        req = (cont.get("resources") or {}).get("requests") or {}
        for res in ("cpu", "memory"):
            total[res] = max(total[res], quantity(req.get(res)))
    total["pods"] = 1.0
    return total


def node_free(node, pods_on_node):
    alloc = ((node.get("status") or {}).get("allocatable")) or {}
    free = dict((res, quantity(alloc.get(res))) for res in RESOURCES)
    for pod in pods_on_node:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for res, val in pod_requests(pod).items():
            free[res] -= val
    return free


def fits(pods, free_by_node):
    """First-fit decreasing of ``pods`` (request dicts with a 'name') into ``free_by_node``.

    Returns (ok, unplaced names). ``free_by_node`` is not modified.
    """
    bins = dict((n, dict(f)) for n, f in free_by_node.items())
    unplaced = []
    for pod in sorted(pods, key=lambda p: (p["cpu"], p["memory"]), reverse=True):
        for name in sorted(bins):
            free = bins[name]
            if all(free[res] >= pod[res] for res in RESOURCES):
                for res in RESOURCES:
                    free[res] -= pod[res]
                break
        else:
            unplaced.append(pod["name"])
    return not unplaced, unplaced
