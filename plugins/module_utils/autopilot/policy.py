# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the autopilot's policy (schema in this package's docstring) and fill in its defaults.

:func:`validate` returns the policy with every default written out, or raises :class:`PolicyError`
naming the key (``components.postgres.minor``) and what would be valid. It never reads a file or
the clock beyond checking time zones, so the module that calls it changes nothing on refusal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import windows as windows_mod
from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster

MODES = ("auto", "approve", "never")
#: How automatic a mode is: a bigger change kind may not be more automatic than a smaller one.
_RANK = {"never": 0, "approve": 1, "auto": 2}
#: Components the runbooks can upgrade, their change kinds (smallest first) and extra keys.
COMPONENTS = {
    "lke_kubernetes": {"kinds": ("minor", "major"), "extra": {}},
    "lke_node_patch": {"kinds": ("patch",), "extra": {}},
    "postgres": {"kinds": ("patch", "major"), "extra": {"backend": ("host", "cloudnative_pg")}},
}
_COMPONENT_KEYS = ("min_release_age_days", "disruptive")
#: Keys of one component that list what its backend is offered (postgres under cloudnative_pg: the images).
_OFFER_KEYS = {"postgres": ("images",)}
#: What autopilot_decide and autopilot_wave_holds decide from (doc fragment fournines.runbooks.autopilot):
#: the policy (free-form here: autopilot_policy documents and checks its keys), the records folder, the time.
DECISION_SPEC = dict(
    policy=dict(type="dict", required=True),
    state_dir=dict(type="path", required=True),
    now=dict(type="str"),
)
#: One component as discovery saw it: autopilot_decide's observations, autopilot_wave_holds' clusters[].observations.
OBSERVATION_SPEC = dict(
    component=dict(type="str", required=True, choices=list(COMPONENTS)),
    current=dict(type="str"),
    available=dict(type="list", elements="str", default=[]),
    # free-form: {version: image} (PostgreSQL under CloudNativePG); its keys are the versions offered
    images=dict(type="dict", default={}),
)
TOP_KEYS = ("timezone", "min_release_age_days", "min_error_budget_percent", "slo", "min_hours_between_changes",
            "approval_expiry_hours", "windows", "freezes", "components", "waves", "regression")
DEFAULTS = {
    "timezone": "UTC",
    "min_release_age_days": 7,
    "min_error_budget_percent": 25,
    "slo": {"objective": 99.99, "window": "30d"},
    "min_hours_between_changes": 24,
    "approval_expiry_hours": 72,
    "freezes": [],
    "waves": [],
    "regression": {"max_probe_failure_percent": 1.0, "max_budget_drop_percent": 10.0},
}


class PolicyError(RunbookError):
    """The policy is invalid; ``details["key"]`` names the key."""

    def __init__(self, key, msg):
        super(PolicyError, self).__init__("autopilot policy: %s: %s" % (key, msg), details={"key": key})


def decision_argument_spec(**options):
    """A fresh copy of :data:`DECISION_SPEC` plus a module's own ``options``."""
    return copy.deepcopy(dict(DECISION_SPEC, **options))


def observation_spec(**extra):
    """A fresh copy of :data:`OBSERVATION_SPEC` (its default list is the module run's own) plus ``extra``."""
    return copy.deepcopy(dict(OBSERVATION_SPEC, **extra))


def _mapping(value, key):
    if not isinstance(value, dict):
        raise PolicyError(key, "must be a mapping, got %s" % type(value).__name__)
    return value


def _known(mapping, allowed, key):
    for name in mapping:
        if name not in allowed:
            raise PolicyError("%s.%s" % (key, name) if key else str(name),
                              "unknown key; valid keys are %s" % ", ".join(allowed))


def _number(value, key, low=0.0, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise PolicyError(key, "%r is not a number" % (value,))
    if value < low or (high is not None and value > high):
        raise PolicyError(key, "%r is outside %s..%s" % (value, low, "" if high is None else high))
    return value


def _periods(raw, name, keys, how):
    """(key, entry) for each entry of the list ``name``: mappings of ``keys``, with a start and an end."""
    if not isinstance(raw, list):
        raise PolicyError(name, "must be a list of {%s}" % ", ".join(keys))
    for index, entry in enumerate(raw):
        key = "%s[%d]" % (name, index)
        _known(_mapping(entry, key), keys, key)
        for needed in ("start", "end"):
            if needed not in entry:
                raise PolicyError("%s.%s" % (key, needed), "missing; give %s" % how)
        yield key, entry


def _windows(raw, tz):
    result = []
    for key, window in _periods(raw, "windows", ("days", "start", "end", "timezone"),
                                'HH:MM, for example "22:00"'):
        days = window.get("days") or list(windows_mod.DAYS)
        if isinstance(days, str):
            days = [days]
        days = [str(d).lower()[:3] for d in days]
        for day in days:
            if day not in windows_mod.DAYS:
                raise PolicyError("%s.days" % key, "%r is not a day; valid: %s" % (day, ", ".join(windows_mod.DAYS)))
        try:
            start = windows_mod.parse_hhmm(window["start"], "%s.start" % key)
            end = windows_mod.parse_hhmm(window["end"], "%s.end" % key)
            windows_mod.timezone(window.get("timezone") or tz, "%s.timezone" % key)
        except windows_mod.WindowError as err:
            raise PolicyError(key, str(err))
        if start == end:
            raise PolicyError(key, "start and end are both %s: a window has no length; for a whole day give "
                              "00:00-23:59 or leave the window out of the list" % window["start"])
        result.append({"days": days, "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"),
                       "timezone": window.get("timezone") or tz})
    return result


