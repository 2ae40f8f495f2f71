# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One responder run: taint the planned nodes, wait for their workloads, release, all journaled.

Each incident is a fact of the run journal (``facts.incidents[<node>]``) with the time of every
milestone (epoch seconds): ``lost_since``, ``last_heartbeat``, ``fenced``, ``tainted``,
``pods_gone``, ``replaced``, ``volumes_attached``, ``settled`` (``gone`` or ``ready``) and
``released``. The report and the downtime ledger are built from them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import objects
from ansible_collections.fournines.runbooks.plugins.module_utils.responder import incident, response


def open_run(journal_dir, key=None, event=None, skipped=None):
    """The run's journal at ``journal_dir`` (created when missing) with its key, event and the plan's skips."""
    path = journal_dir.rstrip("/")
    journal = RunJournal(os.path.dirname(path), os.path.basename(path), incident.RUNBOOK)
    facts = journal.state["facts"]
    if key is not None and "key" not in facts:
        facts["key"] = str(key)
    if event and "event" not in facts:
        facts["event"] = event
    if skipped is not None:
        facts["skipped"] = list(skipped)
    journal.save()
    return journal


def _noter(journal, name, record, marks):
    """A callback that copies a milestone's time into the incident and saves it at once."""
    def note(key):
        record[key] = marks[key]
        _save(journal, name, record)
    return note


def _save(journal, name, record):
    if journal is None:
        return
    incidents = dict(journal.state["facts"].get("incidents") or {})
    incidents[name] = record
    journal.set_fact("incidents", incidents)


def respond(kube, journal, run_id, act, resume, refence, wait_timeout, settle_timeout, poll=1.0, check_mode=False):
    """Carry out a plan's ``act`` (verdict dicts) and ``resume`` (node names). Returns the incidents."""
    incidents = dict((journal.state["facts"].get("incidents") or {}) if journal is not None else {})
    work = []
    for item in act:
        name = item["node"]
        record = dict(incidents.get(name) or {}, node=name, instance_id=item.get("instance_id"),
                      verdict=item.get("verdict"), reason=item.get("reason"), fenced=item.get("checked"),
                      lost_since=item.get("lost_since"), last_heartbeat=item.get("last_heartbeat"))
        pods = response.snapshot(kube, name)
        record["pods"] = ["%s/%s" % (p["namespace"], p["name"]) for p in pods]
        record["volumes"] = sorted(set("%s/%s" % (p["namespace"], c) for p in pods for c in p["claims"]))
        deadline = Deadline(max(5.0, poll * 5))
        applied, reason, verdict = response.apply_taint(kube, name, run_id, refence, deadline, check_mode)
        record["outcome"] = reason
        if verdict is not None:
            record["verdict"] = verdict["verdict"]
        if applied and not check_mode:
            record["tainted"] = time.time()
            work.append((name, pods, record))
        elif not applied:
            record["not_tainted"] = reason
        incidents[name] = record
        _save(journal, name, record)
    for name in resume:
        node = kube.node(name)
        record = dict(incidents.get(name) or {}, node=name, resumed_from=incident.responder_incident(node),
                      instance_id=int(objects.annotations(node).get(incident.FENCED_INSTANCE) or 0) or None,
                      lost_since=incident.lost_since(node), last_heartbeat=incident.last_heartbeat(node, kube.get(
                          "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s" % name, ok_missing=True)),
                      outcome="resumed: the taint of an earlier, interrupted response is still on the lost node")
        record.setdefault("tainted", None)
        pods = [] if check_mode else response.snapshot(kube, name)
        incidents[name] = record
        _save(journal, name, record)
        if not check_mode:
            work.append((name, pods, record))
    for name, pods, record in work:
        try:
            record["force_deleted"] = response.force_delete(kube, name, pods)
        except RunbookError as err:  # the pod GC does it on its next pass anyway
            record["force_delete_error"] = str(err)
        _save(journal, name, record)
        marks = {}
        moved = response.wait_moved(kube, name, pods, Deadline(wait_timeout), poll, marks,
                                    _noter(journal, name, record, marks))
        record["moved"] = moved
        if not moved:
            record["outcome"] = ("its workloads were not all running elsewhere after %s s (%s)" % (
                wait_timeout, ", ".join(k for k in ("pods_gone", "replaced", "volumes_attached") if k not in marks)))
        settled = response.wait_settled(kube, name, Deadline(settle_timeout), poll)
        record["settled"] = settled
        record["settled_at"] = time.time() if settled else None
        if settled == "ready":
            removed, why = response.release(kube, name)
            record["released"] = time.time() if removed else None
            record["release_note"] = why
        elif settled == "gone":
            record["released"] = record["settled_at"]
            record["release_note"] = "node %s is gone (replaced); its taint went with it" % name
        else:
            record["release_note"] = ("node %s is still lost after %s s: the taint stays on the fenced node; the next "
                                      "run or event removes it once the node is gone or Ready" % (name, settle_timeout))
        _save(journal, name, record)
    return incidents


def release_healthy(kube, names=None, check_mode=False):
    """Take the responder's taint off every Ready node (or those in ``names``). Returns [(node, reason)]."""
    done = []
    for node in kube.nodes():
        name = incident.name_of(node)
        if names is not None and name not in names:
            continue
        if incident.responder_incident(node) and not incident.is_lost(node):
            removed, why = response.release(kube, name, check_mode=check_mode)
            if removed:
                done.append({"node": name, "reason": why})
    return done
