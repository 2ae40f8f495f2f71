#!/usr/bin/env python3
"""Scan N TLS endpoints of the lab two ways, side by side, and print the figures.

    .venv/bin/python benchmarks/cert_scan.py [--count 200] [--concurrency 32]

1. one task: fournines.runbooks.tls_certificate_scan with all N endpoints;
2. one task looping community.crypto.get_certificate over the same N endpoints.

Both run as ansible-playbook against localhost, same chain verification input (the lab CA
bundle). The endpoints are N distinct SNI names served by the lab's nginx (lab/tls: the
default server holds *.bench.lab.test). Prints wall time, endpoints per second and the ratio;
also the wall time of an empty playbook (Ansible's own start-up, included in both).
Needs the lab: lab/up tls.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "lab"))
import labenv  # noqa: E402

BIN = os.path.join(REPO, ".venv", "bin")


def playbook(tasks):
    return [{"name": "benchmark", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def run(path, vars_path):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.null",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", path, "-e", "@" + vars_path,
           "-e", "ansible_python_interpreter=%s" % os.path.join(BIN, "python")]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit("%s failed (rc %d):\n%s\n%s" % (os.path.basename(path), proc.returncode,
                                                        proc.stdout[-2000:], proc.stderr[-2000:]))
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    env = labenv.component_env("tls")
    if not env:
        raise SystemExit("the TLS lab is not running: lab/up tls")
    port = int(env["TLS_ENDPOINTS_PORT"])
    endpoints = [{"host": "127.0.0.1", "port": port, "server_name": "bench-%03d.bench.%s" % (i, env["TLS_DOMAIN"])}
                 for i in range(args.count)]
    work = tempfile.mkdtemp(prefix="cert-scan-bench-")
    vars_path = os.path.join(work, "vars.json")
    with open(vars_path, "w") as handle:
        json.dump({"bench_endpoints": endpoints, "bench_ca": env["TLS_CA_BUNDLE"]}, handle)
    books = {
        "empty": playbook([{"name": "nothing", "ansible.builtin.meta": "noop"}]),
        "scan": playbook([{"name": "scan", "fournines.runbooks.tls_certificate_scan": {
            "endpoints": "{{ bench_endpoints }}", "ca_file": "{{ bench_ca }}", "timeout": 5,
            "concurrency": args.concurrency}, "register": "r"},
            {"name": "all read", "ansible.builtin.assert": {"that": ["r.summary.ok == %d" % args.count]}}]),
        "loop": playbook([{"name": "get_certificate", "community.crypto.get_certificate": {
            "host": "{{ item.host }}", "port": "{{ item.port }}", "server_name": "{{ item.server_name }}",
            "ca_cert": "{{ bench_ca }}", "timeout": 5}, "loop": "{{ bench_endpoints }}", "register": "r"},
            {"name": "all read", "ansible.builtin.assert": {"that": ["r.results | length == %d" % args.count]}}]),
    }
    paths = {}
    for name, book in books.items():
        paths[name] = os.path.join(work, name + ".yml")
        with open(paths[name], "w") as handle:
            json.dump(book, handle)  # JSON is YAML
    times = dict((name, run(paths[name], vars_path)) for name in ("empty", "scan", "loop"))
    n = args.count
    print("endpoints: %d (127.0.0.1:%d, distinct SNI names), concurrency %d" % (n, port, args.concurrency))
    print("ansible-playbook start-up (empty play): %.2f s, included below" % times["empty"])
    print("%-44s %8.2f s  %8.1f endpoints/s" % ("fournines.runbooks.tls_certificate_scan (1 task)", times["scan"],
                                              n / times["scan"]))
    print("%-44s %8.2f s  %8.1f endpoints/s" % ("community.crypto.get_certificate (loop)", times["loop"],
                                              n / times["loop"]))
    print("ratio (loop / scan): %.1fx faster" % (times["loop"] / times["scan"]))
    scan_only = max(times["scan"] - times["empty"], 0.001)
    loop_only = max(times["loop"] - times["empty"], 0.001)
    print("without start-up: scan %.2f s, loop %.2f s, ratio %.1fx" % (scan_only, loop_only, loop_only / scan_only))
    # the scanning code alone, without Ansible's module packaging and argument checks
    sys.path.insert(0, os.path.join(REPO, ".collections"))
    from ansible_collections.fournines.runbooks.plugins.module_utils.tls import endpoint_scan
    started = time.monotonic()
    endpoint_scan.scan(endpoints, ca_file=env["TLS_CA_BUNDLE"], concurrency=args.concurrency)
    inproc = time.monotonic() - started
    print("module_utils/tls/endpoint_scan.py scan() in-process: %.2f s, %.1f endpoints/s" % (inproc, n / inproc))


if __name__ == "__main__":
    main()
