import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import versions


@pytest.mark.parametrize("text,expected", [
    ("1.34", (1, 34, None)), ("v1.35.4", (1, 35, 4)), ("1.35.4-lke1", (1, 35, 4)), (" 1.9 ", (1, 9, None)),
])
def test_parse(text, expected):
    assert versions.parse(text) == expected


@pytest.mark.parametrize("bad", ["", None, "latest", "1", "one.two", "1.x"])
def test_parse_rejects(bad):
    with pytest.raises(versions.VersionError, match="not a Kubernetes version"):
        versions.parse(bad)


AVAILABLE = ["1.33", "1.34", "1.35"]


def test_step_one_minor_up():
    assert versions.plan_step("1.34", "1.35", AVAILABLE) == "upgrade"
    assert versions.plan_step("v1.34.6", "1.35", AVAILABLE) == "upgrade"


def test_step_at_target_is_resume():
    assert versions.plan_step("1.35", "1.35", AVAILABLE) == "at_target"


def test_two_minor_jump_refused_names_valid_target():
    with pytest.raises(versions.VersionError, match="more than one minor.*Valid target now: 1.34"):
        versions.plan_step("1.33", "1.35", AVAILABLE)


def test_downgrade_refused():
    with pytest.raises(versions.VersionError, match="cannot downgrade"):
        versions.plan_step("1.35", "1.34", AVAILABLE)


def test_unknown_version_refused_lists_available():
    with pytest.raises(versions.VersionError, match="not offered by LKE; available: 1.33, 1.34, 1.35"):
        versions.plan_step("1.34", "1.36", AVAILABLE)


def test_newest_has_no_valid_next():
    with pytest.raises(versions.VersionError, match="newest offered"):
        versions.plan_step("1.35", "1.34", AVAILABLE)


def test_skew_rules():
    assert versions.skew_problems("1.35", ["v1.34.6", "v1.35.4", "v1.32.1"]) == []
    problems = versions.skew_problems("1.35", ["v1.31.9", "v1.36.0", None])
    assert [p[0] for p in problems] == ["v1.31.9", "v1.36.0"]
    assert "4 minors older" in problems[0][1]
    assert "newer" in problems[1][1]


def test_removed_between():
    removed = versions.removed_between("1.24", "1.25")
    assert ("batch/v1beta1", "CronJob", 25) in removed
    assert all(r[2] == 25 for r in removed)
    assert versions.removed_between("1.34", "1.35") == []
    assert ("flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration", 29) in versions.removed_between("1.28", "1.29")


def test_version_at_least():
    assert versions.version_at_least("v1.35.4", "1.35")
    assert not versions.version_at_least("v1.34.6", "1.35")
    assert not versions.version_at_least("garbage", "1.35")


def test_version_at_least_a_patch_level_target_compares_patches():
    # a node patch level (the autopilot's lke_node_patch): same minor, older patch = not there yet
    assert not versions.version_at_least("v1.34.6", "1.34.7")
    assert versions.version_at_least("v1.34.7", "1.34.7")
    assert versions.version_at_least("v1.34.8", "1.34.7")
    assert versions.version_at_least("v1.35.0", "1.34.7")
    assert not versions.version_at_least("v1.33.9", "1.34.7")
    # a minor target still ignores patches
    assert versions.version_at_least("v1.34.0", "1.34")
