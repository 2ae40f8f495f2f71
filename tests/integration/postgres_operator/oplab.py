"""The CloudNativePG backend's lab: Clusters on the real node, modules run through ansible,
and a writer that commits rows one by one through the ``-rw`` Service while a change runs."""

import json
import os
import subprocess
import sys
import threading
import time

import psycopg
from kubernetes import client

import node_helpers  # loaded by conftest.py from tests/integration/node/conftest.py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "upgrade_cluster"))
import uclab  # noqa: E402  the one kill_tree of the integration tests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GROUP, VERSION, PLURAL = "postgresql.cnpg.io", "v1", "clusters"
HEALTHY = "Cluster in healthy state"


def major_images():
    """(old, new) references of the major pair (pg-premajor 15 -> pg-major 18, one OS), imported into the node
    (lab/node/images import: idempotent, builds only what its cache lacks; a node started before pg-premajor existed
    has no env line for it, so the references come from ``images list``)."""
    env = dict(os.environ, REPO=REPO, LAB_DIR=os.path.join(REPO, "lab"), LAB_STATE=os.path.join(REPO, ".lab"),
               LAB_PYTHON=os.path.join(REPO, ".venv", "bin", "python"))
    with open(os.path.join(REPO, "lab", "ports.env")) as fh:
        for line in fh:
            if "=" in line and not line.startswith("#"):
                key, value = line.strip().split("=", 1)
                env.setdefault(key, value)
    images = os.path.join(REPO, "lab", "node", "images")
    subprocess.run([images, "import", "pg-premajor", "pg-major"], env=env, check=True, timeout=1800)
    out = subprocess.run([images, "list", "pg-premajor", "pg-major"], env=env, check=True, timeout=60,
                         capture_output=True, text=True).stdout
    refs = dict(line.split("=", 1) for line in out.split())
    return refs["pg-premajor"], refs["pg-major"]


class OpLab(object):
    def __init__(self, api_client, node_env, namespace, workdir):
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.node = node_env
        self.ns = namespace
        self.workdir = workdir

    def create_namespace(self):
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=self.ns)))

    def cluster_body(self, name, image, instances=2):
        return {
            "apiVersion": GROUP + "/" + VERSION, "kind": "Cluster", "metadata": {"name": name},
            "spec": {
                "instances": instances, "imageName": image, "imagePullPolicy": "Never",
                "enableSuperuserAccess": True,
                "storage": {"size": "1Gi", "storageClass": "lab-node-local"},
                "affinity": {"nodeSelector": {"lab.fournines.io/kubelet": "real"},
                             "tolerations": [{"key": node_helpers.TAINT_KEY, "operator": "Equal", "value": "true",
                                              "effect": "NoSchedule"}]},
                "postgresql": {"parameters": {"shared_buffers": "32MB", "max_connections": "40"}},
                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            },
        }

    def create_cluster(self, name, image, instances=2):
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL,
                                                    self.cluster_body(name, image, instances))

    def get(self, name):
        try:
            return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, name)
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise

    def status(self, name):
        return (self.get(name) or {}).get("status") or {}

    def wait_healthy(self, name, image, timeout=600):
        def ok():
            obj = self.get(name) or {}
            st = obj.get("status") or {}
            return st if (st.get("phase") == HEALTHY and st.get("readyInstances") == obj["spec"]["instances"]
                          and st.get("currentPrimary") == st.get("targetPrimary")
                          and obj["spec"]["imageName"] == image) else None
        return node_helpers.wait_for("Cluster %s/%s healthy on %s" % (self.ns, name, image), ok, timeout=timeout, every=2)

    def connect(self, cluster, service="rw", dbname="app", retry_for=60):
        return node_helpers.pg_connect(self.core, self.ns, "%s-%s" % (cluster, service), "%s-superuser" % cluster,
                                       dbname=dbname, retry_for=retry_for)

    def module(self, module_name, check=False, **args):
        """Run fournines.runbooks.<name> on localhost; its result dict (``failed`` and ``msg`` on failure)."""
        args.setdefault("kubeconfig", os.path.join(REPO, ".lab", "kubeconfig"))
        cmd = [os.path.join(REPO, ".venv", "bin", "ansible"), "localhost", "-m", "fournines.runbooks." + module_name,
               "-a", json.dumps(args)] + (["--check"] if check else [])
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                   ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_NOCOLOR="1")
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1500, check=False)
        try:
            out = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("ansible %s: no JSON (exit %d):\n%s\n%s" % (module_name, proc.returncode, proc.stdout, proc.stderr))
        return out["plays"][0]["tasks"][0]["hosts"]["localhost"]


    def playbook(self, *extra, check=False, timeout=2400):
        """ansible-playbook playbooks/upgrade-postgres.yml -i inventories/lab_cnpg against this namespace."""
        cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", os.path.join(REPO, "inventories", "lab_cnpg"),
               os.path.join(REPO, "playbooks", "upgrade-postgres.yml"),
               "-e", json.dumps({"postgres_cnpg_upgrade_namespace": self.ns, "postgres_reports_dir": self.workdir})]
        cmd += list(extra) + (["--check"] if check else [])
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)

    def start_playbook(self, *extra):
        """The same run in the background, in its own process group (to be killed)."""
        cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", os.path.join(REPO, "inventories", "lab_cnpg"),
               os.path.join(REPO, "playbooks", "upgrade-postgres.yml"),
               "-e", json.dumps({"postgres_cnpg_upgrade_namespace": self.ns, "postgres_reports_dir": self.workdir})]
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        return subprocess.Popen(cmd + list(extra), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    @staticmethod
    def kill_tree(proc):
        """SIGKILL a run started by :meth:`start_playbook` and every process under it. Killing its process
        group is not enough: Ansible's workers call setsid, so the module a task is running (a wait on the
        operator, say) would live on and finish the step the test means to interrupt."""
        uclab.kill_tree(proc)

    def recycle_volumes(self):
        """Make the local volumes that deleted canaries left Released Available again (lab/node/seed.py)."""
        subprocess.run([os.path.join(REPO, ".venv", "bin", "python"), os.path.join(REPO, "lab", "node", "seed.py"),
                        "volumes", os.path.join(REPO, ".lab", "kubeconfig"), self.node["NODE_NAME"], "12",
                        "/var/lib/fournines-node/volumes"], check=True, timeout=120)

    def remove(self):
        """Delete this lab's namespace without waiting out PostgreSQL's shutdowns: the Clusters first (the operator
        recreates nothing), their pods at once (grace 0: nothing in them is kept), the namespace; then its local
        volumes are made Available again (once more if another module's recycle raced this one: AlreadyExists)."""
        for obj in self.custom.list_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL)["items"]:
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, obj["metadata"]["name"])
        self.core.delete_collection_namespaced_pod(self.ns, grace_period_seconds=0)
        self.core.delete_namespace(self.ns)
        node_helpers.wait_for("namespace %s gone" % self.ns, lambda: not [
            n for n in self.core.list_namespace().items if n.metadata.name == self.ns], timeout=600, every=1)
        try:
            self.recycle_volumes()
        except subprocess.CalledProcessError:
            self.recycle_volumes()

    def reports(self):
        """{run id: report.json} of the runs in this lab's reports folder."""
        found = {}
        for run in sorted(os.listdir(self.workdir)):
            path = os.path.join(self.workdir, run, "report.json")
            if os.path.exists(path):
                with open(path) as fh:
                    found[run] = json.load(fh)
        return found


