"""End-to-end: publish -> validate -> store -> aggregate -> query, through a
real Mosquitto broker with the built plugin and real MQTT clients."""
import json
import os
import signal
import subprocess
import time

import pytest

from harness import Client, pub5

REFUSED = 0x87  # MQTT v5 "Not authorized": the only refusal Mosquitto 2.0 lets a plugin give
OK_CODES = (0x00, 0x10)  # success, or "no matching subscribers"


def now_ms():
    return int(time.time() * 1000)


def query(client, **args):
    cmd = {"command": "query"}
    cmd.update(args)
    return client.command([cmd])[0]


def test_valid_messages_are_stored_and_queryable(broker):
    c = Client(broker.port)
    t0 = now_ms() - 60_000
    readings = [(t0 + i * 1000, 10.0 + i * 0.5) for i in range(5)]
    for ts, v in readings:
        c.publish("test/s1/air", {"ts": ts, "pm10": v})
    r = query(c, topic="test/s1/air", field="pm10", **{"from": t0, "to": t0 + 10_000})
    assert "error" not in r, r
    assert r["columns"] == ["ts_ms", "value"]
    assert r["rows"] == [[ts, v] for ts, v in readings]
    assert r["_topic"] == "$tsdb/reply/%s/test/s1/air" % c.client_id
    c.close()


def test_shipped_schema_with_mosquitto_pub(broker):
    """A new user's path: mosquitto_pub with an RFC 3339 timestamp."""
    payload = json.dumps({"ts": "2026-11-26T09:15:00.250Z", "pm10": 17.2, "pm25": 9.1,
                          "temperature": -3.5})
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1",
                    "-t", "city/mitte/s17/air", "-m", payload], check=True, timeout=20)
    c = Client(broker.port)
    ts = 1795684500250  # 2026-11-26T09:15:00.250Z
    for field, value in (("pm10", 17.2), ("pm25", 9.1), ("temperature", -3.5)):
        r = query(c, topic="city/mitte/s17/air", field=field, **{"from": ts, "to": ts + 1})
        assert r.get("rows") == [[ts, value]], r
    r = query(c, topic="city/mitte/s17/air", field="no2", **{"from": ts, "to": ts + 1})
    assert "no series" in r["error"]
    c.close()


def test_invalid_message_refused_with_0x87_not_stored_publisher_connected(broker):
    ts = now_ms() - 30_000
    reasons, connected, out = pub5(broker.port, [
        ("test/s2/air", {"ts": ts, "pm10": -4}),           # below minimum
        ("test/s2/air", '{"ts": %d, "pm10": ' % ts),        # not JSON
        ("test/s2/air", {"ts": ts, "pm10": 3, "x": 1}),    # additional property
        ("test/s2/air", {"ts": ts + 1, "pm10": 7.5}),       # valid
    ])
    assert reasons[:3] == [REFUSED] * 3, out
    assert reasons[3] in OK_CODES, out
    assert connected, out
    c = Client(broker.port)
    r = query(c, topic="test/s2/air", field="pm10", **{"from": ts - 1000, "to": ts + 1000})
    assert r["rows"] == [[ts + 1, 7.5]], r
    c.close()
    assert "refused" in broker.log()


def test_invalid_message_mosquitto_pub_v5_stays_connected(broker):
    """mosquitto_pub as a v5 client: the refusal does not end its session."""
    out = subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-V", "5", "-q", "1",
                          "-t", "test/s3/air", "-m", '{"ts": 1, "pm10": "high"}'],
                         capture_output=True, text=True, timeout=20)
    # mosquitto_pub saw the PUBACK with reason 0x87 (it names it) and ended normally.
    assert "Publish 1 failed: Not authorized" in out.stderr, out.stderr
    assert out.returncode == 0, out.stderr