def _freezes(raw, tz):
    result = []
    for key, freeze in _periods(raw, "freezes", ("start", "end", "reason", "timezone"),
                                "an ISO 8601 date or date-time"):
        try:
            zone = windows_mod.timezone(freeze.get("timezone") or tz, "%s.timezone" % key)
            start = windows_mod.parse_moment(freeze["start"], zone, "%s.start" % key)
            end = windows_mod.parse_moment(freeze["end"], zone, "%s.end" % key)
        except windows_mod.WindowError as err:
            raise PolicyError(key, str(err))
        if end <= start:
            raise PolicyError(key, "ends (%s) before or when it starts (%s)" % (freeze["end"], freeze["start"]))
        result.append({"start": _text(freeze["start"]), "end": _text(freeze["end"]),
                       "reason": str(freeze.get("reason") or "freeze"), "timezone": freeze.get("timezone") or tz})
    return result


def _text(value):
    return value.isoformat() if isinstance(value, (datetime.date, datetime.datetime)) else str(value)


def _components(raw, defaults):
    _known(_mapping(raw, "components"), tuple(COMPONENTS), "components")
    if not raw:
        raise PolicyError("components", "is empty; name at least one of %s" % ", ".join(COMPONENTS))
    result = {}
    for name, spec in raw.items():
        key = "components.%s" % name
        spec = _mapping(spec if spec is not None else {}, key)
        kinds = COMPONENTS[name]["kinds"]
        extra = COMPONENTS[name]["extra"]
        _known(spec, kinds + _COMPONENT_KEYS + tuple(extra) + _OFFER_KEYS.get(name, ()), key)
        out = {}
        for kind in kinds:
            mode = spec.get(kind, "never")
            if mode not in MODES:
                raise PolicyError("%s.%s" % (key, kind), "%r is not a mode; valid: %s" % (mode, ", ".join(MODES)))
            out[kind] = mode
        for smaller, bigger in zip(kinds, kinds[1:]):
            if _RANK[out[bigger]] > _RANK[out[smaller]]:
                raise PolicyError("%s.%s" % (key, bigger), "%s is %s but the smaller %s is %s: a bigger change may "
                                  "not go more automatically than a smaller one" % (
                                      bigger, out[bigger], smaller, out[smaller]))
        for extra_key, valid in extra.items():
            value = spec.get(extra_key, valid[0])
            if value not in valid:
                raise PolicyError("%s.%s" % (key, extra_key), "%r is not valid; valid: %s" % (value, ", ".join(valid)))
            out[extra_key] = value
        if name == "postgres":
            out["images"] = _images(spec, out["backend"], key)
        out["min_release_age_days"] = _number(spec.get("min_release_age_days", defaults["min_release_age_days"]),
                                              "%s.min_release_age_days" % key)
        disruptive = spec.get("disruptive", True)
        if not isinstance(disruptive, bool):
            raise PolicyError("%s.disruptive" % key, "%r is not true or false" % (disruptive,))
        out["disruptive"] = disruptive
        result[name] = out
    return result


def _images(spec, backend, key):
    """components.postgres.images: the PostgreSQL images the CloudNativePG backend may move its Cluster to (the
    APIs list no image catalogue). Each tag must start with the PostgreSQL version, MAJOR.MINOR or (enough for a major
    upgrade, see cnpg.py) MAJOR alone; only the cloudnative_pg backend takes them."""
    images = spec.get("images")
    if images is None or images == []:
        # none listed (a validated policy, validated again, lists [] for the host backend)
        return []
    if backend != "cloudnative_pg":
        raise PolicyError("%s.images" % key, "lists images, but backend is %s: images are the CloudNativePG backend's "
                          "releases; set backend: cloudnative_pg or leave images out (the host backend's release is "
                          "the inventory's postgres_minor_target_version)" % backend)
    if not isinstance(images, list):
        raise PolicyError("%s.images" % key, "must be a list of image references, such as "
                          "[ghcr.io/cloudnative-pg/postgresql:17.6-bookworm]")
    for index, image in enumerate(images):
        name = "%s.images[%d]" % (key, index)
        if not isinstance(image, str):
            raise PolicyError(name, "%r is not an image reference (text)" % (image,))
        try:
            cluster.image_version(image)
        except cluster.CnpgError as err:
            raise PolicyError(name, str(err))
    return list(images)


