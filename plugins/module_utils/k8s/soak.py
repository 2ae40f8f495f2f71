# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The soak between rollout batches: watch the edge prober and the pods for a while, stop on a regression.

What is watched, from the soak's start:
- the prober's error rate (failed / all requests of every target, from its samples.jsonl);
- container restarts of pods that existed when the soak began (same uid, restartCount grew);
- pods not Ready now that were not counted at the start (pods being deleted and finished pods ignored).

A regression is any of these past its threshold; the soak ends at once with the reasons. A soak may end
early when ``end_early_after`` seconds passed with no failed request and no restart (zero error-budget burn).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.background import read_jsonl
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
DEFAULT_THRESHOLDS = {"error_rate": 0.0, "restarts": 0, "not_ready": 0}


class SoakError(RunbookError):
    """Bad soak settings."""


def thresholds(given):
    out = dict(DEFAULT_THRESHOLDS)
    for key, value in (given or {}).items():
        if key not in out:
            raise SoakError("soak threshold %r is not known; valid: %s" % (key, ", ".join(sorted(out))))
        if value is None:
            continue
        try:
            value = float(value) if key == "error_rate" else int(value)
        except (TypeError, ValueError):
            raise SoakError("soak threshold %s=%r is not a number" % (key, value))
        if value < 0 or (key == "error_rate" and value > 1):
            raise SoakError("soak threshold %s=%r is out of range (error_rate 0..1, counts 0 or more)" % (key, value))
        out[key] = value
    return out


def _pods(kube, namespaces):
    pods = []
    if namespaces:
        for namespace in namespaces:
            pods.extend(kube.pods(namespace=namespace))
    else:
        pods = [p for p in kube.pods() if p["metadata"].get("namespace") not in SYSTEM_NAMESPACES]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp") and not objects.is_finished(p)]


def pod_snapshot(kube, namespaces):
    """{uid: (namespace/name, restarts, ready)} of the live pods."""
    out = {}
    for pod in _pods(kube, namespaces):
        restarts = sum(int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])
        out[pod["metadata"].get("uid") or objects.pod_key(pod)] = (objects.pod_key(pod), restarts, objects.pod_ready(pod))
    return out


def compare(before, now):
    """(restarts since the start, with who; pods not Ready now that were Ready or absent at the start)."""
    restarted, not_ready = {}, []
    for uid, (key, restarts, ready) in now.items():
        was = before.get(uid)
        if was is not None and restarts > was[1]:
            restarted[key] = restarts - was[1]
        if not ready and (was is None or was[2]):
            not_ready.append(key)
    return restarted, sorted(not_ready)


def probe_window(probe_dir, since):
    """(requests, failed) of every target in the prober's rounds at or after ``since``."""
    if not probe_dir:
        return 0, 0
    requests = failed = 0
    for sample in read_jsonl(os.path.join(probe_dir, "samples.jsonl")):
        if sample.get("ts", 0) < since:
            continue
        for ok in (sample.get("ok") or {}).values():
            requests += 1
            failed += 0 if ok else 1
    return requests, failed


def verdict(requests, failed, restarted, not_ready, limits):
    reasons = []
    rate = (float(failed) / requests) if requests else 0.0
    if failed and rate > limits["error_rate"]:
        reasons.append("edge error rate %.1f%% (%d of %d requests failed) is above %.1f%%"
                       % (rate * 100, failed, requests, limits["error_rate"] * 100))
    total = sum(restarted.values())
    if total > limits["restarts"]:
        reasons.append("%d container restart(s) (%s), more than %d"
                       % (total, ", ".join("%s +%d" % kv for kv in sorted(restarted.items())), limits["restarts"]))
    if len(not_ready) > limits["not_ready"]:
        reasons.append("%d pod(s) not Ready (%s), more than %d"
                       % (len(not_ready), ", ".join(not_ready[:5]), limits["not_ready"]))
    return rate, reasons


def soak(kube, seconds, probe_dir=None, namespaces=None, limits=None, end_early_after=None, interval=1.0,
         clock=time.time, sleep=time.sleep, progress=None):
    """Watch for ``seconds``; return the findings: status passed | regressed, reasons, figures."""
    limits = thresholds(limits)
    seconds = float(seconds)
    if seconds < 0:
        raise SoakError("soak seconds %r must be 0 or more" % seconds)
    started = clock()
    before = pod_snapshot(kube, namespaces)
    ended_early = False
    while True:
        requests, failed = probe_window(probe_dir, started)
        restarted, not_ready = compare(before, pod_snapshot(kube, namespaces))
        rate, reasons = verdict(requests, failed, restarted, not_ready, limits)
        elapsed = clock() - started
        if reasons:
            break
        if end_early_after is not None and elapsed >= float(end_early_after) and requests and not failed \
                and not restarted and not not_ready and elapsed < seconds:
            ended_early = True
            break
        if elapsed >= seconds:
            break
        if progress is not None:
            progress("soaking: %.0f of %.0f s, %d/%d requests failed" % (elapsed, seconds, failed, requests))
        sleep(min(float(interval), max(0.0, seconds - elapsed)))
    return {"status": "regressed" if reasons else "passed", "reasons": reasons, "seconds": round(elapsed, 1),
            "planned_seconds": seconds, "ended_early": ended_early, "requests": requests,
            "failed_requests": failed, "error_rate": round(rate, 4), "restarts": restarted, "not_ready": not_ready,
            "thresholds": limits}