def test_aggregate_published_for_closed_bucket(broker):
    sub = Client(broker.port)
    sub.subscribe("$tsdb/agg/10s/test/s4/air")
    tier = 10_000
    start = (now_ms() // tier) * tier - 3 * tier  # a bucket that ended 20-30 s ago
    points = [(start + 9_000, 4.0), (start + 1_000, 1.0), (start + 5_000, 9.0), (start + 3_000, 2.0)]
    pub = Client(broker.port)
    for ts, v in points:  # out of order on purpose
        pub.publish("test/s4/air", {"ts": ts, "pm10": v, "temp": v / 2})
    m = sub.wait_message(timeout=20, predicate=lambda m: b'"state":"final"' in m.payload)
    agg = json.loads(m.payload)
    assert agg["state"] == "final"
    assert agg["tier"] == "10s"
    assert agg["start_ms"] == start and agg["end_ms"] == start + tier
    assert agg["pm10_count"] == 4
    assert agg["pm10_min"] == 1.0 and agg["pm10_max"] == 9.0
    assert agg["pm10_sum"] == 16.0 and agg["pm10_mean"] == 4.0
    assert agg["pm10_first"] == 1.0 and agg["pm10_last"] == 4.0
    assert agg["temp_count"] == 4 and agg["temp_max"] == 4.5
    # It is retained: a late subscriber gets it at once.
    late = Client(broker.port)
    late.subscribe("$tsdb/agg/10s/test/s4/air")
    m2 = late.wait_message(timeout=10)
    assert m2.retain and json.loads(m2.payload)["start_ms"] == start
    # The same bucket through a query of the tier.
    r = query(pub, topic="test/s4/air", field="pm10", tier="10s", **{"from": start, "to": start + tier})
    assert r["rows"] == [[start, 4, 1.0, 9.0, 4.0, 16.0, 1.0, 4.0, pytest.approx(3.0822, abs=1e-4)]], r
    for c in (sub, pub, late):
        c.close()


def test_live_bucket_final_after_it_closes(broker):
    """A point in the current bucket: final only after end + grace."""
    sub = Client(broker.port)
    sub.subscribe("$tsdb/agg/10s/test/s5/air")
    tier = 10_000
    ts = now_ms()
    end = (ts // tier) * tier + tier
    Client(broker.port).publish("test/s5/air", {"ts": ts, "pm10": 42})
    m = sub.wait_message(timeout=tier / 1000 + 15,
                         predicate=lambda m: b'"state":"final"' in m.payload)
    agg = json.loads(m.payload)
    assert now_ms() >= end + 1000 - 50  # grace 1s (50 ms clock slack)
    assert agg["state"] == "final" and agg["pm10_count"] == 1 and agg["pm10_last"] == 42


def test_data_survives_restart(broker):
    c = Client(broker.port)
    t0 = now_ms() - 120_000
    for i in range(20):
        c.publish("test/s6/air", {"ts": t0 + i * 500, "pm10": float(i)})
    r1 = query(c, topic="test/s6/air", field="pm10", **{"from": t0, "to": t0 + 60_000})
    c.close()
    assert len(r1["rows"]) == 20
    assert broker.stop() == 0
    assert "tsdb: stopped" in broker.log()
    broker.start()
    c = Client(broker.port)
    r2 = query(c, topic="test/s6/air", field="pm10", **{"from": t0, "to": t0 + 60_000})
    assert r2["rows"] == r1["rows"]
    r3 = query(c, topic="test/s6/air", field="pm10", tier="1m", **{"from": t0 - 60_000, "to": t0 + 60_000})
    assert sum(row[1] for row in r3["rows"]) == 20
    c.close()


def test_data_survives_kill_after_sync_point(broker):
    """SIGKILL after the points are written (the query saw them): nothing lost."""
    c = Client(broker.port)
    t0 = now_ms() - 90_000
    for i in range(10):
        c.publish("test/s7/air", {"ts": t0 + i, "pm10": 1.0 + i})
    r1 = query(c, topic="test/s7/air", field="pm10", **{"from": t0, "to": t0 + 100})
    c.close()
    assert len(r1["rows"]) == 10
    broker.stop(sig=signal.SIGKILL)
    broker.start()
    c = Client(broker.port)
    r2 = query(c, topic="test/s7/air", field="pm10", **{"from": t0, "to": t0 + 100})
    assert r2["rows"] == r1["rows"]
    c.close()


@pytest.mark.parametrize("option,value,message", [
    ("queue_size", "lots", "plugin_opt_queue_size: invalid value 'lots'"),
    ("grace", "-5s", "plugin_opt_grace: invalid value '-5s'"),
    ("unmatched", "drop", "plugin_opt_unmatched: invalid value 'drop'"),
    ("qeue_size", "64M", "plugin_opt_qeue_size: unknown option"),
])
def test_bad_plugin_option_stops_broker(broker_factory, option, value, message):
    b = broker_factory(options={option: value})
    rc = b.start(expect_exit=True)
    assert rc != 0
    assert "tsdb: configuration error: " + message in b.log()


def test_bad_schema_stops_broker(broker_factory, workdir):
    b = broker_factory()
    bad = os.path.join(workdir, "schemas", "broken")
    os.makedirs(bad)
    with open(os.path.join(bad, "schema.json"), "w") as f:
        f.write('{"type": "object", "x-tsdb": {"id": "broken", "version": 1, "topic": "b/{x}",'
                ' "measurements": {"v": {"pointer": "/v"}}, "tiers": ["1m", "90s"]}}')
    assert b.start(expect_exit=True) != 0
    assert "tsdb: schema error: " in b.log() and "/x-tsdb/tiers" in b.log()


def test_unmatched_topics_pass_and_reserved_topics_are_refused(broker):
    sub = Client(broker.port)
    sub.subscribe("other/#")
    Client(broker.port).publish("other/thing", "hello")
    assert sub.wait_message(timeout=10).payload == b"hello"
    reasons, connected, out = pub5(broker.port, [("$tsdb/agg/1m/test/s1/air", "{}")])
    assert reasons == [REFUSED] and connected, out


def test_query_errors_are_answers(broker):
    c = Client(broker.port)
    c.publish("test/s8/air", {"ts": now_ms(), "pm10": 1})
    r = c.command([{"command": "nope"}])[0]
    assert r["error"].startswith("unknown command 'nope'")
    r = query(c, topic="test/s8/air", field="pm10", step="1h", fill="sideways")
    assert "'fill' must be none, null, previous or linear" in r["error"], r
    r = query(c, topic="test/#/air", field="pm10")
    assert "topic filter" in r["error"]
    r = query(c, field="pm10")
    assert r["error"] == "missing argument 'topic'"
    r = query(c, topic="test/s8/air", field="pm10", **{"from": "yesterday"})
    assert "argument 'from'" in r["error"]
    # Malformed request: answered on $tsdb/reply/<client id>, then done, and
    # the client stays connected.
    c.subscribe("$tsdb/reply/%s/#" % c.client_id)
    c.publish("$CONTROL/tsdb/v1", "{not json")
    m = c.wait_message(timeout=10)
    assert m.topic == "$tsdb/reply/%s" % c.client_id
    assert json.loads(m.payload)["responses"][0]["error"] == "request is not valid JSON"
    m = c.wait_message(timeout=10)
    assert json.loads(m.payload)["responses"][0]["done"] is True
    assert c.c.is_connected()
    c.close()


def test_query_paging(broker):
    c = Client(broker.port)
    t0 = now_ms() - 50_000
    for i in range(25):
        c.publish("test/s9/air", {"ts": t0 + i, "pm10": float(i)})
    rows, frm = [], t0
    for _ in range(10):
        r = query(c, topic="test/s9/air", field="pm10", limit=10, **{"from": frm, "to": t0 + 25})
        rows += r["rows"]
        if "next" not in r:
            break
        frm = r["next"]
    assert [row[1] for row in rows] == [float(i) for i in range(25)]
    c.close()


def test_sync_durability_kill9_loses_no_acknowledged_message(broker_factory):
    """durability sync: every QoS 1 message whose PUBACK arrived is stored,
    even when the broker is killed with SIGKILL right after."""
    b = broker_factory(options={"durability": "sync", "flush_interval_ms": "200"})
    b.start()
    t0 = now_ms() - 100_000
    msgs = [("test/k9/air", {"ts": t0 + i, "pm10": float(i)}) for i in range(40)]
    reasons, connected, out = pub5(b.port, msgs, client_id="k9")
    assert len(reasons) == 40 and all(r in OK_CODES for r in reasons), out
    b.stop(sig=signal.SIGKILL)  # no clean shutdown, no queue drain
    b.start()
    c = Client(b.port)
    r = query(c, topic="test/k9/air", field="pm10", **{"from": t0, "to": t0 + 100})
    assert [row[1] for row in r["rows"]] == [float(i) for i in range(40)], r
    c.close()
