# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule of an lke_* module, built in one place.

Its argument spec is the module's own options plus what every lke_* module takes: the Linode
connection and the cluster (:data:`.api.LKE_ARG_SPEC`, doc fragment ``fournines.runbooks.linode``),
the Kubernetes connection (``kubernetes.core.k8s_auth_options``)
and, for a module that records its step, ``journal_dir`` (``fournines.runbooks.journal``). The
libraries it needs are checked before it reads or changes anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import HAS_K8S, K8S_IMPORT_ERROR, k8s_argument_spec
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import HAS_LINODE, LINODE_IMPORT_ERROR, LKE_ARG_SPEC


def lke_argument_spec(journal=False, kube=True, **options):
    """``options`` plus the Linode connection and ``cluster_id``, the Kubernetes connection (unless
    ``kube`` is false) and, with ``journal``, ``journal_dir``."""
    spec = k8s_argument_spec(**options) if kube else dict(options)
    spec.update(LKE_ARG_SPEC)
    if journal:
        spec["journal_dir"] = dict(type="path")
    return spec


def lke_module(argument_spec, kubernetes=True, **kwargs):
    """``AnsibleModule(argument_spec, supports_check_mode=True, **kwargs)`` that has already failed,
    with Ansible's standard message, when linode_api4 is missing, or the kubernetes library while
    ``kubernetes`` says it is needed: True, False, or a function of the module's params."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    require_lib(module, "linode_api4", HAS_LINODE, LINODE_IMPORT_ERROR)
    if kubernetes(module.params) if callable(kubernetes) else kubernetes:
        require_lib(module, "kubernetes", HAS_K8S, K8S_IMPORT_ERROR)
    return module
