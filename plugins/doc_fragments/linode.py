# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The Linode connection and the cluster: the options every lke_* module takes
    (module_utils/linode/api.py LKE_ARG_SPEC; module_utils/linode/lke_module.py lke_argument_spec)."""

    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - Linode API personal access token with read/write access to Kubernetes (LKE).
      - If not set, the value of the E(LINODE_TOKEN) environment variable is used.
    type: str
    aliases: [token]
  api_url:
    description:
      - Base URL of the Linode API v4. The local lab points it at its simulator.
      - If not set, the value of E(LINODE_API_URL) is used, else the real API.
    type: str
    default: https://api.linode.com/v4
  api_timeout:
    description:
      - Overall deadline in seconds for retrying one API request that fails with HTTP 429, 408,
        5xx or a dropped connection. Retries back off exponentially and honour C(Retry-After).
    type: float
    default: 300
  cluster_id:
    description:
      - The LKE cluster id (C(GET /lke/clusters) lists them). The module acts on this cluster only and
        refuses a node or instance that belongs to another one.
    type: int
    required: true
requirements:
  - linode_api4 >= 5.0
notes:
  - Set these once for all lke_* modules with C(module_defaults) and the action group
    C(group/fournines.runbooks.linode).
"""
