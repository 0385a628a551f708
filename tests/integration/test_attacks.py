"""The attacker's suite: every read path of the plugin (aggregates, query,
last, series, replay and its progress, error records, stats) against the
tricks of issue 12: client ids with '/', '+', '#' and '%', another user's
client id, wildcard and shared subscriptions, late subscribers to retained
topics, forged publishes. It counts what reaches the attackers of what they
may not read: content, existence (an answer that differs between a series
that exists and one that does not) and counts. All three must be 0.

The broker runs the README's acl_file (test_acl.ACL): alice reads the whole
city, bob all but city/secret, carol nothing but her own end markers and
error records, ops the stats."""
import json
import os
import time

from harness import Client
from test_acl import ACL

SECRET_VALUE = 66.6
SUBACK_REFUSED = 0x87
OWNED = ("$tsdb/reply/", "$tsdb/replay/", "$tsdb/errors/", "$tsdb/admin/")


def now_ms():
    return int(time.time() * 1000)


def owner_of(topic):
    """The client id a reply-namespace topic belongs to, or None."""
    for ns in OWNED:
        if topic.startswith(ns):
            return topic[len(ns):].split("/")[0]
    return None


def leaks(client, messages):
    """What of `messages` an attacker should never have received: secret
    content, and anything in another client's reply namespace."""
    out = []
    for m in messages:
        text = m.topic + " " + m.payload.decode("utf-8", "replace")
        if "secret" in text or str(SECRET_VALUE) in text:
            out.append(("content", m.topic, m.payload[:100]))
        owner = owner_of(m.topic)
        if owner is not None and owner != client.client_id:
            out.append(("namespace", m.topic, m.payload[:100]))
    return out


def answers_without_correlation(client, commands):
    """All responses to the commands, in order, with the correlation data
    removed: what an attacker can compare."""
    got = []
    client.command(commands, answers=got)
    for r in got:
        r.pop("correlationData", None)
    return [json.dumps(r, sort_keys=True) for r in got]


