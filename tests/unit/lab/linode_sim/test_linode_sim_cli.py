"""linode-cli, the official CLI (its requests and output come from the same catalogue), works
against the simulator: a third client besides linode_api4 and the collection."""

import json
import os
import subprocess
import sys
import urllib.parse

from linodesim.cloud import DEFAULT_CONFIG

CID = DEFAULT_CONFIG["cluster_id"]


def cli(sim, tmp_path, *args):
    url = urllib.parse.urlsplit(sim.url)
    env = dict(os.environ, HOME=str(tmp_path), LINODE_CLI_TOKEN=sim.token,
               LINODE_CLI_API_HOST=url.netloc, LINODE_CLI_API_SCHEME="http",
               LINODE_CLI_API_VERSION="v4")
    exe = os.path.join(os.path.dirname(sys.executable), "linode-cli")
    proc = subprocess.run([exe, *args, "--json", "--suppress-warnings"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


def test_linode_cli_reads_and_changes_the_simulated_cloud(sim, tmp_path):
    (cluster,) = cli(sim, tmp_path, "lke", "clusters-list")
    assert cluster["id"] == CID and cluster["k8s_version"] == "1.34"
    (pool,) = cli(sim, tmp_path, "lke", "pools-list", str(CID))
    cli(sim, tmp_path, "lke", "pool-update", str(CID), str(pool["id"]), "--count", "4")
    assert sim.cloud.pool_get(CID, pool["id"])["count"] == 4
    assert len(cli(sim, tmp_path, "linodes", "list")) == 3       # the 4th is still provisioning
    domain = [d for d in cli(sim, tmp_path, "domains", "list") if d["domain"] == "fournines.test"][0]
    record = cli(sim, tmp_path, "domains", "records-list", str(domain["id"]))[0]
    (updated,) = cli(sim, tmp_path, "domains", "records-update", str(domain["id"]),
                     str(record["id"]), "--ttl_sec", "45")
    assert updated["ttl_sec"] == 120
    assert all(e["unknown_fields"] == [] for e in sim.ctx.requests)
