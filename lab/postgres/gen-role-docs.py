#!/usr/bin/env python
"""Generate meta/argument_specs.yml, meta/main.yml and README.md of every postgres_* role from
its defaults/main.yml (the comment above each variable is its description). Run it after
changing a default: .venv/bin/python lab/postgres/gen-role-docs.py
tests/unit/roles/test_postgres_role_specs.py checks the files are in step."""
import glob, json, os, yaml
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles"))
class Dumper(yaml.SafeDumper):
    def increase_indent(self, flow=False, indentless=False):
        return super(Dumper, self).increase_indent(flow, False)
DESC = {
 "postgres_preflight": "Preflight of a PostgreSQL upgrade: topology, replication health, lag, long transactions, version policy, error budget.",
 "postgres_minor_canary": "Restart the replica on the new patch release (the canary) and verify it streams, replays, answers and reports the new version.",
 "postgres_switchover": "Promote the canary, rewind the old primary onto the new binaries as its replica, verify both.",
 "postgres_major_check": "Preflight of a major upgrade: extensions, libraries, reg* columns, slots, settings, pg_upgrade --check.",
 "postgres_major_canary": "Trial major upgrade on a pg_basebackup clone, timed and compared table by table; predicts the downtime.",
 "postgres_major_gate": "Gate of the real major upgrade: predicted downtime against the error budget, and explicit confirmation.",
 "postgres_major_upgrade": "Real major upgrade of the primary with pg_upgrade, verification and the rollback path.",
 "postgres_major_post": "After a major upgrade: rebuild the replica on the new major, update extensions, analyze.",
 "postgres_report": "Finish the run journal and write the Markdown/JSON report.",
 "postgres_cnpg_upgrade": "The CloudNativePG backend: canary clone, then the operator's rolling update (minor), in-place pg_upgrade or logical replication (major).",
}
def kind(v):
    if v is None: return "raw"
    if isinstance(v, bool): return "bool"
    if isinstance(v, int): return "int"
    if isinstance(v, float): return "float"
    if isinstance(v, dict): return "dict"
    if isinstance(v, list): return "list"
    if isinstance(v, str) and "{{" in v: return "raw"
    return "str"
for role in sorted(glob.glob("postgres_*")):
    path = os.path.join(role, "defaults", "main.yml")
    lines = open(path).read().splitlines()
    values = yaml.safe_load(open(path)) or {}
    comments, opts = [], {}
    for line in lines:
        if line.startswith("#"):
            comments.append(line.lstrip("# ").strip())
        elif line and not line.startswith(" ") and ":" in line and not line.startswith("---"):
            name = line.split(":")[0]
            if name in values:
                v = values[name]
                o = {"description": " ".join(comments) or name, "type": kind(v)}
                if o["type"] == "list":
                    o["elements"] = "raw" if any(isinstance(x, str) and "{{" in x for x in v) else "str"
                if o["type"] not in ("raw",):
                    o["default"] = v
                else:
                    o["default"] = v
                opts[name] = o
            comments = []
        elif not line.startswith(" "):
            comments = []
    spec = {"argument_specs": {"main": {"short_description": DESC[role], "description": [DESC[role],
            "Every option is also documented in defaults/main.yml, which this file is generated from."], "options": opts}}}
    with open(os.path.join(role, "meta", "argument_specs.yml"), "w") as fh:
        fh.write("---\n# Generated from defaults/main.yml (one source for each default).\n")
        yaml.dump(spec, fh, Dumper=Dumper, sort_keys=False, width=148, default_flow_style=False)
    with open(os.path.join(role, "meta", "main.yml"), "w") as fh:
        fh.write("---\n")
        yaml.dump({"galaxy_info": {"author": "fournines.runbooks engineers", "description": DESC[role],
                        "license": "GPL-3.0-or-later", "min_ansible_version": "2.19",
                        "platforms": [{"name": "Debian", "versions": ["bookworm"]}]}, "dependencies": []},
                       fh, Dumper=Dumper, sort_keys=False, width=160)
    print(role, len(opts))

# README per role: description + the variable list, generated from the same defaults.
for role in sorted(glob.glob("postgres_*")):
    spec = yaml.safe_load(open(os.path.join(role, "meta", "argument_specs.yml")))["argument_specs"]["main"]
    lines = ["# %s" % role, "", spec["short_description"], "",
             "One step of `playbooks/upgrade-postgres.yml`; see the playbook for the order. Generated from",
             "`defaults/main.yml` (the argument specs come from the same file).", "",
             "| variable | default | description |", "| --- | --- | --- |"]
    for name, opt in spec["options"].items():
        default = opt.get("default")
        text = json.dumps(default) if not isinstance(default, str) else default
        lines.append("| `%s` | `%s` | %s |" % (name, text.replace("|", "\\|"), opt["description"]))
    with open(os.path.join(role, "README.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
