"""systemd-run --user --scope running the same program: what a bot could do
by hand to get a cgroup per browser. The scope's KillSignal is SIGKILL, so
`systemctl --user stop` ends every process at once (the stub ignores
SIGTERM, as a hung browser would) and returns when the unit is gone."""
import itertools
import os
import subprocess


_count = itertools.count(1)


class SystemdRunScope:
    def __init__(self, argv, uid, gid):
        self.unit = f"corral-bench-{os.getpid()}-{next(_count)}.scope"
        self.process = subprocess.Popen(
            ["systemd-run", "--user", "--scope", "--quiet", "--collect", "-p", "KillSignal=SIGKILL",
             f"--unit={self.unit}", f"--uid={uid}", f"--gid={gid}", "--", *argv],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        subprocess.run(["systemctl", "--user", "stop", self.unit], check=True, capture_output=True, timeout=60)
        self.process.wait(10)


def leftover_units():
    """Units of this bench still loaded in the user manager."""
    out = subprocess.run(["systemctl", "--user", "list-units", "--all", "--no-legend", "--plain",
                          f"corral-bench-{os.getpid()}-*"], capture_output=True, text=True, timeout=30).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]

