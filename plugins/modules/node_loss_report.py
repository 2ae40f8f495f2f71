#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: node_loss_report
short_description: Report a node-loss responder run and charge its outages to the error-budget ledger
version_added: 0.2.0
description:
  - Writes C(report.md) and C(report.json) in the run's folder from its journal - per incident the fencing
    verdict, the timeline (last heartbeat, NotReady, fence, taint, pods deleted, replacements Ready, volumes
    attached, node gone or back, taint gone) and the outage with its phases; the nodes not acted on and why.
  - Charges each measured outage once (per run and node) to O(ledger), tagged O(tags) so budget reports can
    tell responder-handled incidents apart. Closes the run - V(done) when every tainted node is released, else
    V(failed) (the next run finishes it).
extends_documentation_fragment:
  - fournines.runbooks.attributes
attributes:
  check_mode:
    details: Computes the report's data; writes nothing.
  diff_mode:
    support: none
    details: Not supported.
options:
  journal_dir:
    description: The run's folder (C(<reports_dir>/<run_id>)).
    type: path
    required: true
  skipped:
    description: The plan's C(skipped) list, shown in the report.
    type: list
    elements: dict
    default: []
  holds:
    description: The plan's C(holds) list, shown in the report.
    type: list
    elements: dict
    default: []
  released:
    description: Nodes whose taint the run removed (C(node), C(reason)), shown in the report.
    type: list
    elements: dict
    default: []
  key:
    description: What the run acts on (the cluster id), recorded in the journal when the run has none yet.
    type: str
  event:
    description: The event that started the run, recorded in the journal when the run has none yet.
    type: dict
    default: {}
  ledger:
    description: Downtime ledger (JSON lines) to charge; omit to charge nothing.
    type: path
  tags:
    description: Tags of the ledger records.
    type: list
    elements: str
    default: [node-loss, responder]
"""

EXAMPLES = r"""
- name: Report and charge the ledger
  fournines.runbooks.node_loss_report:
    journal_dir: "{{ run_dir }}"
    skipped: "{{ plan.skipped }}"
    ledger: /var/lib/fournines/downtime.jsonl
"""

RETURN = r"""
markdown:
  description: Path of report.md (null in check mode).
  returned: always
  type: str
json:
  description: Path of report.json (null in check mode).
  returned: always
  type: str
report:
  description: C(incidents) (with C(outage_seconds) and C(phases) when measured), C(skipped), C(holds), C(released),
    C(tainted), C(outage_seconds) (the longest).
  returned: always
  type: dict
charged:
  description: Nodes whose outage was added to the ledger by this task.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error
from ansible_collections.fournines.runbooks.plugins.module_utils.report import node_loss
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal
from ansible_collections.fournines.runbooks.plugins.module_utils.responder import incident, orchestrate


def main():
    module = AnsibleModule(argument_spec=dict(
        journal_dir=dict(type="path", required=True),
        skipped=dict(type="list", elements="dict", default=[]),
        holds=dict(type="list", elements="dict", default=[]),
        released=dict(type="list", elements="dict", default=[]),
        key=dict(type="str", no_log=False),
        event=dict(type="dict", default={}),
        ledger=dict(type="path"),
        tags=dict(type="list", elements="str", default=["node-loss", "responder"])), supports_check_mode=True)
    p = module.params
    path = p["journal_dir"].rstrip("/")
    charged = []
    try:
        if module.check_mode:
            journal = RunJournal(os.path.dirname(path), os.path.basename(path), incident.RUNBOOK)
            module.exit_json(changed=False, markdown=None, json=None, report=node_loss.summarize(
                journal.state, p["skipped"], p["holds"], p["released"]), charged=[])
        journal = orchestrate.open_run(path, p["key"], p["event"], p["skipped"])
        data = node_loss.summarize(journal.state, p["skipped"], p["holds"], p["released"])
        for item in data["incidents"]:
            measured = node_loss.outage(item)
            if p["ledger"] and measured:
                key = "%s:%s" % (item.get("resumed_from") or journal.state["run_id"], item["node"])
                if slo.append_downtime(p["ledger"], measured[0], measured[1], tags=p["tags"], source=incident.RUNBOOK,
                                       run_id=key, note="node %s lost (instance %s, %s)" % (
                                           item["node"], item.get("instance_id"), item.get("verdict"))):
                    charged.append(item["node"])
        unfinished = [i["node"] for i in data["incidents"] if i.get("tainted") and not i.get("released")]
        journal.step("report", "done", tainted=data["tainted"], unfinished=unfinished)
        journal.finish("failed" if unfinished else "done")
        paths = journal.write_report("Node-loss response %s" % journal.state["run_id"], node_loss.sections(data), data)
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(changed=True, markdown=paths["markdown"], json=paths["json"], report=data, charged=charged)


if __name__ == "__main__":
    main()
