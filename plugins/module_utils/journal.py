# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Journal plumbing for modules: open a run's state.json by directory, find a run to resume.

Modules that take ``journal_dir`` (``reports/<run-id>``) record their own steps there, so
a resumed run knows what was requested before the interruption.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.report import RunJournal, new_run_id


def open_journal(journal_dir, runbook=None):
    """The RunJournal at ``journal_dir``; its runbook name is read from the file if present."""
    if not journal_dir:
        return None
    journal_dir = os.path.abspath(journal_dir)
    state = os.path.join(journal_dir, "state.json")
    if runbook is None and os.path.exists(state):
        with open(state) as handle:
            runbook = json.load(handle).get("runbook")
    return RunJournal(os.path.dirname(journal_dir), os.path.basename(journal_dir), runbook or "unknown")


def unfinished_run(reports_dir, runbook, key=None):
    """The newest run of ``runbook`` under ``reports_dir`` that did not finish, or None.

    ``key`` (for example the cluster id) must match the run's ``facts.key`` when given, so a
    run for one cluster is never resumed against another.
    """
    if not os.path.isdir(reports_dir):
        return None
    best = None
    for name in sorted(os.listdir(reports_dir)):
        path = os.path.join(reports_dir, name, "state.json")
        if not os.path.isfile(path):
            continue
        try:
            with open(path) as handle:
                state = json.load(handle)
        except ValueError:
            continue
        if state.get("runbook") != runbook or state.get("status") not in ("running", "failed"):
            continue
        if key is not None and str((state.get("facts") or {}).get("key")) != str(key):
            continue
        if best is None or state.get("created", "") >= best[1]:
            best = (name, state.get("created", ""))
    return best[0] if best else None


def choose_run(reports_dir, runbook, run_id=None, resume=True, key=None):
    """(run_id, resumed): the given id, else an unfinished run to resume, else a new id."""
    if run_id:
        return run_id, os.path.exists(os.path.join(reports_dir, run_id, "state.json"))
    if resume:
        found = unfinished_run(reports_dir, runbook, key)
        if found:
            return found, True
    return new_run_id(runbook), False


class StepRecorder(object):
    """Record one module's work as a journal step: running at start, done or failed at the end.

    A no-op without ``journal_dir`` or in check mode (a plan changes nothing, not even the journal).
    """

    def __init__(self, journal_dir, name, check_mode=False):
        self.journal = None if (check_mode or not journal_dir) else open_journal(journal_dir)
        self.name = name

    def start(self, **details):
        if self.journal is not None:
            self.journal.step(self.name, "running", **details)

    def done(self, status="done", **details):
        if self.journal is not None:
            self.journal.step(self.name, status, **details)

    def failed(self, msg):
        if self.journal is not None:
            self.journal.step(self.name, "failed", error=msg)

    def progress(self, msg):
        """One timestamped line in ``progress.log`` beside state.json (``tail -f`` it during long waits)."""
        if self.journal is None:
            return
        with open(os.path.join(self.journal.dir, "progress.log"), "a") as handle:
            handle.write("%s %s: %s\n" % (time.strftime("%H:%M:%S", time.gmtime()), self.name, msg))
