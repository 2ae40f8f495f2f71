"""Generate the lab cluster's own PKI, service-account keys and kubeconfigs (idempotent).

    pki.py <state-dir> <apiserver-port> <admin-kubeconfig-path>

Lab-only material, made on first start and kept under .lab/k8s/pki (git-ignored): a CA,
the API server's serving certificate (127.0.0.1 / localhost / the in-cluster names),
client certificates for admin (system:masters), controller-manager and scheduler, and the
service-account signing key pair. Existing files are reused so a restart keeps tokens valid.
"""

import datetime
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import labpki  # noqa: E402

YEARS = 10
#: The API server's names: what clients on this host and in-cluster clients dial.
APISERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                   "kubernetes.default.svc.cluster.local", "127.0.0.1", "10.96.0.1")


def _validity():
    start = labpki.utcnow() - datetime.timedelta(minutes=5)
    return start, start + datetime.timedelta(days=365 * YEARS)


def _write(path, data, mode=0o600):
    labpki.write_file(path, data, mode)


def make_ca(pki):
    crt, key_path = os.path.join(pki, "ca.crt"), os.path.join(pki, "ca.key")
    key = labpki.load_or_make_key(key_path)
    if not os.path.exists(crt):
        start, end = _validity()
        cert = labpki.certificate(labpki.name("fournines-lab-ca"), key, not_before=start, not_after=end, ca=True,
                                  key_usage=("digital_signature", "key_cert_sign", "crl_sign"))
        labpki.write_file(crt, labpki.cert_pem(cert))
    return labpki.load_cert(crt), key


def make_leaf(pki, name, ca, common_name, org=None, server=False):
    """One certificate signed by the lab CA; reused when it exists."""
    crt, key_path = os.path.join(pki, name + ".crt"), os.path.join(pki, name + ".key")
    key = labpki.load_or_make_key(key_path)
    if os.path.exists(crt):
        return
    ca_cert, ca_key = ca
    start, end = _validity()
    cert = labpki.certificate(labpki.name(common_name, org), key, ca_key, ca_cert, start, end, ca=False,
                              sans=APISERVER_NAMES if server else None,
                              extended_usage=[labpki.SERVER_AUTH if server else labpki.CLIENT_AUTH])
    labpki.write_file(crt, labpki.cert_pem(cert))


def make_service_account_keys(pki):
    key = labpki.load_or_make_key(os.path.join(pki, "sa.key"))
    pub = os.path.join(pki, "sa.pub")
    if not os.path.exists(pub):
        labpki.write_file(pub, labpki.public_key_pem(key))


def kubeconfig(pki, user, server):
    """A kubeconfig with the certificates embedded (context and cluster named 'lab')."""
    def b64(path):
        import base64  # pylint: disable=import-outside-toplevel
        with open(path, "rb") as handle:
            return base64.b64encode(handle.read()).decode()
    return "\n".join([
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: lab",
        "  cluster:",
        "    server: %s" % server,
        "    certificate-authority-data: %s" % b64(os.path.join(pki, "ca.crt")),
        "users:",
        "- name: %s" % user,
        "  user:",
        "    client-certificate-data: %s" % b64(os.path.join(pki, user + ".crt")),
        "    client-key-data: %s" % b64(os.path.join(pki, user + ".key")),
        "contexts:",
        "- name: lab",
        "  context:",
        "    cluster: lab",
        "    user: %s" % user,
        "current-context: lab",
        "",
    ])


def main(state, port, admin_kubeconfig):
    pki = os.path.join(state, "pki")
    os.makedirs(pki, mode=0o700, exist_ok=True)
    ca = make_ca(pki)
    make_leaf(pki, "apiserver", ca, "kube-apiserver", server=True)
    make_leaf(pki, "admin", ca, "fournines-lab-admin", org="system:masters")
    make_leaf(pki, "controller-manager", ca, "system:kube-controller-manager")
    make_leaf(pki, "scheduler", ca, "system:kube-scheduler")
    make_service_account_keys(pki)
    server = "https://127.0.0.1:%s" % port
    _write(admin_kubeconfig, kubeconfig(pki, "admin", server).encode())
    for user in ("controller-manager", "scheduler"):
        _write(os.path.join(state, user + ".kubeconfig"), kubeconfig(pki, user, server).encode())


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: pki.py <state-dir> <apiserver-port> <admin-kubeconfig>")
    main(*sys.argv[1:])