def test_no_content_existence_or_count_leaks(broker_factory, workdir):
    acl = os.path.join(workdir, "acl")
    with open(acl, "w") as f:
        f.write(ACL)
    b = broker_factory(options={"partial_interval": "1s"}, extra_conf="acl_file %s\n" % acl)
    b.start()
    start = now_ms()
    alice = Client(b.port, client_id="alice-1", username="alice")
    alice.subscribe("$tsdb/agg/#")

    # The attackers subscribe first, with everything that could carry
    # what they may not read.
    carol_slash = Client(b.port, client_id="alice-1/r1", username="carol")
    # A client id with '/' names no namespace of its own: every filter into
    # one is refused, also inside a shared subscription.
    for f in ("$tsdb/replay/alice-1/r1/#", "$tsdb/replay/alice-1/#", "$tsdb/reply/alice-1/#",
              "$tsdb/errors/alice-1", "$tsdb/admin/alice-1/#", "$share/g/$tsdb/replay/alice-1/#",
              "$tsdb/replay/alice-1/r1"):
        assert carol_slash.subscribe_code(f) == SUBACK_REFUSED, f
    carols = [carol_slash]
    for cid in ("carol+1", "carol#1", "carol%c", "carol-1"):
        carols.append(Client(b.port, client_id=cid, username="carol"))
    bob = Client(b.port, client_id="bob-1", username="bob")
    # Another client's namespace by name: refused.
    assert bob.subscribe_code("$tsdb/reply/alice-1/#") == SUBACK_REFUSED
    assert bob.subscribe_code("$share/g/$tsdb/reply/alice-1/#") == SUBACK_REFUSED
    for c in carols + [bob]:
        for f in ("#", "$tsdb/#", "$tsdb/+/+/#", "$tsdb/replay/+/r1/#", "$tsdb/reply/#",
                  "$tsdb/errors/#", "$tsdb/admin/#", "$share/g/$tsdb/#", "$share/g/city/#",
                  "city/#", "$SYS/#"):
            c.subscribe(f)

    # alice's data: secret and open readings, and their aggregates.
    ts = now_ms() - 2_000
    alice.publish("city/secret/s1/air", {"ts": time_iso(ts), "pm10": SECRET_VALUE, "pm25": 33.3})
    alice.publish("city/open/s2/air", {"ts": time_iso(ts), "pm10": 11.1, "pm25": 5.5})
    alice.wait_message(timeout=15, predicate=lambda m: m.topic.startswith("$tsdb/agg/1m/city/secret"))
    # alice replays everything and queries the secret series: she gets them.
    alice.subscribe("$tsdb/replay/alice-1/#")
    r = alice.command([{"command": "replay", "topic": "city/#", "from": start - 60_000,
                        "to": now_ms() + 1, "id": "r1"}])[0]
    assert r["replay"] == "r1", r
    alice.wait_message(timeout=10, predicate=lambda m: m.topic == "$tsdb/replay/alice-1/r1/city/secret/s1/air")
    alice.wait_message(timeout=10, predicate=lambda m: m.topic == "$tsdb/replay/alice-1/r1"
                       and json.loads(m.payload)["state"] == "done")
    r = alice.command([{"command": "query", "topic": "city/secret/s1/air", "field": "pm10",
                        "from": start - 60_000}])[0]
    assert r["rows"][0][1] == SECRET_VALUE, r
    # An invalid secret reading: its error record is alice's alone.
    alice.subscribe("$tsdb/errors/alice-1")
    alice.publish("city/secret/s1/air", {"ts": time_iso(ts), "pm10": -1, "pm25": 1})
    alice.wait_message(timeout=10, predicate=lambda m: m.topic == "$tsdb/errors/alice-1")

    # Existence: bob's answers about a secret series that exists are the
    # same as about one that does not, through every command.
    for cmd in ({"command": "query", "field": "pm10", "from": start - 60_000},
                {"command": "query", "step": "1m", "from": start - 60_000},
                {"command": "last"}, {"command": "series"}):
        seen = []
        for topic in ("city/secret/s1/air", "city/secret/none/air", "city/secret/+/air",
                      "city/secret/nothing/+"):
            seen.append(answers_without_correlation(bob, [dict(cmd, topic=topic)]))
        assert seen[0] == seen[1] and seen[2] == seen[3], (cmd, seen)
    # Stats are the operators': bob's request gets only its end marker.
    assert answers_without_correlation(bob, [{"command": "stats"}]) == [
        json.dumps({"_topic": "$tsdb/reply/bob-1", "command": "stats", "done": True},
                   sort_keys=True)]
    ops = Client(b.port, client_id="ops-1", username="ops")
    r = ops.command([{"command": "stats"}])[0]
    assert r["_topic"] == "$tsdb/admin/ops-1/stats" and r["engine"]["series"] >= 2, r
    # carol replays and queries the city herself: nothing but what her
    # bare reply topic carries (the echo of her replay request, end markers).
    got = []
    carols[-1].command([{"command": "replay", "topic": "city/#", "from": start - 60_000,
                         "to": now_ms() + 1, "id": "c1"},
                        {"command": "query", "topic": "city/#", "from": start - 60_000}],
                       answers=got)
    assert all(r["_topic"] == "$tsdb/reply/carol-1" and "rows" not in r for r in got), got
    # carol takes over alice's second client id: she reads nothing of what
    # alice's replay there publishes (her user has no grant for it).
    alice2 = Client(b.port, client_id="alice-2", username="alice")
    alice2.command([{"command": "replay", "topic": "city/#", "from": start - 60_000,
                     "to": now_ms() + 3_000, "speed": 1, "id": "slow"}])
    carol_as_alice = Client(b.port, client_id="alice-2", username="carol")
    carol_as_alice.subscribe("$tsdb/#")
    carols.append(carol_as_alice)
    # Forged publishes into alice's namespaces and the aggregates.
    forged = []
    for t in ("$tsdb/reply/alice-1/city/open/s2/air", "$tsdb/replay/alice-1/r1/city/open/s2/air",
              "$tsdb/errors/alice-1", "$tsdb/agg/1m/city/open/s2/air"):
        forged.append(bob.publish(t, {"forged": True}))
    # A late subscriber to the retained aggregates.
    late = Client(b.port, client_id="bob-late", username="bob")
    late.subscribe("$tsdb/agg/#")
    bob.subscribe("$tsdb/agg/#")  # and bob again, late

    time.sleep(5)  # the slow replay runs out, partial updates keep coming
    report, received = {}, {}
    for c in carols + [bob, late]:
        got = received[c.client_id] = c.drain()
        report[c.client_id] = (len(got), leaks(c, got))
    counts = {"content": 0, "namespace": 0}
    for _, found in report.values():
        for kind, _, _ in found:
            counts[kind] += 1
    print("\nattacks: messages received per attacker %s; leaks %s"
          % ({k: v[0] for k, v in report.items()}, counts))
    assert counts == {"content": 0, "namespace": 0}, report
    # Nothing forged reached alice.
    assert not [m for m in alice.drain() if b'"forged"' in m.payload]
    # ...while bob did get what he may read, late subscription included.
    assert any(m.topic.startswith("$tsdb/agg/1m/city/open/s2/air") for m in received["bob-late"])
    assert any(m.topic == "city/open/s2/air" for m in received["bob-1"])
    for c in carols[:-1] + [alice, bob, late, ops]:
        c.close()


def time_iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)
