"""serve/src/auth against the real tools: password files written by Debian's
mosquitto_passwd 2.0.11 and an acl_file read by the real broker. Our verifier
(tests/tools/tsdb_authcheck) must accept exactly the passwords the broker
accepts, and may_read() must say yes exactly where the broker delivers.

These brokers run without the tsdb plugin: the comparison is with mosquitto's
own password_file and acl_file checks, nothing else."""
import os
import queue
import shutil
import signal
import socket
import subprocess
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from harness import MOSQUITTO, free_port

AUTHCHECK = os.environ.get("TSDB_AUTHCHECK", "")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"

pytestmark = pytest.mark.skipif(not AUTHCHECK, reason="TSDB_AUTHCHECK is set by CTest")


class BareBroker:
    """A mosquitto with only the given security lines (no plugin)."""

    def __init__(self, workdir, lines):
        self.workdir = workdir
        self.port = free_port()
        self.lines = lines
        self.proc = None
        self.log_path = os.path.join(workdir, "bare-%s.log" % uuid.uuid4().hex[:6])

    def start(self, expect_exit=False, timeout=10.0):
        conf = os.path.join(self.workdir, "bare-%d.conf" % self.port)
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\npersistence false\nlog_dest stderr\nlog_type all\n" % self.port)
            if os.geteuid() == 0:
                f.write("user root\n")
            f.write("\n".join(self.lines) + "\n")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return self.proc.returncode
            if not expect_exit:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        return None
                except OSError:
                    pass
            time.sleep(0.05)
        if expect_exit:
            return None  # still running: it accepted the configuration
        raise RuntimeError("broker did not start:\n" + self.log())

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def bare(workdir):
    brokers = []

    def make(lines):
        b = BareBroker(workdir, lines)
        brokers.append(b)
        return b

    yield make
    for b in brokers:
        b.stop()


def authcheck(kind, path, queries):
    """Runs the tool: returns (exit code, [bool per query], stderr)."""
    text = "".join("\t".join(q) + "\n" for q in queries)
    out = subprocess.run([AUTHCHECK, kind, path], input=text.encode(), capture_output=True, timeout=120)
    answers = [line == b"1" for line in out.stdout.splitlines()]
    return out.returncode, answers, out.stderr.decode(errors="replace")


def connect(port, username=None, password=None, client_id=None, protocol=mqtt.MQTTv5):
    """Connects; returns (client or None, CONNACK reason code)."""
    c = mqtt.Client(client_id=client_id or "t-" + uuid.uuid4().hex[:10], protocol=protocol)
    got = queue.Queue()
    c.on_connect = lambda cl, u, f, rc, p=None: got.put(rc.value if hasattr(rc, "value") else int(rc))
    c.on_message = lambda cl, u, m: c.received.put(m.topic)
    c.received = queue.Queue()
    if username is not None:
        c.username_pw_set(username, password)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        rc = got.get(timeout=10)
    except queue.Empty:
        rc = -1
    if rc != 0:
        c.loop_stop()
        return None, rc
    return c, rc


def close(c):
    c.disconnect()
    c.loop_stop()


# (user name as given to mosquitto_passwd, password, hash option). Odd
# characters: spaces, ':' and '$' in passwords, UTF-8, a tab, an empty
# password, a name with a leading blank (the broker trims it when reading).
USERS = [
    ("alice", "p@ss word:$x", []),
    ("bob smith", "\u00fcmlaut \U0001F511", []),
    ("carol", "c", ["-H", "sha512"]),
    ("dave", "", []),
    (" lead", "z", []),
    ("e+#/", "tab\tin", []),
    ("x$7$y", "$7$101$", ["-H", "sha512-pbkdf2"]),
    ("long", "p" * 300, ["-H", "sha512"]),
    ("gone", "deleted later", []),
]


