#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cert_manager_certificate_info
short_description: Read cert-manager Certificates and check them against their Secrets
version_added: 0.1.0
description:
  - Lists cert-manager Certificates across all namespaces (or O(namespaces)) with C(notAfter),
    C(renewalTime), the Ready and Issuing conditions, C(failedIssuanceAttempts),
    C(lastFailureTime) and the issuer.
  - Reads only the Secret each Certificate names (never every Secret in the cluster) and
    compares the certificate it really holds with the status (notAfter, DNS names).
  - "Judges each Certificate: state V(ready), V(renewing), V(failing), V(overdue) (past
    renewalTime, nothing running), V(not_ready) or V(expired); status V(ok), V(warning) or
    V(critical) by O(warn_days)/O(fail_days); for failing ones, when cert-manager will retry
    (1 h x 2^(attempts-1), at most 32 h)."
  - Also returns RV(issuances), the certificates issued through CertificateRequests, for
    M(fournines.runbooks.tls_acme_headroom).
extends_documentation_fragment:
  - fournines.runbooks.attributes.info_module
  - kubernetes.core.k8s_auth_options
  - fournines.runbooks.tls_thresholds
options:
  namespaces:
    description: Namespaces to read; empty means all namespaces.
    type: list
    elements: str
    default: []
  stuck_minutes:
    description: An issuance (Issuing=True) running longer than this is reported as a stuck renewal (V(warning)).
    type: int
    default: 60
  timeout:
    description: One deadline in seconds for all API calls, retries of HTTP 429/5xx included.
    type: int
    default: 60
requirements:
  - kubernetes
  - cryptography
"""

EXAMPLES = r"""
- name: What cert-manager believes, in every namespace
  fournines.runbooks.cert_manager_certificate_info:
    kubeconfig: ~/.kube/config
  register: cm

- name: Certificates past their renewal time that nothing is renewing
  ansible.builtin.debug:
    msg: "{{ cm.certificates | selectattr('state', 'equalto', 'overdue') | map(attribute='name') | list }}"
"""

RETURN = r"""
certificates:
  description: One entry per Certificate, sorted by namespace and name.
  returned: always
  type: list
  elements: dict
  contains:
    namespace:
      description: Namespace.
      type: str
    name:
      description: Name.
      type: str
    state:
      description: V(ready), V(renewing), V(failing), V(overdue), V(not_ready) or V(expired).
      type: str
    status:
      description: V(ok), V(warning) or V(critical).
      type: str
    findings:
      description: Why the status is not V(ok).
      type: list
      elements: str
    ready:
      description: Ready condition (null when missing).
      type: bool
    issuing:
      description: Issuing condition is True.
      type: bool
    not_after:
      description: status.notAfter.
      type: str
    renewal_time:
      description: status.renewalTime.
      type: str
    failed_issuance_attempts:
      description: status.failedIssuanceAttempts (0 when absent).
      type: int
    last_failure_time:
      description: status.lastFailureTime.
      type: str
    next_retry_at:
      description: When cert-manager retries a failing issuance.
      type: str
    days_left:
      description: Days until notAfter.
      type: float
    issuer:
      description: C(name), C(kind), C(group) of spec.issuerRef.
      type: dict
    secret:
      description: The Secret's real certificate (C(exists), C(not_after), C(serial), C(names), C(issuer), C(matches_status)).
      type: dict
    latest_request:
      description: The newest CertificateRequest (C(name), C(revision), C(ready), C(reason), C(message)) and its ACME C(order) (C(state), C(reason)).
      type: dict
issuances:
  description: Certificates issued through CertificateRequests (C(names), C(issued_at), C(serial), C(source), C(issuer)).
  returned: always
  type: list
  elements: dict
summary:
  description: Counts per status and in total.
  returned: always
  type: dict
checked_at:
  description: Time the Certificates were judged at.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s import client
from ansible_collections.fournines.runbooks.plugins.module_utils.tls.certmanager import collect_from_cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.tls.endpoint_scan import CRYPTOGRAPHY_IMPORT_ERROR, EXPIRY_ARG_SPEC, HAS_CRYPTOGRAPHY


def main():
    module = AnsibleModule(
        argument_spec=client.k8s_argument_spec(
            namespaces=dict(type="list", elements="str", default=[]),
            stuck_minutes=dict(type="int", default=60),
            timeout=dict(type="int", default=60),
            **EXPIRY_ARG_SPEC),
        supports_check_mode=True,
    )
    p = module.params
    require_lib(module, "cryptography", HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR)
    require_lib(module, "kubernetes", client.HAS_K8S, client.K8S_IMPORT_ERROR)
    try:
        result = collect_from_cluster(client.kube_from_params(p), p["timeout"], namespaces=p["namespaces"], now=p["now"],
                                      warn_days=p["warn_days"], fail_days=p["fail_days"],
                                      stuck_minutes=p["stuck_minutes"])
    except RunbookError as err:
        fail_from_error(module, err)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
