"""A --warm daemon's pool as tests see it: its counts in /v1/usage, waiting
for it to fill, and the cgroups of its members (the session cgroups that no
listed session owns)."""
import os

from corral_harness.processes import wait_until


def warm_usage(daemon, kind):
    """/v1/usage's warm.KIND: target, ready, hits, misses, discarded, frozen."""
    return daemon.request("GET", "/v1/usage")[1]["warm"][kind]


def wait_warm_ready(daemon, kind, count, timeout=90):
    wait_until(lambda: warm_usage(daemon, kind)["ready"] == count, timeout, f"{count} warm {kind} members ready")


def warm_cgroups(daemon):
    """Paths of the session cgroups that no listed session owns: the warm members."""
    root = daemon.request("GET", "/v1/health")[1]["cgroup_root"]
    listed = {os.path.basename(s["cgroup"]) for s in daemon.request("GET", "/v1/sessions")[1]["sessions"]}
    return [os.path.join(root, name) for name in daemon.session_cgroups() if name not in listed]
