import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import (
    Deadline,
    DeadlineExceeded,
    backoff_delays,
    retry_call,
    wait_until,
)


class Clock(object):
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Transient(Exception):
    pass


def test_backoff_grows_and_caps():
    gen = backoff_delays(0.5, 2.0, 3.0)
    assert [next(gen) for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_retry_until_success_within_deadline():
    clock = Clock()
    deadline = Deadline(30, clock=clock, sleep=clock.sleep)
    calls = []

    def flaky():
        calls.append(clock.now)
        if len(calls) < 4:
            raise Transient()
        return "ok"
    assert retry_call(flaky, deadline, lambda e: isinstance(e, Transient)) == "ok"
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_retry_after_overrides_backoff():
    clock = Clock()
    deadline = Deadline(30, clock=clock, sleep=clock.sleep)
    state = {"n": 0}

    def flaky():
        state["n"] += 1
        if state["n"] == 1:
            raise Transient()
        return state["n"]
    retry_call(flaky, deadline, lambda e: True, retry_after=lambda e: 7.0)
    assert clock.sleeps == [7.0]


def test_one_deadline_not_per_attempt():
    clock = Clock()
    deadline = Deadline(5, clock=clock, sleep=clock.sleep)

    def always():
        raise Transient()
    with pytest.raises(Transient):
        retry_call(always, deadline, lambda e: True)
    assert clock.now <= 5.0
    assert sum(clock.sleeps) <= 5.0


def test_permanent_error_not_retried():
    clock = Clock()
    deadline = Deadline(30, clock=clock, sleep=clock.sleep)

    def broken():
        raise ValueError("bad input")
    with pytest.raises(ValueError):
        retry_call(broken, deadline, lambda e: isinstance(e, Transient))
    assert clock.sleeps == []


def test_wait_until_times_out_with_what():
    clock = Clock()
    deadline = Deadline(3, clock=clock, sleep=clock.sleep)
    with pytest.raises(DeadlineExceeded, match="waiting for the moon"):
        wait_until(lambda: False, deadline, 1.0, "the moon")
    assert wait_until(lambda: 42, Deadline(1), 1.0) == 42


def test_deadline_rejects_negative():
    with pytest.raises(Exception, match="timeout"):
        Deadline(-1)
