"""Every byte a session's pages move is counted at its way out, and a session
may be capped. A page on the internet (the public test host) downloads
20 MB; the server counts every byte it wrote, and the session's count of
bytes in agrees within 2 % in its stats, in /metrics (by --metrics-label),
in `corralctl top` (the real binary, --once, text and JSON) and in its close
report. A session with network_max_bytes 5 MB that fetches 20 MB is closed
with reason network-limit, having moved at most 1 MB past its cap. A cap
above --max-network-max-bytes is a 422, and nothing opens.

A root corrald and an unprivileged one (the user manager's way, its
sessions in user namespaces of their own) in the cgroupfs suite; in the
systemd-user suite sessions share corrald's network, where nothing is
counted and a cap is refused (422)."""
import json
import os
import signal
import subprocess
import threading
import unittest
import urllib.parse

from corral_harness import BACKEND, NAMED_INSTANCE_UIDS, SESSION_NETWORK, Daemon, DaemonTestCase, wait_until
from corral_harness.unprivileged import UnprivilegedDaemon
from public_host import PublicHost, http_server_on, listening_socket_in

import http.server

CORRALCTL = os.environ["CORRALCTL"]
MB = 1000 * 1000
DOWNLOAD = 20 * MB
CAP = 5 * MB
EARLIER = 3 * MB  # under the cap once, past it twice
MAXIMUM = 100 * MB
# The cap's promise: at most this far past it.
OVERSHOOT = max(1 * MB, CAP // 100)

# Fetches the URL in its fragment whole, then reports how many bytes came.
FETCH = """<!doctype html><title>fetch</title><script>
fetch(decodeURIComponent(location.hash.slice(1)), {cache: 'no-store'})
  .then(r => r.arrayBuffer()).then(b => ({received: b.byteLength}), e => ({failed: e.message}))
  .then(result => fetch('/report', {method: 'POST', body: JSON.stringify(result)}));
</script>"""


class CountingServer:
    """Serves /fetch.html and /bytes?n=N (N bytes), takes POSTs to /report,
    and counts every byte it wrote to any client: status lines, headers and
    bodies, as the kernel took them."""

    def __init__(self, sock):
        self.sent = 0
        self.reports = []
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def setup(self):
                super().setup()
                raw = self.wfile

                class Counting:
                    def write(self, data):
                        written = raw.write(data)
                        with lock:
                            outer.sent += len(data)
                        return written

                    def flush(self):
                        raw.flush()

                    def close(self):
                        raw.close()

                    @property
                    def closed(self):
                        return raw.closed

                self.wfile = Counting()

            def do_GET(self):
                path, _, query = self.path.partition("?")
                if path == "/fetch.html":
                    return self.answer(FETCH.encode(), "text/html")
                length = int(urllib.parse.parse_qs(query).get("n", ["0"])[0])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(length))
                self.end_headers()
                chunk = os.urandom(64 * 1024)
                try:
                    for offset in range(0, length, len(chunk)):
                        self.wfile.write(chunk[:min(len(chunk), length - offset)])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the session was cut off: its way out closed

            def do_POST(self):
                outer.reports.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.answer(b"", "text/plain", 204)

            def answer(self, body, kind, status=200):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        address, port = sock.getsockname()
        self.url = f"http://{address}:{port}"
        self.server = http_server_on(sock, Handler)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@unittest.skipIf(BACKEND.startswith("systemd-user"), "the systemd-user suite runs the unprivileged class below")
