"""Put the Linode simulator and the lab cluster back to the seeded state (the scenario's cleanup, first and last)."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "upgrade_cluster"))

import uclab  # noqa: E402
from kubernetes import client, config  # noqa: E402

api = config.new_client_from_config(config_file=uclab.labenv.kubeconfig())
admin = uclab.simlab.SimAdmin(uclab.labenv.component_env("linode_sim")["LINODE_SIM_ADMIN_URL"])
uclab.seeded(admin, client.CoreV1Api(api), client.AppsV1Api(api))
print("lab seeded")
