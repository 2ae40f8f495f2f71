#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_drill_watch
short_description: Start, stop or read a background watcher of the objects a node-failure drill affects
version_added: 0.1.0
description:
  - V(started) launches a detached process on the controller that polls the API server every O(interval)
    seconds and appends a line to C(observations.jsonl) in O(dir) whenever something it follows changes - the
    target Node (Ready condition, taints, cordon), the set of Ready Nodes, the pods on the node and the other
    pods of their owners and of O(workload), the VolumeAttachments of their volumes, and the events about them
    (Multi-Attach warnings, attaches, evictions).
  - Start it before the fault, so the lines hold the state before and every change after.
    A watcher already running for O(dir) is reused, so a resumed drill keeps one watcher; it stops by itself
    after O(max_seconds).
  - V(stopped) stops it (if it still runs) and returns a summary of what it recorded.
  - P(fournines.runbooks.drill_wait#module) and P(fournines.runbooks.drill_report#module) turn the lines into
    the drill's timeline.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.background
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Nothing is started or stopped in check mode; V(started) still checks that the node exists.
  diff_mode:
    support: none
    details: No diff.
options:
  dir:
    description: Directory of the watcher's files, for example C(reports/<run-id>/watch).
    type: path
    required: true
  node:
    description: Name of the Node the drill fails. Needed with V(started).
    type: str
  workload:
    description: The app whose pods to follow wherever they run, C(namespace/name) or C(namespace/kind/name).
    type: str
  namespaces:
    description: Further namespaces whose events to read.
    type: list
    elements: str
    default: []
  interval:
    description: Seconds between polls (0.1 to 30).
    type: float
    default: 1.0
  max_seconds:
    description: The watcher stops by itself after this many seconds, so an abandoned drill leaves no process.
    type: int
    default: 7200
"""

EXAMPLES = r"""
- name: Watch the node and the app before the fault
  fournines.runbooks.k8s_drill_watch:
    dir: "reports/{{ run_id }}/watch"
    node: lke314159-270001-4f3a2b1c
    workload: app/web
    interval: 0.5
    kubeconfig: ~/.kube/lke.yaml

- name: Stop it
  fournines.runbooks.k8s_drill_watch:
    dir: "reports/{{ run_id }}/watch"
    state: stopped
"""

RETURN = r"""
pid:
  description: Process id of the watcher.
  returned: always
  type: int
dir:
  description: The watcher's directory.
  returned: always
  type: str
observations_file:
  description: Path of the observations (JSON lines).
  returned: always
  type: str
already_running:
  description: With V(started), whether a watcher was already running for O(dir).
  returned: when state is started
  type: bool
observations:
  description: Lines recorded so far.
  returned: when state is stopped
  type: int
by_kind:
  description: Lines per kind (node, nodes, pod, va, event, meta).
  returned: when state is stopped
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common import background
from ansible_collections.fournines.runbooks.plugins.module_utils.drill import scenario
from ansible_collections.fournines.runbooks.plugins.module_utils.drill import watch
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib, RunbookError


def main():
    spec = client.k8s_argument_spec(
        dir=dict(type="path", required=True),
        node=dict(type="str"),
        workload=dict(type="str"),
        namespaces=dict(type="list", elements="str", default=[]),
        interval=dict(type="float", default=1.0),
        max_seconds=dict(type="int", default=7200))
    spec.update(background.STATE_SPEC)
    module = AnsibleModule(argument_spec=spec, required_if=[("state", "started", ["node"])], supports_check_mode=True)
    p = module.params
    if p["state"] == "started":
        require_lib(module, "kubernetes", client.HAS_K8S, client.K8S_IMPORT_ERROR)
    try:
        if p["state"] == "started":
            kube = client.kube_from_params(p)
            fresh = not os.path.exists(os.path.join(p["dir"], watch.OBSERVATIONS))
            if fresh and kube.node(p["node"]) is None:
                raise watch.WatchError("node %r does not exist in the cluster at %s; nothing was started"
                                       % (p["node"], kube.host))
            app = scenario.app_to_follow(kube, p["workload"])
            if module.check_mode:
                module.exit_json(changed=True, pid=0, dir=p["dir"], observations_file="", already_running=False)
            handle = watch.start(p["dir"], kube, p["node"], app, p["namespaces"], p["interval"], p["max_seconds"])
            module.exit_json(changed=not handle["already_running"], **handle)
        if watch.read_handle(p["dir"]) is None:
            raise watch.WatchError("no watcher handle in %s; start one first (state=started)" % p["dir"])
        if module.check_mode:
            summary = watch.summary(p["dir"])
            module.exit_json(changed=summary["running"], **summary)
        out = watch.stop(p["dir"])
        module.exit_json(changed=out.pop("was_running"), **out)
    except RunbookError as err:
        fail_from_error(module, err)


if __name__ == "__main__":
    main()
