"""The broker's ACLs decide every read path: an acl_file with two users where
bob may not read city/secret/#. Bob gets nothing of it through aggregates,
queries, replays or error records; alice does."""
import json
import os
import time

from harness import Client

ACL = """
# everyone may publish city data and send commands
pattern write city/#
pattern write $CONTROL/tsdb/v1
# every client reads the end markers of its own commands and its error records
pattern read $tsdb/reply/%c
pattern read $tsdb/errors/%c

# alice reads all of the city's data, live, as aggregates, answers and replays
user alice
topic read city/#
topic read $tsdb/agg/+/city/#
topic read $tsdb/reply/+/city/#
topic read $tsdb/replay/+/+
topic read $tsdb/replay/+/+/city/#

# bob the same but city/secret. Mosquitto checks a user's deny lines before
# any allow line and before the patterns.
user bob
topic read city/#
topic read $tsdb/agg/+/city/#
topic read $tsdb/reply/+/city/#
topic read $tsdb/replay/+/+
topic read $tsdb/replay/+/+/city/#
topic deny city/secret/#
topic deny $tsdb/agg/+/city/secret/#
topic deny $tsdb/reply/+/city/secret/#
topic deny $tsdb/replay/+/+/city/secret/#

# carol: nothing but her own end markers and error records
user carol

# operators: the stats answers (their own only: the plugin's check) and $SYS
user ops
topic read $tsdb/admin/#
topic read $SYS/#
"""


def now_iso(offset_s=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_s))


def test_bob_never_reads_city_secret(broker_factory, workdir):
    acl = os.path.join(workdir, "acl")
    with open(acl, "w") as f:
        f.write(ACL)
    b = broker_factory(options={"partial_interval": "1s"}, extra_conf="acl_file %s\n" % acl)
    b.start()
    start = time.time() * 1000
    alice = Client(b.port, client_id="alice-1", username="alice")
    bob = Client(b.port, client_id="bob-1", username="bob")
    # Bob tries hard: every filter that could carry secret data.
    for f in ("city/#", "$tsdb/agg/#", "$tsdb/reply/#", "$tsdb/replay/#", "$tsdb/errors/#",
              "$tsdb/dead/#", "#"):
        bob.subscribe(f)
    alice.subscribe("$tsdb/agg/#")
    ts = now_iso(-2)
    alice.publish("city/secret/s1/air", {"ts": ts, "pm10": 66.6, "pm25": 33.3})
    alice.publish("city/open/s2/air", {"ts": ts, "pm10": 11.1, "pm25": 5.5})
    # Aggregates: partial updates of both topics reach alice; bob sees only open.
    m = alice.wait_message(timeout=15, predicate=lambda m: m.topic.startswith("$tsdb/agg/1m/city/secret"))
    assert json.loads(m.payload)["pm10_max"] == 66.6
    # Queries: alice gets the secret series, bob only the done marker.
    r = alice.command([{"command": "query", "topic": "city/secret/s1/air", "field": "pm10",
                        "from": int(start) - 60_000}])[0]
    assert r["rows"][0][1] == 66.6, r
    answers = []
    answers += bob.command([{"command": "query", "topic": "city/+/+/air",
                             "from": int(start) - 60_000, "correlationData": "q-bob"}])
    answers += bob.command([{"command": "query", "topic": "city/secret/s1/air",
                             "from": int(start) - 60_000, "correlationData": "q-bob-direct"}])
    answers += bob.command([{"command": "last", "topic": "city/#"}])
    answers += bob.command([{"command": "series", "topic": "#"}])
    # The first answer bob can read is the open series; the secret one never
    # reaches him, and for the direct query he gets only the done marker.
    assert answers[0]["_topic"] == "$tsdb/reply/bob-1/city/open/s2/air", answers[0]
    assert answers[0]["rows"][0][1] == 11.1
    assert answers[1]["_topic"] == "$tsdb/reply/bob-1" and answers[1]["done"] is True, answers[1]
    assert answers[2]["_topic"] == "$tsdb/reply/bob-1/city/open/s2/air", answers[2]
    assert answers[3]["_topic"] == "$tsdb/reply/bob-1/city/open/s2/air", answers[3]
    assert all("secret" not in json.dumps(a) for a in answers), answers
    # Replays: bob replays everything, receives only open messages.
    bob.command([{"command": "replay", "topic": "city/#", "from": int(start) - 60_000,
                  "to": int(time.time() * 1000) + 1, "id": "all"}])
    # Replay progress tells bob nothing about what he may not read: a replay
    # of the secret topic ends exactly like one of a topic without messages,
    # "max" (no count) and paced (the range on the clock, not the messages).
    t_to = int(time.time() * 1000) + 1
    ends = {}
    for rid, topic, speed in (("sec", "city/secret/#", "max"), ("none", "city/nothing/#", "max"),
                              ("secp", "city/secret/#", 100), ("nonep", "city/nothing/#", 100)):
        r = bob.command([{"command": "replay", "topic": topic, "from": int(start) - 60_000,
                          "to": t_to, "speed": speed, "id": rid}])[0]
        assert "error" not in r, r
        m = bob.wait_message(timeout=15, predicate=lambda m, rid=rid: m.topic == "$tsdb/replay/bob-1/" + rid
                             and json.loads(m.payload)["state"] != "running")
        ends[rid] = json.loads(m.payload)
    assert ends["sec"] == {"replay": "sec", "state": "done"}, ends
    assert ends["none"] == {"replay": "none", "state": "done"}, ends
    assert ends["secp"] == {"replay": "secp", "state": "done", "position_ms": t_to}, ends
    assert ends["nonep"] == {"replay": "nonep", "state": "done", "position_ms": t_to}, ends
    # Errors: an invalid secret message of alice's; its record goes to alice.
    alice.subscribe("$tsdb/errors/alice-1")
    alice.publish("city/secret/s1/air", {"ts": ts, "pm10": -1, "pm25": 1})
    rec = alice.wait_message(timeout=10, predicate=lambda m: m.topic == "$tsdb/errors/alice-1")
    assert json.loads(rec.payload)["topic"] == "city/secret/s1/air"
    # Let everything flow for a while, then look at all bob received.
    time.sleep(4)
    got = list(bob.set_aside)
    while not bob.messages.empty():
        got.append(bob.messages.get())
    leaks = [(m.topic, m.payload[:120]) for m in got
             if b"secret" in m.topic.encode() or b"secret" in m.payload or b"66.6" in m.payload]
    assert not leaks, leaks
    topics = {m.topic for m in got}
    # ...while bob did get what he may read, through every path.
    assert "city/open/s2/air" in topics
    assert any(t.startswith("$tsdb/agg/1m/city/open/s2/air") for t in topics), topics
    assert "$tsdb/replay/bob-1/all/city/open/s2/air" in topics, topics
    for c in (alice, bob):
        c.close()


def test_the_readme_shows_this_acl():
    from harness import SOURCE_DIR
    with open(os.path.join(SOURCE_DIR, "README.md")) as f:
        readme = f.read()
    body = ACL.strip("\n")
    assert "```\n%s\n```" % body in readme, "README.md's ACL example differs from this test's"
