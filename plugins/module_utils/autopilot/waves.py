# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleets in waves: which clusters may take a change now. Pure: the callers read the files.

The policy's ``waves`` (validated by :mod:`policy`) name inventory clusters in order; the first wave
is the canary. A cluster of wave N takes a version only once every cluster of every earlier wave

1. has taken that version (or a newer one) -- the ledger's ``applied`` event, or its current version,
2. has soaked for its wave's ``soak_hours`` since it took it, and
3. did not regress since: its prober failed at most ``regression.max_probe_failure_percent`` of its
   rounds, and its error budget fell by at most ``regression.max_budget_drop_percent`` points.

Otherwise the cluster's decision is ``wait: wave`` with the reason :func:`holds` gives (the
``wave_hold`` of :func:`decide.decide`). A regressed canary stops the later waves for that version
until a person looks; a newer version starts the waves again. Clusters no wave names go last, in an
implicit wave ``unlisted`` (soak 0). Without ``waves`` nothing is held.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import decide as decide_mod
from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import run
from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo

UTC = datetime.timezone.utc
UNLISTED = "unlisted"


def _z(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan(policy, clusters):
    """The waves over the inventory's ``clusters``: the policy's, restricted to them, then the unlisted ones.

    Clusters a wave names but the inventory (or ``--limit``) does not hold are left out of that wave:
    their absence is not a reason to hold anyone, since :func:`holds` only looks at clusters in this run.
    """
    present = [str(c) for c in clusters]
    out, named = [], set()
    for wave in policy.get("waves") or []:
        members = [c for c in wave["clusters"] if c in present]
        named.update(wave["clusters"])
        if members:
            out.append({"name": wave["name"], "clusters": members, "soak_hours": float(wave.get("soak_hours") or 0)})
    rest = [c for c in present if c not in named]
    if rest:
        out.append({"name": UNLISTED, "clusters": rest, "soak_hours": 0.0})
    return out


def _at_least(version, candidate):
    try:
        return decide_mod.version_tuple(version) >= decide_mod.version_tuple(candidate)
    except decide_mod.DecisionError:
        return False


def applied_at(events, cluster, component, candidate):
    """When ``cluster`` last took ``candidate`` (or newer) of ``component``: the ledger's ``applied`` event (ISO), or None."""
    when = None
    for event in events or []:
        if event.get("event") != "applied" or event.get("cluster") != cluster or event.get("component") != component:
            continue
        if _at_least(event.get("candidate"), candidate) and (when is None or event["ts"] > when):
            when = event["ts"]
    return when


def probe_failure_percent(samples, since, until=None):
    """Share (0-100) of prober rounds since ``since`` in which any target failed, and the rounds counted.

    ``samples`` are the prober's ``samples.jsonl`` records (``{"ts": epoch seconds, "ok": {target: bool}}``).
    """
    start = decide_mod.as_time(since).timestamp()
    end = decide_mod.as_time(until).timestamp() if until is not None else None
    rounds = [s for s in samples or [] if s.get("ts", 0) >= start and (end is None or s["ts"] <= end) and s.get("ok")]
    if not rounds:
        return 0.0, 0
    failed = sum(1 for s in rounds if not all(s["ok"].values()))
    return round(100.0 * failed / len(rounds), 3), len(rounds)


def budget_drop(intervals, objective, window, since, now):
    """Points (0-100) of error budget the cluster lost between ``since`` and ``now`` (its downtime ledger records)."""
    before = slo.budget(objective, window, intervals, now=decide_mod.as_time(since))
    after = slo.budget(objective, window, intervals, now=decide_mod.as_time(now))
    return round(max(0.0, before["remaining_percent"] - after["remaining_percent"]), 3)


def regression(policy, cluster, health):
    """A sentence saying how ``cluster`` regressed, or None. ``health``: ``probe_failure_percent``,
    ``probe_rounds``, ``budget_drop_percent`` (each may be missing: not measured, no regression seen)."""
    limits = policy.get("regression") or {}
    found = []
    failed = (health or {}).get("probe_failure_percent")
    if failed is not None and failed > limits.get("max_probe_failure_percent", 100.0):
        found.append("its prober failed %.1f %% of %s rounds (the policy allows %g %%)" % (
            failed, (health or {}).get("probe_rounds", "?"), limits["max_probe_failure_percent"]))
    drop = (health or {}).get("budget_drop_percent")
    if drop is not None and drop > limits.get("max_budget_drop_percent", 100.0):
        found.append("its error budget fell by %.1f points (the policy allows %g)" % (drop, limits["max_budget_drop_percent"]))
    return ("%s regressed: %s" % (cluster, " and ".join(found))) if found else None


def holds(policy, component, candidate, fleet, now):
    """``{cluster: None | reason}``: which clusters of ``fleet`` may take ``candidate`` of ``component`` now.

    ``fleet``: ``{cluster: {"current": version, "applied": ISO time it took candidate (see :func:`applied_at`)
    or None, "health": see :func:`regression`}}``; every cluster of this run, in any order.
    """
    now = decide_mod.as_time(now)
    out = {}
    blocked = None   # (earlier wave, reason) once a wave is not done with candidate
    for wave in plan(policy, list(fleet)):
        for cluster in wave["clusters"]:
            out[cluster] = None if blocked is None else "wave %s waits for wave %s: %s" % (
                wave["name"], blocked[0], blocked[1])
        if blocked is not None or not candidate:
            continue
        for cluster in wave["clusters"]:
            reason = _not_ready(policy, wave, cluster, component, candidate, fleet[cluster], now)
            if reason:
                blocked = (wave["name"], reason)
                break
    return out


def _not_ready(policy, wave, cluster, component, candidate, state, now):
    """Why ``cluster`` (of an earlier wave) does not yet let later waves take ``candidate``; None if it does."""
    applied = state.get("applied")
    if not applied and not _at_least(state.get("current"), candidate):
        return "%s has not taken %s %s yet (it runs %s)" % (cluster, component, candidate, state.get("current") or "?")
    if applied:
        since = decide_mod.as_time(applied)
        until = since + datetime.timedelta(hours=wave["soak_hours"])
        if now < until:
            return "%s took %s at %s and soaks %g h, until %s" % (cluster, candidate, _z(since), wave["soak_hours"],
                                                                  _z(until))
    bad = regression(policy, cluster, state.get("health"))
    if bad:
        return "%s since it took %s; the later waves do not get %s until a person looks" % (bad, candidate, candidate)
    return None


def fleet_holds(policy, clusters, events, now, read_samples, read_intervals):
    """Every cluster's holds, per component it has a candidate for: ``{cluster: {component: reason | None}}``
    and each cluster's health since it took each candidate: ``{cluster: {component: health}}``.

    ``clusters``: ``[{"name", "observations": [{"component", "current", "available"}], "probe_dir", "slo_ledger"}]``
    (observations as :func:`run.run_decisions` takes them; the candidate is :func:`run.candidate`'s);
    ``events``: the autopilot ledger's; ``read_samples(probe_dir)`` and ``read_intervals(slo_ledger)`` read a
    cluster's prober samples and downtime ledger (each may be None: not measured).
    """
    now = decide_mod.as_time(now)
    objective = (policy.get("slo") or {}).get("objective", 99.99)
    window = (policy.get("slo") or {}).get("window", "30d")
    by_name = {c["name"]: c for c in clusters}
    current = {name: {o["component"]: o.get("current") for o in c.get("observations") or []}
               for name, c in by_name.items()}
    cache = {}

    def state(cluster, component, candidate):
        spec = by_name[cluster]
        applied = applied_at(events, cluster, component, candidate)
        health = {}
        if applied:
            if (cluster, applied) not in cache:
                measured = {}
                if spec.get("probe_dir"):
                    failed, rounds = probe_failure_percent(read_samples(spec["probe_dir"]), applied, now)
                    measured.update(probe_failure_percent=failed, probe_rounds=rounds)
                if spec.get("slo_ledger"):
                    measured["budget_drop_percent"] = budget_drop(read_intervals(spec["slo_ledger"]), objective,
                                                                  window, applied, now)
                cache[(cluster, applied)] = measured
            health = cache[(cluster, applied)]
        return {"current": current[cluster].get(component), "applied": applied, "health": health}

    holds_out, health_out = {}, {}
    for cluster, spec in by_name.items():
        holds_out[cluster], health_out[cluster] = {}, {}
        for obs in spec.get("observations") or []:
            component = obs["component"]
            cand = run.candidate(component, obs.get("current"), obs.get("available")) if obs.get("current") else None
            if not cand:
                continue
            fleet = {name: state(name, component, cand) for name in by_name}
            holds_out[cluster][component] = holds(policy, component, cand, fleet, now)[cluster]
            health_out[cluster][component] = fleet[cluster]["health"]
    return holds_out, health_out
