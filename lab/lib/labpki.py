"""Keys and certificates for the lab's components: lab-only material, never real secrets.

One place for what every component that makes X.509 needs: an EC P-256 key, a subject name,
a certificate signed by an issuer (or by its own key) with the extensions asked for, PEM
encoding, and files written atomically with their mode (private keys 0600, the rest 0644).

Used by lab/k8s/pki.py (the cluster's CA, serving and client certificates, service-account
keys), lab/tls/gen_certs.py (the endpoint cases, Pebble's listener; seed_k8s.py through it)
and lab/edge/edgeserver.py (its self-signed certificate). A component imports it with
``sys.path.insert(0, <lab>/lib)``.
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH

#: The names ``certificate(key_usage=...)`` accepts, in x509.KeyUsage's argument order.
KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
              "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def new_key():
    """A new private key (EC P-256: small and fast, accepted by every lab server and client)."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_key_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def write_file(path, data, mode=0o644):
    """Write ``data`` to ``path`` atomically (a reader never sees half a file) with ``mode``."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_key(path, key):
    write_file(path, key_pem(key), 0o600)


def load_key(path):
    with open(path, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), None)


def load_cert(path):
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def load_or_make_key(path):
    """The key in ``path``, or a new one written there (so a restart keeps what was issued)."""
    if os.path.exists(path):
        return load_key(path)
    key = new_key()
    write_key(path, key)
    return key


def name(common_name, organization=None, organization_first=False):
    """A subject name: CN, plus O when given (before CN with ``organization_first``)."""
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)
        attrs = [org] + attrs if organization_first else attrs + [org]
    return x509.Name(attrs)


def alt_names(names):
    """SubjectAlternativeName entries: an IP address where a name parses as one, else a DNS name."""
    out = []
    for entry in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(entry)))
        except ValueError:
            out.append(x509.DNSName(entry))
    return out


def certificate(subject, key, signer_key=None, issuer=None, not_before=None, not_after=None, ca=None,
                path_length=None, sans=None, key_usage=None, extended_usage=None, key_ids=False):
    """A certificate for ``key``'s public key, signed with SHA-256.

    ``signer_key``/``issuer`` (a certificate): who signs; both None for a self-signed one.
    ``ca``: None adds no BasicConstraints, True or False adds it (critical) with ``path_length``.
    ``sans``: names for alt_names(). ``key_usage``: names from KEY_USAGES (critical).
    ``extended_usage``: OIDs such as SERVER_AUTH. ``key_ids``: add subject and authority key ids.
    """
    now = utcnow()
    signer_key = signer_key or key
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer is not None else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or now).not_valid_after(not_after or now + datetime.timedelta(days=365)))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names(sans)), critical=False)
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    if key_usage:
        unknown = set(key_usage) - set(KEY_USAGES)
        if unknown:
            raise ValueError("key usage %s is not one of %s" % (", ".join(sorted(unknown)), ", ".join(KEY_USAGES)))
        builder = builder.add_extension(x509.KeyUsage(*[u in key_usage for u in KEY_USAGES]), critical=True)
    if extended_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(extended_usage)), critical=False)
    if key_ids:
        builder = (builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
                                  critical=False))
    return builder.sign(signer_key, hashes.SHA256())
