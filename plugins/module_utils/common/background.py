# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Detached helper processes that outlive the Ansible task that started them.

The HTTP prober (prober.py) and the drill watcher (drill_watch.py) run in the background for a
whole runbook: a task starts one, later tasks read what it wrote, a last task stops it. Both
share the mechanics kept here:

- one directory per helper, holding a JSON *handle* (pid, directory, settings) and a *stopped*
  marker the helper writes when it ends;
- a double fork into a new session, so the helper is not the task's zombie and survives the
  task (and a killed ``ansible-playbook``; a re-run finds it through the handle and adopts it);
- SIGTERM/SIGINT set a flag the helper's loop polls, so it ends between rounds, never half-way
  through a line;
- a deadline (``max_seconds``) after which the helper stops by itself, so a run that was killed
  and never resumed does not leave it running for ever;
- JSON-lines output read back leniently (the last line may be cut short by a kill).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import time

STOPPED = "stopped"

#: The ``state`` option of a module that starts and stops a helper (doc fragment ``fournines.runbooks.background``).
STATE_SPEC = dict(state=dict(type="str", default="started", choices=["started", "stopped"]))


def read_handle(directory, handle_name):
    """The helper's handle in ``directory``, or None when none was started there."""
    path = os.path.join(directory, handle_name)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def write_handle(directory, handle_name, handle):
    """Write the handle atomically (a reader never sees half a file)."""
    tmp = os.path.join(directory, ".%s.tmp" % handle_name)
    with open(tmp, "w") as out:
        json.dump(handle, out, indent=2, sort_keys=True)
    os.replace(tmp, os.path.join(directory, handle_name))


def is_running(handle):
    """True while the handle's pid is alive, is a Python process and has not marked itself stopped."""
    pid = int(handle.get("pid") or 0)
    if pid <= 0 or os.path.exists(os.path.join(handle["dir"], STOPPED)):
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a recycled pid is not our helper: ours is a python process
        with open("/proc/%d/cmdline" % pid, "rb") as cmdline:
            return b"python" in cmdline.read()
    except (IOError, OSError):
        return True


def prepare(directory):
    """Create ``directory`` and clear the stopped marker of an earlier helper."""
    if not os.path.isdir(directory):
        os.makedirs(directory)
    marker = os.path.join(directory, STOPPED)
    if os.path.exists(marker):
        os.unlink(marker)


def spawn(main):
    """Run ``main()`` in a detached grandchild (new session); return its pid.

    The intermediate child exits at once, so the caller reaps it and the helper is re-parented
    to init; the helper's pid comes back through a pipe.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            os.setsid()
            grandchild = os.fork()
            if grandchild:
                os.write(write_fd, str(grandchild).encode())
                os._exit(0)
            os.close(write_fd)
            main()
        finally:
            os._exit(0)
    os.close(write_fd)
    data = b""
    while True:
        chunk = os.read(read_fd, 64)
        if not chunk:
            break
        data += chunk
    os.close(read_fd)
    os.waitpid(pid, 0)
    return int(data)


def stop_flag():
    """Install SIGTERM/SIGINT handlers in the helper; returns a callable: has a stop been asked?"""
    state = {"stop": False}

    def on_signal(signum, frame):
        state["stop"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return lambda: state["stop"]


def redirect_output(log_path=None):
    """Detach stdin/stdout/stderr from the task (its pipes close when the task ends)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    out = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if log_path else devnull
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)


def mark_stopped(directory):
    with open(os.path.join(directory, STOPPED), "w") as handle:
        handle.write("%.3f\n" % time.time())


def terminate(directory, handle, wait=5.0):
    """SIGTERM the helper of ``handle`` and wait up to ``wait`` s for its stopped marker.

    Returns whether it was running.
    """
    if not is_running(handle):
        return False
    os.kill(int(handle["pid"]), signal.SIGTERM)
    end = time.time() + wait
    while time.time() < end and not os.path.exists(os.path.join(directory, STOPPED)):
        time.sleep(0.05)
    return True


def stop(directory, handle_name, summary, not_started, wait=5.0):
    """Stop the helper of ``directory`` if it runs; return ``summary(directory)`` with ``was_running``.

    ``not_started`` is the caller's RunbookError, raised when ``directory`` has no handle (nothing
    was ever started there).
    """
    handle = read_handle(directory, handle_name)
    if handle is None:
        raise not_started
    was_running = terminate(directory, handle, wait)
    return dict(summary(directory), was_running=was_running)


def sleep_until(deadline, should_stop, step=0.05):
    """Sleep until ``deadline`` (epoch seconds) in short steps, returning early on a stop."""
    while time.time() < deadline and not should_stop():
        time.sleep(min(step, max(0.0, deadline - time.time())))


def read_jsonl(path):
    """Records of a JSON-lines file; a missing file is empty, a line cut short by a kill is skipped."""
    out = []
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        continue
    return out