class Writer(object):
    """Commits one row at a time into ``ledger`` through the ``-rw`` Service; reconnects on errors.

    ``committed`` holds the ids whose INSERT returned (committed on the primary); ``downtime``
    is the longest time between two commits that had failures in between.
    """

    def __init__(self, lab, cluster):
        self.lab, self.cluster = lab, cluster
        self.committed, self.errors = [], 0
        self.longest_gap = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        with self.lab.connect(self.cluster) as conn:
            conn.execute("create table if not exists ledger (id bigint primary key, at timestamptz default now())")
            start = conn.execute("select coalesce(max(id), 0) from ledger").fetchone()[0]
        self._next = start + 1
        self._thread.start()
        return self

    def _run(self):
        conn, last_ok, failed = None, time.monotonic(), False
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = self.lab.connect(self.cluster, retry_for=0)  # a gap is what it measures
                conn.execute("insert into ledger (id) values (%s)", (self._next,))
                self.committed.append(self._next)
                self._next += 1
                now = time.monotonic()
                if failed:
                    self.longest_gap = max(self.longest_gap, now - last_ok)
                    failed = False
                last_ok = now
                time.sleep(0.05)
            except psycopg.Error:
                self.errors += 1
                failed = True
                try:
                    if conn is not None:
                        conn.close()
                except psycopg.Error:
                    pass
                conn = None
                # A failed INSERT whose outcome is unknown: use a new id, never claim it.
                self._next += 1
                time.sleep(0.2)
        # Close the session: an idle one left open makes CloudNativePG's smart shutdown of the pod (the
        # namespace's deletion, a restart) wait out smartShutdownTimeout (180 s by default).
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=60)
        return self

    def missing(self):
        """Committed ids not in the table now."""
        with self.lab.connect(self.cluster) as conn:
            present = set(r[0] for r in conn.execute("select id from ledger").fetchall())
        return sorted(set(self.committed) - present)