def _waves(raw):
    if not isinstance(raw, list):
        raise PolicyError("waves", "must be a list of {name, clusters, soak_hours}")
    seen, result = {}, []
    for index, wave in enumerate(raw):
        key = "waves[%d]" % index
        _known(_mapping(wave, key), ("name", "clusters", "soak_hours"), key)
        clusters = wave.get("clusters")
        if not isinstance(clusters, list) or not clusters:
            raise PolicyError("%s.clusters" % key, "must be a non-empty list of cluster (inventory host) names")
        for cluster in clusters:
            if cluster in seen:
                raise PolicyError("%s.clusters" % key, "%r is already in wave %s; a cluster belongs to one wave"
                                  % (cluster, seen[cluster]))
            seen[cluster] = wave.get("name") or index
        result.append({"name": str(wave.get("name") or "wave%d" % (index + 1)), "clusters": [str(c) for c in clusters],
                       "soak_hours": _number(wave.get("soak_hours", 0), "%s.soak_hours" % key)})
    return result


def validate(policy):
    """The policy with its defaults filled in; :class:`PolicyError` names the first bad key."""
    policy = _mapping(policy if policy is not None else {}, "policy")
    _known(policy, TOP_KEYS, "")
    if "components" not in policy:
        raise PolicyError("components", "missing; name at least one of %s" % ", ".join(COMPONENTS))
    if "windows" not in policy:
        raise PolicyError("windows", "missing; give at least one maintenance window, for example "
                          "[{days: [tue, wed, thu], start: \"22:00\", end: \"04:00\"}]")
    tz = policy.get("timezone") or DEFAULTS["timezone"]
    try:
        windows_mod.timezone(tz, "timezone")
    except windows_mod.WindowError as err:
        raise PolicyError("timezone", str(err))
    out = {"timezone": tz}
    out["min_release_age_days"] = _number(policy.get("min_release_age_days", DEFAULTS["min_release_age_days"]),
                                          "min_release_age_days")
    out["min_error_budget_percent"] = _number(policy.get("min_error_budget_percent",
                                                         DEFAULTS["min_error_budget_percent"]),
                                              "min_error_budget_percent", 0, 100)
    out["min_hours_between_changes"] = _number(policy.get("min_hours_between_changes",
                                                          DEFAULTS["min_hours_between_changes"]),
                                               "min_hours_between_changes")
    out["approval_expiry_hours"] = _number(policy.get("approval_expiry_hours", DEFAULTS["approval_expiry_hours"]),
                                           "approval_expiry_hours", 1)
    raw_slo = dict(DEFAULTS["slo"], **_mapping(policy.get("slo") or {}, "slo"))
    _known(raw_slo, ("objective", "window"), "slo")
    try:
        slo.validate_objective(raw_slo["objective"])
        slo.window_bounds(raw_slo["window"], datetime.datetime.now(slo.UTC))
    except slo.SLOError as err:
        raise PolicyError("slo", str(err))
    out["slo"] = {"objective": float(raw_slo["objective"]), "window": str(raw_slo["window"])}
    out["windows"] = _windows(policy["windows"], tz)
    out["freezes"] = _freezes(policy.get("freezes") or [], tz)
    out["components"] = _components(policy["components"], out)
    if not out["windows"]:
        for name, spec in out["components"].items():
            for kind in COMPONENTS[name]["kinds"]:
                if spec[kind] != "never":
                    raise PolicyError("components.%s.%s" % (name, kind), "is %s but windows is empty, so it could "
                                      "never be applied; add a maintenance window or set it to never" % spec[kind])
    out["waves"] = _waves(policy.get("waves") or [])
    regression = dict(DEFAULTS["regression"], **_mapping(policy.get("regression") or {}, "regression"))
    _known(regression, tuple(DEFAULTS["regression"]), "regression")
    out["regression"] = {
        "max_probe_failure_percent": _number(regression["max_probe_failure_percent"],
                                             "regression.max_probe_failure_percent", 0, 100),
        "max_budget_drop_percent": _number(regression["max_budget_drop_percent"],
                                           "regression.max_budget_drop_percent", 0, 100),
    }
    return out
