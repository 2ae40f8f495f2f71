"""lab/lib/labpki.py, the key and certificate helper of lab/k8s/pki.py, lab/tls/gen_certs.py and
lab/edge/edgeserver.py."""

import datetime
import ipaddress
import os
import stat
import sys

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(REPO, "lab", "lib"))
import labpki  # noqa: E402


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keys_are_written_private_and_reused(tmp_path):
    path = str(tmp_path / "a.key")
    key = labpki.load_or_make_key(path)
    assert mode(path) == 0o600 and not os.path.exists(path + ".tmp")
    again = labpki.load_or_make_key(path)
    assert again.private_numbers() == key.private_numbers()  # a restart keeps what was issued


def test_write_file_is_atomic_with_its_mode(tmp_path):
    path = str(tmp_path / "c.pem")
    labpki.write_file(path, b"one")
    labpki.write_file(path, b"two")
    assert open(path, "rb").read() == b"two" and mode(path) == 0o644
    assert os.listdir(str(tmp_path)) == ["c.pem"]


def test_names_keep_the_order_asked_for():
    assert labpki.name("admin", "system:masters").rfc4514_string() == "O=system:masters,CN=admin"
    assert labpki.name("leaf", "fournines lab", organization_first=True).rfc4514_string() == "CN=leaf,O=fournines lab"
    assert labpki.name("ca").get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "ca"


def test_alt_names_tell_addresses_from_names():
    assert labpki.alt_names(["localhost", "127.0.0.1", "::1", "*.bench.lab.test"]) == [
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")), x509.DNSName("*.bench.lab.test")]


def test_a_ca_and_a_leaf_it_signs():
    now = labpki.utcnow()
    ca_key, leaf_key = labpki.new_key(), labpki.new_key()
    ca = labpki.certificate(labpki.name("lab ca"), ca_key, not_before=now, not_after=now + datetime.timedelta(days=9),
                            ca=True, path_length=0, key_usage=("key_cert_sign", "crl_sign"), key_ids=True)
    leaf = labpki.certificate(labpki.name("www"), leaf_key, ca_key, ca, now, now + datetime.timedelta(days=2),
                              ca=False, sans=["www.lab.test", "127.0.0.1"], key_usage=("digital_signature",),
                              extended_usage=[labpki.SERVER_AUTH], key_ids=True)
    leaf.verify_directly_issued_by(ca)
    ca.verify_directly_issued_by(ca)
    assert leaf.issuer == ca.subject and leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(days=2)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH])
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["www.lab.test"]
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_only_the_extensions_asked_for():
    cert = labpki.certificate(labpki.name("bare"), labpki.new_key())
    assert len(cert.extensions) == 0
    assert cert.issuer == cert.subject


def test_an_unknown_key_usage_is_named():
    with pytest.raises(ValueError, match="key usage sign_everything is not one of digital_signature"):
        labpki.certificate(labpki.name("x"), labpki.new_key(), key_usage=("sign_everything",))


def test_pem_round_trip(tmp_path):
    key = labpki.new_key()
    cert = labpki.certificate(labpki.name("x"), key)
    labpki.write_key(str(tmp_path / "x.key"), key)
    labpki.write_file(str(tmp_path / "x.crt"), labpki.cert_pem(cert))
    assert labpki.load_key(str(tmp_path / "x.key")).private_numbers() == key.private_numbers()
    assert labpki.load_cert(str(tmp_path / "x.crt")) == cert
    assert labpki.public_key_pem(key).startswith(b"-----BEGIN PUBLIC KEY-----")


def test_the_components_make_their_material_through_it():
    for path in ("lab/k8s/pki.py", "lab/tls/gen_certs.py", "lab/edge/edgeserver.py"):
        with open(os.path.join(REPO, path)) as handle:
            text = handle.read()
        assert "import labpki" in text, path
        for copied in ("CertificateBuilder", "generate_private_key", "private_bytes("):
            assert copied not in text, "%s builds X.509 itself (%s); use lab/lib/labpki.py" % (path, copied)
