#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_cnpg_write_prober
short_description: Write continuously into a CloudNativePG Cluster while it changes; measure the outage, prove no loss
version_added: 0.1.0
description:
  - O(state=started) creates O(table) when missing and starts a detached writer that commits one row
    every O(interval) seconds through the Cluster's C(-rw) Service or O(service) (as the user of its C(-superuser)
    or C(-app) Secret, O(secret)), reconnecting after every error. It outlives the task; a writer already running for
    O(directory) is left alone (a re-run after a killed run carries on with it, and the outages are
    charged under the O(run_id) that started it).
  - "O(state=stopped) stops it, reads the run's rows back from the table and returns the write outages
    (from the last commit before a streak of failed writes to the first commit after it) and every
    committed row that is missing (RV(prober.lost)). With O(remove_rows) it then deletes the run's rows
    from O(table) and drops the table when no other run's rows are left in it, so production keeps
    nothing of the probe. The proof is saved in O(directory) first: a re-run after a kill between
    the two returns the same proof."
  - With O(ledger) the closed outages are charged to the downtime ledger, once per O(run_id) whatever the
    re-runs; with O(chart) the run's timeline (O(steps), outages, failed writes) is drawn as a PNG.
  - The password never reaches the handle file or the result.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.background
  - fournines.runbooks.postgres.cnpg_cluster
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Says whether a writer would be started or stopped; starts, stops and writes nothing.
  diff_mode:
    support: none
    details: A background process has no diff.
options:
  database:
    description: Database the probe table lives in.
    type: str
    default: app
  table:
    description: The probe table (C(schema.table), lower case); its rows carry the O(run_id).
    type: str
    default: public.fournines_write_probe
  directory:
    description: Where the writer keeps its handle and records (one directory per run).
    type: path
    required: true
  run_id:
    description: Id of the run; stored with every row, and the ledger's key.
    type: str
    required: true
  interval:
    description: Seconds between two writes, more than 0 and at most 60.
    type: float
    default: 0.1
  max_seconds:
    description:
      - A writer nobody stops (its run was killed and never run again) stops by itself after this many seconds.
      - A positive number.
    type: int
    default: 3600
  ledger:
    description: Downtime ledger (JSON lines) to charge the write outages to (O(state=stopped)); empty charges nothing.
    type: path
  ledger_tags:
    description: Tags of the charged intervals.
    type: list
    elements: str
    default: [postgres, upgrade]
  chart:
    description: Path of a PNG timeline to draw (O(state=stopped)); needs matplotlib.
    type: path
  steps:
    description: The run's steps for O(chart), each with C(step), C(at) (when it ended, ISO 8601) and C(status).
    type: list
    elements: dict
    default: []
  started:
    description: When the run started (ISO 8601), the chart's origin; the writer's start when empty.
    type: str
  remove_rows:
    description: With O(state=stopped), after the read-back, delete the run's rows and drop O(table) when it is then empty.
    type: bool
    default: true
  service:
    description:
      - Service of O(namespace) to write through instead of the Cluster's C(-rw), such as the one the application
        uses (the logical major method moves it to the new Cluster, and the writer follows, as the application does).
    type: str
  secret:
    description: >-
      Whose credentials the writer uses: the Cluster's C(-superuser) Secret, or its C(-app) Secret (the application's
      user, whose password the logical major method carries over to the new Cluster).
    type: str
    choices: [superuser, app]
    default: superuser
"""

EXAMPLES = r"""
- name: Write into production while the operator updates it
  fournines.runbooks.postgres_cnpg_write_prober:
    namespace: db
    name: pg
    directory: /var/lib/fournines/reports/cnpg-20260101T000000Z/writer
    run_id: cnpg-20260101T000000Z

- name: Stop writing; outages, lost rows, ledger and timeline
  fournines.runbooks.postgres_cnpg_write_prober:
    namespace: db
    name: pg
    directory: /var/lib/fournines/reports/cnpg-20260101T000000Z/writer
    run_id: cnpg-20260101T000000Z
    state: stopped
    ledger: /var/lib/fournines/downtime.jsonl
    chart: /var/lib/fournines/reports/cnpg-20260101T000000Z/timeline.png
  register: writes
