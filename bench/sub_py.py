#!/usr/bin/python3
"""The "typical" DIY pipeline subscriber: what most cities run today.

python3-paho-mqtt receives the air-quality JSON messages, json.loads parses
them, each becomes one InfluxDB line-protocol line, and a second thread POSTs
the lines in batches with urllib to InfluxDB's or VictoriaMetrics' /write.

    sub_py.py --port MQTT_PORT --http-port PORT --target influx|vm --measurement NAME
              [--filter city/+/+/air] [--qos 0] [--batch 5000] [--flush-ms 100]

SIGTERM: disconnect, send what is left, print one JSON line of counters, exit.
"""
import argparse
import datetime
import json
import signal
import sys
import threading
import urllib.request

import paho.mqtt.client as mqtt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--target", choices=("influx", "vm"), required=True)
    ap.add_argument("--measurement", required=True)
    ap.add_argument("--filter", default="city/+/+/air")
    ap.add_argument("--qos", type=int, default=0)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--flush-ms", type=int, default=100)
    ap.add_argument("--id", default="sub-py")
    a = ap.parse_args()

    if a.target == "vm":
        url = "http://127.0.0.1:%d/write?precision=ms" % a.http_port
    else:
        url = "http://127.0.0.1:%d/write?db=bench&precision=ms" % a.http_port
    lines = []
    cond = threading.Condition()
    stats = {"received": 0, "lines": 0, "batches": 0, "http_errors": 0, "parse_errors": 0}
    stop = threading.Event()

    def on_message(client, userdata, msg):
        stats["received"] += 1
        try:
            _, district, station, _ = msg.topic.split("/")
            doc = json.loads(msg.payload)
            ts = datetime.datetime.fromisoformat(doc.pop("ts"))
            ms = int(ts.timestamp() * 1000 + 0.5)
            fields = ",".join("%s=%r" % (k, float(v)) for k, v in doc.items())
            line = "%s,district=%s,station=%s %s %d" % (a.measurement, district, station, fields, ms)
        except (ValueError, KeyError, TypeError):
            stats["parse_errors"] += 1
            return
        with cond:
            lines.append(line)
            if len(lines) >= a.batch:
                cond.notify()

    def on_connect(client, userdata, flags, rc):
        client.subscribe(a.filter, a.qos)

    def writer():
        while True:
            with cond:
                if len(lines) < a.batch and not stop.is_set():
                    cond.wait(a.flush_ms / 1000.0)
                batch = lines[:]
                del lines[:]
            if batch:
                body = ("\n".join(batch) + "\n").encode()
                try:
                    req = urllib.request.Request(url, data=body, method="POST")
                    with urllib.request.urlopen(req, timeout=30) as r:
                        r.read()
                    stats["lines"] += len(batch)
                except Exception as e:  # noqa: BLE001 - counted and reported
                    stats["http_errors"] += 1
                    print("sub_py: write failed: %s" % e, file=sys.stderr)
                stats["batches"] += 1
            elif stop.is_set():
                return

    client = mqtt.Client(client_id=a.id, clean_session=True)
    client.on_message = on_message
    client.on_connect = on_connect
    client.connect("127.0.0.1", a.port, 60)
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    client.loop_start()
    print("sub_py: ready", file=sys.stderr, flush=True)
    while not stop.wait(0.2):
        pass
    client.disconnect()
    client.loop_stop()
    with cond:
        cond.notify()
    t.join(60)
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
