"""Unit tests for common/errors.py: what RunbookError carries and what a module fails with."""

import datetime

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error, require_lib


class Failed(Exception):
    pass


class FakeModule(object):
    """Records fail_json's keyword arguments; like AnsibleModule, fail_json does not return."""

    def __init__(self):
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise Failed()


class ApiError(RunbookError):
    pass


def test_runbook_error_carries_message_status_and_details():
    err = ApiError("pool 7 not found", status=404, details={"pool": 7}, cluster=3)
    assert str(err) == "pool 7 not found" and err.msg == "pool 7 not found"
    assert err.status == 404 and err.details == {"pool": 7, "cluster": 3}
    assert isinstance(err, RunbookError) and isinstance(err, Exception)


def test_details_are_copied_not_shared():
    given = {"a": 1}
    err = RunbookError("x", details=given)
    err.details["b"] = 2
    assert given == {"a": 1}
    assert RunbookError("x").details == {} and RunbookError("x").status is None


def test_fail_from_error_passes_status_and_plain_details():
    module = FakeModule()
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    with pytest.raises(Failed):
        fail_from_error(module, RunbookError("drain stopped", status=429, details={"at": when, "pods": ("a", "b")}))
    assert module.failed == {"msg": "drain stopped", "status": 429,
                             "details": {"at": "2026-01-02 03:04:05", "pods": ["a", "b"]}}


def test_fail_from_error_keeps_what_the_module_gathered():
    module = FakeModule()
    with pytest.raises(Failed):
        fail_from_error(module, RunbookError("boom", status=500, details={"x": 1}), status="partial", nodes=["n1"])
    assert module.failed == {"msg": "boom", "status": "partial", "nodes": ["n1"], "details": {"x": 1}}


def test_fail_from_error_of_a_plain_exception_has_only_the_message():
    module = FakeModule()
    with pytest.raises(Failed):
        fail_from_error(module, ValueError("bad value"))
    assert module.failed == {"msg": "bad value"}


def test_require_lib_fails_with_ansibles_text_only_when_missing():
    module = FakeModule()
    require_lib(module, "linode_api4", True)
    assert module.failed is None
    with pytest.raises(Failed):
        require_lib(module, "linode_api4", False, ImportError("No module named 'linode_api4'"), reason="for the API")
    assert "Failed to import the required Python library (linode_api4)" in module.failed["msg"]
    assert "for the API" in module.failed["msg"]
    assert module.failed["exception"] == "No module named 'linode_api4'"
