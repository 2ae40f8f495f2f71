#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tls_certificate_scan
short_description: Scan many TLS endpoints concurrently and judge what clients see
version_added: 0.1.0
description:
  - Connects to every endpoint in one call, concurrently, each with its own timeout, and
    reads the certificate chain the server actually sends.
  - The handshake never verifies, so expired, self-signed and misnamed certificates are still
    read; the chain is verified afterwards against O(ca_file) (or the endpoint's own CA file,
    or the system bundle) and the result says why it fails (expired, incomplete chain,
    self-signed, untrusted root).
  - The requested name (SNI) is matched against the certificate's subjectAltNames on its own
    (RFC 6125 wildcard rules), independent of the chain verdict.
  - Each endpoint gets a status, V(ok), V(warning) (expires within O(warn_days)),
    V(critical) (expires within O(fail_days), expired, wrong name or chain that does not
    verify) or V(error) (no DNS answer, refused, timeout, handshake failure). One endpoint's
    error never fails the scan.
  - Duplicated endpoints are scanned once and listed in RV(duplicates) with a warning.
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - fournines.runbooks.tls_thresholds
options:
  endpoints:
    description: The endpoints to scan.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description: Host name or IP address to connect to.
        type: str
        required: true
      port:
        description: TCP port, 1-65535. Defaults to O(port).
        type: int
      server_name:
        description:
          - Name sent as SNI and checked against the certificate. Defaults to O(endpoints[].host)
            unless that is an IP address.
        type: str
      ca_file:
        description: PEM file of trust anchors for this endpoint; overrides O(ca_file).
        type: path
      name:
        description: Label for reports. Defaults to C(server_name:port).
        type: str
  port:
    description: Port of endpoints that give none.
    type: int
    default: 443
  ca_file:
    description: PEM file of trust anchors for every endpoint. Defaults to the system CA bundle.
    type: path
  timeout:
    description: Seconds allowed per endpoint for connecting and the TLS handshake.
    type: float
    default: 5
  concurrency:
    description: Endpoints scanned at the same time.
    type: int
    default: 32
notes:
  - Unlike M(community.crypto.get_certificate), which reads one endpoint per task and never
    checks the host name, one call scans hundreds of endpoints and checks names and chains.
requirements:
  - cryptography >= 42
"""

EXAMPLES = r"""
- name: Scan the public endpoints
  fournines.runbooks.tls_certificate_scan:
    endpoints:
      - host: www.example.com
      - host: 203.0.113.10
        port: 8443
        server_name: api.example.com
    warn_days: 21
    fail_days: 7
  register: scan

- name: Stop when any endpoint is critical
  ansible.builtin.assert:
    that: scan.summary.critical == 0
    fail_msg: "{{ scan.endpoints | selectattr('status', 'equalto', 'critical') | map(attribute='findings') | list }}"
"""

RETURN = r"""
endpoints:
  description: One result per distinct endpoint, in input order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Endpoint label.
      type: str
      sample: www.example.com:443
    status:
      description: V(ok), V(warning), V(critical) or V(error).
      type: str
      sample: warning
    findings:
      description: Why the status is not V(ok), one sentence each.
      type: list
      elements: str
    error:
      description: V(resolve), V(refused), V(timeout), V(handshake), V(network) or V(certificate) when the scan of this endpoint failed.
      type: str
    error_detail:
      description: The error in words.
      type: str
    tls_version:
      description: Negotiated protocol.
      type: str
      sample: TLSv1.3
    issuer:
      description: Issuer of the leaf certificate (RFC 4514).
      type: str
    not_before:
      description: Start of the leaf's validity (UTC).
      type: str
    not_after:
      description: End of the leaf's validity (UTC).
      type: str
    days_left:
      description: Days until RV(endpoints[].not_after); negative once expired.
      type: float
      sample: 12.5
    expired:
      description: Whether the leaf has expired.
      type: bool
    sans:
      description: DNS and IP subjectAltNames of the leaf.
      type: list
      elements: str
    requested_name:
      description: The name checked (SNI or host).
      type: str
    name_matches:
      description: Whether RV(endpoints[].requested_name) is covered by the SANs.
      type: bool
    chain_valid:
      description: Whether the served chain verifies to a trusted root now.
      type: bool
    chain_problem:
      description: V(expired), V(not_yet_valid), V(incomplete_chain), V(self_signed), V(untrusted_root), V(no_san) or V(invalid).
      type: str
    chain_error:
      description: Why the chain does not verify.
      type: str
    self_signed:
      description: Whether the server sent a single self-signed certificate.
      type: bool
    chain:
      description: The served certificates, leaf first (subject, issuer, serial, dates, days_left, fingerprint_sha256).
      type: list
      elements: dict
    elapsed_ms:
      description: Time spent on this endpoint.
      type: int
summary:
  description: Count of endpoints per status and in total.
  returned: always
  type: dict
  sample: {"ok": 4, "warning": 1, "critical": 2, "error": 1, "total": 8}
duplicates:
  description: Input entries left out because an earlier entry is the same endpoint.
  returned: always
  type: list
  elements: dict
scanned_at:
  description: Time the certificates were judged at (UTC).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib
from ansible_collections.fournines.runbooks.plugins.module_utils.tls.endpoint_scan import (
    CRYPTOGRAPHY_IMPORT_ERROR, EXPIRY_ARG_SPEC, HAS_CRYPTOGRAPHY, scan, TLSError)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            endpoints=dict(type="list", elements="dict", required=True, options=dict(
                host=dict(type="str", required=True),
                port=dict(type="int"),
                server_name=dict(type="str"),
                ca_file=dict(type="path"),
                name=dict(type="str"),
            )),
            port=dict(type="int", default=443),
            ca_file=dict(type="path"),
            timeout=dict(type="float", default=5.0),
            concurrency=dict(type="int", default=32),
            **EXPIRY_ARG_SPEC),
        supports_check_mode=True,
    )
    p = module.params
    require_lib(module, "cryptography", HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR)
    try:
        result = scan(p["endpoints"], warn_days=p["warn_days"], fail_days=p["fail_days"], timeout=p["timeout"],
                      concurrency=p["concurrency"], ca_file=p["ca_file"], default_port=p["port"], now=p["now"])
    except TLSError as err:
        fail_from_error(module, err)
    for dup in result["duplicates"]:
        module.warn("endpoints[%d] (%s) repeats endpoints[%d]; scanned once"
                    % (dup["index"], dup["name"], dup["same_as"]))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
