#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dns_propagation_wait
short_description: Wait until every authoritative nameserver serves a DNS change, then wait out the old TTL
version_added: 0.1.0
description:
  - Finds the zone's authoritative nameservers (its NS records and their addresses) or takes
    O(nameservers), and asks each one directly, without recursion, until every one answers
    with the AA flag, the expected TTL and/or data for every record in O(records), and the
    same SOA serial.
  - Then, with O(old_ttl), computes the moment the old answers have left every resolver cache
    (the later of "last nameserver converged" and O(changed_at) + O(publish_lag), plus
    O(old_ttl)) and, with O(wait_out), waits until then.
  - Progress lines (what each nameserver still serves, time left) are returned and appended to
    O(progress_file), which can be followed with C(tail -f) while the task runs.
  - A nameserver that never answers makes the module fail at O(timeout) with its name and the
    last error.
attributes:
  check_mode:
    details: Asks every nameserver once and reports what it serves; does not wait.
  diff_mode:
    support: none
    details: Changes nothing.
extends_documentation_fragment:
  - fournines.runbooks.attributes
options:
  zone:
    description: The zone, for example V(example.com).
    type: str
    required: true
  records:
    description: The RRsets to verify and what each must serve.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Owner name (relative to O(zone), absolute, or V(@)).
        type: str
        required: true
      type:
        description: RR type.
        type: str
        default: A
      ttl:
        description: The TTL every nameserver must serve; omit to check data only.
        type: raw
      values:
        description: The data every nameserver must serve (in any order); omit to check the TTL only.
        type: list
        elements: str
  nameservers:
    description:
      - Nameservers to ask, as V(HOST), V(HOST:PORT), V(HOST@PORT) or V([IPv6]:PORT).
      - Empty means the zone's NS records, resolved through O(resolver), on O(nameserver_port).
    type: list
    elements: str
    default: []
  resolver:
    description: Resolver used to find the NS records (V(HOST[:PORT])); default is the system's.
    type: str
  nameserver_port:
    description: Port of the nameservers found from NS records.
    type: int
    default: 53
  verify:
    description:
      - Ask the nameservers. V(false) skips that (for a provider whose nameservers cannot be
        reached from here) and only waits out O(changed_at) + O(publish_lag) + O(old_ttl).
    type: bool
    default: true
  timeout:
    description: Seconds until every nameserver must have converged.
    type: float
    default: 300
  interval:
    description: Seconds between rounds of queries.
    type: float
    default: 1
  query_timeout:
    description: Seconds to wait for one answer.
    type: float
    default: 2
  old_ttl:
    description: The TTL resolvers may have cached before the change; enables the expiry computation.
    type: raw
  publish_lag:
    description: Seconds the provider may take to publish an accepted change to its nameservers.
    type: float
    default: 0
  changed_at:
    description: When the provider accepted the change (ISO 8601); default is when verification started.
    type: str
  wait_out:
    description: Sleep until the computed expiry moment before returning.
    type: bool
    default: true
  progress_file:
    description: Append progress lines to this file as they happen (not in check mode).
    type: path
  run_id:
    description:
      - Run journal to record this step in; a re-run of the same step keeps the earlier
        (true) expiry moment instead of starting the wait over.
    type: str
  journal_step:
    description: Name of the step in the journal.
    type: str
    default: dns_propagation
  reports_dir:
    description: Directory holding the runs' journals.
    type: path
    default: reports
"""

EXAMPLES = r"""
- name: Every nameserver serves TTL 60, then wait out the old 3600 s TTL
  fournines.runbooks.dns_propagation_wait:
    zone: example.com
    records:
      - {name: app, type: A, ttl: 60}
      - {name: www, type: CNAME, ttl: 60}
    old_ttl: 3600
    timeout: 600
    progress_file: /tmp/dns-wait.log

- name: The new address is served everywhere (lab nameservers on their own ports)
  fournines.runbooks.dns_propagation_wait:
    zone: lab.example
    nameservers: ["127.0.0.1:15353", "127.0.0.1:15354"]
    records:
      - {name: app, type: A, values: [127.0.0.20]}
    wait_out: false
"""

RETURN = r"""
converged:
  description: Whether every nameserver served the expected answers with one serial.
  returned: always
  type: bool
nameservers:
  description: Per nameserver, what it answered and when it converged.
  returned: always
  type: list
  elements: dict
  contains:
    nameserver:
      description: The nameserver as given or found (name(address):port).
      type: str
    converged:
      description: Whether it serves the expected answers.
      type: bool
    converged_at:
      description: When it first did (UTC, ISO 8601).
      type: str
    converged_after:
      description: Seconds from the start of verification.
      type: float
    serial:
      description: Its SOA serial.
      type: int
    answers:
      description: Its last answers (name, type, ttl, values, aa, rcode).
      type: list
      elements: dict
    reason:
      description: Why it had not converged (empty once it has).
      type: str