"""

RETURN = r"""
prober:
  description: The writer (O(state=started)) or what it measured (O(state=stopped)).
  returned: always
  type: dict
  contains:
    committed:
      description: Rows whose INSERT returned.
      type: int
    failed_attempts:
      description: Writes that failed (their outcome is unknown and never claimed).
      type: int
    outages:
      description: Write outages, each with C(start), C(end) (epoch seconds), C(seconds) and C(failed).
      type: list
      elements: dict
    downtime_seconds:
      description: Sum of the outages.
      type: float
    longest_outage_seconds:
      description: The longest outage.
      type: float
    lost:
      description: Committed rows missing from the table (O(state=stopped)); 0 is the promise.
      type: int
    lost_ids:
      description: The first 20 of them.
      type: list
      elements: int
    already_running:
      description: O(state=started) found the writer of an earlier attempt running and kept it.
      type: bool
    rows_removed:
      description: The run's rows deleted from the table after the read-back (O(remove_rows)).
      type: int
    table_dropped:
      description: The table was dropped, no other run's rows being left in it (O(remove_rows)).
      type: bool
ledger_added:
  description: Outages charged to O(ledger) by this call (0 when a re-run had charged them).
  returned: when O(ledger) is given and not in check mode
  type: int
chart:
  description: Path of the PNG drawn.
  returned: when O(chart) is given and not in check mode
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common import background
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError, fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import sql, write_prober
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import access
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster as cnpg_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.report import postgres_operator, timeline_chart


def main():
    module = AnsibleModule(
        argument_spec=cnpg_cluster.cluster_argument_spec(
            database=dict(type="str", default="app"),
            table=dict(type="str", default="public.fournines_write_probe"),
            directory=dict(type="path", required=True),
            run_id=dict(type="str", required=True),
            interval=dict(type="float", default=0.1),
            max_seconds=dict(type="int", default=3600),
            ledger=dict(type="path"),
            ledger_tags=dict(type="list", elements="str", default=["postgres", "upgrade"]),
            chart=dict(type="path"),
            steps=dict(type="list", elements="dict", default=[]),
            started=dict(type="str"),
            remove_rows=dict(type="bool", default=True),
            service=dict(type="str"),
            secret=dict(type="str", choices=list(access.SECRETS), default="superuser"), **background.STATE_SPEC),
        supports_check_mode=True,
    )
    p = module.params
    require_lib(module, "kubernetes", client.HAS_K8S, client.K8S_IMPORT_ERROR)
    require_lib(module, "psycopg2", sql.HAS_PSYCOPG2)
    if p["chart"]:
        require_lib(module, "matplotlib", timeline_chart.HAS_MATPLOTLIB, timeline_chart.MATPLOTLIB_IMPORT_ERROR)
    result = {"changed": False}
    try:
        write_prober.check_table(p["table"])
        write_prober.check_limits(p["interval"], p["max_seconds"])
        handle = write_prober.read_handle(p["directory"])
        running = bool(handle) and write_prober.is_running(handle)
        if p["state"] == "started":
            result["changed"] = not running
            if module.check_mode:
                result["prober"] = dict(handle or {}, already_running=running)
                module.exit_json(**result)
            conn = access.connection(client.kube_from_params(p), p["namespace"], p["name"], dbname=p["database"],
                                     secret=p["secret"], service_name=p["service"])
            result["prober"] = write_prober.start(p["directory"], conn, p["table"], p["run_id"], interval=p["interval"],
                                                  max_seconds=p["max_seconds"])
            module.exit_json(**result)
        if handle is None:
            module.fail_json(msg="no write prober was started in %s; start one first (state=started)" % p["directory"])
        result["changed"] = running
        if module.check_mode:
            result["prober"] = write_prober.summary(p["directory"])
            module.exit_json(**result)
        conn = access.connection(client.kube_from_params(p), p["namespace"], p["name"], dbname=p["database"],
                                 secret=p["secret"], service_name=p["service"])
        summary = write_prober.stop(p["directory"], conn, remove=p["remove_rows"])
        result["prober"] = summary
        result["changed"] = result["changed"] or summary.get("rows_removed", 0) > 0 or bool(summary.get("table_dropped"))
        if p["ledger"]:
            closed = [o for o in summary["outages"] if not o.get("open")]
            # Keyed by the run that started the writer: a resumed run charges nothing twice.
            result["ledger_added"] = postgres_operator.charge(p["ledger"], closed, summary.get("run_id") or p["run_id"],
                                                              p["ledger_tags"])
            result["changed"] = result["changed"] or result["ledger_added"] > 0
        if p["chart"]:
            chart_dir = os.path.dirname(os.path.abspath(p["chart"]))
            if not os.path.isdir(chart_dir):
                os.makedirs(chart_dir)
            result["chart"] = postgres_operator.timeline(
                p["chart"], "upgrade-postgres %s/%s (run %s)" % (p["namespace"], p["name"], p["run_id"]),
                p["steps"], summary, p["started"] or summary.get("started") or 0)
            result["changed"] = True
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
