"""Faults of the storage under a real broker: a full file system, a damaged
write-ahead log, a data directory that cannot be written or is not a
directory. In `sync` and `async` durability alike: the broker never dies,
its publishers stay connected, every message is refused with 0x87 while
writes fail, writing resumes by itself once the cause is gone, and every
acknowledged message is stored (or, when the broker stops while writes
still fail, counted and logged as lost).

Each test mounts a small tmpfs as the data directory (tests run as root)."""
import base64
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from harness import PUB5, Client

FAULT_SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault-schemas")


@pytest.fixture(autouse=True)
def fill_schema(workdir):
    """The brokers of these tests load one schema: readings with padding."""
    shutil.copytree(FAULT_SCHEMAS, os.path.join(workdir, "schemas"))

# PUBACK reason codes (MQTT 5.0, 3.4.2.1): 0x10 "no matching subscribers" is
# a success too.
REFUSED = 0x87
TOPIC = "fill/s1"


def accepted(reason):
    return reason in (0x00, 0x10)


def publish(port, messages, client_id):
    """Publishes (topic, payload) pairs at QoS 1 with MQTT v5; returns the
    PUBACK reason codes in order and whether the client is still connected."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for topic, payload in messages:
            f.write("%s\t%s\n" % (topic, payload if isinstance(payload, str) else json.dumps(payload)))
        path = f.name
    try:
        out = subprocess.run([PUB5, "-p", str(port), "-i", client_id, "-f", path],
                             capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(path)
    reasons = [int(line.split("reason=")[1]) for line in out.stdout.splitlines()
               if line.startswith("puback")]
    assert len(reasons) == len(messages), out.stdout[-2000:] + out.stderr
    return reasons, "connected=1" in out.stdout


class Readings:
    """Readings with unique timestamps and values n = 0, 1, 2, ...; a random
    pad makes them incompressible, so that a small disk fills fast."""

    def __init__(self, pad_bytes=1500):
        self.t0 = int(time.time() * 1000) - 600_000
        self.n = 0
        self.pad_bytes = pad_bytes

    def next(self, count):
        out = []
        for _ in range(count):
            pad = base64.b64encode(os.urandom(self.pad_bytes * 3 // 4)).decode()
            out.append((self.n, (TOPIC, {"ts": self.t0 + self.n, "n": self.n, "pad": pad})))
            self.n += 1
        return out


def send(port, readings, count, client_id="filler"):
    """Publishes `count` readings; returns ({n: reason}, connected)."""
    batch = readings.next(count)
    reasons, connected = publish(port, [m for _, m in batch], client_id)
    return {n: r for (n, _), r in zip(batch, reasons)}, connected


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave):
    """Takes all but `leave` bytes of the file system with a file."""
    filler = os.path.join(path, "filler")
    with open(filler, "ab") as f:
        f.write(b"\0" * max(0, free_bytes(path) - leave))
    return filler


def stored(port, readings):
    """The values n stored for TOPIC (raw query, paged)."""
    c = Client(port)
    got, frm = set(), readings.t0
    while True:
        r = c.command([{"command": "query", "topic": TOPIC, "field": "n", "from": frm,
                        "to": readings.t0 + readings.n + 1, "limit": 10000}], timeout=30)[0]
        assert "error" not in r, r
        got.update(int(v) for _, v in r["rows"])
        if "next" not in r:
            break
        frm = r["next"]
    c.close()
    return got


def stats(port):
    c = Client(port)
    r = c.command([{"command": "stats"}])[0]
    c.close()
    return r["engine"]


def fill_until_refused(b, readings, acked, batch=100, limit=30000):
    """Publishes until the broker refuses; returns the first refused n."""
    while readings.n < limit:
        reasons, connected = send(b.port, readings, batch)
        assert connected, "the publisher was disconnected"
        assert all(accepted(r) or r == REFUSED for r in reasons.values()), reasons
        acked.update(n for n, r in reasons.items() if accepted(r))
        refused = sorted(n for n, r in reasons.items() if r == REFUSED)
        if refused:
            return refused[0]
    pytest.fail("the file system never filled:\n" + b.log()[-3000:])


def wait_accepted(b, readings, acked, timeout=30.0):
    """Publishes one reading every 50 ms until one is accepted; returns the
    seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        reasons, connected = send(b.port, readings, 1)
        assert connected
        (n, r), = reasons.items()
        if accepted(r):
            acked.add(n)
            return time.monotonic() - t0
        time.sleep(0.05)
    pytest.fail("writes did not resume within %.0f s:\n%s" % (timeout, b.log()[-3000:]))


