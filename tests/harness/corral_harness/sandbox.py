"""Chrome's sandbox, as /proc shows it among a session's processes."""
import os

from corral_harness.processes import cmdline, process_status, user_namespace, wait_until


def chrome_sandbox_state(pids):
    """What Chrome's sandbox looks like among pids (a session's processes):
    for each renderer (--type=renderer), whether it is in a user namespace of
    its own (the namespace sandbox) and under a seccomp-bpf filter (Seccomp 2);
    and which processes were started with --no-sandbox.
    Returns {"renderers": {pid: (own_user_namespace, seccomp)}, "no_sandbox": [pid]}.
    Processes that end while this reads are left out."""
    browsers, renderers, no_sandbox = {}, [], []
    for pid in pids:
        # Chrome's helpers rewrite their title into one space-separated string.
        argv = " ".join(cmdline(pid)).split()
        if not argv:
            continue
        if "--no-sandbox" in argv:
            no_sandbox.append(pid)
        if "--type=renderer" in argv:
            renderers.append(pid)
        elif os.path.basename(argv[0]) in ("chromium", "chrome") and not any(a.startswith("--type=") for a in argv):
            browsers[pid] = user_namespace(pid)
    # The browser runs in the host's user namespace (ours) unless something
    # is very wrong; a sandboxed renderer is in neither.
    outside = set(browsers.values()) | {user_namespace("self")}
    state = {"renderers": {}, "no_sandbox": no_sandbox}
    for pid in renderers:
        namespace, status = user_namespace(pid), process_status(pid)
        if namespace and status:
            state["renderers"][pid] = (namespace not in outside, int(status["Seccomp"]))
    return state


def assert_chrome_sandboxed(pids, timeout=20):
    """Chrome's sandbox is on among pids() (called again until it holds): no
    process has --no-sandbox, there is a renderer, and every renderer is in a
    user namespace other than its browser's and under seccomp-bpf. A renderer
    the zygote has just forked applies its seccomp filter a moment later, so
    this waits for that. Returns the state."""
    def sandboxed(state):
        renderers = state["renderers"].values()
        return not state["no_sandbox"] and renderers and all(own and seccomp == 2 for own, seccomp in renderers)

    last = {}

    def settled():
        last["state"] = chrome_sandbox_state(pids())
        return sandboxed(last["state"])
    try:
        wait_until(settled, timeout, "Chrome's sandbox on every renderer")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}; renderers as (own user namespace, Seccomp) per pid, and the "
                             f"processes with --no-sandbox: {last['state']}") from None
    return last["state"]
