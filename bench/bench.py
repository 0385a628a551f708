#!/usr/bin/python3
"""Field benchmarks of mosquitto-tsdb: the driver behind bench/run.sh.

Starts every process itself on 127.0.0.1 free ports with data in one temp
directory, runs the sections below with alternating repetitions, stops every
process it started (also on an error or a signal), and writes
results.json, results.md and *.png (gnuplot) into the results directory.

Sections (each figure is a same-run ratio of medians):
  overhead  bare mosquitto vs mosquitto + plugin (validate only, async,
            sync, fsync), QoS 0 and QoS 1, at the broker's maximum rate
  pipeline  the DIY pipelines (mosquitto -> C or Python subscriber ->
            VictoriaMetrics or InfluxDB) and ours at a ladder of offered rates:
            stored msgs/s, loss, CPU-s per million messages of all processes
  storage   bytes per point of the reference datasets after flush and full
            compaction in all three
  queries   the same aggregate queries in all three, answers checked equal
"""
import argparse
import atexit
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PY = "/usr/bin/python3"

# ---------------------------------------------------------------- processes

STARTED = []  # every Popen this driver started, stopped at exit


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def spawn(cmd, stdout=None, stderr=None, **kw):
    p = subprocess.Popen(cmd, stdout=stdout or subprocess.DEVNULL,
                         stderr=stderr or subprocess.DEVNULL, **kw)
    STARTED.append(p)
    return p


def stop(p, timeout=60.0, sig=signal.SIGTERM):
    """SIGTERM, wait, then SIGKILL. Returns True if it stopped by itself."""
    if p is None:
        return True
    clean = True
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            clean = False
            p.kill()
            p.wait()
    if p in STARTED:
        STARTED.remove(p)
    return clean


def stop_all():
    for p in list(STARTED):
        try:
            stop(p, 10)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def on_signal(sig, frame):
    stop_all()
    sys.exit(128 + sig)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited at start (status %s)" % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on %d" % (what, port))


def http(port, path, data=None, method=None, timeout=60):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def dir_bytes(path, skip=()):
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in skip]
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    return a / b if a is not None and b else None


# ---------------------------------------------------------------- the systems

class Ctx:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="tsdb-bench-")
        self.bin = args.bin
        self.plugin = args.plugin
        self.runs = 0
        self.partial = {}  # section name: what it measured before failing

    def path(self, *p):
        return os.path.join(self.tmp, *p)

    def next_dir(self, prefix):
        self.runs += 1
        d = self.path("%s-%03d" % (prefix, self.runs))
        os.makedirs(d)
        return d


def schema_dirs(ctx):
    """The shipped schemas, and 'validate only' copies whose measurements
    point at members no message has: validated in full, nothing stored."""
    real, vo = ctx.path("schemas"), ctx.path("schemas-validate-only")
    if not os.path.isdir(real):
        for name in ("air-quality", "traffic-counter", "senml"):
            shutil.copytree(os.path.join(SOURCE, "schemas", name), os.path.join(real, name))
            with open(os.path.join(SOURCE, "schemas", name, "schema.json")) as f:
                s = json.load(f)
            x = s["x-tsdb"]
            if "measurements" in x:
                for k, m in x["measurements"].items():
                    m["pointer"] = "/validate-only-%s" % k
            else:
                x["names"] = {"unmapped": "ignore"}
            os.makedirs(os.path.join(vo, name))
            with open(os.path.join(vo, name, "schema.json"), "w") as f:
                json.dump(s, f)
    return real, vo


class Broker:
    """mosquitto, bare or with the plugin in one of the modes. `conf`: more
    lines of mosquitto.conf; `env`: more environment variables."""

    def __init__(self, ctx, mode, options=None, conf=(), env=None):
        self.ctx, self.mode = ctx, mode
        options = dict(options or {})
        # The plugin's own counters in `stats` are a snapshot taken at every
        # $SYS publication: with one a second, a read 1.1 s after the load
        # sees all of it.
        if mode != "bare":
            options.setdefault("sys_interval", "1s")
        self.snapshot_wait = 1.1 if options.get("sys_interval") == "1s" else 0
        self.dir = ctx.next_dir("broker-" + mode)
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        real, vo = schema_dirs(ctx)
        lines = ["listener %d 127.0.0.1" % self.port, "allow_anonymous true", "persistence false",
                 "log_dest stderr", "log_type error", "log_type warning", "log_type notice",
                 "set_tcp_nodelay true"]
        if os.geteuid() == 0:
            lines.append("user root")
        if mode != "bare":
            lines += ["plugin %s" % ctx.plugin,
                      "plugin_opt_data_dir %s" % self.data,
                      "plugin_opt_schema_dir %s" % (vo if mode == "validate" else real),
                      # No ACL here: with the default "defer" Mosquitto 2.0 denies what
                      # every check deferred, the probe subscription among them.
                      "plugin_opt_acl_fallback allow"]
            if mode in ("sync", "fsync"):
                lines.append("plugin_opt_durability %s" % mode)
            for k, v in options.items():
                lines.append("plugin_opt_%s %s" % (k, v))
        lines += list(conf)
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(self.dir, "broker.log")
        self.logf = open(self.log_path, "wb")
        self.proc = spawn([MOSQUITTO, "-c", self.conf], stdout=self.logf, stderr=subprocess.STDOUT,
                          env=dict(os.environ, **env) if env else None)
        try:
            wait_listening(self.port, self.proc, "mosquitto")
        except RuntimeError:
            raise RuntimeError("broker did not start:\n" + self.log())
        self.pid = self.proc.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def stats(self):
        """The plugin's counters through its stats command, or None: the
        plugin's own ("host": accepted, refused by reason, as of its last $SYS
        publication) with the engine's current ones under "engine"."""
        if self.mode == "bare":
            return None
        time.sleep(self.snapshot_wait)
        try:
            import paho.mqtt.client as mqtt
            from paho.mqtt.properties import Properties  # noqa: F401
        except ImportError:
            return None
        cid = "bench-stats-%d" % os.getpid()
        got = []
        c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
        # The counters come on $tsdb/admin/<client id>/stats, then "done" on
        # $tsdb/reply/<client id>.
        c.on_message = lambda cl, u, m: got.append(m.payload) if m.topic.startswith("$tsdb/admin/") \
            else None
        c.connect("127.0.0.1", self.port)
        c.loop_start()
        try:
            c.subscribe([("$tsdb/admin/%s/stats" % cid, 0)])
            time.sleep(0.2)
            c.publish("$CONTROL/tsdb/v1", json.dumps({"commands": [{"command": "stats"}]}), qos=1)
            deadline = time.monotonic() + 15
            while not got and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            c.loop_stop()
            c.disconnect()
        if not got:
            return None
        try:
            r = json.loads(got[0])["responses"][0]
            host = dict(r["host"])  # {"accepted": N, "refused": {reason: N}, ...}
            host["engine"] = r.get("engine", {})
            return host
        except (ValueError, KeyError, IndexError):
            return None

    def stop(self, timeout=None):
        clean = stop(self.proc, timeout=timeout or self.ctx.args.stop_timeout)
        self.logf.close()
        return clean

    def accepted_at_stop(self):
        """The plugin's own count of accepted messages, from its last log line
        ("tsdb: stopped accepted=N ..."), or None."""
        m = re.search(r"tsdb: stopped accepted=(\d+)", self.log())
        return int(m.group(1)) if m else None


def ours_count(ctx, data_dir):
    out = subprocess.run([os.path.join(ctx.bin, "fieldbench"), "count", data_dir],
                         capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError("fieldbench count: " + out.stderr)
    return json.loads(out.stdout)


def loadgen(ctx, port, pids, timeout=300, **kw):
    cmd = [os.path.join(ctx.bin, "loadgen"), "pub", "--port", str(port)]
    for k, v in kw.items():
        cmd += ["--" + k.replace("_", "-"), str(v)]
    for name, pid in pids.items():
        cmd += ["--pid", "%s=%d" % (name, pid)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode:
        raise RuntimeError("loadgen failed: %s" % out.stderr)
    return json.loads(out.stdout)


class VictoriaMetrics:
    def __init__(self, ctx):
        self.dir = ctx.next_dir("vm")
        self.port = free_port()
        self.logf = open(os.path.join(self.dir, "vm.log"), "wb")
        self.proc = spawn(["victoria-metrics", "-storageDataPath", os.path.join(self.dir, "data"),
                           "-httpListenAddr", "127.0.0.1:%d" % self.port, "-retentionPeriod", "5y",
                           "-search.latencyOffset", "0s", "-loggerLevel", "ERROR"],
                          stdout=self.logf, stderr=subprocess.STDOUT)
        wait_listening(self.port, self.proc, "victoria-metrics")
        self.pid = self.proc.pid

    def flush(self):
        http(self.port, "/internal/force_flush")

    def count(self, metric):
        self.flush()
        q = urllib.parse.urlencode({"query": "sum(count_over_time(%s_pm10[3d]))" % metric,
                                    "time": "%.3f" % time.time()})
        _, body = http(self.port, "/api/v1/query?" + q)
        res = json.loads(body)["data"]["result"]
        return int(float(res[0]["value"][1])) if res else 0

    def count_window(self, metric, t0, t1):
        """Samples of <metric>_pm10 with times in [t0, t1] (wall-clock s)."""
        self.flush()
        w = int((t1 - t0) * 1000) + 2
        q = urllib.parse.urlencode({"query": "sum(count_over_time(%s_pm10[%dms]))" % (metric, w),
                                    "time": "%.3f" % (t1 + 0.001), "nocache": "1"})
        _, body = http(self.port, "/api/v1/query?" + q)
        res = json.loads(body)["data"]["result"]
        return int(float(res[0]["value"][1])) if res else 0

    def compact_and_measure(self):
        """Flush, force a full merge, wait until the size is stable."""
        self.flush()
        month = datetime.datetime.utcnow().strftime("%Y_%m")
        http(self.port, "/internal/force_merge")
        http(self.port, "/internal/force_merge?partition_prefix=" + month)
        return stable_size(os.path.join(self.dir, "data"), skip=("cache", "snapshots", "tmp"))

    def stop(self):
        stop(self.proc, 60)
        self.logf.close()


INFLUX_CONF = """reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  index-version = "inmem"
  # A city has more than the default 100 000 stations a tag may name.
  max-values-per-tag = 0
  max-series-per-database = 0
{extra}
[coordinator]
[retention]
  enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
[logging]
  level = "warn"
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
"""


class InfluxDB:
    def __init__(self, ctx, compact_fast=False):
        self.dir = ctx.next_dir("influx")
        self.port = free_port()
        extra = ""
        if compact_fast:
            extra = ('  cache-snapshot-write-cold-duration = "1s"\n'
                     '  compact-full-write-cold-duration = "2s"\n')
        conf = os.path.join(self.dir, "influxdb.conf")
        with open(conf, "w") as f:
            f.write(INFLUX_CONF.format(rpc=free_port(), d=self.dir, http=self.port, extra=extra))
        self.logf = open(os.path.join(self.dir, "influxd.log"), "wb")
        self.proc = spawn(["influxd", "run", "-config", conf], stdout=self.logf,
                          stderr=subprocess.STDOUT)
        wait_listening(self.port, self.proc, "influxd")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if http(self.port, "/ping")[0] == 204:
                    break
            except OSError:
                time.sleep(0.1)
        http(self.port, "/query?q=CREATE%20DATABASE%20bench", data=b"", method="POST")
        self.pid = self.proc.pid

    def query(self, q):
        _, body = http(self.port, "/query?" + urllib.parse.urlencode({"db": "bench", "q": q}))
        return json.loads(body)

    def count(self, measurement, where=""):
        r = self.query("SELECT count(pm10) FROM %s%s" % (measurement, where))
        try:
            return int(r["results"][0]["series"][0]["values"][0][1])
        except (KeyError, IndexError):
            return 0

    def count_window(self, measurement, t0, t1):
        """Points with times in [t0, t1] (wall-clock s)."""
        return self.count(measurement, " WHERE time >= %dms AND time <= %dms" %
                          (int(t0 * 1000), int(t1 * 1000) + 1))

    def compact_and_measure(self):
        """Waits for the cache snapshot (WAL emptied) and the full compaction
        (cold after 2 s), until the TSM size is stable."""
        wal = os.path.join(self.dir, "wal")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and dir_bytes(wal) > 64 * 1024:
            time.sleep(0.5)
        time.sleep(3)
        stable_size(os.path.join(self.dir, "data"))
        # The TSM files: InfluxDB's own "data files". The series file under
        # data/<db>/_series is preallocated and would dominate small datasets.
        tsm = 0
        for root, _, files in os.walk(os.path.join(self.dir, "data")):
            tsm += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith(".tsm"))
        return tsm, dir_bytes(os.path.join(self.dir, "data"))

    def stop(self):
        stop(self.proc, 60)
        self.logf.close()


def stable_size(path, skip=(), quiet=4.0, limit=180.0):
    """The directory's size once it has not changed for `quiet` seconds."""
    t0 = time.monotonic()
    last, since = -1, time.monotonic()
    while time.monotonic() - t0 < limit:
        n = dir_bytes(path, skip)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.5)
    return last


