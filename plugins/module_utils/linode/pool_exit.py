# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end of a surge rollout: choose which node leaves the pool, once, resumably.

Always removing the surge node moves every pod that landed on it a second time (a single-replica
app pays its downtime twice). Instead the pool's node hosting the fewest disruption-sensitive pods
leaves (k8s/rollout_plan.py). The choice is written to the run's journal before anything moves, so
a re-run after an interruption drains and deletes the same node, and a pool already back at its
original size has nothing left to remove.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import rollout_plan
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.lke_view import cluster_view, find_pool

JOURNAL_FACT = "leaving_nodes"


def choose_leaving_node(lke, kube, pool_id, original_count, surge_node_id=None, journal=None, check_mode=False,
                        costs=None):
    """Return dict(node_id, node_name, ranking, changed, reason); node_id None when nothing is to remove."""
    key = str(pool_id)
    facts = journal.state["facts"] if journal is not None else {}
    chosen = (facts.get(JOURNAL_FACT) or {}).get(key)
    pool = find_pool(cluster_view(lke, kube), pool_id)
    by_id = dict((n["id"], n) for n in pool["nodes"])
    out = {"pool_id": int(pool_id), "node_id": None, "node_name": None, "ranking": [], "changed": False,
           "reason": ""}
    if chosen:
        if chosen["node_id"] in by_id:
            out.update(node_id=chosen["node_id"], node_name=by_id[chosen["node_id"]]["node_name"],
                       ranking=chosen.get("ranking") or [], reason="chosen before this run was interrupted")
        else:
            out["reason"] = "node %s already left the pool" % chosen["node_id"]
        return out
    if int(pool["count"]) <= int(original_count):
        out["reason"] = "the pool is at its original size %s" % original_count
        return out
    # a quarantined node (would not drain) keeps its pods for a person: never the one to remove
    named = dict((n["node_name"], n) for n in pool["nodes"] if n.get("node_name") and n.get("phase") != "quarantined")
    prefer = (by_id.get(surge_node_id) or {}).get("node_name")
    if costs is None:
        costs = rollout_plan.cluster_costs(kube)
    name, ranking = rollout_plan.pick_leaving_node(sorted(named), costs, prefer=prefer)
    if name is None:
        out["reason"] = "no node of the pool is a Kubernetes Node yet"
        return out
    node_id = named[name]["id"]
    out.update(node_id=node_id, node_name=name, ranking=ranking, changed=False,
               reason="hosts the fewest disruption-sensitive pods (%d)" % len(ranking[0]["sensitive"]))
    if journal is not None and not check_mode:
        journal.set_fact(JOURNAL_FACT, dict(facts.get(JOURNAL_FACT) or {},
                                            **{key: {"node_id": node_id, "node_name": name, "ranking": ranking}}))
    return out