def test_passwords_from_mosquitto_passwd(workdir, bare):
    pwfile = os.path.join(workdir, "passwd")
    for i, (user, password, opts) in enumerate(USERS):
        args = [MOSQUITTO_PASSWD] + opts + (["-c"] if i == 0 else []) + ["-b", pwfile, user, password]
        subprocess.run(args, check=True, capture_output=True, timeout=30)
    # An update (the old password stops working) and a delete.
    subprocess.run([MOSQUITTO_PASSWD, "-b", pwfile, "dave", "new dave"], check=True, capture_output=True)
    subprocess.run([MOSQUITTO_PASSWD, "-D", pwfile, "gone"], check=True, capture_output=True)
    current = {user.strip(): pw for user, pw, _ in USERS if user != "gone"}
    current["dave"] = "new dave"
    with open(pwfile) as f:
        text = f.read()
    assert "$6$" in text and "$7$101$" in text, text

    names = [u for u, _, _ in USERS] + ["lead", "nobody", "Alice"]
    tries = [pw for _, pw, _ in USERS] + ["new dave", "", "P@ss word:$x", "c ", "z\u00a0"]
    queries = [(u, p) for u in names for p in tries]
    rc, got, err = authcheck("passwd", pwfile, queries)
    assert rc == 0, err
    want = [current.get(u) == p for u, p in queries]
    wrong = [(u, p, g) for (u, p), g, w in zip(queries, got, want) if g != w]
    assert not wrong, wrong
    assert sum(got) == len(current), got

    # The real broker agrees, for each user's right password and a wrong one.
    b = bare(["allow_anonymous false", "password_file %s" % pwfile])
    b.start()
    sample = []
    for u in names:
        right = current.get(u.strip(), "x")
        sample += [(u, right), (u, right + "x")]
    rc, ours, err = authcheck("passwd", pwfile, sample)
    assert rc == 0, err
    for (u, p), mine in zip(sample, ours):
        c, code = connect(b.port, username=u, password=p)
        if c:
            close(c)
        assert (code == 0) == mine, (u, p, code, mine, b.log()[-3000:])


# Lines before the first `user` are the anonymous section; patterns apply to
# everyone wherever they stand; deny lines first within a section.
ACL = """\
# anonymous clients
topic read public/#
topic deny public/secret
topic read $tsdb/public/#
pattern read clients/%c/#
pattern deny clients/%c/blocked
pattern read users/%u/#
pattern deny users/%u/private
pattern readwrite rw/%u/%c
pattern read $tsdb/reply/%c/#
pattern deny blocked/#
pattern write wonly/%c

user pub
topic write #
topic write $tsdb/#

user alice
topic read city/#
topic deny city/secret/#
topic read $tsdb/agg/+/city/#
topic write city/alice-only
topic readwrite shared
topic  read   spaced topic/x

user bob
topic city/+/air
topic read blocked/bob
topic read users/alice/private

user carol
topic deny #
topic read public/#

user alice
topic read extra/alice

user dev/1
topic read dev/#
"""

CLIENTS = [  # (user name or None, client id)
    (None, "anon-1"),
    (None, "anon+2"),
    ("alice", "alice-1"),
    ("alice", "al/ice"),
    ("bob", "bob-1"),
    ("carol", "carol-1"),
    ("dave", "dave-1"),
    ("eve#", "eve-1"),
    ("dev/1", "dev-1"),
]

