"""Serving through a real broker: live aggregates, commands, ACLs."""
import json
import time

from harness import Client


def now_ms():
    return int(time.time() * 1000)


def test_partial_final_correction_for_a_live_bucket(broker_factory):
    b = broker_factory(options={"partial_interval": "1s", "grace": "1s"})
    b.start()
    sub = Client(b.port)
    sub.subscribe("$tsdb/agg/10s/test/live/air")
    tier = 10_000
    # Start early in a bucket so that the partial updates come before its end.
    while now_ms() % tier > 3_000:
        time.sleep(0.05)
    start = now_ms() // tier * tier
    pub = Client(b.port)
    for off, v in ((2_000, 20.0), (500, 10.0), (1_000, 30.0)):  # out of order
        pub.publish("test/live/air", {"ts": start + off, "pm10": v})
    states = []
    deadline = time.time() + 25
    while time.time() < deadline and "final" not in [s["state"] for s in states]:
        m = sub.wait_message(timeout=max(0.1, deadline - time.time()))
        agg = json.loads(m.payload)
        if agg["start_ms"] == start:
            states.append(agg)
    partials = [s for s in states if s["state"] == "partial"]
    assert partials, states
    assert partials[-1]["pm10_count"] == 3 and partials[-1]["pm10_mean"] == 20.0
    final = states[-1]
    assert final["state"] == "final" and final["pm10_count"] == 3
    assert (final["pm10_min"], final["pm10_max"], final["pm10_first"], final["pm10_last"]) == \
        (10.0, 30.0, 10.0, 20.0)
    assert now_ms() >= start + tier + 1_000 - 50
    # A late point for that bucket: a correction.
    pub.publish("test/live/air", {"ts": start + 9_000, "pm10": 60.0})
    m = sub.wait_message(timeout=15, predicate=lambda m: json.loads(m.payload)["start_ms"] == start)
    corr = json.loads(m.payload)
    assert corr["state"] == "correction", corr
    assert corr["pm10_count"] == 4 and corr["pm10_last"] == 60.0 and corr["pm10_max"] == 60.0
    for c in (sub, pub):
        c.close()
