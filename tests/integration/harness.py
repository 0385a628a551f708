"""Integration-test harness: a real Mosquitto broker with the built plugin on
a free 127.0.0.1 port, real MQTT clients, and cleanup of every process.

Environment (set by CTest): TSDB_PLUGIN (the built module), TSDB_PUB5 (the
Paho C v5 publisher), TSDB_SOURCE_DIR, MOSQUITTO (the broker binary).
"""
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

SOURCE_DIR = os.environ.get("TSDB_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
PLUGIN = os.environ.get("TSDB_PLUGIN", os.path.join(SOURCE_DIR, "build", "plugin", "mosquitto_tsdb.so"))
PUB5 = os.environ.get("TSDB_PUB5", "")
MOSQUITTO = os.environ.get("MOSQUITTO", shutil.which("mosquitto") or "/usr/sbin/mosquitto")
TEST_SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_schema_dir(workdir, include_shipped=("air-quality",)):
    """A schema directory with the test schemas and the named shipped ones,
    never the rest of ./schemas, which is the user's (README: "Shipped
    schemas and their examples")."""
    d = os.path.join(workdir, "schemas")
    shutil.copytree(TEST_SCHEMAS, d)
    for name in include_shipped:
        src = os.path.join(SOURCE_DIR, "schemas", name)
        if not os.path.isfile(os.path.join(src, "examples.json")):
            raise ValueError("%s is not a shipped schema with examples" % src)
        shutil.copytree(src, os.path.join(d, name))
    return d


class Broker:
    """One mosquitto process. start() waits until it listens (or has exited)."""

    def __init__(self, workdir, options=None, port=None, extra_conf=""):
        self.workdir = workdir
        self.port = port or free_port()
        self.data_dir = os.path.join(workdir, "data")
        self.options = {
            "data_dir": self.data_dir,
            "schema_dir": os.path.join(workdir, "schemas"),
            "grace": "1s",
        }
        self.options.update(options or {})
        self.extra_conf = extra_conf
        self.proc = None
        self.logs = []  # logs of previous runs of this broker
        self.log_path = None
        self.runs = 0

    def config_text(self):
        lines = [
            "listener %d 127.0.0.1" % self.port,
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
            "log_type all",
            "set_tcp_nodelay true",
        ]
        if os.geteuid() == 0:
            # The broker would drop to user 'mosquitto', which may not reach
            # the build tree of an arbitrary checkout; tests stay root.
            lines.append("user root")
        lines.append("plugin %s" % PLUGIN)
        options = dict(self.options)
        if "acl_file" not in self.extra_conf and "plugin " not in self.extra_conf:
            # No ACL of the broker's own: without this the plugin's ACL check
            # would defer every decision to nobody, and Mosquitto denies then.
            options.setdefault("acl_fallback", "allow")
        for k, v in options.items():
            if v is not None:
                lines.append("plugin_opt_%s %s" % (k, v))
        lines.append(self.extra_conf)
        return "\n".join(lines) + "\n"

    def start(self, expect_exit=False, timeout=20.0):
        self.runs += 1
        conf = os.path.join(self.workdir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(self.config_text())
        self.log_path = os.path.join(self.workdir, "broker-%d.log" % self.runs)
        log = open(self.log_path, "wb")
        env = dict(os.environ)  # the allocator setting run.sh starts the broker with
        env["GLIBC_TUNABLES"] = "glibc.malloc.mmap_threshold=131072"
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=log, stderr=subprocess.STDOUT,
                                     env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if expect_exit:
                    return self.proc.returncode
                raise RuntimeError("broker exited with %s:\n%s" % (self.proc.returncode, self.log()))
            if not expect_exit:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        return 0
                except OSError:
                    pass
            time.sleep(0.05)
        if expect_exit:
            raise RuntimeError("broker did not exit:\n" + self.log())
        raise RuntimeError("broker did not start listening:\n" + self.log())

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def wait_log(self, text, timeout=10.0):
        """Waits until the running broker's log holds `text` (the plugin logs
        the engine's lines in the broker's loop, a moment after they happen);
        returns the log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if text in log:
                return log
            if time.monotonic() > deadline:
                raise AssertionError("%r not logged within %.0f s:\n%s" % (text, timeout, log[-4000:]))
            time.sleep(0.05)

    def log(self):
        text = ""
        if self.log_path and os.path.exists(self.log_path):
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        return text


class Client:
    """A python-paho MQTT v5 client with a queue of received messages."""

    def __init__(self, port, client_id=None, protocol=mqtt.MQTTv5, username=None):
        self.client_id = client_id or "t-" + uuid.uuid4().hex[:10]
        self.messages = queue.Queue()
        self.set_aside = []  # messages command() received that were not its answers
        self.c = mqtt.Client(client_id=self.client_id, protocol=protocol)
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.connected = queue.Queue()
        if protocol == mqtt.MQTTv5:
            self.c.on_connect = lambda c, u, f, rc, p=None: self.connected.put(rc)
        else:
            self.c.on_connect = lambda c, u, f, rc: self.connected.put(rc)
        if username:
            self.c.username_pw_set(username)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        rc = self.connected.get(timeout=10)
        assert rc == 0, "connect failed: %s" % rc

    def subscribe(self, topic, qos=1):
        done = queue.Queue()
        self.c.on_subscribe = lambda *a: done.put(True)
        self.c.subscribe(topic, qos)
        done.get(timeout=10)

    def subscribe_code(self, topic, qos=1):
        """Subscribes (MQTT v5); returns the SUBACK reason code: the granted
        QoS, or 0x87 when an ACL check refused the filter."""
        done = queue.Queue()
        self.c.on_subscribe = lambda c, u, mid, codes, props=None: done.put(codes)
        self.c.subscribe(topic, qos)
        codes = done.get(timeout=10)
        return codes[0].value if hasattr(codes[0], "value") else int(codes[0])

    def drain(self, settle=0.0):
        """Every message received so far (after `settle` seconds more)."""
        time.sleep(settle)
        got = list(self.set_aside)
        self.set_aside = []
        while not self.messages.empty():
            got.append(self.messages.get())
        return got

    def publish(self, topic, payload, qos=1, retain=False):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)
        return info

    def wait_message(self, timeout=10.0, predicate=None):
        for i, m in enumerate(self.set_aside):
            if predicate is None or predicate(m):
                return self.set_aside.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching message within %.1f s" % timeout)
            try:
                m = self.messages.get(timeout=left)
            except queue.Empty:
                raise AssertionError("no matching message within %.1f s" % timeout)
            if predicate is None or predicate(m):
                return m
            self.set_aside.append(m)

    def command(self, commands, timeout=10.0, answers=None):
        """Sends $CONTROL/tsdb/v1 commands and waits for the done marker that
        ends each; returns each command's first response (its answer, or the
        marker when nothing else came) in order. With `answers` (a list) it
        also appends every response received, in arrival order."""
        for i, cmd in enumerate(commands):
            cmd.setdefault("correlationData", "c%d-%s" % (i, uuid.uuid4().hex[:6]))
        self.subscribe("$tsdb/reply/%s/#" % self.client_id)
        self.subscribe("$tsdb/admin/%s/#" % self.client_id)
        self.publish("$CONTROL/tsdb/v1", {"commands": commands})
        first = {c["correlationData"]: None for c in commands}
        done = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(first):
            m = self.wait_message(max(0.1, deadline - time.monotonic()),
                                  predicate=lambda m: m.topic.startswith(("$tsdb/reply/", "$tsdb/admin/")))
            for r in json.loads(m.payload)["responses"]:
                corr = r.get("correlationData")
                if corr not in first:
                    continue
                r["_topic"] = m.topic
                if answers is not None:
                    answers.append(r)
                if first[corr] is None:
                    first[corr] = r
                if r.get("done"):
                    done.add(corr)
        return [first[c["correlationData"]] for c in commands]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def pub5(port, messages, client_id="pub5"):
    """Publishes (topic, payload) pairs with the Paho C v5 tool; returns
    ([reason codes], still_connected)."""
    args = [PUB5, "-p", str(port), "-i", client_id]
    for topic, payload in messages:
        if not isinstance(payload, str):
            payload = json.dumps(payload)
        args += ["-t", topic, "-m", payload]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    reasons = [int(line.split("reason=")[1]) for line in out.stdout.splitlines() if line.startswith("puback")]
    connected = "connected=1" in out.stdout
    return reasons, connected, out.stdout + out.stderr