# ---------------------------------------------------------------- sections

def section_loadgen_ceiling(ctx):
    """The generator against a sink that only counts: its own ceiling."""
    port = free_port()
    sink = spawn([os.path.join(ctx.bin, "loadgen"), "sink", "--port", str(port), "--seconds", "60"],
                 stdout=subprocess.PIPE)
    try:
        wait_listening(port, sink, "loadgen sink")
        res = {}
        for qos in (0, 1):
            r = loadgen(ctx, port, {}, duration=2, qos=qos, latency_every=0)
            res["qos%d" % qos] = {"msgs_per_s": r["msgs_per_s"],
                                  "loadgen_cpu_us_per_msg": r["loadgen_cpu_s"] / r["sent"] * 1e6}
        # Paho MQTT C (synchronous client, one connection, QoS 0) on the same sink.
        paho = os.path.join(ctx.bin, "paho_ceiling")
        if os.path.exists(paho):
            r = subprocess.run([paho, "--port", str(port), "--seconds", "2"], capture_output=True,
                               text=True, timeout=60)
            if r.returncode == 0:
                res["paho_qos0"] = json.loads(r.stdout)
        return res
    finally:
        stop(sink, 5)


OVERHEAD_LOADS = {
    # The broker's ceiling: 4 connections, messages written back to back.
    "saturation": {"publishers": 4, "rate": 0},
    # Devices: 100 connections at a fixed total rate, each message its own write.
    "device": {"publishers": 100, "rate": 20000, "batch": 1},
}
OVERHEAD_MODES = {("saturation", 0): ["bare", "validate", "async"],
                  ("saturation", 1): ["bare", "validate", "async", "sync", "fsync"],
                  ("device", 0): ["bare", "validate", "async"],
                  ("device", 1): ["bare", "validate", "async", "sync"]}


def section_overhead(ctx):
    a = ctx.args
    runs = []
    for rep in range(a.reps):
        for (load, qos), ms in OVERHEAD_MODES.items():
            # Rotate the order every repetition: no mode always runs first.
            order = ms[rep % len(ms):] + ms[:rep % len(ms)]
            for mode in order:
                b = Broker(ctx, mode)
                try:
                    r = loadgen(ctx, b.port, {"broker": b.pid}, duration=a.overhead_seconds,
                                qos=qos, kind="json", series=1000, settle_max=a.settle_max,
                                id="oh%d" % rep, **OVERHEAD_LOADS[load])
                    st = b.stats()
                finally:
                    clean = b.stop()
                row = {"rep": rep, "load": load, "qos": qos, "mode": mode, "sent": r["sent"],
                       "msgs_per_s": r["msgs_per_s"], "cpu_us_per_msg": r["cpu_us_per_msg"],
                       "thread_us_per_msg": r["main_thread_us_per_msg"],
                       "e2e_p50_ms": r["e2e_p50_ms"], "e2e_p99_ms": r["e2e_p99_ms"],
                       "ack_p50_ms": r["ack_p50_ms"], "ack_p99_ms": r["ack_p99_ms"],
                       "acked_ok": r["acked_ok"], "refused_0x87": r["refused_0x87"],
                       "settle_s": r["settle_s"], "stopped_cleanly": clean}
                if st:
                    row["plugin_accepted"] = st.get("accepted")
                    row["plugin_refused"] = sum(st.get("refused", {}).values())
                if mode != "bare":
                    row["plugin_accepted_at_stop"] = b.accepted_at_stop()
                if mode in ("async", "sync", "fsync"):
                    row["stored_points"] = ours_count(ctx, b.data)["points"]
                runs.append(row)
                log("overhead rep %d %-10s qos %d %-8s %9.0f msg/s %7.2f us/msg (broker CPU)" %
                    (rep, load, qos, mode, r["msgs_per_s"], r["cpu_us_per_msg"]))
                shutil.rmtree(b.dir, ignore_errors=True)
    summary = []
    for (load, qos), ms in OVERHEAD_MODES.items():
        sel = [x for x in runs if x["qos"] == qos and x["load"] == load]
        bare = [x for x in sel if x["mode"] == "bare"]
        bare_rate = median([x["msgs_per_s"] for x in bare])
        bare_cpu = median([x["cpu_us_per_msg"] for x in bare])
        for mode in ms:
            xs = [x for x in sel if x["mode"] == mode]
            rate = median([x["msgs_per_s"] for x in xs])
            cpu = median([x["cpu_us_per_msg"] for x in xs])
            # Ratios within each repetition (runs next to each other), then their median.
            per_rep, per_rep_cpu, per_rep_thread = [], [], []
            for x in xs:
                bb = [y for y in bare if y["rep"] == x["rep"]]
                if bb:
                    per_rep.append(x["msgs_per_s"] / bb[0]["msgs_per_s"])
                    per_rep_cpu.append(x["cpu_us_per_msg"] / bb[0]["cpu_us_per_msg"])
                    if bb[0]["thread_us_per_msg"]:
                        per_rep_thread.append(x["thread_us_per_msg"] / bb[0]["thread_us_per_msg"])
            summary.append({"load": load, "qos": qos, "mode": mode, "msgs_per_s": rate,
                            "cpu_us_per_msg": cpu, "ratio_to_bare": median(per_rep),
                            "ratio_of_medians": ratio(rate, bare_rate),
                            "cpu_ratio_to_bare": median(per_rep_cpu),
                            "thread_us_per_msg": median([x["thread_us_per_msg"] for x in xs]),
                            "thread_ratio_to_bare": median(per_rep_thread),
                            "e2e_p50_ms": median([x["e2e_p50_ms"] for x in xs]),
                            "e2e_p99_ms": median([x["e2e_p99_ms"] for x in xs]),
                            "ack_p50_ms": median([x["ack_p50_ms"] for x in xs]) if qos else None,
                            "ack_p99_ms": median([x["ack_p99_ms"] for x in xs]) if qos else None,
                            "refused_0x87": sum(x["refused_0x87"] for x in xs),
                            "refused_counted": sum(x.get("plugin_refused") or 0 for x in xs),
                            "stored_points": sum(x.get("stored_points", 0) for x in xs),
                            "sent": sum(x["sent"] for x in xs)})
    return {"runs": runs, "summary": summary, "loads": OVERHEAD_LOADS}


PIPELINES = ["ours", "c-vm", "c-influx", "py-vm", "py-influx"]


