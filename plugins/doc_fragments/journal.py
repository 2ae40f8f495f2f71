# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The run-journal option of modules that record their own step (module_utils/report/journal.py)."""

    DOCUMENTATION = r"""
options:
  journal_dir:
    description:
      - Directory of a runbook run, C(reports/<run-id>), whose C(state.json) (see
        P(fournines.runbooks.runbook_journal#module)) gets a step for this task, C(running) at the start and
        C(done) or C(failed) at the end, with timestamps and details. Not written in check mode.
    type: path
"""

    #: What runbook_journal and postgres_journal record (module_utils/report/journal.py RECORD_ARG_SPEC).
    RECORD = r"""
options:
  reports_dir:
    description: Directory holding one folder per run.
    type: path
    required: true
  step:
    description: Name of a step to record.
    type: str
  status:
    description: Status of O(step).
    type: str
    choices: [running, done, failed, skipped, rolled_back]
    default: done
  details:
    description: Details merged into O(step).
    type: dict
    default: {}
  facts:
    description: Facts merged into the run.
    type: dict
    default: {}
  outcome:
    description:
      - How the run ended, kept in the journal (so in C(report.json)) and shown first in C(report.md),
        whichever task writes the report later. An empty O(outcome.summary) removes an earlier one.
    type: dict
    suboptions:
      summary:
        description: What happened, in one or two sentences.
        type: str
        required: true
      error:
        description: The error that stopped the run, as the failing tool said it.
        type: str
      changed:
        description: What the run changed (each item one thing, on which host).
        type: list
        elements: str
        default: []
      unchanged:
        description: What the run left as it was.
        type: list
        elements: str
        default: []
"""
