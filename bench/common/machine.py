"""What the figures were measured on: they mean nothing without it."""
import datetime
import hashlib
import os
import platform
import subprocess

from common.cgroups import CGROUP2
from common.chrome import CHROMEDRIVER, CHROMIUM


def _first(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _run(*argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def cgroup_layout():
    """unified (cgroup2 alone at /sys/fs/cgroup) or hybrid (v1 controllers, cgroup2 at .../unified),
    and the controllers cgroup2 has."""
    with open(os.path.join(CGROUP2, "cgroup.controllers")) as f:
        controllers = f.read().split()
    kind = "hybrid" if CGROUP2.endswith("/unified") else "unified"
    return f"{kind}: cgroup2 at {CGROUP2}, controllers: {' '.join(controllers) or 'none'}"


def describe(root):
    """CPU, cores, memory, kernel, cgroup layout, PID 1, the browser, the commit."""
    mem_kib = int(_first("/proc/meminfo", "MemTotal").split()[0])
    with open("/proc/1/comm") as f:
        init = f.read().strip()
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {
        "cpu": _first("/proc/cpuinfo", "model name") or "?",
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _run("sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"),
        "cgroup": cgroup_layout(),
        "pid1": init,
        "chromium": _run(CHROMIUM, "--version") or "?",
        "chromedriver": _run(CHROMEDRIVER, "--version").split(" (")[0],
        "selenium": _run("/usr/bin/python3", "-c", "import selenium; print(selenium.__version__)"),
        "psutil": _run("/usr/bin/python3", "-c", "import psutil; print(psutil.__version__)"),
        "commit": _run("git", "-C", root, "rev-parse", "--short", "HEAD"),
        "commit_subject": _run("git", "-C", root, "log", "-1", "--format=%s"),
        "tree_dirty": bool(_run("git", "-C", root, "status", "--porcelain", "--untracked-files=no")),
        "loadavg_start": load,
    }


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def corrald_binary():
    """Which corrald ran ($CORRALD): it may be built from another checkout than this one."""
    path = os.environ["CORRALD"]
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    built = datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.timezone.utc)
    return {"path": path, "sha256": digest, "built": built.strftime("%Y-%m-%d %H:%M UTC")}


def cpu_jiffies():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)