class Subscriber:
    """A DIY subscriber, sub_c or sub_py.py ("c" or "py"), from a broker to a
    database's /write (target "vm" or "influx"), into measurement `meas`."""

    def __init__(self, ctx, lang, broker, target, http_port, meas, qos=0, name="sub"):
        ctx.runs += 1
        if lang == "c":
            cmd = [os.path.join(ctx.bin, "sub_c")]
        else:
            cmd = [PY, os.path.join(HERE, "sub_py.py")]
        cmd += ["--port", str(broker.port), "--http-port", str(http_port), "--target", target,
                "--measurement", meas, "--id", "sub-%d" % ctx.runs, "--qos", str(qos)]
        self.log_path = os.path.join(broker.dir, "%s-%d.log" % (name, ctx.runs))
        self.errf = open(self.log_path, "wb")
        self.proc = spawn(cmd, stdout=subprocess.PIPE, stderr=self.errf)
        self.pid = self.proc.pid
        try:
            # Ready once connected: wait for its log line, then for the SUBACK.
            deadline = time.monotonic() + 20
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError("subscriber %s-%s exited at start" % (lang, target))
                if time.monotonic() > deadline:
                    raise RuntimeError("subscriber %s-%s not ready in 20 s" % (lang, target))
                with open(self.log_path, "rb") as f:
                    if b"ready" in f.read():
                        break
                time.sleep(0.05)
            time.sleep(0.3)
        except RuntimeError:
            self.stop()
            raise

    def stop(self, timeout=60):
        """SIGTERM: it sends what it holds and prints its counters, returned."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        if self.proc in STARTED:
            STARTED.remove(self.proc)
        self.errf.close()
        try:
            return json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {}


def pipeline_run(ctx, name, rate, rep, vm, influx):
    a = ctx.args
    if name == "ours":
        b = Broker(ctx, "async")
        try:
            r = loadgen(ctx, b.port, {"broker": b.pid}, duration=a.pipeline_seconds, rate=rate,
                        qos=0, kind="json", settle_max=a.settle_max, id="p%d" % rep)
            st = b.stats()
        finally:
            clean = b.stop()
        pts = ours_count(ctx, b.data)["points"]
        accepted = b.accepted_at_stop()
        shutil.rmtree(b.dir, ignore_errors=True)
        # Refusals as the plugin counted them: its stats command, or else what
        # it did not accept (every message of the load is valid).
        if st:
            refused = sum(st.get("refused", {}).values())
        elif accepted is not None:
            refused = r["sent"] - accepted
        else:
            refused = None
        return {"stored": pts // 5, "stored_points": pts, "refused_counted": refused, "r": r,
                "accepted": accepted, "stopped_cleanly": clean}
    lang, db = name.split("-")
    server = vm if db == "vm" else influx
    b = Broker(ctx, "bare")
    meas = "air_r%d" % (ctx.runs + 1)
    sub = None
    try:
        sub = Subscriber(ctx, lang, b, db, server.port, meas)
        r = loadgen(ctx, b.port, {"broker": b.pid, "subscriber": sub.pid, "db": server.pid},
                    duration=a.pipeline_seconds, rate=rate, qos=0, kind="json",
                    settle_max=a.settle_max, id="p%d" % rep)
    finally:
        sub_stats = sub.stop() if sub else {}
        b.stop()
    time.sleep(0.2)
    stored = server.count(meas)
    shutil.rmtree(b.dir, ignore_errors=True)
    return {"stored": stored, "sub": sub_stats, "r": r, "refused_counted": 0}


def section_pipeline(ctx):
    a = ctx.args
    vm, influx = VictoriaMetrics(ctx), InfluxDB(ctx)
    runs = []
    try:
        for rate in a.rates:
            for rep in range(a.pipeline_reps):
                k = (rep + a.rates.index(rate)) % len(PIPELINES)
                for name in PIPELINES[k:] + PIPELINES[:k]:
                    x = pipeline_run(ctx, name, rate, rep, vm, influx)
                    r = x["r"]
                    cpu = r["cpu_total_s"]
                    row = {"pipeline": name, "rate": rate, "rep": rep, "sent": r["sent"],
                           "stored": x["stored"], "lost": r["sent"] - x["stored"]
                           - (x["refused_counted"] or 0),
                           "refused_counted": x["refused_counted"],
                           "plugin_accepted": x.get("accepted"),
                           "stopped_cleanly": x.get("stopped_cleanly", True),
                           "offered_msgs_per_s": r["msgs_per_s"],
                           "stored_msgs_per_s": x["stored"] / r["seconds"],
                           "cpu_s": r["cpu_s"], "cpu_total_s": cpu,
                           "cpu_s_per_million_stored": cpu / x["stored"] * 1e6 if x["stored"] else None,
                           "e2e_p50_ms": r["e2e_p50_ms"], "e2e_p99_ms": r["e2e_p99_ms"],
                           "settle_s": r["settle_s"], "subscriber": x.get("sub")}
                    runs.append(row)
                    log("pipeline %-9s rate %6s rep %d: sent %8d stored %8d lost %7d  %7.0f msg/s"
                        "  %6.1f CPU-s/M" % (name, rate or "max", rep, row["sent"], row["stored"],
                                             row["lost"], row["stored_msgs_per_s"],
                                             row["cpu_s_per_million_stored"] or -1))
        # Ours at QoS 1 and maximum rate: overload shows as counted 0x87.
        qos1 = []
        for rep in range(a.pipeline_reps):
            b = Broker(ctx, "async")
            try:
                r = loadgen(ctx, b.port, {"broker": b.pid}, duration=a.pipeline_seconds, rate=0,
                            qos=1, kind="json", settle_max=a.settle_max, id="q1-%d" % rep)
                st = b.stats()
            finally:
                b.stop()
            pts = ours_count(ctx, b.data)["points"]
            accepted = b.accepted_at_stop()
            shutil.rmtree(b.dir, ignore_errors=True)
            qos1.append({"sent": r["sent"], "acked_ok": r["acked_ok"], "plugin_accepted": accepted,
                         "refused_0x87": r["refused_0x87"], "stored": pts // 5,
                         "silent_loss": r["acked_ok"] - pts // 5,
                         "plugin_refused": (st or {}).get("refused")})
            log("ours qos1 max: sent %d acked %d refused 0x87 %d stored %d" %
                (r["sent"], r["acked_ok"], r["refused_0x87"], pts // 5))
    finally:
        vm.stop()
        influx.stop()
    summary = {}
    for name in PIPELINES:
        xs = [x for x in runs if x["pipeline"] == name]
        per_rate = []
        for rate in a.rates:
            ys = [x for x in xs if x["rate"] == rate]
            per_rate.append({"rate": rate,
                             "offered_msgs_per_s": median([y["offered_msgs_per_s"] for y in ys]),
                             "stored_msgs_per_s": median([y["stored_msgs_per_s"] for y in ys]),
                             "lost": median([y["lost"] for y in ys]),
                             "lost_fraction": median([y["lost"] / y["sent"] for y in ys]),
                             "refused_counted": median([y["refused_counted"] or 0 for y in ys]),
                             "cpu_s_per_million_stored":
                                 median([y["cpu_s_per_million_stored"] for y in ys]),
                             "e2e_p50_ms": median([y["e2e_p50_ms"] for y in ys]),
                             "e2e_p99_ms": median([y["e2e_p99_ms"] for y in ys])})
        lossless = [p for p in per_rate if p["lost"] == 0 and p["refused_counted"] == 0]
        best = max(lossless, key=lambda p: p["stored_msgs_per_s"]) if lossless else None
        summary[name] = {"per_rate": per_rate,
                         "max_lossless_msgs_per_s": best["stored_msgs_per_s"] if best else None,
                         "max_lossless_at_rate": best["rate"] if best else None,
                         "cpu_s_per_million_at_max_lossless":
                             best["cpu_s_per_million_stored"] if best else None}
    return {"runs": runs, "summary": summary, "ours_qos1_overload": qos1}


def section_storage(ctx):
    a = ctx.args
    days = {"a": a.days_a, "b": a.days_a, "c": a.days_c, "d": a.days_a}
    out = {}
    # Ours: the engine benchmark, raw and with tiers.
    eb_json = ctx.path("engine_bench.json")
    cmd = [os.path.join(ctx.bin, "engine_bench"), "--only", "ingest", "--json", eb_json,
           "--dir", ctx.path("engine-bench")]
    if a.mode == "quick":
        cmd.insert(1, "--quick")
    os.makedirs(ctx.path("engine-bench"), exist_ok=True)
    log("storage: engine_bench " + " ".join(cmd[1:]))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=3600)
    with open(eb_json) as f:
        eb = json.load(f)
    for d in eb["datasets"]:
        out[d["dataset"]] = {"days": d["days"], "points": d["points"],
                             "ours_raw_bpp": d["raw_bytes_per_point"],
                             "ours_with_tiers_bpp": d["bytes_per_point_with_tiers"]}
    for ds in "abcd":
        if ds not in out:
            continue
        if out[ds]["days"] != days[ds]:
            days[ds] = out[ds]["days"]
        vm, influx = VictoriaMetrics(ctx), InfluxDB(ctx, compact_fast=True)
        try:
            t0 = time.monotonic()
            r = subprocess.run([os.path.join(ctx.bin, "fieldbench"), "load", "--gen",
                                os.path.join(ctx.bin, "dataset_gen"), "--dataset", ds,
                                "--days", str(days[ds]), "--vm", str(vm.port),
                                "--influx", str(influx.port)],
                               capture_output=True, text=True, timeout=3600)
            if r.returncode:
                raise RuntimeError("fieldbench load: " + r.stderr)
            n = json.loads(r.stdout)["points"]
            vm_bytes = vm.compact_and_measure()
            influx_bytes = influx.compact_and_measure()
        finally:
            vm.stop()
            influx.stop()
        out[ds].update({"vm_bpp": vm_bytes / n, "influx_bpp": influx_bytes[0] / n,
                        "influx_data_dir_bpp": influx_bytes[1] / n, "loaded_points": n})
        log("storage %s: ours %.3f (with tiers %.3f) VM %.3f InfluxDB %.3f B/point (%.0f s)" %
            (ds, out[ds]["ours_raw_bpp"], out[ds]["ours_with_tiers_bpp"], out[ds]["vm_bpp"],
             out[ds]["influx_bpp"], time.monotonic() - t0))
    return out


def section_queries(ctx):
    a = ctx.args
    vm, influx = VictoriaMetrics(ctx), InfluxDB(ctx, compact_fast=True)
    try:
        d = ctx.path("query-ours")
        r = subprocess.run([os.path.join(ctx.bin, "fieldbench"), "query", "--dir", d, "--gen",
                            os.path.join(ctx.bin, "dataset_gen"), "--vm", str(vm.port),
                            "--influx", str(influx.port), "--reps", str(a.query_reps)],
                           capture_output=True, text=True, timeout=3600)
        if r.stderr:
            log(r.stderr.strip())
        if r.returncode:
            raise RuntimeError("fieldbench query failed")
        res = json.loads(r.stdout)
    finally:
        vm.stop()
        influx.stop()
    for q in res["queries"]:
        log("query %-9s ours %8.3f ms  VM %8.3f ms  InfluxDB %8.3f ms (p50)" %
            (q["name"], q["ours_p50_ms"], q["vm_p50_ms"], q["influx_p50_ms"]))
    return res


# ---------------------------------------------------------------- city

# Issue 13: the shape of a city. Every station publishes the `json` kind
# (air-quality, 5 fields) with the wall-clock time of sending, each through
# its share of CITY publisher connections, every message its own write.
CITY_SYSTEMS = ["ours", "c-vm", "c-influx", "py-vm", "py-influx"]
CITY_RATES = [("1/min", 60), ("1/10s", 10)]  # seconds between a station's messages
# How run.sh starts the broker (README, "Memory"): glibc's mmap threshold fixed.
MALLOC_ENV = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def thread_cpu(pid):
    """CPU seconds of a process's live threads in three groups: "main" (the
    broker's loop, with the plugin's message callback), "rocksdb" (its
    flush and compaction threads, which it names) and "plugin" (the rest:
    the engine's writer, maintenance and control threads)."""
    out = {"main": 0.0, "plugin": 0.0, "rocksdb": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                line = f.read()
        except OSError:
            continue
        comm = line[line.index("(") + 1:line.rindex(")")]
        fields = line[line.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick
        group = "main" if int(tid) == pid else "rocksdb" if comm.startswith("rocksdb") else "plugin"
        out[group] += cpu
    return out


class CityInstance:
    """One system for one city, fresh: ours (mosquitto + plugin, async) or a
    DIY pipeline (bare mosquitto, a subscriber, a VictoriaMetrics or InfluxDB
    of its own). Its idle RSS is read first, then one message of every
    station (at city_warm_rate) makes every series exist before any step is
    measured. Each step() is one loadgen run at a rate; what it sent is
    compared with what was stored:
      ours  the plugin's counters before and after (accepted, refused by
            reason, points written), and at close() the points on disk
            against everything it accepted;
      DIY   the points the database holds with times inside the step (every
            message carries the time it was sent)."""

    def __init__(self, ctx, system, stations):
        a = ctx.args
        self.ctx, self.system, self.stations = ctx, system, stations
        self.sub = self.db = None
        self.broker = self.last_stats = None
        try:
            if system == "ours":
                self.broker = Broker(ctx, "async", env=MALLOC_ENV)
                self.pids = {"broker": self.broker.pid}
            else:
                lang, kind = system.split("-")
                self.db = VictoriaMetrics(ctx) if kind == "vm" else InfluxDB(ctx)
                self.broker = Broker(ctx, "bare", env=MALLOC_ENV)
                self.meas = "city"
                self.sub = Subscriber(ctx, lang, self.broker, kind, self.db.port, self.meas)
                self.pids = {"broker": self.broker.pid, "subscriber": self.sub.pid,
                             "db": self.db.pid}
            time.sleep(1.0)
            self.rss_idle = {k: rss_kb(p) for k, p in self.pids.items()}
            self.warm = self.step("warm-up", min(a.city_warm_rate, stations),
                                  count=stations)
        except BaseException:
            self.close()
            raise

    def step(self, label, rate, seconds=None, count=None, interval=None):
        a = self.ctx.args
        rate = max(1, int(round(rate)))
        # The counters after the last step are those before this one.
        before = None
        if self.system == "ours":
            before = self.last_stats or self.broker.stats()
        kw = {"rate": rate, "qos": 0, "kind": "json", "series": self.stations,
              "publishers": a.city_publishers, "batch": 1, "ts": "now", "spread": 1,
              "latency_every": 1000, "settle_max": a.city_settle, "id": "city"}
        if count:
            kw.update(count=count, duration=count / rate + 60)
        else:
            kw["duration"] = seconds
        if interval:
            kw["interval"] = interval
        threads0 = thread_cpu(self.broker.pid) if self.system == "ours" else None
        t_start = time.time()
        r = loadgen(self.ctx, self.broker.port, self.pids,
                    timeout=kw["duration"] + a.city_settle + 180, **kw)
        t_end = time.time()
        threads1 = thread_cpu(self.broker.pid) if self.system == "ours" else None
        sent = r["sent"]
        row = {"stations": self.stations, "series": self.stations * 5, "system": self.system,
               "label": label, "rate": rate, "seconds": r["seconds"], "sent": sent,
               "msgs_per_s": r["msgs_per_s"], "settle_s": r["settle_s"],
               "kept_up": r["settle_s"] < a.city_settle - 0.2,
               "cpu_us_per_msg": {k: v / sent * 1e6 for k, v in r["cpu_s"].items()},
               "cpu_us_per_msg_total": r["cpu_total_s"] / sent * 1e6,
               "loadgen_cpu_us_per_msg": r["loadgen_cpu_s"] / sent * 1e6,
               "rss_kb": r["rss_kb"], "rss_idle_kb": self.rss_idle,
               "e2e_p50_ms": r["e2e_p50_ms"], "e2e_p99_ms": r["e2e_p99_ms"],
               "probes_lost": r["probes_sent"] - r["probes_received"]}
        # RSS per active series: what the processes grew by over their idle
        # selves (ours: the broker; DIY: broker + subscriber + database).
        grown = [r["rss_kb"].get(k, -1) - v for k, v in self.rss_idle.items()
                 if v is not None and r["rss_kb"].get(k, -1) >= 0]
        row["rss_per_series_b"] = (sum(grown) * 1024 / row["series"]
                                   if len(grown) == len(self.pids) else None)
        if threads0 and threads1:
            row["broker_threads_us_per_msg"] = {k: (threads1[k] - threads0[k]) / sent * 1e6
                                                for k in threads0}
        if self.system == "ours":
            after = self.last_stats = self.broker.stats()
            if before and after:
                row["refused_by_reason"] = {k: v - before["refused"].get(k, 0)
                                            for k, v in after["refused"].items()
                                            if v - before["refused"].get(k, 0)}
                row["refused"] = sum(row["refused_by_reason"].values())
                row["accepted"] = after["accepted"] - before["accepted"]
                row["stored"] = (after["engine"]["points_written"]
                                 - before["engine"]["points_written"]) // 5
                row["queue_full"] = (after["engine"]["queue_full"]
                                     - before["engine"]["queue_full"])
            else:
                row["refused"] = row["stored"] = None
        else:
            time.sleep(0.5)  # the subscriber's last batch
            row["refused"] = 0
            row["stored"] = self.db.count_window(self.meas, t_start - 0.001, t_end)
        if row["stored"] is not None:
            row["lost"] = sent - row["refused"] - row["stored"]
        else:
            row["lost"] = None
        row["lossless"] = row["refused"] == 0 and row["lost"] == 0 and row["kept_up"]
        if interval:
            row["intervals"] = r.get("intervals", [])
        log("city %6d stations %-9s %-8s %6d msg/s: sent %8d refused %7s lost %7s  "
            "%7.1f us/msg (%s)  settle %.1f s" %
            (self.stations, self.system, label, rate, sent, row["refused"], row["lost"],
             row["cpu_us_per_msg_total"],
             " ".join("%s %.1f" % kv for kv in row["cpu_us_per_msg"].items()), r["settle_s"]))
        return row

    def close(self):
        """Stops everything; ours: the points on disk against what the plugin
        accepted in its whole life."""
        final = {"system": self.system, "stations": self.stations}
        if self.sub:
            final["subscriber"] = self.sub.stop()
            self.sub = None
        if self.broker:
            final["stopped_cleanly"] = self.broker.stop(timeout=60)
            if self.system == "ours":
                acc = self.broker.accepted_at_stop()
                try:
                    pts = ours_count(self.ctx, self.broker.data)["points"]
                except (RuntimeError, ValueError, subprocess.SubprocessError) as e:
                    log("city: count failed: %s" % e)
                    pts = None
                final.update(accepted=acc, points=pts,
                             unwritten_points=acc * 5 - pts if acc is not None and pts is not None
                             else None)
            shutil.rmtree(self.broker.dir, ignore_errors=True)
            self.broker = None
        if self.db:
            self.db.stop()
            shutil.rmtree(self.db.dir, ignore_errors=True)
            self.db = None
        return final


def city_search(ctx, system, stations, inst, fixed, rows, finals):
    """The highest rate at which nothing is refused or lost and the pipeline
    is idle again within city_settle s: from what the fixed rates showed,
    double until a step fails, then bisect. After a failing step the backlog
    would spill into the next one: a fresh instance. Returns (rate, inst)."""
    a = ctx.args
    lo = max([x["rate"] for x in fixed if x["lossless"]], default=None)
    hi = min([x["rate"] for x in fixed if not x["lossless"]], default=None)
    if lo is not None and hi is not None and hi <= lo:
        lo = None  # a lower rate failed: start below it
    for _ in range(a.city_search_steps):
        if hi is None:
            if lo >= a.city_rate_cap:
                break
            r = min(lo * 2, a.city_rate_cap)
        elif lo is None:
            r = hi // 2
            if r < stations / 60 / 4:
                break
        else:
            if hi <= lo * a.city_search_precision:
                break
            r = (lo + hi) // 2
        if inst is None:
            inst = CityInstance(ctx, system, stations)
            rows.append(inst.warm)
        x = inst.step("search", r, seconds=a.city_search_seconds)
        rows.append(x)
        if x["lossless"]:
            lo = x["rate"]
        else:
            hi = x["rate"]
            finals.append(inst.close())
            inst = None
    return lo, hi, inst


def city_hour(ctx, stations):
    """An hour of once-a-minute data of every station, backdated (station
    timestamps from an hour ago, a minute apart), into all three stores at
    once: loadgen publishes at QoS 1, as fast as it can, into mosquitto +
    plugin (async), pausing after every city_hour_settle_every messages until
    the broker is idle, so that the plugin's queue never holds more than
    that (as fast as the engine writes, nothing refused: the 0x87 count
    says); two sub_c at QoS 1 (no queue limit on the broker: nothing dropped)
    forward the same messages to
    VictoriaMetrics and InfluxDB. Then bytes per point on disk after flush
    and full compaction in each."""
    a = ctx.args
    b = Broker(ctx, "async", env=MALLOC_ENV, conf=["max_queued_messages 0"])
    vm, influx = VictoriaMetrics(ctx), InfluxDB(ctx, compact_fast=True)
    subs = []
    out = {"stations": stations, "rounds": 60, "step_s": 60}
    try:
        subs = [Subscriber(ctx, "c", b, "vm", vm.port, "hour", qos=1, name="sub-vm"),
                Subscriber(ctx, "c", b, "influx", influx.port, "hour", qos=1, name="sub-influx")]
        t0 = time.monotonic()
        r = loadgen(ctx, b.port, {"broker": b.pid, "sub_vm": subs[0].pid, "sub_influx": subs[1].pid,
                                  "vm": vm.pid, "influx": influx.pid},
                    timeout=4 * 3600, rate=0, qos=1, kind="json", series=stations,
                    publishers=a.city_publishers, count=stations * 60, duration=4 * 3600,
                    ts_start=-3600, ts_step=60, latency_every=0, settle_max=a.city_settle,
                    settle_every=a.city_hour_settle_every, id="hour")
        st = b.stats()
        refused = sum(st["refused"].values()) if st else None
        out.update(sent=r["sent"], msgs_per_s=r["msgs_per_s"], paused_s=r["paused_s"],
                   refused=refused, acked_ok=r["acked_ok"], refused_0x87=r["refused_0x87"], load_seconds=round(time.monotonic() - t0, 1),
                   cpu_us_per_msg={k: v / r["sent"] * 1e6 for k, v in r["cpu_s"].items()})
        log("city hour: %d messages in %.0f s (%.0f msg/s), %s refused" %
            (r["sent"], out["load_seconds"], r["msgs_per_s"], refused))
        # The subscribers catch up: wait until both stores hold every message
        # or stop growing (bounded).
        deadline, last, since = time.monotonic() + 600, None, time.monotonic()
        while time.monotonic() < deadline:
            n = (vm.count("hour"), influx.count("hour"))
            if n[0] >= r["sent"] and n[1] >= r["sent"]:
                break
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since > 20:
                break
            time.sleep(2)
        out["subscribers"] = [s.stop() for s in subs]
        subs = []
        out["broker_stopped_cleanly"] = b.stop()
        c = subprocess.run([os.path.join(ctx.bin, "fieldbench"), "count", b.data, "--compact"],
                           capture_output=True, text=True, timeout=3600)
        if c.returncode:
            raise RuntimeError("fieldbench count --compact: " + c.stderr)
        ours = json.loads(c.stdout)
        d = ours["disk"]
        out["ours"] = {"points": ours["points"], "disk": d,
                       "raw_bpp": d["raw"] / ours["points"],
                       "with_tiers_bpp": (d["raw"] + d["agg"] + d["other"]) / ours["points"]}
        nv, ni = vm.count("hour") * 5, influx.count("hour") * 5
        vm_bytes = vm.compact_and_measure()
        tsm, influx_dir = influx.compact_and_measure()
        out["vm"] = {"points": nv, "bytes": vm_bytes, "bpp": vm_bytes / nv if nv else None}
        out["influx"] = {"points": ni, "tsm_bytes": tsm, "dir_bytes": influx_dir,
                         "bpp": tsm / ni if ni else None,
                         "dir_bpp": influx_dir / ni if ni else None}
        log("city hour: bytes/point ours %.3f (with tiers %.3f), VM %s, InfluxDB %s "
            "(points %d / %d / %d)" % (out["ours"]["raw_bpp"], out["ours"]["with_tiers_bpp"],
                                       fmt(out["vm"]["bpp"], 3), fmt(out["influx"]["bpp"], 3),
                                       ours["points"], nv, ni))
    finally:
        for s in subs:
            s.stop()
        b.stop()
        vm.stop()
        influx.stop()
        shutil.rmtree(b.dir, ignore_errors=True)
    return out


def city_minutes(row):
    """CPU µs a message of all processes for each whole interval of a long
    run (the last sample, the end of the settle wait, is the tail)."""
    iv = row.get("intervals") or []
    out = []
    for p, q in zip(iv, iv[1:]):
        if q["t"] - p["t"] < 0.9 * 60 or q["sent"] <= p["sent"]:
            continue
        cpu = sum(q["cpu_s"].values()) - sum(p["cpu_s"].values())
        out.append({"minute": len(out) + 1, "sent": q["sent"] - p["sent"],
                    "cpu_us_per_msg": cpu / (q["sent"] - p["sent"]) * 1e6,
                    "cpu_us_per_msg_by_process": {
                        k: (q["cpu_s"][k] - p["cpu_s"][k]) / (q["sent"] - p["sent"]) * 1e6
                        for k in q["cpu_s"]},
                    "rss_kb": q["rss_kb"]})
    return out


def section_city(ctx):
    a = ctx.args
    rows, finals, searches, longs = [], [], [], []
    out = {"args": {k: getattr(a, k) for k in dir(a) if k.startswith("city_")},
           "rows": rows, "instances": finals, "searches": searches, "long": longs}
    ctx.partial["city"] = out  # kept if the section fails half-way
    t_section = time.monotonic()
    k = 0
    # The city sizes: both fixed rates, every system, then the lossless search.
    for stations in a.city_stations:
        for system in CITY_SYSTEMS[k % 5:] + CITY_SYSTEMS[:k % 5]:
            inst = CityInstance(ctx, system, stations)
            try:
                rows.append(inst.warm)
                fixed = []
                for name, every in CITY_RATES:
                    if system.startswith("py") and name not in a.city_py_rates:
                        continue
                    x = inst.step(name, stations / every, seconds=a.city_seconds)
                    rows.append(x)
                    fixed.append(x)
                if system in a.city_search_systems:
                    lo, hi, inst = city_search(ctx, system, stations, inst, fixed, rows, finals)
                    searches.append({"system": system, "stations": stations,
                                     "series": stations * 5, "max_lossless_rate": lo,
                                     "lowest_failing_rate": hi})
                    log("city %d stations %s: highest lossless rate %s msg/s (lowest failing %s)"
                        % (stations, system, lo, hi))
            finally:
                if inst:
                    finals.append(inst.close())
        k += 1
    # Smaller cities, for the CPU against stations plot: the 10 s rate.
    for stations in a.city_sweep:
        systems = [s for s in a.city_sweep_systems
                   if not s.startswith("py") or "1/10s" in a.city_py_rates]
        for system in systems[k % len(systems):] + systems[:k % len(systems)]:
            inst = CityInstance(ctx, system, stations)
            try:
                rows.append(inst.warm)
                rows.append(inst.step("1/10s", stations / 10, seconds=a.city_sweep_seconds))
            finally:
                finals.append(inst.close())
        k += 1
    # The long run: per-minute CPU must not climb.
    for system in a.city_long_systems:
        inst = CityInstance(ctx, system, a.city_long_stations)
        try:
            rows.append(inst.warm)
            x = inst.step("long", a.city_long_stations / 10, seconds=a.city_long_seconds,
                          interval=60)
            x["minutes"] = city_minutes(x)
            rows.append(x)
            m = x["minutes"]
            x["climb"] = m[-1]["cpu_us_per_msg"] / m[1]["cpu_us_per_msg"] if len(m) >= 3 else None
            longs.append(x)
            log("city long %s: CPU us/msg per minute %s; last / second %s" %
                (system, " ".join("%.1f" % y["cpu_us_per_msg"] for y in m), fmt(x["climb"])))
        finally:
            finals.append(inst.close())
    if a.city_hour_stations:
        out["hour"] = city_hour(ctx, a.city_hour_stations)
    out["seconds"] = round(time.monotonic() - t_section, 1)
    return out


# ---------------------------------------------------------------- report

def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // 1024
    return {"nproc": os.cpu_count(), "cpu": model, "mem_mib": mem, "kernel": platform.release()}


def pkg_version(name):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                              text=True).stdout.strip() or None
    except OSError:
        return None


def fmt(x, nd=2):
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return "{:,}".format(x).replace(",", " ")
    if abs(x) >= 1000:
        return "{:,.0f}".format(x).replace(",", " ")
    return ("%%.%df" % nd) % x


def goal(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def goals_table(res):
    rows = []
    oh = res.get("overhead", {}).get("summary", [])
    for qos in (0, 1):
        x = [s for s in oh if s["qos"] == qos and s["mode"] == "async" and s["load"] == "saturation"]
        r = x[0]["ratio_to_bare"] if x else None
        rows.append(("Plugin (validate + store, async) / bare throughput, QoS %d, saturated "
                     "broker" % qos, "≥ 0.95", fmt(r), goal(r >= 0.95 if r is not None else None)))
    for qos in (0, 1):
        x = [s for s in oh if s["qos"] == qos and s["mode"] == "async" and s["load"] == "device"]
        if x:
            r = 1 / x[0]["thread_ratio_to_bare"] if x[0]["thread_ratio_to_bare"] else None
            rows.append(("Same for 100 device-like connections at 20 000 msg/s: bare ÷ plugin CPU "
                         "a message of the broker thread (its throughput bound), QoS %d" % qos,
                         "≥ 0.95", fmt(r), goal(r >= 0.95 if r is not None else None)))
    pl = res.get("pipeline", {}).get("summary", {})
    if pl:
        ours = pl.get("ours", {}).get("cpu_s_per_million_at_max_lossless")
        diy = {k: v.get("cpu_s_per_million_at_max_lossless") for k, v in pl.items() if k != "ours"}
        best = min([v for v in diy.values() if v], default=None)
        typical = min([v for k, v in diy.items() if k.startswith("py") and v], default=None)
        rows.append(("CPU-s per million messages stored, ours (all processes), at its highest "
                     "lossless rate", "≤ 15", fmt(ours, 1), goal(ours <= 15 if ours else None)))
        rb = ratio(best, ours)
        rows.append(("Best DIY pipeline CPU / ours, each at its highest lossless rate", "≥ 2.5",
                     fmt(rb), goal(rb >= 2.5 if rb else None)))
        rt = ratio(typical, ours)
        rows.append(("Typical (Python) DIY pipeline CPU / ours, each at its highest lossless rate",
                     "≥ 3", fmt(rt), goal(rt >= 3 if rt else None)))
        # The same at one rate that every pipeline sustained: batching makes CPU
        # per message fall with the rate, so this is the like-for-like figure.
        common = [p["rate"] for p in pl["ours"]["per_rate"]
                  if p["rate"] and all(q["lost"] == 0 for k in PIPELINES
                                       for q in pl[k]["per_rate"] if q["rate"] == p["rate"])]
        if common:
            c = max(common)
            at = {k: [q for q in pl[k]["per_rate"] if q["rate"] == c][0]["cpu_s_per_million_stored"]
                  for k in PIPELINES}
            b2 = min(v for k, v in at.items() if k != "ours" and v)
            t2 = min(v for k, v in at.items() if k.startswith("py") and v)
            rows.append(("CPU-s per million, ours, at %d msg/s (every pipeline lossless)" % c,
                         "≤ 15", fmt(at["ours"], 1), goal(at["ours"] <= 15)))
            rows.append(("Best DIY / ours CPU at %d msg/s" % c, "≥ 2.5", fmt(ratio(b2, at["ours"])),
                         goal(ratio(b2, at["ours"]) >= 2.5)))
            rows.append(("Typical DIY / ours CPU at %d msg/s" % c, "≥ 3", fmt(ratio(t2, at["ours"])),
                         goal(ratio(t2, at["ours"]) >= 3)))
        q1 = res["pipeline"].get("ours_qos1_overload", [])
        silent = sum(max(0, x["silent_loss"]) for x in q1)
        lost0 = sum(max(0, x["lost"]) for x in res["pipeline"]["runs"] if x["pipeline"] == "ours")
        rows.append(("Silent loss under overload, ours (QoS 1 acked but not stored; QoS 0 "
                     "neither stored nor counted)", "0", "%d / %d" % (silent, lost0),
                     goal(silent == 0 and lost0 == 0)))
    st = res.get("storage", {})
    if st:
        rv = [v["ours_raw_bpp"] / v["vm_bpp"] for v in st.values() if v.get("vm_bpp")]
        ri = [v["ours_raw_bpp"] / v["influx_bpp"] for v in st.values() if v.get("influx_bpp")]
        if rv:
            rows.append(("Bytes/point ours (raw) / VictoriaMetrics, worst dataset", "≤ 0.8",
                         fmt(max(rv)), goal(max(rv) <= 0.8)))
        if ri:
            rows.append(("Bytes/point ours (raw) / InfluxDB, worst dataset", "≤ 0.3", fmt(max(ri)),
                         goal(max(ri) <= 0.3)))
    qs = res.get("queries", {}).get("queries", [])
    y = [q for q in qs if q["name"] == "year365"]
    if y:
        y = y[0]
        rv, ri = ratio(y["ours_p50_ms"], y["vm_p50_ms"]), ratio(y["ours_p50_ms"], y["influx_p50_ms"])
        ok = y["mismatch_vm"] == 0 and y["mismatch_influx"] == 0
        note = "" if ok else " (answers differ: not counted)"
        rows.append(("365-day query p50, ours / VictoriaMetrics", "≤ 0.5", fmt(rv, 3) + note,
                     goal(rv <= 0.5 and ok)))
        rows.append(("365-day query p50, ours / InfluxDB", "≤ 0.2", fmt(ri, 3) + note,
                     goal(ri <= 0.2 and ok)))
    if "city" in res:
        rows += city_goals(res["city"])
    return rows


def city_table(city):
    """Rows of the fixed-rate steps by (stations, rate, system); medians where
    a key was measured more than once."""
    keys = []
    for x in city["rows"]:
        k = (x["stations"], x["label"], x["system"])
        if x["label"] in ("1/min", "1/10s") and k not in keys:
            keys.append(k)
    rate_order = {"1/min": 0, "1/10s": 1}
    keys.sort(key=lambda k: (k[0], rate_order[k[1]], CITY_SYSTEMS.index(k[2])))
    out = []
    for k in keys:
        xs = [x for x in city["rows"] if (x["stations"], x["label"], x["system"]) == k]
        procs = {p: median([x["cpu_us_per_msg"].get(p) for x in xs])
                 for p in ("broker", "subscriber", "db")}
        out.append({"stations": k[0], "rate": k[1], "system": k[2],
                    "msgs_per_s": median([x["msgs_per_s"] for x in xs]),
                    "cpu_us_per_msg": procs,
                    "cpu_us_per_msg_total": median([x["cpu_us_per_msg_total"] for x in xs]),
                    "rss_per_series_b": median([x["rss_per_series_b"] for x in xs]),
                    "rss_mib": {p: median([x["rss_kb"].get(p) for x in xs]) / 1024
                                for p in xs[0]["rss_kb"]},
                    "refused": sum(x["refused"] or 0 for x in xs),
                    "lost": sum(x["lost"] for x in xs) if all(x["lost"] is not None for x in xs)
                    else None})
    for r in out:
        c = [y for y in out if (y["stations"], y["rate"], y["system"]) == (r["stations"], r["rate"], "c-vm")]
        r["ours_to_c_vm"] = (ratio(r["cpu_us_per_msg_total"], c[0]["cpu_us_per_msg_total"])
                             if r["system"] == "ours" and c else None)
    return out


def city_goals(city):
    rows = []
    t = city_table(city)
    for stations in (20000, 100000):
        for rate, what in (("1/min", "once a minute"), ("1/10s", "every 10 s")):
            x = [r for r in t if (r["stations"], r["rate"], r["system"]) == (stations, rate, "ours")]
            if x and x[0]["ours_to_c_vm"] is not None:
                v = x[0]["ours_to_c_vm"]
                rows.append(("City, %s stations %s: CPU a message of all processes, ours ÷ "
                             "C→VictoriaMetrics" % (fmt(stations), what), "≤ 0.5", fmt(v),
                             goal(v <= 0.5)))
    s = [x for x in city.get("searches", []) if x["system"] == "ours" and x["series"] == 100000]
    if s:
        v = s[0]["max_lossless_rate"]
        note = "" if s[0]["lowest_failing_rate"] else " (no step failed: a lower bound)"
        rows.append(("City: highest lossless rate at 100 000 series (20 000 stations), ours",
                     "≥ 50 000 msg/s", (fmt(v) if v else "none lossless") + note,
                     goal(v is not None and v >= 50000)))
    # At the end of every step of the city sizes, the long run's included.
    rss = [x["rss_per_series_b"] for x in city["rows"] if x["system"] == "ours"
           and x["label"] in ("1/min", "1/10s", "long")
           and x["stations"] in city["args"]["city_stations"] and x["rss_per_series_b"] is not None]
    if rss:
        rows.append(("City: RSS per active series, ours (broker growth over idle ÷ series), worst "
                     "step of %s stations" % " and ".join(fmt(s) for s in city["args"]["city_stations"]),
                     "≤ 1 024 B", "%s B" % fmt(max(rss), 0), goal(max(rss) <= 1024)))
    for x in city.get("long", []):
        if x["system"] == "ours":
            c = x.get("climb")
            rows.append(("City long run (%s stations every 10 s, %d min): CPU a message, last "
                         "minute ÷ second minute, ours" % (fmt(x["stations"]), len(x["minutes"])),
                         "≤ 1.2 (must not climb)", fmt(c), goal(c <= 1.2 if c else None)))
    return rows


def city_markdown(res):
    city, a = res["city"], res["city"]["args"]
    L = []
    L.append("**City shape** (issue 13, %.0f s; the `json` kind, air-quality, 5 fields a message, "
             "QoS 0, %d publisher connections sharing the stations, every message its own write "
             "and stamped with the time it was sent; one fresh instance per system and city, "
             "warmed up with one message of every station; each rate for %d s; CPU of every "
             "process from the first message until all are idle again, per message sent; RSS "
             "per active series: what the processes grew over their idle selves ÷ (stations × 5) "
             "(ours: the broker; DIY: broker + subscriber + database); refused: the plugin's "
             "counters; lost = sent − refused − stored within %d s (ours: points written; DIY: "
             "points in the database with times inside the step)):" %
             (city.get("seconds") or 0, a["city_publishers"], a["city_seconds"], a["city_settle"]))
    L.append("")
    L.append("| stations | rate | system | msgs/s | broker µs/msg | subscriber µs/msg "
             "| database µs/msg | total µs/msg | ours ÷ C→VM | RSS B/series | refused | lost |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in city_table(city):
        c = r["cpu_us_per_msg"]
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            fmt(r["stations"]), "every 10 s" if r["rate"] == "1/10s" else "once a minute",
            r["system"], fmt(r["msgs_per_s"], 0), fmt(c["broker"], 1),
            fmt(c["subscriber"], 1) if c["subscriber"] is not None else "—",
            fmt(c["db"], 1) if c["db"] is not None else "—", fmt(r["cpu_us_per_msg_total"], 1),
            fmt(r["ours_to_c_vm"]) if r["system"] == "ours" else "—",
            fmt(r["rss_per_series_b"], 0), fmt(r["refused"]), fmt(r["lost"])))
    L.append("")
    ours = [x for x in city["rows"] if x["system"] == "ours" and "broker_threads_us_per_msg" in x
            and x["label"] in ("1/min", "1/10s", "search", "long")]
    if ours:
        L.append("Where ours' CPU goes (threads of the broker process, µs a message; main: "
                 "mosquitto's loop with the plugin's message callback; plugin: the engine's "
                 "writer, maintenance and control threads; RocksDB: its flush and compaction "
                 "threads):")
        L.append("")
        L.append("| stations | step | msgs/s | main | plugin | RocksDB | process |")
        L.append("|---|---|---|---|---|---|---|")
        for x in ours:
            t = x["broker_threads_us_per_msg"]
            L.append("| %s | %s | %s | %.1f | %.1f | %.1f | %.1f |" % (
                fmt(x["stations"]), x["label"], fmt(x["msgs_per_s"], 0), t["main"], t["plugin"],
                t["rocksdb"], x["cpu_us_per_msg_total"]))
        L.append("")
    py = a["city_py_rates"]
    if py != ["1/min", "1/10s"]:
        L.append("The Python pipelines ran at %s only in this mode." %
                 " and ".join("once a minute" if p == "1/min" else "every 10 s" for p in py))
        L.append("")
    if city.get("searches"):
        L.append("Highest lossless rate (nothing refused, nothing lost, idle again within %d s; "
                 "steps of %d s from the 10 s rate, doubling, then bisecting; a fresh instance "
                 "after every failing step):" % (a["city_settle"], a["city_search_seconds"]))
        L.append("")
        L.append("| stations | series | system | highest lossless msgs/s | lowest failing msgs/s "
                 "| steps (msgs/s: refused / lost) |")
        L.append("|---|---|---|---|---|---|")
        for s in city["searches"]:
            st = [x for x in city["rows"] if x["system"] == s["system"]
                  and x["stations"] == s["stations"] and x["label"] in ("1/10s", "search")]
            L.append("| %s | %s | %s | %s | %s | %s |" % (
                fmt(s["stations"]), fmt(s["series"]), s["system"],
                fmt(s["max_lossless_rate"]) if s["max_lossless_rate"] else "none",
                fmt(s["lowest_failing_rate"]) if s["lowest_failing_rate"] else "—",
                ", ".join("%s: %s / %s%s" % (fmt(x["rate"]), fmt(x["refused"]), fmt(x["lost"]),
                                             "" if x["kept_up"] else " (not idle)")
                          for x in st)))
        L.append("")
    for x in city.get("long", []):
        m = x["minutes"]
        L.append("Long run, %s, %s stations every 10 s (%s msg/s) for %.0f s: CPU µs a message "
                 "of all processes per minute %s; last ÷ second minute %s (must not climb: "
                 "≤ 1.2)%s; refused %s, lost %s; RSS MiB per minute (all processes) %s, at the "
                 "end %s (%s B per active series)." % (
                     x["system"], fmt(x["stations"]), fmt(x["rate"]), x["seconds"],
                     ", ".join("%.1f" % y["cpu_us_per_msg"] for y in m), fmt(x.get("climb")),
                     " **climbs**" if x.get("climb") and x["climb"] > 1.2 else "",
                     fmt(x["refused"]), fmt(x["lost"]),
                     ", ".join("%.0f" % (sum(y["rss_kb"].values()) / 1024) for y in m),
                     ", ".join("%s %.0f MiB" % (k, v / 1024) for k, v in x["rss_kb"].items()),
                     fmt(x["rss_per_series_b"], 0)))
        L.append("")
    h = city.get("hour")
    if h and "ours" in h:
        L.append("An hour of data: %s stations × 60 messages a minute apart, backdated, published "
                 "at QoS 1 into mosquitto + plugin (async; a pause until the broker is idle after "
                 "every %s messages: %s msg/s, %s refused) and forwarded by two C subscribers "
                 "(QoS 1) to VictoriaMetrics and InfluxDB; bytes on disk after flush and full "
                 "compaction:" % (fmt(h["stations"]), fmt(a["city_hour_settle_every"]),
                                  fmt(h["msgs_per_s"], 0), fmt(h.get("refused"))))
        L.append("")
        L.append("| store | points | bytes | B/point |")
        L.append("|---|---|---|---|")
        o = h["ours"]
        L.append("| ours, raw point blocks | %s | %s | %.3f |" % (fmt(o["points"]),
                                                                fmt(o["disk"]["raw"]), o["raw_bpp"]))
        L.append("| ours, with the 1m/15m/1h/1d tiers and catalog | %s | %s | %.3f |" % (
            fmt(o["points"]), fmt(o["disk"]["raw"] + o["disk"]["agg"] + o["disk"]["other"]),
            o["with_tiers_bpp"]))
        L.append("| VictoriaMetrics (data path but caches) | %s | %s | %s |" % (
            fmt(h["vm"]["points"]), fmt(h["vm"]["bytes"]), fmt(h["vm"]["bpp"], 3)))
        L.append("| InfluxDB (TSM files) | %s | %s | %s |" % (
            fmt(h["influx"]["points"]), fmt(h["influx"]["tsm_bytes"]), fmt(h["influx"]["bpp"], 3)))
        L.append("| InfluxDB (whole data/) | %s | %s | %s |" % (
            fmt(h["influx"]["points"]), fmt(h["influx"]["dir_bytes"]),
            fmt(h["influx"]["dir_bpp"], 3)))
        L.append("")
    return L


def city_plot(res, out, term):
    """CPU µs a message against stations at the 10 s rate, one line a system."""
    rows = [r for r in city_table(res["city"]) if r["rate"] == "1/10s"]
    systems = [s for s in CITY_SYSTEMS if any(r["system"] == s for r in rows)]
    if not systems:
        return None
    with open(os.path.join(out, "city.dat"), "w") as f:
        for s in systems:
            f.write("# %s\n" % s)
            for r in sorted((r for r in rows if r["system"] == s), key=lambda r: r["stations"]):
                f.write("%d %f\n" % (r["stations"], r["cpu_us_per_msg_total"]))
            f.write("\n\n")
    curves = " , ".join("'{o}/city.dat' index %d using 1:2 with linespoints lw 2 title '%s'" % (i, s)
                        for i, s in enumerate(systems))
    return (term + "set output '{o}/city_cpu.png'\n"
            "set title 'City: CPU µs a message, all processes, each station every 10 s (QoS 0 JSON, 5 fields)'\n"
            "set xlabel 'stations (5 series each)'; set ylabel 'CPU µs per message'\n"
            "set logscale x; set logscale y; set grid; set key top right\n"
            "plot %s\n" % curves)


def write_markdown(res, path):
    L = []
    m, v = res["machine"], res["versions"]
    L.append("Run `%s` (%s mode, %.0f s), commit %s, %s; %d cores, %s, %d MiB; mosquitto %s, "
             "InfluxDB %s, VictoriaMetrics %s, RocksDB %s; plugin `%s`." %
             (res["started"], res["mode"], res.get("seconds") or 0, res.get("commit") or "?",
              "Debian " + (v.get("debian") or "?"), m["nproc"], m["cpu"], m["mem_mib"],
              v["mosquitto"], v["influxdb"], v["victoria-metrics"], v["rocksdb"], res["plugin"]))
    L.append("")
    for name, err in res.get("errors", {}).items():
        L.append("**Section %s failed**: %s" % (name, err))
        L.append("")
    L.append("**Goals** (same-run ratios of medians):")
    L.append("")
    L.append("| goal | target | measured | |")
    L.append("|---|---|---|---|")
    for row in goals_table(res):
        L.append("| %s | %s | %s | %s |" % row)
    L.append("")
    if "loadgen_ceiling" in res:
        c = res["loadgen_ceiling"]
        L.append("Load generator's own ceiling against a sink that only counts: QoS 0 %s msg/s, "
                 "QoS 1 %s msg/s (%.2f and %.2f µs of its CPU a message)." %
                 (fmt(c["qos0"]["msgs_per_s"]), fmt(c["qos1"]["msgs_per_s"]),
                  c["qos0"]["loadgen_cpu_us_per_msg"], c["qos1"]["loadgen_cpu_us_per_msg"]))
        if "paho_qos0" in c:
            L.append("")
            L.append("Paho MQTT C (synchronous client, one connection) on the same sink, QoS 0: "
                     "%s msg/s, %.2f µs of its CPU a message." %
                     (fmt(c["paho_qos0"]["msgs_per_s"]), c["paho_qos0"]["cpu_us_per_msg"]))
        L.append("")
    if "overhead" in res:
        L.append("**Broker overhead** (5-field JSON `air-quality`, 1000 series, no subscriber but a "
                 "latency probe every 10 ms; %d repetitions with the modes alternating; ratios are "
                 "medians of per-repetition ratios; CPU is the broker process's, plugin threads "
                 "included, until idle). *saturation*: 4 connections writing back to back, the "
                 "broker's maximum; *device*: 100 connections, 20 000 msg/s in total, every "
                 "message its own write:" % res["args"]["reps"])
        L.append("")
        L.append("| load | QoS | mode | msgs/s | ÷ bare | broker process CPU µs/msg | ÷ bare "
                 "| broker thread µs/msg | ÷ bare "
                 "| probe latency p50 / p99 ms | PUBACK p50 / p99 ms | refused (counted / 0x87) |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for s in res["overhead"]["summary"]:
            L.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |" % (
                s["load"], s["qos"], s["mode"], fmt(s["msgs_per_s"]), fmt(s["ratio_to_bare"]),
                fmt(s["cpu_us_per_msg"]), fmt(s["cpu_ratio_to_bare"]),
                fmt(s.get("thread_us_per_msg")), fmt(s.get("thread_ratio_to_bare")),
                fmt(s["e2e_p50_ms"]),
                fmt(s["e2e_p99_ms"]),
                ("%s / %s" % (fmt(s["ack_p50_ms"]), fmt(s["ack_p99_ms"]))) if s["qos"] else "—",
                "%s / %s" % (fmt(s["refused_counted"]), fmt(s["refused_0x87"]) if s["qos"] else "—")))
        L.append("")
        L.append("`validate` is the plugin with copies of the schemas whose measurements point at "
                 "members no message has: every message is decoded and validated, nothing is "
                 "stored (the plugin has no validate-only option).")
        L.append("")
    if "pipeline" in res:
        p = res["pipeline"]
        L.append("**Pipelines** (4 publishers, QoS 0, 5-field JSON; offered rates %s; %d "
                 "repetition(s), pipelines alternating; CPU of every process of the pipeline: "
                 "broker, subscriber, database — ours is the broker alone):" %
                 (", ".join(str(r or "max") for r in res["args"]["rates"]),
                  res["args"]["pipeline_reps"]))
        L.append("")
        L.append("| pipeline | max stored msgs/s without loss | CPU-s per million stored there "
                 "| at max offered: stored msgs/s | lost | lost % | refused, counted |")
        L.append("|---|---|---|---|---|---|---|")
        for name in PIPELINES:
            s = p["summary"][name]
            top = s["per_rate"][-1]
            L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                name, fmt(s["max_lossless_msgs_per_s"]),
                fmt(s["cpu_s_per_million_at_max_lossless"], 1), fmt(top["stored_msgs_per_s"]),
                fmt(top["lost"]), fmt(100 * top["lost_fraction"] if top["lost_fraction"] is not None
                                      else None, 1), fmt(top["refused_counted"])))
        L.append("")
        L.append("| pipeline | " + " | ".join("CPU-s/M at %s" % (r or "max") for r in res["args"]["rates"]) + " |")
        L.append("|---|" + "---|" * len(res["args"]["rates"]))
        for name in PIPELINES:
            L.append("| %s | %s |" % (name, " | ".join(
                fmt(x["cpu_s_per_million_stored"], 1) for x in p["summary"][name]["per_rate"])))
        L.append("")
        for x in p.get("ours_qos1_overload", []):
            L.append("Ours at QoS 1, maximum rate: %s sent, %s acknowledged, %s refused with 0x87, "
                     "%s stored; acknowledged but not stored: %s." % (
                         fmt(x["sent"]), fmt(x["acked_ok"]), fmt(x["refused_0x87"]),
                         fmt(x["stored"]), fmt(x["silent_loss"])))
        L.append("")
    if "storage" in res:
        L.append("**Storage** (reference datasets, after flush and full compaction; ours from "
                 "`engine_bench`: raw point blocks, and with the 1m/15m/1h/1d rollups; "
                 "VictoriaMetrics: its whole data path but caches, after force_flush and "
                 "force_merge; InfluxDB: its TSM files after the cache snapshot and a full "
                 "compaction, as in the team's reference figures; its whole `data/` with the "
                 "preallocated series file is in results.json):")
        L.append("")
        L.append("| dataset | days | points | ours B/pt | ours with tiers | VM B/pt | InfluxDB B/pt "
                 "| ours ÷ VM | ours ÷ InfluxDB |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for ds, s in sorted(res["storage"].items()):
            L.append("| %s | %d | %s | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f |" % (
                ds, s["days"], fmt(s["points"]), s["ours_raw_bpp"], s["ours_with_tiers_bpp"],
                s["vm_bpp"], s["influx_bpp"], s["ours_raw_bpp"] / s["vm_bpp"],
                s["ours_raw_bpp"] / s["influx_bpp"]))
        L.append("")
    if "queries" in res:
        q = res["queries"]
        L.append("**Queries** (%d alternating repetitions after one warm-up; ours in-process "
                 "through the engine API, VictoriaMetrics and InfluxDB over HTTP on loopback "
                 "with a kept-alive connection; answers compared before timing):" % q["reps"])
        L.append("")
        L.append("| query | rows | equal (VM / InfluxDB) | ours p50 / p99 ms | VM p50 / p99 ms "
                 "| InfluxDB p50 / p99 ms | ours ÷ VM p50 / p99 | ours ÷ InfluxDB p50 / p99 |")
        L.append("|---|---|---|---|---|---|---|---|")
        for x in q["queries"]:
            L.append("| %s | %d | %s / %s | %.3f / %.3f | %.3f / %.3f | %.3f / %.3f | %s / %s | %s / %s |" % (
                x["what"], x["rows"], "yes" if x["mismatch_vm"] == 0 else "NO",
                "yes" if x["mismatch_influx"] == 0 else "NO", x["ours_p50_ms"], x["ours_p99_ms"],
                x["vm_p50_ms"], x["vm_p99_ms"], x["influx_p50_ms"], x["influx_p99_ms"],
                fmt(ratio(x["ours_p50_ms"], x["vm_p50_ms"]), 3),
                fmt(ratio(x["ours_p99_ms"], x["vm_p99_ms"]), 3),
                fmt(ratio(x["ours_p50_ms"], x["influx_p50_ms"]), 3),
                fmt(ratio(x["ours_p99_ms"], x["influx_p99_ms"]), 3)))
        L.append("")
    if "city" in res:
        L += city_markdown(res)
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")
    return "\n".join(L)


def plots(res, out):
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no plots")
        return
    scripts = []
    term = "set terminal pngcairo size 900,520 font 'DejaVu Sans,10'\n"
    if "overhead" in res:
        with open(os.path.join(out, "overhead.dat"), "w") as f:
            f.write("mode qos0 qos1\n")
            s = res["overhead"]["summary"]
            for mode in ("bare", "validate", "async", "sync", "fsync"):
                v = {q: [x["msgs_per_s"] for x in s if x["qos"] == q and x["mode"] == mode
                         and x["load"] == "saturation"] for q in (0, 1)}
                f.write("%s %s %s\n" % (mode, v[0][0] if v[0] else "NaN", v[1][0] if v[1] else "NaN"))
        scripts.append(term + """set output '{o}/overhead.png'
set title 'Saturated broker throughput: bare mosquitto and mosquitto + plugin (median msgs/s)'
set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1
set ylabel 'messages/s'; set grid ytics; set key top right; set yrange [0:*]; set xrange [-0.6:4.6]
plot '{o}/overhead.dat' using 2:xtic(1) title 'QoS 0', '' using 3 title 'QoS 1'
""")
    if "pipeline" in res:
        p = res["pipeline"]["summary"]
        with open(os.path.join(out, "pipeline.dat"), "w") as f:
            for name in PIPELINES:
                f.write("# %s\n" % name)
                for x in p[name]["per_rate"]:
                    f.write("%s %s %s\n" % (x["offered_msgs_per_s"], x["stored_msgs_per_s"],
                                            x["cpu_s_per_million_stored"] or "NaN"))
                f.write("\n\n")
        def pipeline_plot(column, name, title, settings, extra_curve=""):
            cols = " , ".join("'{o}/pipeline.dat' index %d using 1:%d with linespoints lw 2 title '%s'"
                              % (i, column, n) for i, n in enumerate(PIPELINES))
            scripts.append(term + "set output '{o}/%s.png'\nset title '%s'\n"
                           "set xlabel 'offered msgs/s'; set grid\n%s\nplot %s%s\n"
                           % (name, title, settings, cols, extra_curve))
        pipeline_plot(2, "pipeline_throughput", "Stored messages/s against offered messages/s (QoS 0 JSON)",
                      "set ylabel 'stored msgs/s'; set key top left",
                      ", x with lines dt 2 lc 'gray' title 'no loss'")
        pipeline_plot(3, "pipeline_cpu",
                      "CPU-seconds per million messages stored, all processes of the pipeline",
                      "set ylabel 'CPU-s per million'; set key top right; set logscale y")
    if "storage" in res:
        with open(os.path.join(out, "storage.dat"), "w") as f:
            f.write("dataset ours ours_tiers vm influx\n")
            for ds, s in sorted(res["storage"].items()):
                f.write("%s %f %f %f %f\n" % (ds, s["ours_raw_bpp"], s["ours_with_tiers_bpp"],
                                              s["vm_bpp"], s["influx_bpp"]))
        scripts.append(term + """set output '{o}/storage.png'
set title 'Bytes per point on disk after full compaction'
set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1
set ylabel 'bytes/point'; set grid ytics; set key top left; set yrange [0:*]; set xrange [-0.6:3.6]
plot '{o}/storage.dat' using 2:xtic(1) title 'ours (raw)', '' using 3 title 'ours with tiers', '' using 4 title 'VictoriaMetrics', '' using 5 title 'InfluxDB'
""")
    if "queries" in res:
        with open(os.path.join(out, "queries.dat"), "w") as f:
            f.write("query ours vm influx\n")
            for x in res["queries"]["queries"]:
                f.write("%s %f %f %f\n" % (x["name"], x["ours_p50_ms"], x["vm_p50_ms"], x["influx_p50_ms"]))
        scripts.append(term + """set output '{o}/queries.png'
set title 'Query latency p50 (ms, log scale)'
set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1
set ylabel 'ms'; set grid ytics; set logscale y; set key top left; set xrange [-0.6:4.6]
plot '{o}/queries.dat' using 2:xtic(1) title 'ours (in-process)', '' using 3 title 'VictoriaMetrics (HTTP)', '' using 4 title 'InfluxDB (HTTP)'
""")
    if "city" in res:
        c = city_plot(res, out, term)
        if c:
            scripts.append(c)
    for s in scripts:
        r = subprocess.run(["gnuplot"], input=s.replace("{o}", out), text=True,
                           capture_output=True, timeout=60)
        if r.returncode:
            log("gnuplot: " + r.stderr.strip())


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("quick", "full"), default="quick")
    ap.add_argument("--bin", required=True, help="build directory of the bench targets")
    ap.add_argument("--plugin", required=True, help="mosquitto_tsdb.so to measure")
    ap.add_argument("--out", required=True, help="results directory")
    ap.add_argument("--sections", default="ceiling,overhead,pipeline,storage,queries")
    ap.add_argument("--keep-tmp", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                    help="override one of the mode's settings below (trials), e.g. "
                         "--set city_long_seconds=120 --set 'city_stations=[2000]'")
    a = ap.parse_args()
    quick = a.mode == "quick"
    a.reps = 3 if quick else 5
    a.overhead_seconds = 2.5 if quick else 8
    a.pipeline_seconds = 3 if quick else 8
    a.pipeline_reps = 1 if quick else 3
    a.rates = [5000, 20000, 40000, 0] if quick else [5000, 10000, 20000, 30000, 40000, 60000, 0]
    a.settle_max = 6 if quick else 20
    a.stop_timeout = 60
    a.days_a, a.days_c = (2, 2) if quick else (30, 7)
    a.query_reps = 11 if quick else 41
    # city (issue 13): stations of the city sizes, each at both rates with
    # every system, then the highest lossless rate; smaller cities at the 10 s
    # rate for the plot; a long run; an hour of data for bytes/point.
    a.city_stations = [20000] if quick else [20000, 100000]
    a.city_seconds = 30 if quick else 60
    a.city_publishers = 100
    a.city_warm_rate = 2500
    a.city_settle = 20 if quick else 30
    a.city_py_rates = ["1/min"] if quick else ["1/min", "1/10s"]
    a.city_search_systems = ["ours", "c-vm"] if quick else ["ours", "c-vm", "c-influx"]
    a.city_search_seconds = 15 if quick else 30
    a.city_search_steps = 5 if quick else 8
    a.city_search_precision = 1.25 if quick else 1.1
    a.city_rate_cap = 200000
    a.city_sweep = [1000, 5000]
    a.city_sweep_systems = ["ours", "c-vm"] if quick else CITY_SYSTEMS
    a.city_sweep_seconds = 20 if quick else 60
    a.city_long_stations = a.city_stations[-1]
    a.city_long_seconds = 600
    a.city_long_systems = ["ours"] if quick else ["ours", "c-vm"]
    # The hour of data: 60 points a series whatever the city's size; --quick
    # takes a quarter of the smaller city, the engine writes it at a few
    # thousand messages a second today.
    a.city_hour_stations = 5000 if quick else 20000
    a.city_hour_settle_every = 10000
    for kv in a.set:
        k, _, v = kv.partition("=")
        if not hasattr(a, k):
            ap.error("--set: no setting %s" % k)
        setattr(a, k, json.loads(v))

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    atexit.register(stop_all)
    os.makedirs(a.out, exist_ok=True)
    ctx = Ctx(a)
    res = {"started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "mode": a.mode, "machine": machine(), "plugin": a.plugin,
           "versions": {"mosquitto": pkg_version("mosquitto"), "influxdb": pkg_version("influxdb"),
                        "victoria-metrics": pkg_version("victoria-metrics"),
                        "rocksdb": pkg_version("librocksdb7.8") or pkg_version("librocksdb-dev"),
                        "paho-mqtt-c": pkg_version("libpaho-mqtt1.3"),
                        "python3-paho-mqtt": pkg_version("python3-paho-mqtt"),
                        "debian": open("/etc/debian_version").read().strip()
                        if os.path.exists("/etc/debian_version") else None},
           "args": {"reps": a.reps, "overhead_seconds": a.overhead_seconds,
                    "pipeline_seconds": a.pipeline_seconds, "pipeline_reps": a.pipeline_reps,
                    "rates": a.rates, "query_reps": a.query_reps}}
    try:
        git = subprocess.run(["git", "-C", SOURCE, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", SOURCE, "status", "--porcelain", "--", "engine",
                                "plugin", "ingest"], capture_output=True, text=True).stdout.strip()
        res["commit"] = git + ("+dirty" if dirty else "")
    except OSError:
        pass
    if not res.get("commit"):
        res["commit"] = os.environ.get("TSDB_BENCH_COMMIT")  # a copy without .git
    t0 = time.monotonic()
    sections = a.sections.split(",")
    try:
        for name, fn in (("ceiling", section_loadgen_ceiling), ("overhead", section_overhead),
                         ("pipeline", section_pipeline), ("storage", section_storage),
                         ("queries", section_queries), ("city", section_city)):
            if name in sections:
                log("section %s" % name)
                s0 = time.monotonic()
                try:
                    res["loadgen_ceiling" if name == "ceiling" else name] = fn(ctx)
                except (RuntimeError, OSError, ValueError, KeyError,
                        subprocess.SubprocessError) as e:
                    # One section failing must not cost the others: say so and go on.
                    log("section %s FAILED: %s" % (name, e))
                    res.setdefault("errors", {})[name] = str(e)
                    if name in ctx.partial:
                        res[name] = ctx.partial[name]
                    stop_all()
                res.setdefault("section_seconds", {})[name] = round(time.monotonic() - s0, 1)
                with open(os.path.join(a.out, "results.json"), "w") as f:
                    json.dump(res, f, indent=1)
    finally:
        stop_all()
        if not a.keep_tmp:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    res["seconds"] = round(time.monotonic() - t0, 1)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = write_markdown(res, os.path.join(a.out, "results.md"))
    plots(res, a.out)
    print(md)
    log("done in %.0f s: %s" % (res["seconds"], a.out))


if __name__ == "__main__":
    main()
