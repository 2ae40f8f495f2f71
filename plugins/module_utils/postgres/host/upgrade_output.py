# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why pg_upgrade failed: the lines of its output and logs that explain a failure, and only those.

What pg_upgrade prints, and what of it explains a failure:

- one line per check or step, padded to a column, then ``ok``, ``fatal``, ``warning`` or
  ``failed check: <check>``. Only a line whose status is not ``ok`` counts; a step that broke
  has no status at all and is followed by ``*failure*``.
- after a failed check, a paragraph (wrapped at 72 columns) saying what is wrong, ending with
  "... is in the file: <path>": the file lists the offending objects and is read instead.
- after a failed step, "Consult the last few lines of <log> for the probable cause of the
  failure.": that log is read first (pg_restore's errors, with the object and database).

Its logs (``pg_upgrade_output.d/<timestamp>/log/``) also hold lines that every run writes,
failed or not: the probe that tries to start the old server to see whether it is running (``lock
file "postmaster.pid" already exists`` in ``--check`` against a live server), connections ended
while pg_upgrade stops a server, the commands it ran. Those are never reasons.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

MAX_REASONS = 8
MAX_REASON_CHARS = 400

# "Checking for presence of required libraries                   fatal"
_STEP_RE = re.compile(r"^(?P<step>\S.*?) {2,}(?P<status>ok|fatal|warning|skipped|failed check: .+)$")
# A step padded to the status column with no status after it: the one that broke.
_STEP_WIDTH = 60
_BANNER_RE = re.compile(r"^(Performing (Consistency Checks|Upgrade).*|-+|\*failure\*|Failure, exiting|"
                        r"If pg_upgrade fails after this point.*|new cluster before continuing\.|Upgrade Complete)$")
_CONSULT_RE = re.compile(r'^Consult the last few lines of "(?P<path>[^"]+)"')
_FILE_INTRO_RE = re.compile(r"\s*A list of (the )?problem \w+ is in the file:\s*$|\s*is in the file:\s*$")
_SEVERITY_RE = re.compile(r"\b(ERROR|FATAL|PANIC):\s+(?P<msg>.*)$")
_TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \w+ \[\d+\] ")
_AT_CHARACTER_RE = re.compile(r" at character \d+$")
# Lines of a normal run, failed or not.
_NOISE = (
    'lock file "postmaster.pid" already exists',   # pg_upgrade probing whether the old server runs
    "Is another postmaster",                       # the probe's HINT
    "terminating connection due to administrator command",  # pg_upgrade stopping a server under a job
    "the database system is shutting down",
    "child process exited abnormally",             # a parallel job's exit, said after the real error
)


def _squash(text):
    return re.sub(r"\s+", " ", text).strip()


def _clip(text):
    text = _squash(text)
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS - 3] + "..."


def _is_noise(text):
    return any(marker in text for marker in _NOISE)


def _read(path):
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def _output_dirs(new_data_dir, work_dir):
    """pg_upgrade_output.d/<timestamp>/ folders, newest last (pg_upgrade keeps them after a failure)."""
    found = []
    for base in (new_data_dir, work_dir):
        if base:
            found += glob.glob(os.path.join(base, "pg_upgrade_output.d", "*"))
    return sorted(set(d for d in found if os.path.isdir(d)))


def _find_file(name, dirs, work_dir):
    """The file pg_upgrade named, looked up by name in its output folders (the path it printed
    may be one the caller cannot see)."""
    for directory in reversed(dirs):
        for candidate in (os.path.join(directory, name), os.path.join(directory, "log", name)):
            if os.path.isfile(candidate):
                return candidate
    if work_dir and os.path.isfile(os.path.join(work_dir, name)):
        return os.path.join(work_dir, name)
    return None


def _paragraphs(lines):
    """Lines grouped into paragraphs (blank lines split them)."""
    out, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def _listed_file(name, dirs, work_dir):
    """'<file>: <its first lines>' for a file listing the offending objects."""
    path = _find_file(name, dirs, work_dir)
    if path is None:
        return None
    lines = [line.strip() for line in _read(path).splitlines() if line.strip()]
    return "%s: %s" % (name, " / ".join(lines[:8])) if lines else None


