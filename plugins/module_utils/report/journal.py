# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One serialisable record of a runbook run, and the files built from it.

Every runbook keeps its record in ``reports/<run-id>/``:

- ``state.json``  the journal: run metadata plus one entry per step (name, status,
  started/finished timestamps, details). It is rewritten atomically after every change, so
  an interrupted run can be resumed by reading it back (:meth:`RunJournal.step_done`).
- ``report.json`` and ``report.md``, written by :meth:`RunJournal.write_report` from the
  journal plus runbook-specific sections.

Plain dicts on disk, one schema: ``{"run_id", "runbook", "created", "updated", "status",
"facts": {}, "steps": [{"name", "status", "started", "finished", "details"}]}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import random
import string
import tempfile
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.report import markdown

STEP_STATUSES = ("running", "done", "failed", "skipped", "rolled_back")

#: What a task records in a run's journal: facts and one step (documented by the
#: ``fournines.runbooks.journal.record`` doc fragment; runbook_journal and postgres_journal take it).
RECORD_ARG_SPEC = dict(
    reports_dir=dict(type="path", required=True),
    step=dict(type="str"),
    status=dict(type="str", default="done", choices=list(STEP_STATUSES)),
    details=dict(type="dict", default={}),  # free-form: whatever the step records
    facts=dict(type="dict", default={}),  # free-form: the run's own facts
    outcome=dict(type="dict", options=dict(
        summary=dict(type="str", required=True), error=dict(type="str"),
        changed=dict(type="list", elements="str", default=[]),
        unchanged=dict(type="list", elements="str", default=[]))),
)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(dt=None):
    return (dt or utcnow()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def new_run_id(runbook, now=None):
    """``<runbook>-YYYYmmddTHHMMSSZ-<4 random chars>``: sortable and unique enough."""
    suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for dummy in range(4))
    return "%s-%s-%s" % (runbook, (now or utcnow()).strftime("%Y%m%dT%H%M%SZ"), suffix)


