#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dns_record_ttl
short_description: Read, lower and restore the TTLs of DNS RRsets through a provider
version_added: 0.1.0
description:
  - Reads the TTL of named RRsets, sets a new TTL while keeping their data, or restores the
    original TTLs saved by an earlier run.
  - Before anything is written the whole change is checked. The zone must be hosted by the
    provider, every record must exist and every TTL must be a whole number of seconds from 0
    to 2147483647; otherwise the module fails and nothing is changed.
  - "With O(action=set) the original TTLs are saved to the run's journal
    (C(<reports_dir>/<run_id>/state.json)) before the provider is asked to change them, and a
    saved original is never overwritten by a lowered value. O(action=restore) with the same
    O(run_id), even from another play or days later, puts the originals back."
  - A provider that stores only some TTLs (Linode) is asked for the value it will really keep,
    and the module warns when that differs from the requested TTL.
  - With O(action=set), also in check mode, says per record and overall when the answers cached before
    the lowering have left every cache (the change, plus O(publish_lag), plus the old TTL), which is the
    moment a migration may start (RV(migration_start)). The run's report (C(report.md), C(report.json)) says
    the same.
extends_documentation_fragment:
  - fournines.runbooks.attributes
  - fournines.runbooks.dns_provider
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    details: Reads the current TTLs and returns the plan; writes neither records nor the journal.
  diff_mode:
    support: full
    details: Shows the TTL of each RRset before and after.
