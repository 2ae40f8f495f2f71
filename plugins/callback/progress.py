# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Show, while a task runs, the progress lines that the runbooks' long waits write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: progress
type: aggregate
short_description: Show the progress lines of long waits in the play output while the task runs
version_added: 0.1.0
description:
  - A module cannot print while it runs, and the runbooks' longest tasks (a drain waiting on disruption
    budgets, a node recycle waiting for its replacement, a DNS propagation wait) run for minutes. They
    append timestamped lines to a progress file (C(reports/<run>/progress.log)).
  - A task result that carries C(progress_file) (the run journal returns it when a run opens) tells this
    callback which file to follow. From then on, new lines are shown in the play output every
    O(interval) seconds, also while a task is still running, prefixed with C(progress:).
  - Only lines written after the file is first seen are shown, so a resumed run does not replay old ones.
  - Works beside any stdout callback (it is an aggregate callback). Enable it with
    C(callbacks_enabled = fournines.runbooks.progress) in C(ansible.cfg), as this collection's own
    C(ansible.cfg) does; AWX job output shows the lines too.
author:
  - fournines.runbooks engineers (@fournines)
requirements:
  - enabled in C(callbacks_enabled)
options:
  interval:
    description: Seconds between two looks at the followed files.
    type: float
    default: 2.0
    env:
      - name: FOURNINES_PROGRESS_INTERVAL
    ini:
      - section: callback_fournines_progress
        key: interval
"""

import os
import threading

from ansible.plugins.callback import CallbackBase

#: The result key that names a file to follow.
RESULT_KEY = "progress_file"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fournines.runbooks.progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super(CallbackModule, self).__init__(display=display, options=options)
        self._offsets = {}            # path -> bytes already shown
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.interval = 2.0

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.interval = max(0.2, float(self.get_option("interval")))

    # --- following files ------------------------------------------------------------------

    def follow(self, path):
        """Show what is appended to ``path`` from now on."""
        path = os.path.abspath(path)
        with self._lock:
            if path not in self._offsets:
                try:
                    self._offsets[path] = os.path.getsize(path)
                except OSError:
                    self._offsets[path] = 0  # not written yet: everything will be new
        self._start()

    def flush(self):
        """Show every complete new line of the followed files; returns how many were shown."""
        shown = 0
        with self._lock:
            for path, offset in sorted(self._offsets.items()):
                try:
                    size = os.path.getsize(path)
                    if size < offset:  # replaced or truncated: start again from its beginning
                        offset = 0
                    if size == offset:
                        continue
                    with open(path, "rb") as handle:
                        handle.seek(offset)
                        data = handle.read(size - offset)
                except (IOError, OSError):
                    continue
                complete = data.rfind(b"\n") + 1  # a line still being written waits for the next look
                self._offsets[path] = offset + complete
                for line in data[:complete].decode("utf-8", "replace").splitlines():
                    if line.strip():
                        self._display.display("  progress: %s" % line.rstrip())
                        shown += 1
        return shown

    def _start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="fournines-progress")
            self._thread.daemon = True
            self._thread.start()

    def _watch(self):
        while not self._stop.wait(self.interval):
            self.flush()

    # --- events ----------------------------------------------------------------------------

    def v2_runner_on_ok(self, result):
        path = (result._result or {}).get(RESULT_KEY)
        if isinstance(path, str) and path:
            self.follow(path)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.flush()  # lines of the last task before the next task's banner

    def v2_playbook_on_handler_task_start(self, task):
        self.flush()

    def v2_playbook_on_stats(self, stats):
        self._stop.set()
        self.flush()
