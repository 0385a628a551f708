import os
import shutil
import subprocess
import tempfile

import pytest

from harness import Broker, make_schema_dir


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def workdir(request):
    d = tempfile.mkdtemp(prefix="tsdb-it-")
    yield d
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if not failed:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def broker_factory(workdir, request):
    """Creates brokers in the test's work directory; stops them all at the
    end and prints their logs when the test failed."""
    brokers = []

    def make(options=None, schemas=True, **kw):
        if schemas and not os.path.isdir(os.path.join(workdir, "schemas")):
            make_schema_dir(workdir)
        b = Broker(workdir, options=options, **kw)
        brokers.append(b)
        return b

    yield make
    for b in brokers:
        b.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for b in brokers:
            for i in range(1, b.runs + 1):
                path = os.path.join(b.workdir, "broker-%d.log" % i)
                if os.path.exists(path):
                    print("\n==== broker log (%s) ====" % path)
                    print(open(path, errors="replace").read()[-20000:])


@pytest.fixture
def broker(broker_factory):
    b = broker_factory()
    b.start()
    return b


@pytest.fixture
def tmpfs(workdir):
    """Mounts small tmpfs file systems in the work directory (the fault tests'
    full disks); unmounts them at the end. Needs root, as CI runs."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounts = []

    def mount(name, size="64m"):
        path = os.path.join(workdir, name)
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", path],
                       check=True)
        mounts.append(path)
        return path

    yield mount
    for path in reversed(mounts):
        # The brokers are stopped by now (broker_factory is set up after this
        # fixture and torn down before it); lazily, in case one still is not.
        if subprocess.run(["umount", path], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", path], capture_output=True)
