"""Processes as /proc shows them, read from outside: the benchmark's own
view, never a daemon's report."""
import os
import signal
import time

# wait_until is the harness's: the first true value of predicate(), AssertionError after timeout.
from corral_harness.processes import cmdline as harness_cmdline, pid_alive, wait_until  # noqa: F401


def all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def alive(pid):
    """True while pid exists, is not a zombie and has not begun exiting: the
    e2e harness's rule (corral_harness.processes.pid_alive), so that every
    side is judged by one rule."""
    return pid_alive(pid)


def cmdline(pid):
    """A process's command line as one string ("" once it is gone)."""
    return " ".join(harness_cmdline(pid)).strip()


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


def pss_kib(pid):
    """Pss of pid in KiB (its share of pages it shares, Chrome's renderers
    with their browser), from smaps_rollup; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


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


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)


def context_switches(pid):
    """Voluntary + involuntary context switches of all the process's threads
    so far: about how often its threads woke to work."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                total += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total
