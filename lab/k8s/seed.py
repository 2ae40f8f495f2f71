"""Apply the seeded objects (lab/k8s/seed/*.yaml) with server-side apply and wait for them.

    seed.py --kubeconfig .lab/kubeconfig [--timeout 120]

Idempotent: re-applying resets only the fields the seed owns. Waits until the CRDs are
Established, every seeded object exists and each seeded namespace has its default
ServiceAccount (made by the real controller-manager), so callers can use the lab at once.
"""

import argparse
import glob
import os
import sys
import time

import yaml
from kubernetes import config, dynamic
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

SEED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seed")
FIELD_MANAGER = "fournines-lab-seed"


def load_documents(seed_dir=SEED_DIR):
    docs = []
    for path in sorted(glob.glob(os.path.join(seed_dir, "*.yaml"))):
        with open(path, encoding="utf-8") as handle:
            docs.extend(doc for doc in yaml.safe_load_all(handle) if doc)
    return docs


def _resource(client, doc, deadline):
    # A CRD-backed kind appears in discovery a moment after its CRD is Established.
    while True:
        try:
            return client.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        except ResourceNotFoundError:
            if time.time() > deadline:
                raise
            client.resources.invalidate_cache()
            time.sleep(1)


def apply_all(client, docs, deadline):
    for doc in docs:
        res = _resource(client, doc, deadline)
        meta = doc["metadata"]
        while True:
            try:
                res.server_side_apply(body=doc, name=meta["name"], namespace=meta.get("namespace"),
                                      field_manager=FIELD_MANAGER, force_conflicts=True)
                break
            except Exception as err:  # noqa: BLE001 - the API may still be settling; retry until the deadline
                if time.time() > deadline:
                    raise RuntimeError("applying %s %s failed: %s" % (doc["kind"], meta["name"], err)) from err
                time.sleep(1)
        if doc["kind"] == "CustomResourceDefinition":
            wait_established(res, meta["name"], deadline)


def wait_established(res, name, deadline):
    while time.time() < deadline:
        conds = (res.get(name=name).to_dict().get("status") or {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conds):
            return
        time.sleep(0.5)
    raise RuntimeError("CRD %s was not Established in time" % name)


def wait_present(client, docs, deadline):
    sa = client.resources.get(api_version="v1", kind="ServiceAccount")
    wanted = [(_resource(client, d, deadline), d["metadata"]) for d in docs]
    namespaces = sorted({d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"})
    missing = []
    while time.time() < deadline:
        missing = []
        for res, meta in wanted:
            try:
                res.get(name=meta["name"], namespace=meta.get("namespace"))
            except NotFoundError:
                missing.append(meta["name"])
        for ns in namespaces:
            try:
                sa.get(name="default", namespace=ns)
            except NotFoundError:
                missing.append("serviceaccount %s/default" % ns)
        if not missing:
            return
        time.sleep(0.5)
    raise RuntimeError("seeded objects still missing: %s" % ", ".join(missing))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
    deadline = time.time() + args.timeout
    client = dynamic.DynamicClient(config.new_client_from_config(config_file=args.kubeconfig))
    docs = load_documents()
    try:
        apply_all(client, docs, deadline)
        wait_present(client, docs, deadline)
    except Exception as err:  # noqa: BLE001 - one clear line for lab/up, not a traceback
        sys.exit("lab/k8s/seed.py: %s" % err)
    print("lab/k8s/seed.py: %d objects applied" % len(docs), file=sys.stderr)


if __name__ == "__main__":
    main()
