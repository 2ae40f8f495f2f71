# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""node_watch: an ansible-rulebook event source that watches the cluster's Nodes for a lost node.

It lists the Nodes every ``interval`` seconds and puts an event on the queue when:

* a Node turns lost (Ready False or Unknown) - ``type: lost``; repeated every ``repeat``
  seconds while the node stays lost and untainted (a node whose instance is deleted only later,
  after a partition, is then still responded to; the playbook acts at most once per incident);
* a lost Node carries the responder's out-of-service taint when the source starts - ``type:
  unfinished`` (a response was interrupted: the playbook finishes it);
* a Ready Node carries the responder's taint - ``type: taint_on_healthy`` (the playbook removes it).

Event: ``{"node_loss": {"type", "node", "ready", "reason", "since", "last_heartbeat",
"provider_id", "instance_id", "taints", "observed"}}``.

Arguments: ``kubeconfig`` (default: ``$KUBECONFIG``, else ~/.kube/config), ``context``,
``interval`` (2), ``repeat`` (30; 0 = never repeat), ``label_selector`` (default
``lke.linode.com/pool-id``: LKE's pool nodes, the only ones the Linode API can fence; "" = every Node).

    sources:
      - fournines.runbooks.node_watch:
          interval: 2
"""

from __future__ import absolute_import, division, print_function

import asyncio
import logging
import os
import time

OUT_OF_SERVICE_KEY = "node.kubernetes.io/out-of-service"
INCIDENT = "runbooks.fournines.io/node-loss-incident"
# Every LKE node carries its pool's id; a Node without it (not a Linode instance) cannot be fenced.
LKE_POOL_LABEL = "lke.linode.com/pool-id"

LOG = logging.getLogger(__name__)


def _ready(node):
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return {}


def _instance_id(node):
    provider = (node.get("spec") or {}).get("providerID") or ""
    if provider.startswith("linode://"):
        try:
            return int(provider[len("linode://"):].strip("/"))
        except ValueError:
            return None
    return None


def _responder_tainted(node):
    taints = (node.get("spec") or {}).get("taints") or []
    annotations = (node.get("metadata") or {}).get("annotations") or {}
    return any(t.get("key") == OUT_OF_SERVICE_KEY for t in taints) and INCIDENT in annotations


def describe(node, kind, now):
    cond = _ready(node)
    return {"node_loss": {
        "type": kind, "node": node["metadata"]["name"], "ready": cond.get("status", "Unknown"),
        "reason": cond.get("reason"), "since": cond.get("lastTransitionTime"),
        "last_heartbeat": cond.get("lastHeartbeatTime"), "provider_id": (node.get("spec") or {}).get("providerID"),
        "instance_id": _instance_id(node),
        "taints": sorted("%s:%s" % (t.get("key"), t.get("effect")) for t in (node.get("spec") or {}).get("taints") or []),
        "observed": now}}


def changes(seen, nodes, now, repeat=30.0, first=False):
    """Events for this listing of ``nodes`` (dicts), given ``seen`` (node -> state, updated in place).

    ``seen[name]`` is ``{"lost": bool, "emitted": ts or None, "healthy_taint": bool}``.
    """
    events = []
    names = set()
    for node in nodes:
        name = node["metadata"]["name"]
        names.add(name)
        lost = _ready(node).get("status") != "True"
        tainted = _responder_tainted(node)
        prev = seen.get(name) or {"lost": False, "emitted": None, "healthy_taint": False}
        state = {"lost": lost, "emitted": prev["emitted"] if lost else None, "healthy_taint": False}
        if lost and tainted:
            if first:
                events.append(describe(node, "unfinished", now))
            state["emitted"] = now
        elif lost:
            due = prev["emitted"] is None or not prev["lost"] or (repeat and now - prev["emitted"] >= repeat)
            if due:
                events.append(describe(node, "lost", now))
                state["emitted"] = now
        elif tainted:
            state["healthy_taint"] = True
            if not prev["healthy_taint"]:
                events.append(describe(node, "taint_on_healthy", now))
        seen[name] = state
    for name in list(seen):
        if name not in names:
            del seen[name]
    return events


def _lister(args):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel

    path = args.get("kubeconfig") or os.environ.get("KUBECONFIG") or None
    api = config.new_client_from_config(config_file=path, context=args.get("context"))
    core = client.CoreV1Api(api)

    selector = args.get("label_selector", LKE_POOL_LABEL)

    def list_nodes():
        return api.sanitize_for_serialization(core.list_node(label_selector=selector or None,
                                                             _request_timeout=10)).get("items", [])
    return list_nodes


async def main(queue, args):
    """Poll the Nodes and put node-loss events on ``queue`` until cancelled."""
    interval = float(args.get("interval", 2))
    repeat = float(args.get("repeat", 30))
    list_nodes = _lister(args)
    loop = asyncio.get_running_loop()
    seen = {}
    first = True
    while True:
        try:
            nodes = await loop.run_in_executor(None, list_nodes)
        except Exception as err:  # noqa: BLE001 - an API server blip must not stop the responder
            LOG.warning("node_watch: cannot list Nodes: %s", err)
        else:
            for event in changes(seen, nodes, time.time(), repeat, first):
                await queue.put(event)
            first = False
        await asyncio.sleep(interval)


if __name__ == "__main__":
    class _Printer:
        async def put(self, event):
            print(event, flush=True)

    asyncio.run(main(_Printer(), {}))
