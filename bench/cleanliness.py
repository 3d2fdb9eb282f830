"""Whether the benchmark left the machine as it found it: no process, cgroup,
unit or temp dir of its own, no Chrome temp dir in /tmp. Other people's
test runs share the host, so the check is about what is the bench's own
(its names carry its pid, its dirs its prefix), and it prints what the
whole host holds besides, for the record."""
import os
import tempfile

from common import procs
from common.cgroups import CGROUP2

PREFIX = "corral-bench"
CHROME_TMP = (".org.chromium.", "org.chromium.")


def chrome_tmp_entries():
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(CHROME_TMP)}


def bench_tmp_entries():
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(PREFIX)}


def snapshot():
    """What the host holds before the run: only what appears after it is the bench's."""
    return {"chrome_tmp": chrome_tmp_entries(), "bench_tmp": bench_tmp_entries(),
            "chromium_processes": len(chromium_processes())}


def chromium_processes():
    return [p for p in procs.all_pids() if procs.comm(p).startswith(("chromium", "chromedriver", "chrome_"))
            and procs.alive(p)]


def bench_units():
    import subprocess
    if not os.environ.get("XDG_RUNTIME_DIR"):
        return []
    out = subprocess.run(["systemctl", "--user", "list-units", "--all", "--no-legend", "--plain", "corral-*"],
                         capture_output=True, text=True, timeout=30).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def check(before):
    """What the bench left; `clean` is True when it left nothing of its own."""
    me = str(os.getpid())
    left = {
        "processes": [f"{p} {procs.cmdline(p)[:100]}" for p in procs.processes_mentioning(PREFIX)],
        "cgroups": sorted(n for n in os.listdir(CGROUP2) if n.startswith(f"{PREFIX}-{me}")),
        "units": bench_units(),
        "temp_dirs": sorted(bench_tmp_entries() - before["bench_tmp"]),
        "new_chrome_tmp": sorted(chrome_tmp_entries() - before["chrome_tmp"]),
    }
    host = {"chromium_processes_before": before["chromium_processes"],
            "chromium_processes_after": len(chromium_processes())}
    return {"clean": not any(left.values()), "left": left, "host": host}
