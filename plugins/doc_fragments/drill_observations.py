# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """What a drill recorded and about which fault: the inputs of the modules that read the drill's timeline
    (module_utils/drill/scenario.py OBSERVATION_SPEC is the matching argument spec)."""

    DOCUMENTATION = r"""
options:
  watch_dir:
    description: The watcher's directory (P(fournines.runbooks.k8s_drill_watch#module)).
    type: path
    required: true
  probe_dir:
    description: The prober's directory (P(fournines.runbooks.http_prober#module)).
    type: path
  probe_target:
    description: Name of the prober target that is the app.
    type: str
  probe_interval:
    description: The prober's interval in seconds.
    type: float
    default: 1.0
  fault_ts:
    description: Epoch seconds of the fault (RV(fournines.runbooks.lke_node_fault#module:ts)).
    type: float
    required: true
  node:
    description: The failed node's name.
    type: str
    required: true
"""

    #: The drill's mode (scenario.py MODE_SPEC; OBSERVATION_SPEC includes it): a module that takes the
    #: observations extends both, one that only needs the mode (drill_budget) extends this one.
    MODE = r"""
options:
  mode:
    description: The drill's mode.
    type: str
    choices: [delete, shutdown, drain]
    default: delete
"""
