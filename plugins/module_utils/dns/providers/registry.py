# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider options of the dns_* modules (doc fragment ``fournines.runbooks.dns_provider``)
and the factory that builds a :class:`~.dns.DNSProvider` from them.

Linode and Kubernetes take the collection's shared connection options at the top level
(``api_token``/``api_url``, ``kubeconfig``/``context``/...); the two providers without a
shared connection get one sub-option dict each.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible.module_utils.basic import env_fallback

from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import PROVIDERS, DNSError
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.external_dns import ExternalDNSProvider
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.linode import LinodeProvider
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.powerdns import PowerDNSProvider
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.rfc2136 import TSIG_ALGORITHMS, RFC2136Provider
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import k8s_argument_spec, kube_from_params
from ansible_collections.fournines.runbooks.plugins.module_utils.linode.api import LINODE_ARG_SPEC

DNS_PROVIDER_ARG_SPEC = dict(
    provider=dict(type="str", required=True, choices=list(PROVIDERS)),
    zone=dict(type="str", required=True),
    rfc2136=dict(type="dict", options=dict(
        server=dict(type="str", fallback=(env_fallback, ["DNS_PRIMARY_HOST"])),
        port=dict(type="int", default=53),
        tsig_key_name=dict(type="str", no_log=False),
        tsig_key_secret=dict(type="str", no_log=True),
        tsig_key_algorithm=dict(type="str", default="hmac-sha256", choices=list(TSIG_ALGORITHMS)),
        timeout=dict(type="float", default=10.0),
    )),
    powerdns=dict(type="dict", options=dict(
        api_url=dict(type="str", fallback=(env_fallback, ["PDNS_API_URL"])),
        api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["PDNS_API_KEY"])),
        server_id=dict(type="str", default="localhost"),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="float", default=10.0),
    )),
    external_dns=dict(type="dict", options=dict(
        namespaces=dict(type="list", elements="str", default=[]),
    )),
)


def dns_provider_argument_spec(**extra):
    spec = copy.deepcopy(DNS_PROVIDER_ARG_SPEC)
    spec.update(copy.deepcopy(LINODE_ARG_SPEC))
    spec.update(k8s_argument_spec())
    spec.update(extra)
    return spec


def build_provider(params):
    """A provider for ``params['provider']`` from the module's params."""
    name = params.get("provider")
    if name == "rfc2136":
        opts = params.get("rfc2136") or {}
        return RFC2136Provider(opts.get("server"), opts.get("port") or 53, opts.get("tsig_key_name"),
                               opts.get("tsig_key_secret"), opts.get("tsig_key_algorithm") or "hmac-sha256",
                               timeout=opts.get("timeout") or 10.0)
    if name == "powerdns":
        opts = params.get("powerdns") or {}
        return PowerDNSProvider(opts.get("api_url"), opts.get("api_key"), opts.get("server_id") or "localhost",
                                timeout=opts.get("timeout") or 10.0,
                                validate_certs=opts.get("validate_certs", True))
    if name == "linode":
        return LinodeProvider(params.get("api_token"), params.get("api_url"), params.get("api_timeout"))
    if name == "external_dns":
        opts = params.get("external_dns") or {}
        return ExternalDNSProvider(kube_from_params(params), opts.get("namespaces"))
    raise DNSError("provider %r is not one of %s" % (name, ", ".join(PROVIDERS)))
