"""Processes as /proc shows them, read from outside: the benchmark's own
view, never a daemon's report."""
import os
import signal
import time


def all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


PF_EXITING = 0x4  # include/linux/sched.h: the task has begun do_exit()


def alive(pid):
    """True while pid exists, is not a zombie and has not begun exiting.

    A task that has begun do_exit() runs no code any more; it leaves its
    cgroup (cgroup_exit, after its memory is released: what makes
    cgroup.events say populated 0) a moment before /proc stops showing it
    running. Every side is judged by this one rule, as the e2e harness does."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0] not in ("Z", "X") and not int(fields[6]) & PF_EXITING
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return False


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except (FileNotFoundError, ProcessLookupError):
        return "?"


def children(pid):
    """Direct children of pid (its main thread's), from /proc/PID/task/PID/children."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def processes_mentioning(text):
    """Live processes whose command line contains text (a session's dir, say)."""
    me = os.getpid()
    return [pid for pid in all_pids() if pid != me and text in cmdline(pid) and alive(pid)]


def kill_and_wait(pids, timeout=10.0):
    """SIGKILL pids, wait until none is alive; the ones still alive after timeout."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    return [pid for pid in pids if alive(pid)]


def rss_kib(pid):
    """VmRSS of pid in KiB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None


def thread_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except (FileNotFoundError, ProcessLookupError):
        return None


def wait_until(predicate, timeout, what, interval=0.01):
    """The first true value of predicate(); RuntimeError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
