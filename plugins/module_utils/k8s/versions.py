# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes version rules: one-minor steps, version skew and removed APIs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?$")

#: A kubelet may be at most this many minors older than the API server (Kubernetes >= 1.28).
KUBELET_MAX_SKEW = 3

#: API versions no longer served from a release on: (minor removed in, group/version, kind).
#: From the Kubernetes deprecated API migration guide, which lists no removal after 1.32 up to
#: REMOVED_APIS_KNOWN_THROUGH; for a later target the preflight says the table may be incomplete.
REMOVED_APIS_KNOWN_THROUGH = 35
REMOVED_APIS = (
    (16, "extensions/v1beta1", "Deployment"), (16, "extensions/v1beta1", "DaemonSet"),
    (16, "extensions/v1beta1", "ReplicaSet"), (16, "apps/v1beta1", "Deployment"),
    (16, "apps/v1beta2", "Deployment"), (16, "apps/v1beta1", "StatefulSet"),
    (22, "extensions/v1beta1", "Ingress"), (22, "networking.k8s.io/v1beta1", "Ingress"),
    (22, "apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    (22, "admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration"),
    (22, "admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration"),
    (22, "rbac.authorization.k8s.io/v1beta1", "ClusterRole"), (22, "rbac.authorization.k8s.io/v1beta1", "Role"),
    (22, "certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
    (22, "scheduling.k8s.io/v1beta1", "PriorityClass"), (22, "storage.k8s.io/v1beta1", "CSIDriver"),
    (25, "batch/v1beta1", "CronJob"), (25, "policy/v1beta1", "PodDisruptionBudget"),
    (25, "policy/v1beta1", "PodSecurityPolicy"), (25, "discovery.k8s.io/v1beta1", "EndpointSlice"),
    (25, "events.k8s.io/v1beta1", "Event"), (25, "autoscaling/v2beta1", "HorizontalPodAutoscaler"),
    (25, "node.k8s.io/v1beta1", "RuntimeClass"),
    (26, "autoscaling/v2beta2", "HorizontalPodAutoscaler"),
    (26, "flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    (26, "flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"),
    (27, "storage.k8s.io/v1beta1", "CSIStorageCapacity"),
    (29, "flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema"),
    (29, "flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration"),
    (32, "flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"),
    (32, "flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration"),
)


class VersionError(RunbookError):
    """A version that is malformed, unknown, a downgrade or more than one minor away."""


def parse(version):
    """(major, minor, patch or None) from '1.34', 'v1.34.2' or '1.34.2-lke1'."""
    match = _VERSION_RE.match(str(version or "").strip())
    if not match:
        raise VersionError("%r is not a Kubernetes version; write it as <major>.<minor>, for example 1.34" % (version,))
    patch = match.group(3)
    return int(match.group(1)), int(match.group(2)), int(patch) if patch is not None else None


def minor(version):
    """'1.34' from any form."""
    major, mnr = parse(version)[:2]
    return "%d.%d" % (major, mnr)


def minor_index(version):
    major, mnr = parse(version)[:2]
    return major * 1000 + mnr


def next_minor(version):
    major, mnr = parse(version)[:2]
    return "%d.%d" % (major, mnr + 1)


def plan_step(current, target, available):
    """Check an upgrade of the control plane from ``current`` to ``target``.

    Returns ``"upgrade"`` (one minor up) or ``"at_target"`` (control plane already there,
    as after an interrupted run). Raises VersionError for anything else. ``available`` is
    the list from GET /lke/versions.
    """
    listed = sorted(set(minor(v) for v in available or []), key=minor_index)
    cur, tgt = minor(current), minor(target)
    if tgt not in listed:
        raise VersionError("target version %s is not offered by LKE; available: %s"
                           % (target, ", ".join(listed) or "none"))
    if minor_index(tgt) == minor_index(cur):
        return "at_target"
    if minor_index(tgt) < minor_index(cur):
        raise VersionError("target version %s is older than the cluster's %s; LKE cannot downgrade. "
                           "Valid target: %s" % (tgt, cur, _valid_next(cur, listed)))
    if minor_index(tgt) != minor_index(cur) + 1:
        raise VersionError("target version %s is more than one minor above the cluster's %s; Kubernetes "
                           "upgrades one minor at a time. Valid target now: %s, then run again"
                           % (tgt, cur, _valid_next(cur, listed)))
    return "upgrade"


def _valid_next(cur, listed):
    nxt = next_minor(cur)
    return nxt if nxt in listed else "none (the cluster is on the newest offered version)"


def skew_problems(target, kubelet_versions):
    """Kubelets that would break the skew policy once the control plane runs ``target``.

    A kubelet must not be newer than the API server nor more than KUBELET_MAX_SKEW minors
    older. Returns a list of (version, reason).
    """
    problems = []
    tgt = minor_index(target)
    for version in sorted(set(v for v in kubelet_versions if v)):
        idx = minor_index(version)
        if idx > tgt:
            problems.append((version, "kubelet %s is newer than the target control plane %s" % (version, minor(target))))
        elif tgt - idx > KUBELET_MAX_SKEW:
            problems.append((version, "kubelet %s would be %d minors older than the control plane %s (at most %d)"
                             % (version, tgt - idx, minor(target), KUBELET_MAX_SKEW)))
    return problems


def removed_between(current, target):
    """Removed API (group/version, kind) pairs that stop being served when moving current -> target."""
    cur, tgt = parse(current)[1], parse(target)[1]
    return [(gv, kind, removed) for removed, gv, kind in REMOVED_APIS if cur < removed <= tgt]


def version_at_least(kubelet, target):
    """Whether a kubelet version string ('v1.35.2') is at the target or newer.

    A target written as a minor ('1.35') compares minors; one with a patch ('1.35.3', a node
    patch level LKE rolled out) compares patches too, so nodes on an older patch of the same
    minor are not at the target and get recycled.
    """
    try:
        kmajor, kminor, kpatch = parse(kubelet)
        tmajor, tminor, tpatch = parse(target)
    except VersionError:
        return False
    if tpatch is None:
        return (kmajor, kminor) >= (tmajor, tminor)
    return (kmajor, kminor, kpatch or 0) >= (tmajor, tminor, tpatch)
