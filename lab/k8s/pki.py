"""Generate the lab cluster's own PKI, service-account keys and kubeconfigs (idempotent).

    pki.py <state-dir> <apiserver-port> <admin-kubeconfig-path>

Lab-only material, made on first start and kept under .lab/k8s/pki (git-ignored): a CA,
the API server's serving certificate (127.0.0.1 / localhost / the in-cluster names),
client certificates for admin (system:masters), controller-manager and scheduler, and the
service-account signing key pair. Existing files are reused so a restart keeps tokens valid.
"""

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

YEARS = 10


def _write(path, data, mode=0o600):
    tmp = path + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_or_make_key(path):
    if os.path.exists(path):
        with open(path, "rb") as handle:
            return serialization.load_pem_private_key(handle.read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    _write(path, _key_pem(key))
    return key


def _name(common_name, org=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _builder(subject, issuer, public_key):
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365 * YEARS)))


def make_ca(pki):
    crt, key_path = os.path.join(pki, "ca.crt"), os.path.join(pki, "ca.key")
    key = _load_or_make_key(key_path)
    if not os.path.exists(crt):
        subject = _name("fournines-lab-ca")
        cert = (_builder(subject, subject, key.public_key())
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        _write(crt, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    with open(crt, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read()), key


def make_leaf(pki, name, ca, common_name, org=None, server=False):
    """One certificate signed by the lab CA; reused when it exists."""
    crt, key_path = os.path.join(pki, name + ".crt"), os.path.join(pki, name + ".key")
    key = _load_or_make_key(key_path)
    if os.path.exists(crt):
        return
    ca_cert, ca_key = ca
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_builder(_name(common_name, org), ca_cert.subject, key.public_key())
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if server:
        names = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default",
                                           "kubernetes.default.svc",
                                           "kubernetes.default.svc.cluster.local")]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "10.96.0.1")]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write(crt, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def make_service_account_keys(pki):
    key = _load_or_make_key(os.path.join(pki, "sa.key"))
    pub = os.path.join(pki, "sa.pub")
    if not os.path.exists(pub):
        _write(pub, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)


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
