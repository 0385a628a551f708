"""The facts about Mosquitto 2.0.11 that the plugin relies on, each checked
against the real broker (docs/mosquitto-2.0-facts.md lists them and names
the test of each; this file holds those that no other test covers)."""
import json
import os
import time

from harness import Client, pub5

REFUSED = 0x87


def now_ms():
    return int(time.time() * 1000)


def test_plugin_publications_do_not_reach_the_message_callback(broker_factory):
    """Fact: a plugin's own mosquitto_broker_publish_copy() does not fire
    MOSQ_EVT_MESSAGE. If it did, every aggregate (on $tsdb/...) would be
    refused as reserved_topic."""
    b = broker_factory(options={"sys_interval": "1s", "partial_interval": "1s"})
    b.start()
    c = Client(b.port)
    c.subscribe("$tsdb/agg/#")
    c.publish("test/f1/air", {"ts": now_ms() - 1_000, "pm10": 1.0})
    c.wait_message(timeout=10, predicate=lambda m: m.topic.startswith("$tsdb/agg/"))
    s = Client(b.port)
    s.subscribe("$SYS/broker/tsdb/messages/#")
    seen = {}
    deadline = time.time() + 10
    while time.time() < deadline and "$SYS/broker/tsdb/messages/accepted" not in seen:
        m = s.wait_message(timeout=max(0.1, deadline - time.time()))
        seen[m.topic] = int(m.payload)
    time.sleep(1.5)  # one more metrics round, after the aggregates went out
    for m in s.drain():
        seen[m.topic] = int(m.payload)
    assert seen["$SYS/broker/tsdb/messages/accepted"] >= 1, seen
    assert seen["$SYS/broker/tsdb/messages/refused/reserved_topic"] == 0, seen


def test_control_requests_are_not_forwarded_to_subscribers(broker):
    """Fact: a publish on a registered $CONTROL/<feature>/v1 topic goes to the
    plugin's MOSQ_EVT_CONTROL callback and to no subscriber."""
    spy = Client(broker.port)
    spy.subscribe("$CONTROL/tsdb/v1")
    c = Client(broker.port)
    c.command([{"command": "series", "topic": "nothing/#"}])
    assert spy.drain(0.5) == []


def test_when_every_acl_check_defers_mosquitto_denies(broker_factory):
    """Fact: with no acl_file and no ACL plugin, a plugin ACL check that
    defers (MOSQ_ERR_PLUGIN_DEFER) makes Mosquitto deny; that is why the
    plugin's check must be told it is the only one (acl_fallback allow)."""
    b = broker_factory(options={"acl_fallback": "defer"})
    b.start()
    c = Client(b.port)
    assert c.subscribe_code("test/#") == REFUSED
    reasons, connected, out = pub5(b.port, [("test/f2/air", {"ts": now_ms(), "pm10": 1})])
    assert reasons == [REFUSED] and connected, out
    b.stop()
    b.options["acl_fallback"] = "allow"
    b.start()
    c = Client(b.port)
    assert c.subscribe_code("test/#") == 1  # granted QoS 1
    reasons, connected, out = pub5(b.port, [("test/f2/air", {"ts": now_ms(), "pm10": 1})])
    assert reasons[0] in (0, 0x10) and connected, out


def test_the_plugins_acl_check_runs_before_the_acl_file(broker_factory, workdir):
    """Fact: plugin ACL checks are registered when the plugin loads, the
    acl_file's after every plugin (also after a SIGHUP reload), and the first
    answer that is not a deferral decides. So the plugin can deny what the
    acl_file grants: here a pattern grants every client its %c namespace,
    and a client id with '/' would reach into another client's."""
    acl = os.path.join(workdir, "acl")
    with open(acl, "w") as f:
        f.write("pattern readwrite test/#\npattern read $tsdb/reply/%c/#\n"
                "pattern readwrite inbox/%c/#\n")
    b = broker_factory(extra_conf="acl_file %s\n" % acl)
    b.start()
    # Mosquitto substitutes '/' in %c (it refuses ids with '+' or '#' only):
    # "alice/x" is granted inbox/alice/x/#, which lies in alice's inbox/alice/#.
    alice = Client(b.port, client_id="alice")
    sneaky = Client(b.port, client_id="alice/x")
    sneaky.subscribe("inbox/alice/x/#")
    alice.publish("inbox/alice/x/note", "for alice")
    assert sneaky.wait_message(timeout=5).payload == b"for alice"
    # So the acl_file alone would grant "alice/x" alice's
    # $tsdb/reply/alice/x/#. The plugin's check refuses.
    assert sneaky.subscribe_code("$tsdb/reply/alice/x/#") == REFUSED
    # The acl_file still decides what the plugin leaves to it.
    own = Client(b.port, client_id="alice")
    assert own.subscribe_code("$tsdb/reply/alice/#") == 1
    assert own.subscribe_code("test/#") == 1
    # After a reload the order holds.
    b.proc.send_signal(__import__("signal").SIGHUP)
    b.wait_log("reloaded schemas")
    time.sleep(0.2)
    sneaky2 = Client(b.port, client_id="alice/y")
    assert sneaky2.subscribe_code("$tsdb/reply/alice/y/#") == REFUSED
    assert Client(b.port, client_id="bob").subscribe_code("test/#") == 1


def test_an_empty_retained_publish_clears_the_retained_message(broker):
    """Fact relied on by the refusal rules: an empty retained publish removes
    a topic's retained message, so the plugin lets exactly that one pass."""
    c = Client(broker.port)
    c.publish("test/f3/air", {"ts": now_ms(), "pm10": 1.0}, retain=True)
    late = Client(broker.port)
    late.subscribe("test/f3/air")
    assert late.wait_message(timeout=5).retain
    c.publish("test/f3/air", "", retain=True)
    later = Client(broker.port)
    later.subscribe("test/f3/air")
    assert later.drain(0.5) == []
