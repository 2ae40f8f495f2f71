# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A background HTTP prober: one request per target per interval (1 s by default).

It runs as a detached process so it outlives the task that starts it, and writes under
its directory:

- ``prober.json``      the handle: pid, targets, interval, started (written at start)
- ``failures.jsonl``   one line per failed request: ts, target, status or error, latency_ms
- ``samples.jsonl``    one line per round: ts and the status of each target (for timelines)
- ``stopped``          written when it stops

Generic on purpose: the upgrade runbook and the node-failure drill share it. The process
mechanics (detaching, the handle, stopping, the deadline) live in background.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import threading
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common import background
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

HANDLE = "prober.json"
FAILURES = "failures.jsonl"
SAMPLES = "samples.jsonl"
STOPPED = background.STOPPED
#: A prober nobody stopped (its run was killed and never carried on) ends by itself after this.
MAX_SECONDS = 24 * 3600


class ProberError(RunbookError):
    """Bad targets, or a handle that does not belong to a prober."""


def normalize_targets(targets):
    out = []
    for index, target in enumerate(targets or []):
        if isinstance(target, str):
            target = {"url": target}
        if not isinstance(target, dict) or not str(target.get("url", "")).startswith(("http://", "https://")):
            raise ProberError("target %d (%r) needs a 'url' starting with http:// or https://" % (index + 1, target))
        out.append({"name": target.get("name") or target.get("host") or target["url"], "url": target["url"],
                    "host": target.get("host"), "expect": [int(s) for s in target.get("expect") or [200]]})
    if not out:
        raise ProberError("no probe targets; give at least one {'url': ..., 'host': ...}")
    names = [t["name"] for t in out]
    if len(set(names)) != len(names):
        raise ProberError("probe target names must be unique: %s" % ", ".join(names))
    return out


def probe_once(target, timeout):
    """(ok, status or None, error or None, latency_ms)."""
    headers = {"User-Agent": "fournines-prober/1"}
    if target.get("host"):
        headers["Host"] = target["host"]
    started = time.time()
    status, error = None, None
    try:
        resp = open_url(target["url"], headers=headers, timeout=timeout, validate_certs=target.get("validate_certs", True),
                        follow_redirects="none", use_proxy=False)
        status = resp.getcode()
        resp.read()
        resp.close()
    except HTTPError as err:
        status = err.code
    except (URLError, OSError, ValueError) as err:
        error = str(getattr(err, "reason", err))
    latency = round((time.time() - started) * 1000.0, 1)
    return (status in target["expect"]), status, error, latency


def _append(path, record, lock):
    line = json.dumps(record, sort_keys=True) + "\n"
    with lock:
        with open(path, "a") as handle:
            handle.write(line)