def storage_error_lines(log):
    return [l for l in log.splitlines() if "tsdb: storage" in l or "tsdb: rocksdb:" in l]


def full_disk_broker(tmpfs, broker_factory, durability):
    """A broker on a 64 MiB tmpfs that is full but for 2 MiB; returns it, the
    filler file, the readings and the set of acknowledged n."""
    data = tmpfs("data", "64m")
    b = broker_factory(options={"data_dir": data, "durability": durability})
    b.start()
    return b, fill(data, leave=2 << 20), Readings(), set()


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_full_disk_refuses_then_resumes_and_keeps_every_acknowledged_message(
        tmpfs, broker_factory, durability):
    b, filler, readings, acked = full_disk_broker(tmpfs, broker_factory, durability)
    t = time.monotonic()
    first_refused = fill_until_refused(b, readings, acked)
    print("\nfilled in %.1f s" % (time.monotonic() - t))
    # Writes fail now: every message is refused, the broker lives on.
    reasons, connected = send(b.port, readings, 50)
    assert connected and set(reasons.values()) == {REFUSED}, reasons
    time.sleep(2)  # RocksDB's background threads log and retry meanwhile
    assert b.proc.poll() is None, "the broker died:\n" + b.log()[-3000:]
    reasons, _ = send(b.port, readings, 5)
    assert set(reasons.values()) == {REFUSED}
    # Space comes back: writing resumes by itself.
    os.unlink(filler)
    seconds = wait_accepted(b, readings, acked)
    print("\nfull disk (%s): first refused message n=%d after %d acknowledged; writes resumed "
          "%.2f s after space came back" % (durability, first_refused, len(acked), seconds))
    assert seconds < 10
    reasons, _ = send(b.port, readings, 20)
    assert all(accepted(r) for r in reasons.values())
    acked.update(reasons)
    e = stats(b.port)
    assert e["storage_failures"] >= 1 and e["storage_failing"] == 0, e
    assert e["messages_lost"] == 0 and e["points_lost"] == 0, e
    assert stored(b.port, readings) >= acked
    # And after a restart.
    assert b.stop() == 0
    log = b.log()
    b.start()
    got = stored(b.port, readings)
    assert got >= acked, sorted(acked - got)[:20]
    # Logged, but not once per failed write: rate-limited.
    lines = storage_error_lines(log)
    assert lines, "the failure was not logged"
    assert len(lines) < 60, "\n".join(lines[:80])
    # As a full disk, not as some I/O error.
    assert any("kind=TSDB_ENOSPC" in l for l in lines), "\n".join(lines[:80])


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_a_stop_while_the_disk_is_full_counts_and_logs_what_is_lost(
        tmpfs, broker_factory, durability):
    b, filler, readings, acked = full_disk_broker(tmpfs, broker_factory, durability)
    fill_until_refused(b, readings, acked)
    assert b.stop() == 0
    log = b.log()
    m = re.search(r"messages_lost=(\d+) points_lost=(\d+)", log)
    reported = int(m.group(1)) if m else 0
    os.unlink(filler)
    b.start()
    missing = acked - stored(b.port, readings)
    print("\nstop while failing (%s): %d acknowledged, %d not stored, %d reported lost"
          % (durability, len(acked), len(missing), reported))
    # Exactly what is missing was counted and said; sync acknowledges only
    # what is in the write-ahead log, so it loses nothing.
    assert len(missing) == reported, (sorted(missing)[:20], reported)
    if durability == "sync":
        assert reported == 0


