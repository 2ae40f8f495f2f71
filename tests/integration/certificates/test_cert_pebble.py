"""Pebble really validates http-01 in the lab (PEBBLE_VA_ALWAYS_VALID is not set)."""

import json
import os
import subprocess

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.path.join(REPO, ".venv", "bin")


def _order_play(env, work, token_content):
    acme = {"acme_directory": env["PEBBLE_DIRECTORY_URL"], "acme_version": 2,
            "account_key_src": "%s/account.key" % work, "terms_agreed": True, "modify_account": True,
            "csr": "%s/cert.csr" % work, "dest": "%s/cert.pem" % work, "challenge": "http-01", "force": True}
    return [{"name": "order", "hosts": "localhost", "gather_facts": False,
             "environment": {"SSL_CERT_FILE": env["PEBBLE_LISTENER_CA"]},
             "tasks": [
                 {"name": "account key", "community.crypto.openssl_privatekey": {
                     "path": "%s/account.key" % work, "type": "RSA", "size": 2048}},
                 {"name": "key", "community.crypto.openssl_privatekey": {
                     "path": "%s/cert.key" % work, "type": "RSA", "size": 2048}},
                 {"name": "csr", "community.crypto.openssl_csr": {
                     "path": "%s/cert.csr" % work, "privatekey_path": "%s/cert.key" % work,
                     "subject_alt_name": ["DNS:localhost"]}},
                 {"name": "order", "community.crypto.acme_certificate": acme, "register": "order"},
                 {"name": "token", "ansible.builtin.copy": {
                     "dest": "%s/{{ item.value['http-01'].resource }}" % env["TLS_WEBROOT"],
                     "content": token_content, "mode": "0644"},
                  "loop": "{{ order.challenge_data | dict2items }}"},
                 {"name": "finalize", "block": [
                     {"name": "validate", "community.crypto.acme_certificate": dict(acme, data="{{ order }}")}],
                  "always": [{"name": "clean", "ansible.builtin.file": {
                      "path": "%s/{{ item.value['http-01'].resource }}" % env["TLS_WEBROOT"], "state": "absent"},
                      "loop": "{{ order.challenge_data | dict2items }}"}]}]}]


def _run(tmp_path, play):
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(path),
                           "-e", "ansible_python_interpreter=%s" % os.path.join(BIN, "python")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, json.loads(proc.stdout)


def test_wrong_token_is_rejected_right_token_is_issued(tls_env, tmp_path):
    work = str(tmp_path)
    rc, out = _run(tmp_path, _order_play(tls_env, work, "not-the-key-authorization"))
    assert rc != 0
    validate = [t for t in out["plays"][0]["tasks"] if t["task"]["name"] == "validate"][0]["hosts"]["localhost"]
    assert validate["failed"] and "invalid" in json.dumps(validate).lower()

    rc, out = _run(tmp_path, _order_play(tls_env, work, "{{ item.value['http-01'].resource_value }}"))
    assert rc == 0, out
    with open(os.path.join(work, "cert.pem")) as handle:
        assert "BEGIN CERTIFICATE" in handle.read()