def _from_output(output, dirs, work_dir):
    """(reasons, logs named by 'Consult ...') from pg_upgrade's own output."""
    reasons, consult = [], []
    lines = output.splitlines()
    body = []
    for raw in lines:
        line = raw.rstrip()
        step = _STEP_RE.match(line)
        if step:
            if step.group("status") != "ok":
                reasons.append("%s: %s" % (step.group("step"), step.group("status")))
            continue
        if line and len(raw) >= _STEP_WIDTH and raw.endswith("  "):
            reasons.append("%s: failed" % line.strip())
            continue
        if _BANNER_RE.match(line.strip()):
            body.append("")
            continue
        body.append(line)
    paragraphs = _paragraphs(body)
    index = 0
    while index < len(paragraphs):
        para = paragraphs[index]
        text = " ".join(para)
        match = _CONSULT_RE.match(text)
        if match:
            consult.append(os.path.basename(match.group("path")))
            index += 1
            continue
        # "... A list of the problem columns is in the file:" then the path, sometimes as its own
        # paragraph: read the file instead of quoting the path.
        named = None
        if para and para[-1].startswith("/") and len(para) > 1:
            named, para = para[-1], para[:-1]
        elif index + 1 < len(paragraphs) and len(paragraphs[index + 1]) == 1 and paragraphs[index + 1][0].startswith("/"):
            named = paragraphs[index + 1][0]
            index += 1
        sentence = _squash(" ".join(para))
        sentence = _FILE_INTRO_RE.sub("", sentence).strip()
        if sentence and not _is_noise(sentence):
            reasons.append(sentence)
        if named:
            listed = _listed_file(os.path.basename(named), dirs, work_dir)
            reasons.append(listed or "see %s" % os.path.basename(named))
        index += 1
    return reasons, consult


def _restore_errors(text):
    """pg_restore's errors in a pg_upgrade_dump_*.log, with the database and object they hit."""
    out = []
    database, entry = None, None
    for line in text.splitlines():
        line = line.strip()
        match = re.match(r'pg_restore: connecting to new database "(?P<db>[^"]+)"', line)
        if match:
            database = match.group("db")
            continue
        match = re.match(r"pg_restore: from TOC entry \d+; \d+ \d+ (?P<what>.+?)( \S+)?$", line)
        if match:
            entry = match.group("what")
            continue
        match = re.match(r"pg_(restore|dump): error: (could not execute query: )?(?P<msg>.*)$", line)
        if match:
            message = _SEVERITY_RE.sub(lambda m: m.group("msg"), match.group("msg"))
            if _is_noise(message):
                continue
            where = ", ".join(x for x in ("database %s" % database if database else None, entry) if x)
            out.append("%s: %s" % (where, message) if where else message)
    return out


def _log_errors(path):
    """ERROR/FATAL/PANIC lines of one log, noise left out."""
    name = os.path.basename(path)
    text = _read(path)
    if name.startswith("pg_upgrade_dump_"):
        return _restore_errors(text)
    out = []
    for line in text.splitlines():
        match = _SEVERITY_RE.search(line)
        if not match or _is_noise(line):
            continue
        out.append(_AT_CHARACTER_RE.sub("", _TIMESTAMP_RE.sub("", match.group("msg")).strip()))
    return out


def _covered(message, reasons):
    core = _squash(message).lower()
    return any(core in _squash(r).lower() for r in reasons)


def explain_failure(work_dir, new_data_dir, output):
    """The lines of pg_upgrade's output and logs that say why it failed, most telling first.

    ``output`` is what pg_upgrade printed (stdout and stderr); its logs are read from
    ``<new_data_dir>/pg_upgrade_output.d/`` (and ``<work_dir>``). Returns at most
    ``MAX_REASONS`` lines, each at most ``MAX_REASON_CHARS`` long; never an empty list.
    """
    dirs = _output_dirs(new_data_dir, work_dir)
    reasons, consult = _from_output(output or "", dirs, work_dir)
    # pg_upgrade writes a *.txt list only for a check that failed: one its output did not name still counts.
    for directory in dirs:
        for path in sorted(glob.glob(os.path.join(directory, "*.txt"))):
            name = os.path.basename(path)
            if not any(r.startswith(name + ":") for r in reasons):
                listed = _listed_file(name, [directory], None)
                if listed:
                    reasons.append(listed)
    logs = []
    for name in consult:
        path = _find_file(name, dirs, work_dir)
        if path:
            logs.append(path)
    for directory in dirs:
        logs += sorted(glob.glob(os.path.join(directory, "log", "*.log")))
    seen = set()
    for path in logs:
        if path in seen:
            continue
        seen.add(path)
        for message in _log_errors(path):
            if not _covered(message.split(": ", 1)[-1] if message.startswith("database ") else message, reasons):
                reasons.append(message)
    reasons = [_clip(r) for r in reasons if r.strip()]
    if not reasons:
        last = [line.strip() for line in (output or "").splitlines() if line.strip() and not _BANNER_RE.match(line.strip())]
        reasons = [_clip(last[-1]) if last else "pg_upgrade printed nothing; see its logs in %s"
                   % os.path.join(new_data_dir or work_dir or ".", "pg_upgrade_output.d")]
    return reasons[:MAX_REASONS]
