"""The host's cgroup2 tree, and taking a test's own part of it away."""
import os

from corral_harness.processes import wait_until

CGROUP2 = "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "/sys/fs/cgroup"


def remove_cgroup_tree(path, timeout=5.0):
    """cgroup.kill a whole subtree, wait until it is empty, rmdir leaves first."""
    if not os.path.isdir(path):
        return
    try:
        with open(os.path.join(path, "cgroup.kill"), "w") as f:
            f.write("1")
        wait_until(lambda: _is_empty(path), timeout, f"{path} to empty")
    except (OSError, AssertionError):
        pass
    for root, _, _ in os.walk(path, topdown=False):
        try:
            os.rmdir(root)
        except OSError:
            pass


def _is_empty(path):
    with open(os.path.join(path, "cgroup.events")) as events:
        return "populated 0" in events.read()
