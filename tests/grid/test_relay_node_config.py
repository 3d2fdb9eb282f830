#!/usr/bin/env python3
"""tools/grid/relay-node-config, run as a subprocess against a fake corrald
that answers GET /v1/usage with the figures each test sets. The script is
$RELAY_NODE_CONFIG, or found from this file's place in the tree."""
import http.server
import json
import os
import pathlib
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import tomllib
import unittest

SCRIPT = os.environ.get("RELAY_NODE_CONFIG") or str(
    pathlib.Path(__file__).resolve().parents[2] / "tools" / "grid" / "relay-node-config")
GRID_ARGS = ["--hub", "10.0.0.1", "--node-host", "10.0.0.2"]


def usage(always_admitted=3, idle_timeout_ms=600_000, max_sessions=3):
    return {"open_sessions": 0,
            "admission": {"max_sessions": max_sessions, "memory_budget": None, "memory_budget_used": 0,
                          "queued": 0, "always_admitted": always_admitted},
            "session_defaults": {"memory_max": None, "idle_timeout_ms": idle_timeout_ms, "ttl_ms": 3_600_000}}


def cpus():
    """As the script counts them (this process's affinity, which it inherits)."""
    return len(os.sched_getaffinity(0))


class FakeCorral:
    """GET /v1/usage answers `self.usage`; with `token`, only to that Bearer
    token (401 in corrald's {"error": ...} shape otherwise). Records each
    request's Authorization header."""

    def __init__(self, token=None, host="127.0.0.1"):
        self.token = token
        self.usage = usage()
        self.status = 200
        self.authorizations = []
        self.server = http.server.ThreadingHTTPServer((host, 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def answer(self, authorization):
        self.authorizations.append(authorization)
        if self.token and authorization != f"Bearer {self.token}":
            return 401, {"error": {"code": "unauthorized", "message": "this corrald needs an Authorization: "
                                                                      "Bearer token"}}
        if self.status != 200:
            return self.status, {"error": {"code": "internal", "message": "the fake was told to fail"}}
        return 200, self.usage


def _handler_for(fake):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/v1/usage":
                status, body = 404, {"error": {"code": "not_found", "message": "no such endpoint"}}
            else:
                status, body = fake.answer(self.headers.get("Authorization"))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


class RelayNodeConfigTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeCorral()
        self.addCleanup(self.fake.stop)
        self.tmp = self.enterContext(tempfile.TemporaryDirectory())

    def run_script(self, *args, corral=None, env=None):
        # The caller's CORRAL_* must not change what the script reads.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
        environment.update(env or {})
        return subprocess.run([SCRIPT, "--corral", corral or self.fake.url, *args], capture_output=True,
                              text=True, env=environment, timeout=30)

    def config(self, *args, **kwargs):
        result = self.run_script(*GRID_ARGS, *args, **kwargs)
        self.assertEqual(result.returncode, 0, result.stderr)
        return tomllib.loads(result.stdout), result

    def refused(self, *args, **kwargs):
        result = self.run_script(*GRID_ARGS, *args, **kwargs)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(result.stdout, "")
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        return lines[0]

    def test_config_has_corrals_slots_and_grids_addresses(self):
        config, result = self.config()
        self.assertEqual(config["server"], {"host": "10.0.0.2", "port": 5555})
        self.assertEqual(config["events"], {"publish": "tcp://10.0.0.1:4442", "subscribe": "tcp://10.0.0.1:4443"})
        node = config["node"]
        self.assertEqual((node["detect-drivers"], node["max-sessions"], node["session-timeout"]), (False, 3, 300))
        self.assertEqual("override-max-sessions" in node, 3 > cpus())
        self.assertNotIn("heartbeat-period", node)
        self.assertNotIn("register-period", node)
        self.assertNotIn("grid-url", node)
        relay = config["relay"]
        self.assertEqual((relay["url"], relay["status-endpoint"]), (self.fake.url, "/status"))
        slots, stereotype = relay["configs"]
        self.assertEqual(slots, "3")
        self.assertEqual(json.loads(stereotype), {"browserName": "chrome", "platformName": "linux"})
        self.assertTrue(result.stdout.startswith(f"# Selenium Grid relay node for the corral host at "
                                                 f"{self.fake.url}\n"))
        self.assertEqual(result.stderr, "")

    def test_override_max_sessions_only_above_the_cpu_count(self):
        self.fake.usage = usage(always_admitted=cpus() + 1, max_sessions=None)
        config, _ = self.config()
        self.assertEqual(config["node"]["max-sessions"], cpus() + 1)
        self.assertIs(config["node"]["override-max-sessions"], True)
        config, _ = self.config("--max-sessions", str(cpus()))  # at the CPU count, Grid keeps them
        self.assertEqual(config["node"]["max-sessions"], cpus())
        self.assertEqual(config["relay"]["configs"][0], str(cpus()))
        self.assertNotIn("override-max-sessions", config["node"])

    def test_options_reach_the_config(self):
        stereotype = {"browserName": "chrome", "platformName": "linux", "se:name": 'quote " and \\ back',
                      "corral:options": {"labels": {"team": "é"}}}
        config, _ = self.config("--hub", "fd00::1", "--publish-port", "5442", "--subscribe-port", "5443",
                                "--node-port", "6555", "--session-timeout", "120", "--stereotype",
                                json.dumps(stereotype), "--heartbeat-period", "30", "--register-period", "90",
                                "--grid-url", "http://grid.example:4444")
        self.assertEqual(config["events"], {"publish": "tcp://[fd00::1]:5442", "subscribe": "tcp://[fd00::1]:5443"})
        self.assertEqual(config["server"]["port"], 6555)
        node = config["node"]
        self.assertEqual((node["session-timeout"], node["heartbeat-period"], node["register-period"]), (120, 30, 90))
        self.assertEqual(node["grid-url"], "http://grid.example:4444")
        self.assertEqual(json.loads(config["relay"]["configs"][1]), stereotype)

    def test_bad_stereotype_is_refused_before_corral_is_asked(self):
        for stereotype in ("not json", '["chrome"]', '{"platformName": "linux"}'):
            self.assertIn("--stereotype", self.refused("--stereotype", stereotype))
        self.assertEqual(self.fake.authorizations, [])

    def test_max_sessions_above_always_admitted_is_refused(self):
        message = self.refused("--max-sessions", "4")
        self.assertIn("--max-sessions 4 is above the 3 sessions", message)
        self.assertIn("Grid routes by its own slot counts", message)
        config, _ = self.config("--max-sessions", "2")
        self.assertEqual(config["node"]["max-sessions"], 2)

    def test_unbounded_corral_needs_max_sessions(self):
        self.fake.usage = usage(always_admitted=None, max_sessions=None)
        message = self.refused()
        self.assertIn("no bound on sessions", message)
        self.assertIn("give --max-sessions", message)
        config, _ = self.config("--max-sessions", "2")
        self.assertEqual(config["node"]["max-sessions"], 2)

    def test_corral_that_always_admits_none_is_refused(self):
        self.fake.usage = usage(always_admitted=0)
        self.assertIn("memory budget holds no default-sized session", self.refused())
        self.assertIn("memory budget", self.refused("--max-sessions", "1"))

    def test_idle_timeout_must_be_above_the_session_timeout(self):
        self.fake.usage = usage(idle_timeout_ms=300_000)
        message = self.refused("--session-timeout", "300")
        self.assertIn("raise corrald's --default-idle-timeout above 300 s or lower --session-timeout", message)
        config, _ = self.config("--session-timeout", "299")
        self.assertEqual(config["node"]["session-timeout"], 299)

    def test_default_session_timeout_stays_below_corrals_idle_timeout(self):
        for idle_ms, expected in ((600_000, 300), (300_000, 270), (299_999, 270), (15_000, 5)):
            self.fake.usage = usage(idle_timeout_ms=idle_ms)
            config, _ = self.config()
            self.assertEqual(config["node"]["session-timeout"], expected, idle_ms)
        self.fake.usage = usage(idle_timeout_ms=10_000)
        self.assertIn("leaves Grid no session timeout below it", self.refused())

    def test_older_corrald_is_refused(self):
        self.fake.usage = {"admission": {"max_sessions": 3}, "session_defaults": {"idle_timeout_ms": 600_000}}
        self.assertIn("no admission.always_admitted: upgrade corrald", self.refused())

    def test_token_is_sent_as_bearer_and_a_corral_that_needs_it_refused(self):
        self.fake.token = "s3cret-token"
        token_file = pathlib.Path(self.tmp, "api.token")
        token_file.write_text("s3cret-token\n")
        output = pathlib.Path(self.tmp, "node.toml")
        result = self.run_script(*GRID_ARGS, "--output", str(output), env={"CORRAL_TOKEN_FILE": str(token_file)})
        self.assertEqual(self.fake.authorizations[0], "Bearer s3cret-token")
        # The relay sends no token: corral would refuse every session.
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("requires its token, and a relay node sends none", result.stderr)
        self.assertNotIn("s3cret-token", result.stdout + result.stderr)
        self.assertFalse(output.exists())

    def test_missing_or_wrong_token_is_corrals_message(self):
        self.fake.token = "s3cret-token"
        self.assertIn("answered 401: this corrald needs an Authorization: Bearer token", self.refused())
        missing = os.path.join(self.tmp, "absent.token")
        self.assertIn(f"cannot read --token-file {missing}", self.refused("--token-file", missing))

    def test_corral_error_answer_is_refused_with_its_message(self):
        self.fake.status = 500
        self.assertIn("answered 500: the fake was told to fail", self.refused())

    def test_unreachable_corral_is_refused(self):
        # A bound socket that does not listen: connecting to it is refused at
        # once, and no other process can take its port meanwhile.
        with socket.socket() as bound:
            bound.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{bound.getsockname()[1]}"
            message = self.refused(corral=url)
        self.assertIn(f"cannot reach corral at {url}/v1/usage", message)

    def test_proxy_settings_are_ignored(self):
        with socket.socket() as bound:
            bound.bind(("127.0.0.1", 0))
            proxy = f"http://127.0.0.1:{bound.getsockname()[1]}"
            self.config(env={"http_proxy": proxy, "HTTP_PROXY": proxy, "no_proxy": ""})

    def test_unix_socket_and_credentials_in_the_url_are_refused(self):
        self.assertIn("Grid's relay speaks HTTP over TCP only", self.refused(corral="unix:/run/corral/api.sock"))
        message = self.refused(corral=self.fake.url.replace("//", "//user:s3cret@"))
        self.assertIn("give the token with --token-file", message)
        self.assertNotIn("s3cret", message)

    def test_output_is_written_atomically_with_mode_0644(self):
        output = pathlib.Path(self.tmp, "node.toml")
        output.write_text("old config\n")
        os.chmod(output, 0o600)
        result = self.run_script(*GRID_ARGS, "--output", str(output))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertEqual(os.listdir(self.tmp), ["node.toml"])  # no temp file left
        self.assertEqual(stat.S_IMODE(output.stat().st_mode), 0o644)
        self.assertEqual(tomllib.loads(output.read_text())["node"]["max-sessions"], 3)

    def test_refusal_leaves_the_output_alone(self):
        output = pathlib.Path(self.tmp, "node.toml")
        output.write_text("old config\n")
        self.refused("--max-sessions", "9", "--output", str(output))
        self.assertEqual(output.read_text(), "old config\n")
        self.assertEqual(os.listdir(self.tmp), ["node.toml"])

    def test_corral_off_loopback_warns(self):
        # 0.0.0.0 is not a loopback address, yet on Linux connecting to it
        # reaches this host: a fake on every address answers there.
        fake = FakeCorral(host="0.0.0.0")
        self.addCleanup(fake.stop)
        url = fake.url.replace("127.0.0.1", "0.0.0.0")
        config, result = self.config(corral=url)
        self.assertEqual(config["relay"]["url"], url)
        self.assertIn(f"warning: {url} is not loopback", result.stderr)
        self.assertIn("without authentication", result.stderr)


if __name__ == "__main__":
    unittest.main()
