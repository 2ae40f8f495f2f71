"""Linode instances behind LKE nodes: view, delete (a node failure), power actions."""

from .nodes import TYPES
from .store import ApiError, not_found


class InstancesMixin:
    def new_instance(self, pool, cluster):
        iid = self.store.next_id("instance", 81000001)
        name = "lke%d-%d-%s" % (cluster["id"], pool["id"], self.hex_id(4))
        stamp = self._now()
        inst = {
            "id": iid, "label": name, "region": cluster["region"], "type": pool["type"],
            "status": "running", "created": stamp, "updated": stamp,
            "lke_cluster_id": cluster["id"], "tags": [],
            "ipv4": ["192.0.2.%d" % (iid % 250 + 1), "192.168.%d.%d" % (
                iid // 250 % 250, iid % 250 + 1)],
        }
        self.data["instances"][str(iid)] = inst
        return inst

    def instance_view(self, inst):
        spec = TYPES[inst["type"]]
        return {
            "id": inst["id"], "label": inst["label"], "region": inst["region"],
            "type": inst["type"], "status": inst["status"], "created": inst["created"],
            "updated": inst["updated"], "lke_cluster_id": inst["lke_cluster_id"],
            "tags": list(inst["tags"]), "group": "", "image": "linode/debian12-kube",
            "ipv4": list(inst["ipv4"]), "ipv6": None, "hypervisor": "kvm",
            "watchdog_enabled": True, "has_user_data": False, "host_uuid": None,
            "capabilities": [], "disk_encryption": "disabled", "locks": [],
            "site_type": "core", "interface_generation": "legacy_config",
            "placement_group": None,
            "specs": {"vcpus": spec["vcpus"], "memory": spec["memory"], "disk": spec["disk"],
                      "transfer": 4000, "gpus": 0, "accelerated_devices": 0},
            "alerts": {"cpu": 90 * spec["vcpus"], "io": 10000, "network_in": 10,
                       "network_out": 10, "transfer_quota": 80},
            "backups": {"enabled": False, "available": False, "last_successful": None,
                        "schedule": {"day": None, "window": None}},
        }

    def _instance(self, iid):
        inst = self.data["instances"].get(str(iid))
        if inst is None:
            raise not_found()
        return inst

    def instances_list(self):
        return [self.instance_view(i) for i in sorted(self.data["instances"].values(),
                                                      key=lambda i: i["id"])]

    def instance_get(self, iid):
        return self.instance_view(self._instance(iid))

    def _node_of(self, inst):
        for node in self.data["nodes"].values():
            if node["instance_id"] == inst["id"]:
                return node
        return None

    def delete_instance(self, iid):
        """What a node-failure drill does: the VM is gone, its Node stops heartbeating and
        stays NotReady until LKE's replacement joins and the old Node object is removed."""
        inst = self._instance(iid)
        del self.data["instances"][str(iid)]
        node = self._node_of(inst)
        if node is not None:
            old = node["node_name"]
            self.data["orphans"][old] = {"since": self.clock()}
            self.node_action("stop_heartbeat", old)
            node.update(instance_id=None, node_name=None, status="not_ready", busy="replacing",
                        gen=node["gen"] + 1)
            self.schedule("replace", self.delay("NODE_REPLACE_SECONDS"), node_id=node["id"],
                          gen=node["gen"], old_name=old)
        self.save()

    def power(self, iid, action):
        """boot | reboot | shutdown: accepted at once, finished by a task."""
        inst = self._instance(iid)
        node = self._node_of(inst)
        if node is not None and node["busy"] not in (None, "power"):
            raise ApiError(409, "Linode %s is busy (%s)" % (iid, node["busy"]))
        if action == "boot" and inst["status"] == "running":
            return
        if action == "shutdown" and inst["status"] == "offline":
            return
        going = {"boot": "booting", "reboot": "rebooting", "shutdown": "shutting_down"}[action]
        if action in ("reboot", "shutdown") and inst["status"] == "running":
            self._heartbeat(node, False)
        inst.update(status=going, updated=self._now())
        if node is not None:
            node.update(status="not_ready", busy="power", gen=node["gen"] + 1)
        delay = {"boot": "NODE_BOOT_SECONDS", "reboot": "NODE_REBOOT_SECONDS",
                 "shutdown": "NODE_SHUTDOWN_SECONDS"}[action]
        self.schedule("power_done", self.delay(delay), instance_id=inst["id"], action=action,
                      node_id=node["id"] if node else None, gen=node["gen"] if node else 0)
        self.save()

    def _heartbeat(self, node, alive):
        if node is not None and node["node_name"]:
            self.node_action("resume_heartbeat" if alive else "stop_heartbeat",
                             node["node_name"])

    def _task_power_done(self, task):
        inst = self.data["instances"].get(str(task["instance_id"]))
        if inst is None:
            return
        node = self._live(task) if task.get("node_id") else None
        if task["action"] == "shutdown":
            inst.update(status="offline", updated=self._now())
            if node is not None:
                node["busy"] = None
            return
        inst.update(status="running", updated=self._now())
        if node is not None:
            self._heartbeat(node, True)
            node.update(status="ready", busy=None)
