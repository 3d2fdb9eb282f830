"""The benchmark's own cgroups: one per baseline session, so that it can see
from outside which processes a session has, end them all, and time the
kernel's own teardown (cgroup.kill until cgroup.events says populated 0)."""
import contextlib
import errno
import os
import select
import time

CGROUP2 = "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "/sys/fs/cgroup"


def own_cgroup():
    with open("/proc/self/cgroup") as f:
        return CGROUP2 + next(line[3:].strip() for line in f if line.startswith("0::")).rstrip("/")


# A cgroup being removed answers a read with ENODEV for a moment, then ENOENT: both mean gone.
GONE = (errno.ENOENT, errno.ENODEV)


def procs(path):
    """PIDs in one cgroup (not below it); [] once it is gone."""
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(line) for line in f if line.strip()]
    except OSError as failure:
        if failure.errno in GONE:
            return []
        raise


def populated(path):
    try:
        with open(os.path.join(path, "cgroup.events")) as f:
            return "populated 1" in f.read()
    except OSError as failure:
        if failure.errno in GONE:
            return False
        raise


def kill_and_time(path, timeout=10.0):
    """cgroup.kill, then wait for populated 0 the way corrald does: poll(2) on
    cgroup.events, which the kernel wakes when the last process is gone.
    Milliseconds from the write to populated 0; None if it did not empty."""
    events = open(os.path.join(path, "cgroup.events"))
    try:
        poller = select.poll()
        poller.register(events, select.POLLPRI | select.POLLERR)
        started = time.perf_counter()
        with open(os.path.join(path, "cgroup.kill"), "w") as f:
            f.write("1")
        deadline = started + timeout
        while True:
            events.seek(0)
            if "populated 0" in events.read():
                return (time.perf_counter() - started) * 1000
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            poller.poll(min(left, 0.2) * 1000)
    finally:
        events.close()


def kill(path, timeout=10.0):
    """End every process in a cgroup (and below it); True once it is empty."""
    if not os.path.isdir(path):
        return True
    return kill_and_time(path, timeout) is not None


def remove(path):
    """Kill what is left and rmdir the subtree, leaves first."""
    if not os.path.isdir(path):
        return
    kill(path)
    for root, _, _ in os.walk(path, topdown=False):
        for _ in range(100):
            try:
                os.rmdir(root)
                break
            except FileNotFoundError:
                break
            except OSError:  # EBUSY for a moment after the last process died
                time.sleep(0.02)


class BenchCgroups:
    """corral-bench-<pid>/ under the cgroup2 mount; every baseline session
    gets a leaf there, and all of it goes at the end."""

    def __init__(self):
        self.root = os.path.join(CGROUP2, f"corral-bench-{os.getpid()}")
        os.mkdir(self.root)
        self.count = 0

    def make(self, name):
        self.count += 1
        path = os.path.join(self.root, f"{self.count:05d}-{name}")
        os.mkdir(path)
        return path

    def remove_all(self):
        remove(self.root)


@contextlib.contextmanager
def in_cgroup(path):
    """Run the block with this process in cgroup `path`, so that whatever it
    forks starts there (no window in which a child runs elsewhere); then go
    back. The benchmark does this instead of a wrapper program, which would
    add an exec to the baseline it times."""
    home = own_cgroup()
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    try:
        yield
    finally:
        with open(os.path.join(home, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
