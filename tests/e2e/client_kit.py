"""Run the real DevTools clients (tests/clients/devtools_client.mjs:
Puppeteer and Playwright as installed by tools/setup) from a Python test,
here or on an OtherHost, and read their one-line JSON result.

    result = run_devtools_client("puppeteer-ws", ws_url)
    assert result["ok"] and result["evaluate"] == 2

    with held_devtools_client("playwright-cdp", url) as held:
        ...kill the browser...
        result = held.result()   # result["disconnected_at_ms"], epoch ms
"""
import contextlib
import json
import os
import shutil
import subprocess
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENTS = os.path.join(REPO, "tests", "clients")
SCRIPT = os.path.join(CLIENTS, "devtools_client.mjs")
MODES = ("puppeteer-ws", "puppeteer-browser-url", "playwright-cdp")
SLACK = 15  # seconds past the script's own --timeout before we kill it


def node():
    path = shutil.which("node") or shutil.which("nodejs")
    if not path:
        raise RuntimeError("no node on PATH: run tools/setup")
    if not os.path.isdir(os.path.join(CLIENTS, "node_modules", "puppeteer-core")):
        raise RuntimeError(f"{CLIENTS}/node_modules is missing: run tools/setup")
    return path


def client_argv(mode, url, *flags, headers=(), timeout=60):
    assert mode in MODES, mode
    argv = [node(), SCRIPT, mode, url, *flags, "--timeout", str(timeout)]
    for header in headers:
        argv += ["--header", header]
    return argv


def parse_result(stdout, returncode, stderr=""):
    """The JSON object on the last non-empty stdout line, plus exit_code."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise AssertionError(f"devtools client printed no JSON (exit {returncode}):\n"
                             f"stdout: {stdout[-2000:]}\nstderr: {stderr[-2000:]}") from None
    result["exit_code"] = returncode
    if stderr.strip():
        result["stderr"] = stderr[-2000:]
    return result


@contextlib.contextmanager
def private_tmp():
    """The environment for one client, with a TMPDIR of its own that goes
    afterwards: Playwright leaves a playwright-artifacts-* directory there."""
    tmp = tempfile.mkdtemp(prefix="corral-client-tmp.")
    try:
        yield {**os.environ, "TMPDIR": tmp}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_devtools_client(mode, url, *flags, host=None, headers=(), timeout=60):
    """Run one client to completion (locally, or inside host, an OtherHost);
    its JSON result with exit_code added. flags: --work, --rounds N,
    --expect-error, --hold-until-disconnect S (for that, see held_devtools_client)."""
    argv = client_argv(mode, url, *flags, headers=headers, timeout=timeout)
    run = host.run if host else _run_here
    with private_tmp() as env:
        completed = run(argv, timeout=timeout + SLACK, env=env)
    return parse_result(completed.stdout, completed.returncode, completed.stderr)


def _run_here(argv, timeout, env=None):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


class HeldClient:
    """A client started with --hold-until-disconnect, still running."""

    def __init__(self, process, timeout):
        self.process = process
        self.timeout = timeout

    def wait_connected(self):
        """Block until the client printed `connected`; raise with its output if it ended instead."""
        line = self.process.stdout.readline()
        if line.strip() != "connected":
            rest, errors = self.process.communicate(timeout=SLACK)
            raise AssertionError(f"devtools client did not connect: {line}{rest}\nstderr: {errors[-2000:]}")

    def result(self):
        stdout, stderr = self.process.communicate(timeout=self.timeout + SLACK)
        return parse_result(stdout, self.process.returncode, stderr)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()


@contextlib.contextmanager
def held_devtools_client(mode, url, hold_seconds=30, host=None, headers=()):
    """Start a client that connects, prints `connected`, then waits for the
    browser to disconnect; yields a HeldClient once it is connected. Its
    result's disconnected_at_ms is epoch ms, comparable with time.time()*1000."""
    timeout = hold_seconds + 30  # connecting, then the hold
    argv = client_argv(mode, url, "--hold-until-disconnect", str(hold_seconds), headers=headers, timeout=timeout)
    start = host.popen if host else subprocess.Popen
    with private_tmp() as env:
        held = HeldClient(start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env), timeout)
        try:
            held.wait_connected()
            yield held
        finally:
            held.kill()
