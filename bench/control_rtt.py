#!/usr/bin/python3
"""Round trips of $CONTROL/tsdb/v1 commands through a real broker.

    bench/control_rtt.py [--plugin LABEL=PATH ...] [--rounds 100] [--reps 2] [--rate 200]

For each repetition and each plugin build (alternating, so that both see the
same noise), starts mosquitto with the plugin on a free 127.0.0.1 port, stores
an hour of one air-quality series, and times `query` and `last` commands from
the publish of the request to the arrival of the answer (paho's receive
timestamp): first on an idle broker, then while a second client publishes
--rate messages a second (QoS 0, stored) in the background. Prints median,
p90, p99 and max in ms per plugin, load and command.

Give two builds to compare them in one run, e.g. the plugin of an older
commit: --plugin before=/tmp/old/mosquitto_tsdb.so --plugin after=build/plugin/mosquitto_tsdb.so
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import paho.mqtt.client as mqtt

import bench  # bench.py beside this file: machine(), pkg_version()

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
TOPIC = "city/bench/s1/air"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(plugin, workdir):
    port = free_port()
    schemas = os.path.join(workdir, "schemas")
    if not os.path.isdir(schemas):
        os.makedirs(schemas)
        shutil.copytree(os.path.join(SOURCE, "schemas", "air-quality"),
                        os.path.join(schemas, "air-quality"))
    data = os.path.join(workdir, "data-%d" % port)
    conf = os.path.join(workdir, "mosquitto-%d.conf" % port)
    lines = ["listener %d 127.0.0.1" % port, "allow_anonymous true", "persistence false",
             "log_dest stderr", "log_type error", "log_type warning", "set_tcp_nodelay true",
             "plugin %s" % plugin, "plugin_opt_data_dir %s" % data,
             "plugin_opt_schema_dir %s" % schemas]
    if os.geteuid() == 0:
        lines.append("user root")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    log = open(os.path.join(workdir, "broker-%d.log" % port), "wb")
    env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.mmap_threshold=131072")
    proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("broker exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("broker did not start")


def stop_broker(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Requester:
    """One MQTT v5 client that sends commands and waits for their answers."""

    def __init__(self, port):
        self.client_id = "rtt-" + uuid.uuid4().hex[:8]
        self.cond = threading.Condition()
        self.answers = {}
        self.c = mqtt.Client(client_id=self.client_id, protocol=mqtt.MQTTv5)
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.c.subscribe("$tsdb/reply/%s/#" % self.client_id, 0)
        time.sleep(0.3)

    def _on_message(self, client, userdata, m):
        try:
            responses = json.loads(m.payload)["responses"]
        except (ValueError, KeyError):
            return
        with self.cond:
            for r in responses:
                if "correlationData" in r:
                    self.answers[r["correlationData"]] = (m.timestamp, r)
            self.cond.notify_all()

    def round_trip(self, command, timeout=10.0):
        """Milliseconds from the publish to the first answer of the command."""
        corr = uuid.uuid4().hex[:12]
        cmd = dict(command, correlationData=corr)
        payload = json.dumps({"commands": [cmd]})
        t0 = time.monotonic()
        self.c.publish("$CONTROL/tsdb/v1", payload, qos=0)
        with self.cond:
            if not self.cond.wait_for(lambda: corr in self.answers, timeout):
                raise RuntimeError("no answer to %s" % payload)
            t1, answer = self.answers.pop(corr)
        if "error" in answer:
            raise RuntimeError("error answer: %s" % answer)
        return (t1 - t0) * 1000.0

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class Background(threading.Thread):
    """Publishes `rate` valid air-quality messages a second, QoS 0."""

    def __init__(self, port, rate):
        super().__init__(daemon=True)
        self.rate = rate
        self.halt = threading.Event()
        self.sent = 0
        self.c = mqtt.Client(client_id="bg-" + uuid.uuid4().hex[:8], protocol=mqtt.MQTTv5)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def run(self):
        period = 1.0 / self.rate
        next_t = time.monotonic()
        while not self.halt.is_set():
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.c.publish("city/bench/bg%d/air" % (self.sent % 50),
                           json.dumps({"ts": ts, "pm10": 10.0 + self.sent % 7, "pm25": 4.0}), qos=0)
            self.sent += 1
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def stop(self):
        self.halt.set()
        self.join()
        self.c.disconnect()
        self.c.loop_stop()


def seed(port):
    """An hour of one point a minute on TOPIC; returns when `last` sees it."""
    c = mqtt.Client(client_id="seed-" + uuid.uuid4().hex[:8], protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port)
    c.loop_start()
    now = int(time.time())
    for i in range(60):
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600 + 60 * i))
        c.publish(TOPIC, json.dumps({"ts": ts, "pm10": 10.0 + i % 9, "pm25": 5.0}), qos=1).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


COMMANDS = {
    "query": {"command": "query", "topic": TOPIC, "field": "pm10", "from": "-1h", "step": "5m"},
    "last": {"command": "last", "topic": TOPIC, "field": "pm10"},
}


def measure(req, rounds, out):
    for i in range(rounds):
        for name in COMMANDS:
            out.setdefault(name, []).append(req.round_trip(COMMANDS[name]))
            # Off any rhythm of the broker's loop or of the background publisher.
            time.sleep(random.uniform(0.02, 0.06))


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def machine():
    m = bench.machine()
    return "%d cores of %s, kernel %s, mosquitto %s" % (m["nproc"], m["cpu"], m["kernel"],
                                                       bench.pkg_version("mosquitto") or "?")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plugin", action="append", default=[],
                    help="LABEL=PATH of a mosquitto_tsdb.so (repeatable)")
    ap.add_argument("--rounds", type=int, default=100, help="round trips per command and load")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--rate", type=float, default=200.0, help="background msgs/s")
    args = ap.parse_args()
    plugins = []
    for spec in args.plugin or ["this=%s" % os.path.join(SOURCE, "build", "plugin", "mosquitto_tsdb.so")]:
        label, _, path = spec.partition("=")
        if not path or not os.path.exists(path):
            sys.exit("no plugin at '%s'" % path)
        plugins.append((label, os.path.abspath(path)))
    random.seed(1)
    print("control_rtt: %s; %d reps x %d round trips per command and load" %
          (machine(), args.reps, args.rounds), flush=True)
    results = {}
    workdir = tempfile.mkdtemp(prefix="tsdb-rtt-")
    try:
        for rep in range(args.reps):
            for label, path in plugins:
                proc, port = start_broker(path, workdir)
                try:
                    seed(port)
                    req = Requester(port)
                    for _ in range(3):  # warm caches and connections
                        req.round_trip(COMMANDS["query"])
                    measure(req, args.rounds, results.setdefault((label, "idle"), {}))
                    bg = Background(port, args.rate)
                    bg.start()
                    time.sleep(1.0)
                    measure(req, args.rounds, results.setdefault((label, "%g msg/s" % args.rate), {}))
                    bg.stop()
                    req.close()
                finally:
                    stop_broker(proc)
                print("  rep %d %-8s done" % (rep + 1, label), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("%-10s %-12s %-6s %5s %9s %9s %9s %9s" %
          ("plugin", "load", "cmd", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"))
    for (label, load), by_cmd in results.items():
        for name, xs in by_cmd.items():
            print("%-10s %-12s %-6s %5d %9.2f %9.2f %9.2f %9.2f" %
                  (label, load, name, len(xs), quantile(xs, 0.5), quantile(xs, 0.9),
                   quantile(xs, 0.99), max(xs)))


if __name__ == "__main__":
    main()