def run_loop(directory, targets, interval, timeout, should_stop, max_seconds=MAX_SECONDS):
    """Probe until ``should_stop()`` or ``max_seconds``; rounds are aligned to the interval, not drifting."""
    lock = threading.Lock()
    failures, samples = os.path.join(directory, FAILURES), os.path.join(directory, SAMPLES)
    next_round = time.time()
    give_up = time.time() + float(max_seconds)
    while not should_stop() and time.time() < give_up:
        ts = time.time()
        results = {}

        def one(target):
            ok, status, error, latency = probe_once(target, timeout)
            results[target["name"]] = ok
            if not ok:
                _append(failures, {"ts": round(ts, 3), "target": target["name"], "url": target["url"],
                                   "status": status, "error": error, "latency_ms": latency}, lock)

        threads = [threading.Thread(target=one, args=(t,)) for t in targets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _append(samples, {"ts": round(ts, 3), "ok": results}, lock)
        next_round += interval
        delay = next_round - time.time()
        if delay < 0:  # a slow round: skip ahead rather than burst
            next_round = time.time()
            delay = 0
        background.sleep_until(time.time() + delay, should_stop, 0.1)


def start(directory, targets, interval=1.0, timeout=None, max_seconds=MAX_SECONDS):
    """Start a detached prober writing to ``directory``; return its handle.

    A prober already running for ``directory`` is left alone and its handle returned.
    """
    targets = normalize_targets(targets)
    if not 0.1 <= float(interval) <= 60:
        raise ProberError("interval %r is not valid; give 0.1 to 60 seconds" % (interval,))
    if float(max_seconds) <= 0:
        raise ProberError("max_seconds %r is not valid; give a positive number of seconds" % (max_seconds,))
    timeout = float(timeout or max(0.1, float(interval) * 0.8))
    existing = read_handle(directory)
    if existing and is_running(existing):
        return dict(existing, already_running=True)
    background.prepare(directory)

    def main():
        background.redirect_output()
        should_stop = background.stop_flag()
        try:
            run_loop(directory, targets, float(interval), timeout, should_stop, max_seconds)
        finally:
            background.mark_stopped(directory)

    pid = background.spawn(main)
    handle = {"pid": pid, "dir": os.path.abspath(directory), "targets": targets, "interval": float(interval),
              "timeout": timeout, "started": time.time(), "max_seconds": float(max_seconds),
              "failures_file": os.path.join(os.path.abspath(directory), FAILURES),
              "samples_file": os.path.join(os.path.abspath(directory), SAMPLES)}
    background.write_handle(directory, HANDLE, handle)
    return dict(handle, already_running=False)


def read_handle(directory):
    return background.read_handle(directory, HANDLE)


is_running = background.is_running


def stop(directory, wait=5.0):
    """Stop the prober of ``directory`` (if running) and return its summary."""
    return background.stop(directory, HANDLE, summary, wait=wait, not_started=ProberError(
        "no prober handle in %s; start one first (state=started)" % directory))


read_jsonl = background.read_jsonl


def downtime_intervals(samples, target, interval):
    """Merge failing rounds of one target into [start, end) intervals (end = next good round).

    A gap in the samples (the prober was stopped, as between an interrupted run and its resume)
    ends an interval one interval after its last failed round: unobserved time is not charged.
    """
    intervals, current, last_ts = [], None, None
    for sample in samples:
        if target not in sample["ok"]:
            continue
        if current is not None and last_ts is not None and sample["ts"] - last_ts > 3 * interval:
            intervals.append(current)  # the prober was not running in between: measure nothing there
            current = None
        last_ts = sample["ts"]
        if not sample["ok"][target]:
            if current is None:
                current = [sample["ts"], sample["ts"] + interval]
            else:
                current[1] = sample["ts"] + interval
        elif current is not None:
            current[1] = sample["ts"]
            intervals.append(current)
            current = None
    if current is not None:
        intervals.append(current)
    return [{"start": round(s, 3), "end": round(e, 3), "seconds": round(e - s, 3)} for s, e in intervals]


def _union(targets):
    pairs = sorted((i["start"], i["end"]) for t in targets.values() for i in t["downtime_intervals"])
    merged = []
    for start, end in pairs:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def summary(directory):
    handle = read_handle(directory) or {}
    samples = read_jsonl(os.path.join(directory, SAMPLES))
    failures = read_jsonl(os.path.join(directory, FAILURES))
    interval = float(handle.get("interval") or 1.0)
    targets = {}
    for target in handle.get("targets") or []:
        name = target["name"]
        rounds = [s for s in samples if name in s["ok"]]
        failed = [f for f in failures if f["target"] == name]
        intervals = downtime_intervals(samples, name, interval)
        targets[name] = {"requests": len(rounds), "failed_requests": len(failed),
                         "downtime_seconds": round(sum(i["seconds"] for i in intervals), 3),
                         "downtime_intervals": intervals}
    return {"dir": directory, "pid": handle.get("pid"), "running": bool(handle) and is_running(handle),
            "started": handle.get("started"), "first": samples[0]["ts"] if samples else None,
            "last": samples[-1]["ts"] if samples else None,
            "last_ok": bool(samples) and all(samples[-1]["ok"].values()),
            "downtime_seconds": round(sum(e - s for s, e in _union(targets)), 3), "requests": sum(t["requests"] for t in targets.values()),
            "failed_requests": len(failures), "targets": targets, "failures_file": os.path.join(directory, FAILURES),
            "samples_file": os.path.join(directory, SAMPLES)}
