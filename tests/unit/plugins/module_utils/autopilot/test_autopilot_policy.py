"""The autopilot's policy: every bad key refused by name, defaults filled in."""

import copy

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import policy

GOOD = {
    "timezone": "Europe/Berlin",
    "windows": [{"days": ["tue", "wed"], "start": "22:00", "end": "04:00"}],
    "freezes": [{"start": "2026-12-20", "end": "2027-01-04", "reason": "holidays"}],
    "components": {
        "lke_kubernetes": {"minor": "approve", "major": "never", "min_release_age_days": 14},
        "lke_node_patch": {"patch": "auto"},
        "postgres": {"backend": "host", "patch": "auto", "major": "approve"},
    },
    "waves": [{"name": "canary", "clusters": ["staging"], "soak_hours": 24}, {"clusters": ["prod"]}],
}


def test_good_policy_gets_defaults():
    out = policy.validate(copy.deepcopy(GOOD))
    assert out["components"]["lke_node_patch"] == {"patch": "auto", "min_release_age_days": 7, "disruptive": True}
    assert out["components"]["lke_kubernetes"]["min_release_age_days"] == 14
    assert out["components"]["postgres"]["backend"] == "host"
    assert out["windows"][0]["timezone"] == "Europe/Berlin"
    assert out["slo"] == {"objective": 99.99, "window": "30d"}
    assert out["waves"][1]["name"] == "wave2" and out["waves"][1]["soak_hours"] == 0
    assert out["approval_expiry_hours"] == 72


def _with(path, value):
    doc = copy.deepcopy(GOOD)
    node = doc
    for part in path[:-1]:
        node = node[part]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@pytest.mark.parametrize("path, value, key, words", [
    (("components", "mysql"), {"patch": "auto"}, "components.mysql", "lke_kubernetes"),
    (("components", "postgres", "minor"), "auto", "components.postgres.minor", "patch, major"),
    (("components", "lke_node_patch", "patch"), "yes", "components.lke_node_patch.patch", "auto, approve, never"),
    (("components", "postgres", "backend"), "crunchy", "components.postgres.backend", "cloudnative_pg"),
    # images are the CloudNativePG backend's releases: refused with the host backend, each tag MAJOR.MINOR
    (("components", "postgres", "images"), ["ghcr.io/x/postgresql:15.20"], "components.postgres.images",
     "backend is host"),
    (("components", "postgres"), {"patch": "approve", "major": "auto"}, "components.postgres.major", "more automatically"),
    (("components",), {}, "components", "at least one"),
    (("components",), KeyError, "components", "missing"),
    (("windows",), KeyError, "windows", "maintenance window"),
    (("windows", 0, "start"), "25:00", "windows[0]", "HH:MM"),
    (("windows", 0, "end"), "22:00", "windows[0]", "no length"),
    (("windows", 0, "days"), ["monday", "funday"], "windows[0].days", "mon, tue"),
    (("windows", 0, "timezone"), "Mars/Olympus", "windows[0]", "IANA"),
    (("windows", 0, "hours"), 3, "windows[0].hours", "days, start, end, timezone"),
    (("freezes", 0, "end"), "2026-12-01", "freezes[0]", "before or when it starts"),
    (("freezes", 0, "start"), "next week", "freezes[0]", "ISO 8601"),
    (("timezone",), "Berlin", "timezone", "IANA"),
    (("min_error_budget_percent",), 120, "min_error_budget_percent", "outside"),
    (("approval_expiry_hours",), 0, "approval_expiry_hours", "outside"),
    (("slo",), {"objective": 100}, "slo", "objective"),
    (("waves", 1, "clusters"), ["staging"], "waves[1].clusters", "already in wave canary"),
    (("waves", 0, "clusters"), [], "waves[0].clusters", "non-empty"),
    (("regression",), {"max_errors": 3}, "regression.max_errors", "max_probe_failure_percent"),
    (("schedule",), "nightly", "schedule", "valid keys"),
])
def test_bad_policy_names_the_key(path, value, key, words):
    with pytest.raises(policy.PolicyError) as err:
        policy.validate(_with(path, value))
    assert err.value.details["key"] == key
    assert words in str(err.value)


def test_empty_windows_refused_when_anything_may_run():
    doc = _with(("windows",), [])
    with pytest.raises(policy.PolicyError) as err:
        policy.validate(doc)
    assert err.value.details["key"] == "components.lke_kubernetes.minor"
    doc["components"] = {"lke_node_patch": {"patch": "never"}}
    assert policy.validate(doc)["windows"] == []


@pytest.mark.parametrize("images, key, words", [
    ("ghcr.io/x/postgresql:15.20", "components.postgres.images", "must be a list"),
    (["ghcr.io/x/postgresql:15.20", 15.2], "components.postgres.images[1]", "not an image reference"),
    (["ghcr.io/x/postgresql"], "components.postgres.images[0]", "has no tag"),
    (["ghcr.io/x/postgresql:latest"], "components.postgres.images[0]", "major version"),
])
def test_cloudnative_pg_images_are_checked_by_key(images, key, words):
    doc = {"windows": [{"start": "22:00", "end": "04:00"}],
           "components": {"postgres": {"backend": "cloudnative_pg", "patch": "auto", "images": images}}}
    with pytest.raises(policy.PolicyError) as err:
        policy.validate(doc)
    assert err.value.details["key"] == key and words in str(err.value), str(err.value)


def test_a_cloudnative_pg_image_tagged_with_its_major_alone_is_kept():
    """Enough for a major upgrade (cnpg.py tells which offers it can compare): the lab's major pair, PostGIS' 16-3.4."""
    doc = {"windows": [{"start": "22:00", "end": "04:00"}],
           "components": {"postgres": {"backend": "cloudnative_pg", "patch": "auto", "major": "approve",
                                       "images": ["ghcr.io/x/postgresql:17-bookworm", "lab.local/postgresql:18-926d4c04b05a"]}}}
    assert policy.validate(doc)["components"]["postgres"]["images"] == doc["components"]["postgres"]["images"]


def test_cloudnative_pg_images_are_kept_and_default_to_none():
    doc = {"windows": [{"start": "22:00", "end": "04:00"}],
           "components": {"postgres": {"backend": "cloudnative_pg", "patch": "auto",
                                       "images": ["ghcr.io/x/postgresql:15.20-bookworm"]}}}
    assert policy.validate(doc)["components"]["postgres"]["images"] == ["ghcr.io/x/postgresql:15.20-bookworm"]
    doc["components"]["postgres"] = {"patch": "auto"}
    assert policy.validate(doc)["components"]["postgres"] == dict(policy.validate(doc)["components"]["postgres"],
                                                                  backend="host", images=[])
    # the modules validate the validated policy again: its defaults (images [] with backend host) pass
    assert policy.validate(policy.validate(doc)) == policy.validate(doc)