expires_at:
  description: When the old answers have left every cache (UTC, ISO 8601).
  returned: when O(old_ttl) is set
  type: str
expiry_reason:
  description: How RV(expires_at) was computed.
  returned: when O(old_ttl) is set
  type: str
expires_in:
  description: Seconds from the module's return until RV(expires_at) (0 once waited out).
  returned: when O(old_ttl) is set
  type: float
waited:
  description: Seconds the module spent verifying and waiting.
  returned: always
  type: float
progress:
  description: The progress lines.
  returned: always
  type: list
  elements: str
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import propagation
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import normalize_zone, validate_ttl
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, require_lib, RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.propagation import HAS_DNSPYTHON
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal, iso


def main():
    module = AnsibleModule(
        argument_spec=dict(
            zone=dict(type="str", required=True),
            records=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                type=dict(type="str", default="A"),
                ttl=dict(type="raw"),
                values=dict(type="list", elements="str"),
            )),
            nameservers=dict(type="list", elements="str", default=[]),
            resolver=dict(type="str"),
            nameserver_port=dict(type="int", default=53),
            verify=dict(type="bool", default=True),
            timeout=dict(type="float", default=300.0),
            interval=dict(type="float", default=1.0),
            query_timeout=dict(type="float", default=2.0),
            old_ttl=dict(type="raw"),
            publish_lag=dict(type="float", default=0.0),
            changed_at=dict(type="str"),
            wait_out=dict(type="bool", default=True),
            progress_file=dict(type="path"),
            run_id=dict(type="str"),
            journal_step=dict(type="str", default="dns_propagation"),
            reports_dir=dict(type="path", default="reports"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    require_lib(module, "dnspython", HAS_DNSPYTHON)
    started = time.time()
    # check mode writes nothing, not even progress lines (the run's folder may not exist yet)
    progress = propagation.Progress(None if module.check_mode else p["progress_file"])
    result = dict(changed=False, converged=False, nameservers=[], progress=progress.lines)
    try:
        zone = normalize_zone(p["zone"])
        expectations = propagation.normalize_expectations(p["records"], zone)
        old_ttl = validate_ttl(p["old_ttl"], "old_ttl") if p["old_ttl"] is not None else None
        if p["publish_lag"] < 0 or p["timeout"] < 0:
            raise propagation.DNSError("publish_lag and timeout must be 0 or more seconds")
        journal = RunJournal(p["reports_dir"], p["run_id"], "dns-ttl") if p["run_id"] else None
        changed_at = p["changed_at"] or iso()
        if p["verify"]:
            if p["nameservers"]:
                servers = [propagation.parse_nameserver(ns, p["nameserver_port"]) for ns in p["nameservers"]]
            else:
                servers = propagation.discover_nameservers(zone, p["resolver"], p["nameserver_port"], p["query_timeout"])
            progress("asking %s for %d record(s) of %s" % (", ".join(s[0] for s in servers), len(expectations), zone))
            try:
                results = propagation.wait_converged(servers, zone, expectations, p["timeout"], interval=p["interval"],
                                                     query_timeout=p["query_timeout"], progress=progress,
                                                     once=module.check_mode)
            except propagation.DNSError as err:
                result["nameservers"] = err.details.get("results", [])
                raise
            result["nameservers"] = results
            result["converged"] = all(r["converged"] for r in results)
        else:
            results = []
            progress("nameservers not verified (verify=false); relying on publish lag %.0f s" % p["publish_lag"])
        if old_ttl is not None and not module.check_mode:
            moment, why = propagation.expiry_moment(results, old_ttl, p["publish_lag"], changed_at)
            moment, why = propagation.resumed_expiry(journal, p["journal_step"], moment, why)
            result["expires_at"] = iso(propagation.datetime.datetime.fromtimestamp(moment, propagation.datetime.timezone.utc))
            result["expiry_reason"] = why
            if journal:
                journal.step(p["journal_step"], "done", expires_at=result["expires_at"], converged=result["converged"])
            progress("old answers expire from caches at %s (%s)" % (result["expires_at"], why))
            if p["wait_out"]:
                propagation.wait_out_ttl(moment, progress)
            result["expires_in"] = round(max(0.0, moment - time.time()), 3)
        elif journal and not module.check_mode:
            journal.step(p["journal_step"], "done", converged=result["converged"])
    except RunbookError as err:
        result["waited"] = round(time.time() - started, 3)
        fail_from_error(module, err, **result)
    result["waited"] = round(time.time() - started, 3)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