class BytesCountedAndCapped(DaemonTestCase):
    use_stub = False
    daemon_args = ("--metrics-label", "bot", "--max-network-max-bytes", str(MAXIMUM))

    def setUp(self):
        self.public = PublicHost().__enter__()
        self.addCleanup(self.public.__exit__, None, None, None)
        self.server = CountingServer(listening_socket_in(self.public.name, self.public.client_address))
        self.addCleanup(self.server.close)

    def download(self, session, length):
        """Has a tab of the session fetch `length` bytes from the public host."""
        path = urllib.parse.urlsplit(session["devtools"]["http"]).path.rstrip("/")
        page = f"{self.server.url}/fetch.html#" + urllib.parse.quote(f"{self.server.url}/bytes?n={length}")
        status, _ = self.daemon.request("PUT", f"{path}/json/new?{page}", auth=False)
        self.assertEqual(status, 200)

    def top_once(self, *args):
        result = subprocess.run([CORRALCTL, "--url", self.daemon.url, "top", "--once", "--interval", "0.3", *args],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def assert_close(self, counted, sent, what):
        self.assertLessEqual(abs(counted - sent), sent * 0.02, f"{what}: counted {counted}, the server sent {sent}")

    def test_a_20_mb_download_is_counted_within_2_percent_everywhere(self):
        session = self.daemon.open({"kind": "chrome", "labels": {"bot": "fetcher"}})
        self.assertEqual(session["network"]["max_bytes"], MAXIMUM, "with a maximum and no default, the maximum")
        self.download(session, DOWNLOAD)
        wait_until(lambda: self.server.reports, 120, "the page's report")
        self.assertEqual(self.server.reports[0], {"received": DOWNLOAD})
        sent = self.server.sent
        stats = self.daemon.get(session["id"])[1]["stats"]
        print(f"\nthe server sent {sent} bytes; the session counted {stats['network_bytes_in']} in, "
              f"{stats['network_bytes_out']} out")
        self.assert_close(stats["network_bytes_in"], sent, "stats")
        self.assertGreater(stats["network_bytes_out"], 0)
        self.assertLess(stats["network_bytes_out"], 100 * 1000)
        metric = self.daemon.metric('corral_sessions_network_in_bytes_total{bot="fetcher"}')
        self.assert_close(metric, sent, "/metrics")
        self.assertGreater(self.daemon.metric('corral_sessions_network_out_bytes_total{bot="fetcher"}'), 0)
        frame = json.loads(self.top_once("--json"))
        row = next(row for row in frame["sessions"] if row["id"] == session["id"])
        self.assert_close(row["network_bytes_in"], sent, "corralctl top --json")
        self.assert_top_text(session["id"])
        report = self.daemon.close(session["id"])
        print(f"the close report: {report['network_bytes_in']} in, {report['network_bytes_out']} out")
        self.assert_close(report["network_bytes_in"], sent, "the close report")
        self.assertEqual(self.daemon.metric('corral_session_network_bytes_count{bot="fetcher"}'), 1)
        self.assertGreaterEqual(self.daemon.metric('corral_sessions_network_in_bytes_total{bot="fetcher"}'),
                                report["network_bytes_in"], "the counter keeps a closed session's bytes")

    def assert_top_text(self, session_id):
        """The text frame: NET IN and NET OUT columns, humanized (20 MB is 19.1M)."""
        lines = self.top_once().splitlines()
        header = next(line for line in lines if line.startswith("ID "))
        self.assertIn("NET IN", header)
        self.assertIn("NET OUT", header)
        row = next(line for line in lines if line.startswith(session_id))
        at = header.index("NET IN")
        shown = row[at - 1:header.index("NET OUT") + len("NET OUT")].split()
        self.assertRegex(shown[0], r"^(19|20)(\.\d)?M$", row)

    def test_past_its_cap_a_session_is_closed_with_network_limit(self):
        session = self.daemon.open({"kind": "chrome", "network_max_bytes": CAP, "labels": {"bot": "capped"}})
        self.assertEqual(session["network"]["max_bytes"], CAP)
        self.download(session, DOWNLOAD)
        closed = self.daemon.wait_closed(session["id"], 120, "the capped session's close")
        report = closed["report"]
        moved = report["network_bytes_in"] + report["network_bytes_out"]
        print(f"\nclosed with {report['reason']} after {moved} bytes (cap {CAP}); the server sent {self.server.sent}")
        self.assertEqual(report["reason"], "network-limit", report)
        self.assertGreater(moved, CAP)
        self.assertLessEqual(moved, CAP + OVERSHOOT)
        self.assertTrue(report["verified_empty"], report)
        self.assertEqual(self.server.reports, [], "the page never got its 20 MB")

    def recorded_bytes_in(self, daemon, session_id):
        """What the state file holds of the session's bytes in (its last checkpoint)."""
        with open(os.path.join(daemon.state_dir, "sessions.json")) as f:
            records = json.load(f)["sessions"]
        return next(r for r in records if r["id"] == session_id).get("network_bytes", {}).get("in", 0)

    def test_an_adopted_session_counts_on_from_before_the_crash_and_keeps_its_cap(self):
        """kill -9 of corrald: the counts lived in its memory, and the state
        file's checkpoint (every 2 s while bytes move) is what the corrald
        that adopts the session counts on from; past the cap, it closes it."""
        extra = ("--session-uids", NAMED_INSTANCE_UIDS) if self.daemon_class is Daemon else ()
        first, second = self.daemon_class(*self.daemon_args, *extra), None
        try:
            session = first.open({"kind": "chrome", "network_max_bytes": CAP})
            self.daemon, saved = first, self.daemon
            try:
                self.download(session, EARLIER)
            finally:
                self.daemon = saved
            wait_until(lambda: self.server.reports, 120, "the page's report")
            before = first.get(session["id"])[1]["stats"]["network_bytes_in"]
            self.assert_close(before, EARLIER, "stats before the crash")
            wait_until(lambda: self.recorded_bytes_in(first, session["id"]) >= before, 30, "the counts' checkpoint")
            first.stop(signal.SIGKILL)
            second = self.daemon_class(*self.daemon_args, *extra, reuse=first)
            adopted = second.get(session["id"])[1]
            self.assertEqual(adopted["state"], "running", adopted)
            self.assertEqual(adopted["network"]["max_bytes"], CAP)
            print(f"\nbefore the crash {before} bytes in; the adopting corrald counts {adopted['stats']['network_bytes_in']}")
            self.assertGreaterEqual(adopted["stats"]["network_bytes_in"], before, "counted on from the checkpoint")
            self.daemon = second
            try:
                self.download(adopted, EARLIER)  # the two together are past the cap
            finally:
                self.daemon = saved
            report = second.wait_closed(session["id"], 120, "the adopted session's close")["report"]
            self.assertEqual(report["reason"], "network-limit", report)
            moved = report["network_bytes_in"] + report["network_bytes_out"]
            self.assertGreater(moved, CAP)
            self.assertLessEqual(moved, CAP + OVERSHOOT)
        finally:
            for daemon in (second, first):
                if daemon:
                    daemon.remove()

    def test_a_cap_above_the_maximum_is_refused_and_nothing_opens(self):
        status, reply = self.daemon.request("POST", "/v1/sessions", {"kind": "chrome", "network_max_bytes": MAXIMUM + 1})
        self.assertEqual(status, 422, reply)
        self.assertIn("network_max_bytes", reply["error"]["message"])
        self.assertEqual(self.daemon.request("GET", "/v1/sessions")[1]["sessions"], [])
        self.assertEqual(self.daemon.session_cgroups(), [])


class BytesCountedAndCappedByAnUnprivilegedCorrald(BytesCountedAndCapped):
    """The same, with corrald unprivileged (as the user manager runs it): its
    sessions' networks in user namespaces of their own, their way out the
    same relay. In the cgroupfs suite, as test_session_egress's: the
    systemd-user suite's temporary files are under /tmp, which a session of
    its own cannot see, so there sessions share corrald's network."""
    daemon_class = UnprivilegedDaemon


@unittest.skipUnless(SESSION_NETWORK == "shared", "sessions here have networks of their own (the classes above)")
class NothingCountedInASharedNetwork(DaemonTestCase):
    """Sessions that share corrald's network have no way out to count at:
    their figures are null, not 0, /metrics has no network series, and a
    cap, which nothing could enforce, is refused."""
    daemon_args = ("--metrics-label", "bot")

    def test_figures_are_null_and_a_cap_is_refused(self):
        session = self.daemon.open({"labels": {"bot": "shared"}})
        shown = self.daemon.get(session["id"])[1]
        self.assertFalse(shown["network"]["own"], shown["network"])
        self.assertIsNone(shown["network"]["max_bytes"])
        self.assertIsNone(shown["stats"]["network_bytes_in"])
        self.assertIsNone(shown["stats"]["network_bytes_out"])
        self.assertIsNone(self.daemon.metric('corral_sessions_network_in_bytes_total{bot="shared"}'))
        status, reply = self.daemon.request("POST", "/v1/sessions", {"network_max_bytes": CAP})
        self.assertEqual(status, 422, reply)
        self.assertEqual(reply["error"]["code"], "limit_not_enforceable", reply)
        self.assertEqual(len(self.daemon.request("GET", "/v1/sessions")[1]["sessions"]), 1, "nothing more opened")
        report = self.daemon.close(session["id"])
        self.assertIsNone(report["network_bytes_in"])


if __name__ == "__main__":
    unittest.main()
