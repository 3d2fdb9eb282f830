"""bare_relay.c, built for the run and started beside a session's browser:
the floor under any relay (its header says what it leaves out)."""
import os
import re
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


class BareRelay:
    """A bare relay to the browser whose WebSocket URL is `direct_ws`;
    `ws` is the same target through it."""

    def __init__(self, direct_ws):
        match = re.match(r"ws://([^/:]+):(\d+)(/.*)", direct_ws)
        if not match:
            raise RuntimeError(f"not a loopback WebSocket URL: {direct_ws}")
        self.dir = tempfile.mkdtemp(prefix="corral-bare-relay-")
        binary = os.path.join(self.dir, "bare_relay")
        subprocess.run([shutil.which("cc") or "gcc", "-O2", "-o", binary, os.path.join(HERE, "bare_relay.c")],
                       check=True)
        self.process = subprocess.Popen([binary, match.group(2)], stdout=subprocess.PIPE, text=True)
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.stop()
            raise RuntimeError("bare_relay did not say its port")
        self.ws = f"ws://127.0.0.1:{port}{match.group(3)}"

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
