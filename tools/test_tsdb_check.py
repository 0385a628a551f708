#!/usr/bin/env python3
"""tsdb-check on the shipped schemas, as a schema author would run it.

usage: test_tsdb_check.py PATH/TO/tsdb-check PATH/TO/schemas [--user-schemas DIR]

The tested schemas of the schema directory are its directories with an
examples.json (the shipped ones; README: "Shipped schemas and their
examples"); nothing else in it is loaded. Every y_* example is accepted
(exit 0), every n_* example is refused (exit 1) with the error record that
expected-errors.json describes, a directory of the tested schemas routes by
--topic, stdin works, usage and schema errors exit 2, and the MessagePack
examples are the packed form of their JSON sources.

--user-schemas DIR runs all of it on a temporary copy of the schema directory
with DIR's entries added (tests/user-schemas: a user's own schemas, which the
broker would refuse together), and checks that exactly DIR's directories with
an examples.json were added to what is tested.
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

TOOL, SCHEMAS = sys.argv[1], sys.argv[2]
USER = sys.argv[4] if len(sys.argv) == 5 and sys.argv[3] == "--user-schemas" else None
if len(sys.argv) != 3 and USER is None:
    sys.exit(__doc__)
failures = []
scratch = tempfile.mkdtemp(prefix="tsdb-check-test-")
atexit.register(shutil.rmtree, scratch, True)


def tested_dirs(root):
    """The tested schema directories of a schema directory, by name."""
    return sorted(d for d in os.listdir(root)
                  if not d.startswith(".") and os.path.isfile(os.path.join(root, d, "examples.json")))


def run(*args, stdin=None):
    p = subprocess.run([TOOL, *args], input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


if USER:
    # The shipped schemas with a user's own beside them, as ./run.sh would
    # read them: the broker refuses this directory, the tests must not care.
    shipped = tested_dirs(SCHEMAS)
    mixed = os.path.join(scratch, "schemas")
    shutil.copytree(SCHEMAS, mixed)
    for entry in os.listdir(USER):
        src, dst = os.path.join(USER, entry), os.path.join(mixed, entry)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, dst)
    SCHEMAS = mixed
    rc, out, err = run(SCHEMAS, "--topic", "city/mitte/s17/air", os.devnull)
    expect(rc == 2, f"the mixed directory loads: exit {rc}: {err}")
    expect(tested_dirs(SCHEMAS) == sorted(shipped + tested_dirs(USER)),
           f"tested with user schemas: {tested_dirs(SCHEMAS)}, shipped: {shipped}")

# The broker's view of the tested schemas: a schema directory of them alone.
dirs = tested_dirs(SCHEMAS)
expect(len(dirs) >= 8, f"only {len(dirs)} tested schema directories")
TESTED = os.path.join(scratch, "tested")
os.makedirs(TESTED)
for name in dirs:
    os.symlink(os.path.abspath(os.path.join(SCHEMAS, name)), os.path.join(TESTED, name))

for name in dirs:
    d = os.path.join(SCHEMAS, name)
    files = sorted(os.listdir(d))
    ys = [os.path.join(d, f) for f in files if f.startswith("y_")]
    ns = [f for f in files if f.startswith("n_")]
    expected = {}  # expected-errors.json is needed once there are n_* files
    if ns or os.path.exists(os.path.join(d, "expected-errors.json")):
        with open(os.path.join(d, "expected-errors.json")) as f:
            expected = json.load(f)
    expect(sorted(expected) == ns, f"{name}: expected-errors.json lists {sorted(expected)}, not {ns}")
    with open(os.path.join(d, "examples.json")) as f:
        topic = json.load(f)["topic"]
    expect(ys, f"{name}: no y_* example")
    if not ys:
        continue

    rc, out, err = run(d, "--examples", *ys)
    expect(rc == 0, f"{name}: y_* exit {rc}: {out}{err}")
    expect(out.count(": accepted, ") == len(ys), f"{name}: not every y_* accepted:\n{out}")

    for n in ns:
        rc, out, err = run(d, "--examples", "--client", "dev-7", os.path.join(d, n))
        expect(rc == 1, f"{name}/{n}: exit {rc}, expected 1: {err}")
        lines = out.splitlines()
        expect(len(lines) == 2 and lines[0].endswith(": refused"), f"{name}/{n}: output {out!r}")
        if len(lines) != 2:
            continue
        record = json.loads(lines[1])
        want = expected.get(n, {})
        for key in ("reason", "keyword", "pointer"):
            expect(record[key] == want.get(key), f"{name}/{n}: {key} {record[key]!r}, expected {want.get(key)!r}")
        expect(record["schema"] == json.load(open(os.path.join(d, "schema.json")))["x-tsdb"]["id"],
               f"{name}/{n}: schema id {record['schema']}")
        expect(record["client"] == "dev-7", f"{name}/{n}: client {record.get('client')}")
        expect(record["message"], f"{name}/{n}: empty message")

    # The broker's view: all tested schemas, routed by the topic.
    rc, out, err = run(TESTED, "--topic", topic, "--arrival",
                       json.load(open(os.path.join(d, "examples.json")))["arrival"], ys[0])
    expect(rc == 0, f"{name}: routed by topic {topic}: exit {rc}: {out}{err}")
    expect(f"(schema {json.load(open(os.path.join(d, 'schema.json')))['x-tsdb']['id']} v" in out,
           f"{name}: routed to the wrong schema: {out}")

    # A refused and an accepted message together: exit 1, both reported.
    if ns:
        rc, out, _ = run(d, "--examples", ys[0], os.path.join(d, ns[0]))
        expect(rc == 1 and ": accepted" in out and ": refused" in out, f"{name}: mixed run exit {rc}")

# stdin
air = os.path.join(SCHEMAS, "air-quality")
with open(os.path.join(air, "y_full.json"), "rb") as f:
    payload = f.read()
rc, out, err = run(air, "--examples", "-", stdin=payload)
expect(rc == 0 and out.startswith("-: accepted, 6 points"), f"stdin: exit {rc}: {out}{err}")
rc, out, err = run(air, "--arrival", "2026-11-26T09:15:30Z", "--quiet", "-", stdin=payload)
expect(rc == 0 and out == "", f"--quiet: exit {rc}: {out!r}")
rc, out, err = run(air, "--arrival", "2026-11-26T09:00:00Z", "-", stdin=payload)
expect(rc == 1 and '"keyword":"x-tsdb/timestamp/max_future"' in out, f"--arrival: exit {rc}: {out}")

# Usage and schema errors: exit 2.
with tempfile.TemporaryDirectory() as tmp:
    broken = os.path.join(tmp, "broken.schema.json")
    with open(broken, "w") as f:
        f.write('{"x-tsdb": {"id": "b", "version": 1, "topic": "b/{x}", "tiers": ["1m", "90s"],'
                ' "measurements": {"v": {"pointer": "/v"}}}}')
    cases = [
        ((), "no arguments"),
        ((air,), "no message"),
        ((air, "--bogus", "x.json"), "unknown option"),
        ((air, "--arrival", "yesterday", "x.json"), "bad --arrival"),
        ((broken, os.path.join(air, "y_full.json")), "a schema that does not load"),
        ((TESTED, os.path.join(air, "y_full.json")), "a schema directory without --topic"),
        ((TESTED, "--topic", "nowhere/x", os.path.join(air, "y_full.json")), "a topic no schema matches"),
        ((air, os.path.join(tmp, "missing.json")), "an unreadable message"),
    ]
    for args, what in cases:
        rc, out, err = run(*args)
        expect(rc == 2, f"{what}: exit {rc}, expected 2")
        expect(err != "", f"{what}: nothing on stderr")

# --pack reproduces the committed MessagePack examples from their sources.
tc = os.path.join(SCHEMAS, "traffic-counter")
for src in sorted(os.listdir(os.path.join(tc, "json"))):
    p = subprocess.run([TOOL, "--pack", os.path.join(tc, "json", src)], capture_output=True)
    with open(os.path.join(tc, src[:-5] + ".msgpack"), "rb") as f:
        committed = f.read()
    expect(p.returncode == 0 and p.stdout == committed,
           f"traffic-counter/{src}: --pack differs from {src[:-5]}.msgpack")

if failures:
    print(f"{len(failures)} failure(s)", file=sys.stderr)
    sys.exit(1)
print("tsdb-check: all checks passed")
