"""dns/providers/registry.py: the provider options every dns_* module takes (validated the way
AnsibleModule validates them) and the factory that builds a provider from them."""

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers import registry
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.linode import LinodeProvider
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.powerdns import PowerDNSProvider
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.rfc2136 import RFC2136Provider
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import PROVIDERS, DNSError
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import K8sError

SECRET = "bGFiLW9ubHktdHNpZy1zZWNyZXQtMzItYnl0ZXMhIQ=="


def validate(params, **extra):
    return ArgumentSpecValidator(registry.dns_provider_argument_spec(**extra)).validate(params)


def errors_of(result):
    return " | ".join(result.error_messages)


def test_the_spec_carries_the_shared_connection_options_and_extras():
    spec = registry.dns_provider_argument_spec(records=dict(type="list"))
    for name in ("provider", "zone", "rfc2136", "powerdns", "external_dns", "api_token", "api_url", "kubeconfig",
                 "context", "records"):
        assert name in spec, name
    assert spec["provider"]["choices"] == list(PROVIDERS)
    registry.dns_provider_argument_spec()["rfc2136"]["options"]["port"]["default"] = 99
    assert registry.DNS_PROVIDER_ARG_SPEC["rfc2136"]["options"]["port"]["default"] == 53  # a copy each time


@pytest.mark.parametrize("params, message", [
    ({"zone": "lab.example"}, "missing required arguments: provider"),
    ({"provider": "route53", "zone": "lab.example"},
     "value of provider must be one of: rfc2136, powerdns, linode, external_dns, got: route53"),
    ({"provider": "rfc2136", "zone": "lab.example", "rfc2136": {"server": "127.0.0.1", "tsig_key_algorithm": "md5"}},
     "value of tsig_key_algorithm must be one of: hmac-sha256"),
    ({"provider": "rfc2136", "zone": "lab.example", "rfc2136": {"server": "127.0.0.1", "port": "domain"}},
     "port"),
    ({"provider": "powerdns", "zone": "lab.example", "powerdns": {"api_url": "http://x", "nonsense": 1}},
     "nonsense"),
])
def test_bad_options_are_refused_naming_them(params, message):
    result = validate(params)
    assert result.error_messages and message in errors_of(result)


def test_defaults_of_the_sub_options():
    result = validate({"provider": "rfc2136", "zone": "lab.example", "rfc2136": {"server": "127.0.0.1"},
                       "powerdns": {"api_url": "http://127.0.0.1:8081", "api_key": "k"}})
    assert not result.error_messages, errors_of(result)
    rfc = result.validated_parameters["rfc2136"]
    assert (rfc["port"], rfc["tsig_key_algorithm"], rfc["timeout"]) == (53, "hmac-sha256", 10.0)
    pdns = result.validated_parameters["powerdns"]
    assert (pdns["server_id"], pdns["validate_certs"], pdns["timeout"]) == ("localhost", True, 10.0)


def test_secrets_are_no_log():
    result = validate({"provider": "rfc2136", "zone": "lab.example", "api_token": "linode-secret",
                       "rfc2136": {"server": "127.0.0.1", "tsig_key_name": "lab-key.", "tsig_key_secret": SECRET},
                       "powerdns": {"api_url": "http://127.0.0.1:8081", "api_key": "pdns-secret"}})
    assert {"linode-secret", SECRET, "pdns-secret"} <= set(result._no_log_values)
    assert "lab-key." not in result._no_log_values  # a key's name is not a secret


def test_environment_fallbacks(monkeypatch):
    monkeypatch.setenv("DNS_PRIMARY_HOST", "127.0.0.9")
    monkeypatch.setenv("PDNS_API_URL", "http://127.0.0.1:8081")
    monkeypatch.setenv("PDNS_API_KEY", "from-env")
    result = validate({"provider": "rfc2136", "zone": "lab.example", "rfc2136": {}, "powerdns": {}})
    assert result.validated_parameters["rfc2136"]["server"] == "127.0.0.9"
    assert result.validated_parameters["powerdns"]["api_key"] == "from-env"


def build(params):
    result = validate(params)
    assert not result.error_messages, errors_of(result)
    return registry.build_provider(result.validated_parameters)


def test_build_rfc2136_from_its_options():
    prov = build({"provider": "rfc2136", "zone": "lab.example",
                  "rfc2136": {"server": "127.0.0.1", "port": 15353, "tsig_key_name": "lab-key.",
                              "tsig_key_secret": SECRET, "tsig_key_algorithm": "hmac-sha512", "timeout": 3}})
    assert isinstance(prov, RFC2136Provider)
    assert (prov.server, prov.port, prov.key_algorithm, prov.timeout) == ("127.0.0.1", 15353, "hmac-sha512", 3.0)
    assert prov.key_name.to_text() == "lab-key."


def test_build_rfc2136_without_its_options_says_what_is_missing():
    with pytest.raises(DNSError, match="rfc2136 needs rfc2136.server"):
        build({"provider": "rfc2136", "zone": "lab.example"})


def test_build_powerdns_from_its_options():
    prov = build({"provider": "powerdns", "zone": "lab.example",
                  "powerdns": {"api_url": "http://127.0.0.1:8081", "api_key": "k", "server_id": "ns1",
                               "validate_certs": False}})
    assert isinstance(prov, PowerDNSProvider)
    assert prov.base == "http://127.0.0.1:8081/api/v1/servers/ns1" and prov.validate_certs is False


def test_build_powerdns_without_its_options_says_what_is_missing():
    with pytest.raises(DNSError, match="powerdns.api_url None is not an http"):
        build({"provider": "powerdns", "zone": "lab.example"})


def test_build_linode_from_the_shared_connection_options():
    prov = build({"provider": "linode", "zone": "lab.example", "api_token": "t",
                  "api_url": "http://127.0.0.1:18080/v4/"})
    assert isinstance(prov, LinodeProvider) and prov.client.base_url == "http://127.0.0.1:18080/v4"


def test_build_linode_without_a_token(monkeypatch):
    monkeypatch.delenv("LINODE_TOKEN", raising=False)
    with pytest.raises(DNSError, match="no Linode API token"):
        build({"provider": "linode", "zone": "lab.example"})


def test_build_external_dns_names_a_kubeconfig_it_cannot_use(tmp_path):
    missing = str(tmp_path / "no-such-kubeconfig")
    with pytest.raises(K8sError, match="cannot build a Kubernetes client from kubeconfig=%r" % missing):
        build({"provider": "external_dns", "zone": "lab.example", "kubeconfig": missing})


def test_build_an_unknown_provider_lists_the_known_ones():
    with pytest.raises(DNSError, match="provider 'route53' is not one of rfc2136, powerdns, linode, external_dns"):
        registry.build_provider({"provider": "route53"})