options:
  action:
    description:
      - V(read) returns the current TTLs and changes nothing.
      - V(set) sets the TTL of every RRset in O(records) to O(ttl) (or the record's own C(ttl)).
      - V(restore) puts back the original TTLs saved under O(run_id) (all of them, or only O(records) if given).
    type: str
    choices: [read, set, restore]
    default: set
  records:
    description: The RRsets, by owner name (relative to O(zone), absolute, or V(@) for the apex) and type.
    type: list
    elements: dict
    suboptions:
      name:
        description: Owner name.
        type: str
        required: true
      type:
        description: RR type, for example V(A), V(AAAA), V(CNAME).
        type: str
        default: A
      ttl:
        description: TTL for this RRset, instead of O(ttl).
        type: raw
  ttl:
    description: The TTL in seconds to set with O(action=set).
    type: raw
  run_id:
    description:
      - Run whose journal keeps the original TTLs. Required for O(action=set) and O(action=restore).
      - Use the same value to restore later, for example from the C(restore-dns-ttl.yml) playbook.
    type: str
  reports_dir:
    description: Directory holding the runs' journals.
    type: path
    default: reports
  publish_lag:
    description:
      - Seconds the provider may take to publish an accepted change (Linode's DNS Manager about 900,
        external-dns its sync interval); until then the old answer is still served. Counts toward
        RV(records[].old_answers_gone_at) and RV(migration_start).
    type: float
    default: 0
"""

EXAMPLES = r"""
- name: Lower the app's TTLs to 60 s a day before a migration
  fournines.runbooks.dns_record_ttl:
    provider: powerdns
    zone: example.com
    powerdns:
      api_url: https://pdns.internal:8081
      api_key: "{{ vault_pdns_api_key }}"
    records:
      - {name: app, type: A}
      - {name: app, type: AAAA}
      - {name: www, type: CNAME}
    ttl: 60
    run_id: dns-2026-11-27
  register: lowered

- name: Put the original TTLs back (any later run)
  fournines.runbooks.dns_record_ttl:
    provider: rfc2136
    zone: example.com
    rfc2136:
      server: 192.0.2.53
      tsig_key_name: ansible
      tsig_key_secret: "{{ vault_tsig_secret }}"
    action: restore
    run_id: dns-2026-11-27
"""

RETURN = r"""
records:
  description: One entry per RRset.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Absolute owner name.
      type: str
      sample: app.example.com.
    type:
      description: RR type.
      type: str
      sample: A
    old_ttl:
      description: TTL before the change (the current TTL with O(action=read)).
      type: int
      sample: 3600
    new_ttl:
      description: TTL after the change (what the provider stores).
      type: int
      sample: 60
    original_ttl:
      description: The original TTL saved in the journal, when an earlier run lowered it already.
      type: int
      returned: when known
    note:
      description: Why the stored TTL differs from the requested one.
      type: str
      returned: when the provider rounded the TTL
    values:
      description: The RRset's data (unchanged).
      type: list
      elements: str
    changed:
      description: Whether this RRset's TTL changes.
      type: bool
    lowered_at:
      description: When an earlier attempt of the run lowered this RRset (UTC, ISO 8601).
      type: str
      returned: when an earlier attempt lowered it
    old_answers_gone_at:
      description: When the answers cached before the lowering have left every cache (UTC, ISO 8601), that is
        the change (now, in check mode) + O(publish_lag) + the old TTL + 1 s for resolvers' whole-second clocks.
      type: str
      returned: with O(action=set)
      sample: "2026-11-28T09:15:01.000Z"
    old_answers_gone_in:
      description: Seconds from now until RV(records[].old_answers_gone_at) (0 once past).
      type: float
      returned: with O(action=set)
    old_answers_gone_from:
      description: What the moment counts from, the change's time or V(now) (a plan in check mode).
      type: str
      returned: with O(action=set)
    old_answers_gone_why:
      description: How RV(records[].old_answers_gone_at) was computed, in words.
      type: str
      returned: with O(action=set)
    old_answers_gone:
      description: All of it as one line for people.
      type: str
      returned: with O(action=set)
      sample: "app.example.com. A: old answers gone from every cache at 2026-11-28T09:15:01.000Z, in 1 d 0 h 15 min 1 s
        (now + publish lag 900 s + old TTL 86400 s + 1 s for resolvers' whole-second clocks)"
state_file:
  description: The journal that keeps the original TTLs.
  returned: when O(run_id) is set
  type: str
  sample: reports/dns-2026-11-27/state.json
progress_file:
  description:
    - The run's C(progress.log) beside O(run_id)'s journal, for a following wait's progress lines; the
      P(fournines.runbooks.progress#callback) callback shows them in the play output while the wait runs.
  returned: when O(run_id) is set, outside check mode
  type: str
  sample: reports/dns-2026-11-27/progress.log
pending_restore:
  description: Records still lowered according to the journal (name/type to original TTL).
  returned: when O(run_id) is set
  type: dict
report:
  description: The Markdown report of the run (records with original, lowered and restored TTLs, when
    their old answers have left every cache and the migration may start; steps), written next to the
    journal with a JSON twin C(report.json).
  returned: with O(action=set) or O(action=restore), outside check mode
  type: str
  sample: reports/dns-2026-11-27/report.md
expected:
  description: What every nameserver must now serve (name, type, ttl), ready for
    M(fournines.runbooks.dns_propagation_wait) O(fournines.runbooks.dns_propagation_wait#module:records).
  returned: always
  type: list
  elements: dict
old_ttl_max:
  description: The largest TTL resolvers may have cached before this change (original TTLs
    saved by an earlier run count), for M(fournines.runbooks.dns_propagation_wait) O(fournines.runbooks.dns_propagation_wait#module:old_ttl).
  returned: always
  type: int
changed_at:
  description: When the provider accepted the change (UTC, ISO 8601); for records lowered by an
    earlier attempt of the run, when that attempt lowered them.
  returned: always
  type: str
migration_start:
  description: The moment a migration may start, the latest RV(records[].old_answers_gone_at)
    (C(at), C(in) seconds from now, the record's C(name) and C(type)), and C(text), one line for people.
  returned: with O(action=set)
  type: dict
  sample:
    at: "2026-11-28T09:15:01.000Z"
    in: 87301.0
    name: app.example.com.
    type: A
    text: "the migration may start at 2026-11-28T09:15:01.000Z, in 1 d 0 h 15 min 1 s if the TTLs are lowered now:
      then the old answers of every record have left every cache (the last is app.example.com. A)"
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import ttl_change
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.registry import build_provider, dns_provider_argument_spec
from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import fail_from_error, RunbookError


def main():
    module = AnsibleModule(
        argument_spec=dns_provider_argument_spec(
            action=dict(type="str", choices=["read", "set", "restore"], default="set"),
            records=dict(type="list", elements="dict", options=dict(
                name=dict(type="str", required=True),
                type=dict(type="str", default="A"),
                ttl=dict(type="raw"),
            )),
            ttl=dict(type="raw"),
            run_id=dict(type="str"),
            reports_dir=dict(type="path", default="reports"),
            publish_lag=dict(type="float", default=0.0),
        ),
        required_if=[("action", "set", ("records", "run_id")), ("action", "restore", ("run_id",)),
                     ("action", "read", ("records",))],
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False)
    try:
        zone = ttl_change.normalize_zone(p["zone"])
        keys = ttl_change.normalize_records(p["records"], zone) if p["records"] else None
        per_record = {}
        for rec, key in zip(p["records"] or [], keys or []):
            if rec.get("ttl") is not None:
                per_record[key] = ttl_change.validate_ttl(rec["ttl"], "ttl of %s %s" % key)
        if p["action"] == "set" and p["ttl"] is None and len(per_record) != len(keys):
            raise ttl_change.DNSError("action=set needs ttl (or a ttl on every record)")
        ttl = ttl_change.validate_ttl(p["ttl"]) if p["ttl"] is not None else None
        state = ttl_change.TTLState(p["reports_dir"], p["run_id"], zone, p["provider"]) if p["run_id"] else None
        provider = build_provider(p)
        if p["action"] == "read":
            rows = ttl_change.read(provider, zone, keys)
            for row in rows:
                row["old_ttl"] = row["new_ttl"] = row["ttl"]
        elif p["action"] == "set":
            rows = ttl_change.lower(provider, zone, keys, ttl, state, check_mode=module.check_mode,
                                    per_record=per_record, publish_lag=p["publish_lag"])
            result["migration_start"] = ttl_change.migration_start(rows)
        else:
            if not state.data["records"]:
                module.warn("run %s saved no TTLs for zone %s; there is nothing to restore" % (p["run_id"], zone))
            rows = ttl_change.restore(provider, zone, state, check_mode=module.check_mode, keys=keys)
        for row in rows:
            if row.get("note"):
                module.warn(row["note"])
        result["records"] = rows
        result["expected"] = [{"name": r["name"], "type": r["type"], "ttl": r["new_ttl"]} for r in rows]
        olds = [r.get("original_ttl", r["old_ttl"]) for r in rows]
        result["old_ttl_max"] = max([t for t in olds if t is not None] or [0])
        result["changed_at"] = ttl_change.iso()
        if state and p["action"] == "set":
            stamps = [(state.original(ttl_change.key_of(r["name"], r["type"])) or {}).get("lowered_at") for r in rows
                      if not r.get("changed")]
            if stamps and all(stamps) and not result["changed"]:
                result["changed_at"] = max(stamps)
        result["changed"] = any(r.get("changed") for r in rows)
        if result["changed"]:
            result["diff"] = ttl_change.diff_of(rows)
        if state:
            result["state_file"] = state.path
            if not module.check_mode:  # check mode creates no run folder to write progress into
                result["progress_file"] = os.path.join(state.journal.dir, "progress.log")
            if p["action"] in ("set", "restore") and not module.check_mode and state.journal.state["steps"]:
                result["report"] = os.path.join(state.journal.dir, "report.md")
            result["pending_restore"] = dict((k, v["original_ttl"]) for k, v in state.pending().items())
    except RunbookError as err:
        fail_from_error(module, err, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
