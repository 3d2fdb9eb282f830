"""Processes as /proc shows them, read from outside: the e2e suites' and
the benchmarks' one view of whether a process lives, what it runs as and
where it is (bench/common/procs.py uses these instead of copies)."""
import os
import time


PF_EXITING = 0x4  # include/linux/sched.h: the task has begun do_exit()


def pid_alive(pid):
    """True if pid exists, is not a zombie and has not begun exiting.

    cgroup.events says "populated 0" once every task of the cgroup has
    passed cgroup_exit() in do_exit(), after its memory was released and
    before it becomes a zombie: for a moment /proc still shows such a task
    running, with PF_EXITING in its flags. It runs no code any more."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state, flags = fields[0], int(fields[6])
    return state not in ("Z", "X") and not flags & PF_EXITING


def wait_until(predicate, timeout=10.0, what="condition", interval=0.02):
    """The first true value of predicate(); AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def process_status(pid):
    """The fields of /proc/PID/status, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except (FileNotFoundError, ProcessLookupError):
        return None


def cmdline(pid):
    """argv of a process, or [] if it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode("utf-8", "replace").split("\0")[:-1]
    except (FileNotFoundError, ProcessLookupError):
        return []


def credentials(pid):
    """(uids, gids, supplementary groups, NoNewPrivs) of a live process, or None.
    uids and gids are the real, effective, saved and filesystem ids."""
    status = process_status(pid)
    if status is None:
        return None
    return (status["Uid"].split(), status["Gid"].split(), status["Groups"].split(), status["NoNewPrivs"])


def expected_credentials(user):
    """What credentials() says for a process that runs as `user`, no groups, NoNewPrivs."""
    return ([str(user.pw_uid)] * 4, [str(user.pw_gid)] * 4, [], "1")


def processes_in(cgroup):
    """PIDs in a cgroup and every cgroup below it."""
    pids = []
    for root, _, files in os.walk(cgroup):
        with open(os.path.join(root, "cgroup.procs")) as f:
            pids += [int(line) for line in f if line.strip()]
    return pids


def chromedriver_of(session):
    """A chromedriver session's own chromedriver: (its port, its secret base
    "/<32 hex>"), from its command line (root reads it). corral hands out
    neither: a session's `webdriver` URL is a base on corral's address."""
    for pid in processes_in(session["cgroup"]):
        argv = cmdline(pid)
        ports = [a.split("=", 1)[1] for a in argv if a.startswith("--port=")]
        bases = [a.split("=", 1)[1] for a in argv if a.startswith("--url-base=")]
        if ports and bases:
            return int(ports[0]), "/" + bases[0].strip("/")
    raise AssertionError(f"no chromedriver with --port and --url-base in session {session['id']}")


def user_namespace(pid):
    """The user namespace a process is in ("user:[4026531837]"), or None if it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/user")
    except (FileNotFoundError, ProcessLookupError):
        return None
