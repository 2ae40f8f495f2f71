# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deadlines and backoff shared by the Linode and Kubernetes code.

One overall deadline bounds every wait and every retry loop of a step, so a run never
multiplies its timeouts the way per-attempt timeouts do (Kubespray's drain retries repeat
the whole timeout each time).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError


class DeadlineExceeded(RunbookError):
    """The overall deadline passed before the operation finished."""


class Deadline(object):
    """A point in monotonic time; ``clock`` and ``sleep`` are injectable for tests."""

    def __init__(self, seconds, clock=None, sleep=None):
        if seconds is None or seconds < 0:
            raise RunbookError("timeout %r is not valid; give 0 or more seconds" % (seconds,))
        self.clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self.seconds = float(seconds)
        self.start = self.clock()
        self.end = self.start + self.seconds

    def remaining(self):
        return max(0.0, self.end - self.clock())

    def elapsed(self):
        return self.clock() - self.start

    def expired(self):
        return self.clock() >= self.end

    def sleep(self, seconds):
        """Sleep ``seconds`` but never past the deadline; return False if none was left."""
        left = self.remaining()
        if left <= 0:
            return False
        self._sleep(max(0.0, min(seconds, left)))
        return True


def backoff_delays(initial=0.5, factor=2.0, maximum=10.0):
    """Endless exponential backoff: initial, initial*factor, ... capped at ``maximum``."""
    delay = initial
    while True:
        yield delay
        delay = min(maximum, delay * factor)


def retry_call(func, deadline, is_transient, delays=None, retry_after=None, on_retry=None):
    """Call ``func()`` until it returns, retrying transient errors until ``deadline``.

    ``is_transient(err)`` says whether an exception may be retried. ``retry_after(err)``
    may return the server's requested wait in seconds (HTTP Retry-After), which replaces
    the backoff delay for that attempt. Waits are cut at the deadline, where one last
    attempt is made; its error is re-raised.
    """
    delays = delays or backoff_delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            return func()
        except Exception as err:  # pylint: disable=broad-except
            if not is_transient(err):
                raise
            delay = next(delays)
            if retry_after is not None:
                wanted = retry_after(err)
                if wanted is not None:
                    delay = wanted
            left = deadline.remaining()
            if left <= 0.05:
                raise
            delay = min(delay, left)  # one last attempt at the deadline rather than giving up early
            if on_retry is not None:
                on_retry(err, attempt, delay)
            deadline.sleep(delay)


def wait_until(predicate, deadline, interval=1.0, what="condition", on_wait=None):
    """Poll ``predicate()`` until it returns a truthy value; raise DeadlineExceeded after."""
    while True:
        value = predicate()
        if value:
            return value
        if deadline.expired():
            raise DeadlineExceeded("timed out after %.0f s waiting for %s" % (deadline.seconds, what))
        if on_wait is not None:
            on_wait(deadline.elapsed())
        deadline.sleep(interval)