def write_json_atomic(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True, default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class RunJournal(object):
    """The state of one run under ``<reports_dir>/<run_id>/``."""

    def __init__(self, reports_dir, run_id, runbook):
        if not run_id or os.sep in run_id or run_id.startswith("."):
            raise RunbookError("run id %r is not valid; use letters, digits, '-' and '_'" % (run_id,))
        self.dir = os.path.join(reports_dir, run_id)
        self.state_path = os.path.join(self.dir, "state.json")
        if os.path.exists(self.state_path):
            try:
                with open(self.state_path) as handle:
                    self.state = json.load(handle)
            except ValueError as err:
                raise RunbookError("state file %s is corrupt (%s); move it away to start the run afresh"
                                   % (self.state_path, err))
            if self.state.get("runbook") != runbook:
                raise RunbookError("run %s belongs to runbook %r, not %r; choose another run id"
                                   % (run_id, self.state.get("runbook"), runbook))
        else:
            now = iso()
            self.state = {"run_id": run_id, "runbook": runbook, "created": now, "updated": now,
                          "status": "running", "facts": {}, "steps": []}

    @property
    def resumed(self):
        return bool(self.state["steps"])

    def save(self):
        self.state["updated"] = iso()
        write_json_atomic(self.state_path, self.state)

    def find_step(self, name):
        """The step record ``name`` (name, status, started, finished, details), or None."""
        for step in self.state["steps"]:
            if step["name"] == name:
                return step
        return None

    def step_done(self, name):
        step = self.find_step(name)
        return bool(step and step["status"] in ("done", "skipped"))

    def step(self, name, status, **details):
        """Create or update the step ``name``; timestamps are kept per transition."""
        if status not in STEP_STATUSES:
            raise RunbookError("step status %r is not one of %s" % (status, ", ".join(STEP_STATUSES)))
        step = self.find_step(name)
        if step is None:
            step = {"name": name, "status": status, "started": iso(), "finished": None, "details": {}}
            self.state["steps"].append(step)
        step["status"] = status
        if status != "running":
            step["finished"] = iso()
        step["details"].update(details)
        self.save()
        return step

    def set_fact(self, key, value):
        self.state["facts"][key] = value
        self.save()

    def finish(self, status):
        self.state["status"] = status
        self.save()

    def set_outcome(self, summary, error=None, changed=None, unchanged=None):
        """Say how the run ended: what happened (``summary``), the error if any, and what was and
        was not changed. Kept in state.json (so in report.json) and rendered first in report.md;
        ``summary=None`` removes it (a resumed run starts without the earlier attempt's outcome)."""
        if summary is None:
            self.state.pop("outcome", None)
        else:
            self.state["outcome"] = {"summary": summary, "error": error or "",
                                     "changed": list(changed or []), "unchanged": list(unchanged or [])}
        self.save()

    def write_report(self, title, sections=None, data=None):
        """Write report.json (journal + data) and report.md (title, outcome, steps, sections).

        ``sections`` is a list of (heading, markdown_body) pairs, or of dicts with ``heading`` and
        ``body`` (Markdown), ``items`` (a bullet list) and/or ``table`` (``{"headers", "rows"}``).
        """
        report = dict(self.state, report=data or {})
        write_json_atomic(os.path.join(self.dir, "report.json"), report)
        md_path = os.path.join(self.dir, "report.md")
        text = markdown.render("report", title=title, state=self.state, outcome=self.state.get("outcome"),
                               sections=[render_section(section) for section in sections or []])
        with open(md_path, "w") as handle:
            handle.write(text)
        return {"dir": self.dir, "json": os.path.join(self.dir, "report.json"), "markdown": md_path}


def render_outcome(outcome):
    """Markdown of a run's outcome (see :meth:`RunJournal.set_outcome`), "" without one (template ``outcome``)."""
    return markdown.render("outcome", outcome=outcome)


def render_section(section):
    """(heading, Markdown body) of a report section given as a pair or a dict (see write_report)."""
    if not isinstance(section, dict):
        return section[0], section[1]
    return section.get("heading", ""), markdown.render("section", section=section) or "none"


def run_documents(reports_dir, filename="state.json"):
    """[(run id, document)] of the run folders under ``reports_dir`` holding the JSON file ``filename``
    (``state.json``, ``report.json``), by run id. A folder without it, or with one that cannot be read
    or parsed, is passed over; a missing ``reports_dir`` has no runs."""
    found = []
    if not reports_dir or not os.path.isdir(reports_dir):
        return found
    for run_id in sorted(os.listdir(reports_dir)):
        path = os.path.join(reports_dir, run_id, filename)
        if not os.path.isfile(path):
            continue
        try:
            with open(path) as handle:
                document = json.load(handle)
        except (OSError, ValueError):
            continue
        found.append((run_id, document))
    return found


def interrupted_runs(reports_dir, runbook, step_names, exclude=None):
    """Runs of ``runbook`` that never finished (status still running) with one of ``step_names``
    still running: killed in the middle of a step that must be carried on, not started over.
    Newest first, as dicts of run_id, step and started."""
    found = []
    for run_id, state in run_documents(reports_dir):
        if run_id == exclude or state.get("runbook") != runbook or state.get("status") != "running":
            continue
        for step in state.get("steps") or []:
            if step.get("name") in step_names and step.get("status") == "running":
                found.append({"run_id": run_id, "step": step["name"], "started": step.get("started")})
    return sorted(found, key=lambda r: r["started"] or "", reverse=True)


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
    best = None
    for name, state in run_documents(reports_dir):
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


def record(journal, params):
    """Merge ``params["facts"]`` into the run, record ``params["step"]`` and set ``params["outcome"]``
    (RECORD_ARG_SPEC; an empty summary removes the outcome).

    Returns whether anything was written.
    """
    for key, value in params["facts"].items():
        journal.state["facts"][key] = value
    if params["step"]:
        journal.step(params["step"], params["status"], **params["details"])
    elif params["facts"]:
        journal.save()
    outcome = params.get("outcome")
    if outcome is not None:
        journal.set_outcome(outcome["summary"] or None, outcome.get("error"), outcome.get("changed"),
                            outcome.get("unchanged"))
    return bool(params["step"] or params["facts"] or outcome is not None)
