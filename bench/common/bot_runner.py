"""One bot process and its line protocol (bench/bot.py): commands on its
stdin, one JSON event per line on its stdout."""
import json
import os
import select
import signal
import subprocess
import sys

BOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bot.py")
READY_TIMEOUT = 120


class Bot:
    def __init__(self, process, pid):
        self.process = process
        self.pid = pid  # the bot program's own pid (behind nsenter for the baselines)
        self.events = []

    @classmethod
    def start_plain(cls, args, cgroup=None):
        """A bot as a plain child of the bench (the corral side: it only talks HTTP)."""
        from common import cgroups
        env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        command = ["/usr/bin/python3", BOT, *args]
        if cgroup:
            with cgroups.in_cgroup(cgroup):
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        else:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        return cls(process, process.pid)

    @classmethod
    def start_in_host(cls, host, args, cgroup):
        process, pid = host.spawn(["/usr/bin/python3", host.bot, *args], cgroup, {"PYTHONDONTWRITEBYTECODE": "1"})
        return cls(process, pid)

    def expect(self, event, timeout=READY_TIMEOUT):
        """The next event, which must be `event`."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"bot {self.pid}: no '{event}' (exit {self.process.poll()}) within {timeout} s")
        message = json.loads(line)
        self.events.append(message)
        if message["event"] != event:
            raise RuntimeError(f"bot {self.pid}: expected {event}, got {message}")
        return message

    def send(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def kill(self):
        """SIGKILL the bot program itself: it gets no chance to clean up."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.reap()

    def reap(self, timeout=60):
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"warning: bot {self.pid} still running; killing it", file=sys.stderr)
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except (BrokenPipeError, OSError):
                pass
