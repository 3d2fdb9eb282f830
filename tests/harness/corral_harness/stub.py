"""The stub browser (tests/stub): how many processes it makes, where it
lists them, wrappers that give it behaviour flags; and a stranger's
DevTools server that a planted DevToolsActivePort may name."""
import http.server
import json
import os
import tempfile

from corral_harness.processes import wait_until


STUB_PROCESSES = 5  # the stub's main process + 3 children + the escapee


class FakeDevTools(http.server.BaseHTTPRequestHandler):
    """A stranger's server that answers /json/version like Chrome, and counts
    who asked: what a browser's DevTools file may name instead of its own port."""
    asked = 0

    def do_GET(self):
        type(self).asked += 1
        body = json.dumps({"webSocketDebuggerUrl": f"ws://127.0.0.1:{self.server.server_port}/planted"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def stub_wrapper(*stub_args):
    """A --browser program that runs the stub with extra behaviour flags."""
    handle, path = tempfile.mkstemp(prefix="corral-test-stub.", suffix=".sh")
    with os.fdopen(handle, "w") as f:
        f.write(f"#!/bin/sh\nexec {os.environ['CORRAL_STUB']} {' '.join(stub_args)} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def pid_file(daemon, session):
    """Where the stub browser of a session lists its PIDs (in its profile dir)."""
    return os.path.join(daemon.state_dir, "sessions", session["id"], "profile", "stub.pids")


def read_pid_file(path, count=None, timeout=10.0):
    """PIDs the stub browser wrote, once the file is complete."""
    wait_until(lambda: os.path.exists(path), timeout, f"pid file {path}")
    with open(path) as f:
        pids = [int(line) for line in f if line.strip()]
    if count is not None:
        assert len(pids) == count, f"expected {count} pids, got {pids}"
    return pids
