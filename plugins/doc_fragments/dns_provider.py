# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """DNS provider options (module_utils/dns/providers/registry.py dns_provider_argument_spec).

    Modules using it also extend kubernetes.core.k8s_auth_options (provider external_dns).
    """

    DOCUMENTATION = r"""
options:
  provider:
    description:
      - Where the zone's records are managed.
      - V(rfc2136) sends signed dynamic updates (RFC 2136 + TSIG) to the primary nameserver, see O(rfc2136).
      - V(powerdns) uses the PowerDNS Authoritative HTTP API, see O(powerdns).
      - V(linode) uses the Linode DNS Manager (Domains API) with O(api_token) and O(api_url). Linode keeps only
        some TTL values and rounds others up; the module says when it does.
      - V(external_dns) sets the TTL annotation on the Ingresses and Services that external-dns reads, using
        the Kubernetes connection options (O(kubeconfig), O(context), ...) and O(external_dns).
    type: str
    required: true
    choices: [rfc2136, powerdns, linode, external_dns]
  zone:
    description: The DNS zone (domain) the records belong to, for example V(example.com).
    type: str
    required: true
  api_token:
    description: Linode API personal access token with read/write access to Domains, for the V(linode) provider;
      if not set, the value of the E(LINODE_TOKEN) environment variable is used.
    type: str
    aliases: [token]
  api_url:
    description: Base URL of the Linode API v4 for the V(linode) provider; if not set, E(LINODE_API_URL), else the real API.
    type: str
    default: https://api.linode.com/v4
  api_timeout:
    description: Overall deadline in seconds for retrying one Linode API request that fails with HTTP 429, 408, 5xx
      or a dropped connection (V(linode) provider).
    type: float
    default: 300
  rfc2136:
    description: Options of the V(rfc2136) provider.
    type: dict
    suboptions:
      server:
        description:
          - Primary nameserver that accepts updates (IP address or name).
          - If not set, the value of E(DNS_PRIMARY_HOST) is used.
        type: str
      port:
        description: Its port.
        type: int
        default: 53
      tsig_key_name:
        description: Name of the TSIG key that signs updates and queries.
        type: str
      tsig_key_secret:
        description: Base64 secret of the TSIG key.
        type: str
      tsig_key_algorithm:
        description: TSIG algorithm.
        type: str
        default: hmac-sha256
        choices: [hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5]
      timeout:
        description: Seconds to wait for one answer; lost answers are retried within a minute.
        type: float
        default: 10
  powerdns:
    description: Options of the V(powerdns) provider.
    type: dict
    suboptions:
      api_url:
        description:
          - Base URL of the PowerDNS webserver, for example V(http://127.0.0.1:8081).
          - If not set, the value of E(PDNS_API_URL) is used.
        type: str
      api_key:
        description:
          - The webserver's api-key.
          - If not set, the value of E(PDNS_API_KEY) is used.
        type: str
      server_id:
        description: PowerDNS server id in the API path.
        type: str
        default: localhost
      validate_certs:
        description: Verify the API's TLS certificate.
        type: bool
        default: true
      timeout:
        description: Seconds to wait for one HTTP answer; HTTP 429, 5xx and dropped connections are retried
          with backoff within a minute.
        type: float
        default: 10
  external_dns:
    description: Options of the V(external_dns) provider.
    type: dict
    suboptions:
      namespaces:
        description: Namespaces to search for Ingresses and Services; empty means all namespaces.
        type: list
        elements: str
        default: []
requirements:
  - linode_api4 >= 5.0 (the V(linode) provider)
"""
