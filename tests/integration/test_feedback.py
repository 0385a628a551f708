"""Feedback to publishers and schema hot reload, through a real broker."""
import json
import os
import signal
import time

from harness import Client, make_schema_dir, pub5

REFUSED = 0x87


def test_refused_publisher_receives_an_error_record_naming_the_field(broker):
    c = Client(broker.port, client_id="station-s17")
    c.subscribe("$tsdb/errors/station-s17")
    reasons, connected, out = pub5(broker.port, [("test/s17/air", {"ts": 1795684500000, "pm10": -3})],
                                   client_id="station-s17-pub")
    assert reasons == [REFUSED] and connected, out
    # The record goes to the publisher's own client id: subscribe as it.
    c2 = Client(broker.port, client_id="dev42")
    c2.subscribe("$tsdb/errors/dev42")
    c2.publish("test/s17/air", {"ts": 1795684500000, "pm10": -3})
    rec = json.loads(c2.wait_message(timeout=10).payload)
    assert rec["schema"] == "test-air" and rec["version"] == 1
    assert rec["topic"] == "test/s17/air" and rec["client"] == "dev42"
    assert rec["reason"] == "validate" and rec["keyword"] == "minimum"
    assert rec["pointer"] == "/pm10" and rec["actual"] == "-3" and rec["expected"] == ">= 0"
    assert "-3 is less than the minimum 0" in rec["message"]
    # A message that does not parse: reason decode.
    c2.publish("test/s17/air", '{"ts": 1, "pm10": ')
    rec = json.loads(c2.wait_message(timeout=10).payload)
    assert rec["reason"] == "decode"
    c.close()
    c2.close()


def test_error_records_off_and_dead_letter_on(broker_factory):
    b = broker_factory(options={"error_records": "off", "dead_letter": "on"})
    b.start()
    c = Client(b.port, client_id="dl")
    c.subscribe("$tsdb/#")
    payload = '{"ts": 1795684500000, "pm10": "lots"}'
    c.publish("test/s18/air", payload)
    m = c.wait_message(timeout=10)
    assert m.topic == "$tsdb/dead/test/s18/air" and m.payload == payload.encode()
    time.sleep(0.3)
    assert c.messages.empty()  # no error record
    c.close()


def write_schema(workdir, maximum):
    d = os.path.join(workdir, "schemas", "test-air")
    with open(os.path.join(d, "schema.json")) as f:
        schema = json.load(f)
    schema["properties"]["pm10"]["maximum"] = maximum
    schema["x-tsdb"]["version"] += 1
    with open(os.path.join(d, "schema.json"), "w") as f:
        json.dump(schema, f)


def test_sighup_reloads_schemas_atomically(broker, workdir):
    ts = int(time.time() * 1000) - 10_000
    reasons, _, out = pub5(broker.port, [("test/s19/air", {"ts": ts, "pm10": 2000})])
    assert reasons == [REFUSED], out  # above the maximum of 1000
    write_schema(workdir, 5000)
    broker.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "tsdb: reloaded schemas=" not in broker.log() and time.time() < deadline:
        time.sleep(0.05)
    assert "tsdb: reloaded schemas=" in broker.log()
    reasons, _, out = pub5(broker.port, [("test/s19/air", {"ts": ts, "pm10": 2000})])
    assert reasons[0] in (0, 0x10), out
    # A broken file: the old set stays in force and the error is reported.
    bad = os.path.join(workdir, "schemas", "broken")
    os.makedirs(bad)
    with open(os.path.join(bad, "schema.json"), "w") as f:
        f.write("{not json")
    broker.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "reload failed, keeping the" not in broker.log() and time.time() < deadline:
        time.sleep(0.05)
    assert "reload failed, keeping the 2 schemas in force" in broker.log()
    assert "broken/schema.json: not valid JSON" in broker.log()
    reasons, _, out = pub5(broker.port, [("test/s19/air", {"ts": ts + 1, "pm10": 4000}),
                                         ("test/s19/air", {"ts": ts + 2, "pm10": 6000})])
    assert reasons[0] in (0, 0x10) and reasons[1] == REFUSED, out


def test_error_records_of_every_reason_are_well_formed(broker_factory, workdir):
    """Every refusal reason the broker can be made to produce, through the
    real broker: each record is valid JSON whose members are all defined
    (issue 12: decode and timestamp records carried uninitialised bytes)."""
    make_schema_dir(workdir, include_shipped=("air-quality", "senml"))
    b = broker_factory(options={"unmatched": "refuse"})
    b.start()
    c = Client(b.port, client_id="dev-rec")
    c.subscribe("$tsdb/errors/dev-rec")
    now = int(time.time() * 1000)
    pack = [{"n": "n%03d-%s" % (i, "x" * 90), "v": 1} for i in range(256)]
    cases = {
        "decode": ("test/r1/air", '{"ts": 1, "pm10": '),
        "validate": ("test/r1/air", {"ts": now, "pm10": -3}),
        "timestamp": ("test/r1/air", {"ts": now + 86_400_000, "pm10": 3}),
        "unmatched": ("nowhere/r1", {"x": 1}),
        "reserved_topic": ("$tsdb/agg/1m/test/r1/air", {"forged": True}),
        "toobig": ("city/mitte/d1/senml", pack),
        "empty": ("test/r1/air", ""),
    }
    for want, (topic, payload) in cases.items():
        c.publish(topic, payload)
        rec = json.loads(c.wait_message(timeout=10).payload)
        assert rec["reason"] == ("decode" if want == "empty" else want), (want, rec)
        assert rec["client"] == "dev-rec" and rec["topic"] == topic, rec
        for k in ("keyword", "pointer", "schema_path", "expected", "actual", "message"):
            v = rec.get(k, "")
            assert isinstance(v, str) and all(ch >= " " for ch in v), (want, k, v)
        if want in ("decode", "timestamp", "empty", "unmatched", "reserved_topic", "toobig"):
            # No schema keyword failed: nothing of the JSON Schema's part.
            assert rec.get("schema_path", "") == "", (want, rec)
        if want in ("unmatched", "reserved_topic"):
            assert rec.get("schema") in (None, "") and rec.get("pointer", "") == "", rec
        if want == "validate":
            assert rec["schema_path"] == "/properties/pm10/minimum" and rec["actual"] == "-3"
        assert rec["message"], (want, rec)
    c.close()