@pytest.mark.parametrize("durability", ["async", "sync"])
@pytest.mark.parametrize("fault", ["read-only", "not-a-directory"])
def test_an_unusable_data_dir_refuses_messages_until_it_is_usable(
        tmpfs, broker_factory, durability, fault):
    mnt = tmpfs("mnt", "64m")
    data = os.path.join(mnt, "data")
    if fault == "read-only":
        os.mkdir(data)
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
    else:
        open(data, "w").close()
    b = broker_factory(options={"data_dir": data, "durability": durability})
    b.start()  # the broker starts anyway: the rest of its traffic goes on
    b.wait_log("cannot open the database yet")
    readings, acked = Readings(pad_bytes=10), set()
    reasons, connected = send(b.port, readings, 10)
    assert connected and set(reasons.values()) == {REFUSED}, reasons
    c = Client(b.port)
    r = c.command([{"command": "last", "topic": TOPIC}])[0]
    assert r["error"].startswith("storage unavailable"), r
    # The publisher's error record says why.
    c.subscribe("$tsdb/errors/%s" % c.client_id)
    c.publish(TOPIC, {"ts": readings.t0, "n": 0})
    rec = json.loads(c.wait_message(timeout=10, predicate=lambda m: m.topic.startswith("$tsdb/errors/")).payload)
    assert rec["reason"] == "write_failed" and "storage is failing" in rec["message"], rec
    c.close()
    if fault == "read-only":
        subprocess.run(["mount", "-o", "remount,rw", mnt], check=True)
    else:
        os.unlink(data)
    seconds = wait_accepted(b, readings, acked)
    print("\n%s data_dir (%s): messages accepted %.2f s after it became usable"
          % (fault, durability, seconds))
    assert seconds < 10
    reasons, _ = send(b.port, readings, 10)
    assert all(accepted(r) for r in reasons.values())
    acked.update(reasons)
    assert stored(b.port, readings) >= acked


def damage_wal(data):
    """Replaces the newest write-ahead log file with 4 KiB of garbage."""
    logs = sorted(glob.glob(os.path.join(data, "*.log")))
    assert logs, os.listdir(data)
    with open(logs[-1], "wb") as f:
        f.write(os.urandom(4096))
    return os.path.basename(logs[-1])


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_a_damaged_wal_is_recovered_up_to_the_damage_and_said(tmpfs, broker_factory, durability):
    data = tmpfs("data", "64m")
    b = broker_factory(options={"data_dir": data, "durability": durability, "sys_interval": "1s"})
    b.start()
    readings, acked = Readings(pad_bytes=10), set()
    reasons, _ = send(b.port, readings, 50)
    assert all(accepted(r) for r in reasons.values())
    c = Client(b.port)
    c.command([{"command": "last", "topic": TOPIC}])  # read your writes: all of it is written
    c.close()
    b.stop(signal.SIGKILL)  # the memtable is lost; the log holds everything
    name = damage_wal(data)
    b.start()
    log = b.wait_log("write-ahead log damaged")
    line = [l for l in log.splitlines() if "write-ahead log damaged" in l]
    assert line and "dropping 4096 bytes" in line[0] and name in line[0], log[-3000:]
    assert "lost" in line[0]
    copies = glob.glob(os.path.join(data, "wal-damaged-*", name))
    assert copies and os.path.getsize(copies[0]) == 4096
    assert stats(b.port)["wal_damaged"] == 1
    s = Client(b.port)
    s.subscribe("$SYS/broker/tsdb/storage/wal_damaged")
    assert s.wait_message(timeout=10).payload == b"1"
    s.close()
    # The broker works on.
    reasons, _ = send(b.port, readings, 5)
    assert all(accepted(r) for r in reasons.values())


def test_a_damaged_wal_refuses_to_start_under_strict(tmpfs, broker_factory):
    data = tmpfs("data", "64m")
    b = broker_factory(options={"data_dir": data, "durability": "sync"})
    b.start()
    reasons, _ = send(b.port, Readings(pad_bytes=10), 20)
    assert all(accepted(r) for r in reasons.values())
    b.stop(signal.SIGKILL)
    name = damage_wal(data)
    before = open(os.path.join(data, name), "rb").read()
    b.options["wal_recovery"] = "strict"
    assert b.start(expect_exit=True) != 0
    log = b.log()
    assert "is damaged" in log and "plugin_opt_wal_recovery point_in_time" in log, log[-3000:]
    # Nothing was touched: the damaged log is still there for an operator.
    assert open(os.path.join(data, name), "rb").read() == before
    b.options["wal_recovery"] = "point_in_time"
    b.start()
    b.wait_log("write-ahead log damaged")
