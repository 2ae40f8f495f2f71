"""The node_watch event source: which Node changes become events (no cluster, no ansible-rulebook)."""

import asyncio
import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
_SPEC = importlib.util.spec_from_file_location(
    "node_watch", os.path.join(REPO, "extensions", "eda", "plugins", "event_source", "node_watch.py"))
node_watch = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(node_watch)

TAINT = {"key": node_watch.OUT_OF_SERVICE_KEY, "effect": "NoExecute"}


def node(name, ready="True", taints=None, incident=False):
    return {"metadata": {"name": name, "annotations": {node_watch.INCIDENT: "r"} if incident else {}},
            "spec": {"providerID": "linode://7", "taints": taints or []},
            "status": {"conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": "t"}]}}


def _kinds(events):
    return [(e["node_loss"]["type"], e["node_loss"]["node"]) for e in events]


def test_a_node_turning_lost_is_one_event_then_repeated_while_it_stays_lost():
    seen = {}
    assert node_watch.changes(seen, [node("a")], 0, repeat=30, first=True) == []
    events = node_watch.changes(seen, [node("a", "Unknown")], 1, repeat=30)
    assert _kinds(events) == [("lost", "a")]
    assert events[0]["node_loss"]["instance_id"] == 7 and events[0]["node_loss"]["ready"] == "Unknown"
    assert node_watch.changes(seen, [node("a", "Unknown")], 20, repeat=30) == []
    assert _kinds(node_watch.changes(seen, [node("a", "Unknown")], 32, repeat=30)) == [("lost", "a")]
    # once the responder's taint is on it, the source stays quiet
    assert node_watch.changes(seen, [node("a", "Unknown", [TAINT], True)], 100, repeat=30) == []


def test_an_interrupted_response_and_a_taint_on_a_healthy_node_are_reported():
    seen = {}
    events = node_watch.changes(seen, [node("a", "Unknown", [TAINT], True), node("b", "True", [TAINT], True)], 0,
                                first=True)
    assert sorted(_kinds(events)) == [("taint_on_healthy", "b"), ("unfinished", "a")]
    assert node_watch.changes(seen, [node("a", "Unknown", [TAINT], True), node("b", "True", [TAINT], True)], 5) == []
    # someone else's out-of-service taint is none of the responder's business
    assert node_watch.changes({}, [node("c", "True", [TAINT])], 0, first=True) == []


def test_main_puts_events_on_the_queue(monkeypatch):
    listings = iter([[node("a")], [node("a", "False")]])
    monkeypatch.setattr(node_watch, "_lister", lambda args: lambda: next(listings))

    async def run():
        queue = asyncio.Queue()
        task = asyncio.ensure_future(node_watch.main(queue, {"interval": 0.01}))
        event = await asyncio.wait_for(queue.get(), 5)
        task.cancel()
        return event
    assert asyncio.run(run())["node_loss"]["type"] == "lost"