TOPICS = [
    "public/a", "public/secret", "public/secret/x", "public",
    "city/a/air", "city/secret/air", "city/secret", "city/alice-only", "city/b/water",
    "shared", "extra/alice", "spaced topic/x", "blocked/bob", "blocked/x",
    "clients/anon-1/x", "clients/anon-1", "clients/alice-1/x", "clients/alice-1/blocked",
    "clients/al/ice/x", "clients/al/ice/blocked", "clients/bob-1", "clients/carol-1/x",
    "clients/dave-1/x", "clients/dev-1/x", "clients/eve-1/x",
    "users/alice/x", "users/alice/private", "users/bob/x", "users/bob/private", "users/dave",
    "users/dave/x", "users/dev/1/x", "users/carol/x",
    "rw/alice/alice-1", "rw/alice/al/ice", "rw/bob/bob-1", "rw/dave/dave-1", "wonly/dave-1",
    "dev/x", "dev", "$tsdb/agg/1m/city/a/air", "$tsdb/agg/1m/city/secret/air",
    "$tsdb/public/x", "$tsdb/reply/carol-1/x", "$tsdb/reply/alice-1", "$tsdb/reply/anon-1/x",
    "$tsdb/reply/dave-1/x", "$other/x",
]


def test_acl_matches_broker_delivery(workdir, bare):
    acl = os.path.join(workdir, "acl")
    with open(acl, "w") as f:
        f.write(ACL)
    queries = [("\\N" if u is None else u, cid, t) for u, cid in CLIENTS for t in TOPICS]
    rc, ours, err = authcheck("acl", acl, queries)
    assert rc == 0, err
    assert len(ours) == len(queries)

    b = bare(["allow_anonymous true", "acl_file %s" % acl])
    b.start()
    subs = []
    for user, cid in CLIENTS:
        c, code = connect(b.port, username=user, client_id=cid)
        assert c, (user, cid, code, b.log()[-3000:])
        done = queue.Queue()
        c.on_subscribe = lambda *a, done=done: done.put(a)
        c.subscribe([(t, 1) for t in TOPICS])
        done.get(timeout=10)
        subs.append(c)
    pub, code = connect(b.port, username="pub", client_id="pub-1")
    assert pub, code
    for t in TOPICS:
        info = pub.publish(t, t, qos=1)
        info.wait_for_publish(timeout=10)
    time.sleep(1.0)  # deliveries were queued before each PUBACK; let them arrive
    delivered = set()
    for (user, cid), c in zip(CLIENTS, subs):
        while not c.received.empty():
            delivered.add((user, cid, c.received.get()))
        close(c)
    close(pub)
    assert len(delivered) > 40, "the publisher's messages did not arrive:\n" + b.log()[-3000:]

    mismatches = []
    for (user, cid, t), mine in zip(((u, c, t) for u, c in CLIENTS for t in TOPICS), ours):
        broker = (user, cid, t) in delivered
        if broker != mine:
            mismatches.append("%s/%s %s: broker %s, ours %s" % (user, cid, t, broker, mine))
    assert not mismatches, "\n".join(mismatches)


# Lines the broker refuses at start and lines it reads in its own odd way.
ACL_CASES = [
    ("topic read a/b\n", True),
    ("topic read\n", True),                 # readwrite on the topic "read"
    ("topic   read   a b c  \n", True),     # the topic "a b c"
    ("\n   \n# c\nuser  bob smith \ntopic x\n", True),
    ("pattern deny %c/#\n", True),
    ("  # indented comment\n", False),
    ("\ttopic read x\n", False),
    ("topic foo bar\n", False),             # "foo" is no access type
    ("topic read a/#/b\n", False),
    ("topic read a+\n", False),
    ("user\n", False),
    ("user   \n", False),
    ("users bob\n", False),
    ("topic\n", False),
]


@pytest.mark.parametrize("text,accepted", ACL_CASES)
def test_acl_file_accepted_as_by_broker(workdir, bare, text, accepted):
    acl = os.path.join(workdir, "acl-case")
    with open(acl, "w") as f:
        f.write(text)
    b = bare(["allow_anonymous true", "acl_file %s" % acl])
    exited = b.start(expect_exit=True, timeout=2.0)
    assert (exited is None) == accepted, (text, exited, b.log())
    rc, _, err = authcheck("acl", acl, [])
    assert (rc == 0) == accepted, (text, rc, err)
    if not accepted:
        assert err.startswith(acl + ":1: ") or err.startswith(acl + ":"), err
