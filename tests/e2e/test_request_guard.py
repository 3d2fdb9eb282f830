"""corral holds the line Chrome's DevTools and chromedriver hold against web
pages (request_guard.hpp): a Host that is not an IP address, localhost or an
allowed name, any Origin not allowed, and a body that is not JSON are
refused on every route, with a JSON error, and nothing is opened. Then real
hostile pages try: one in an ordinary browser (the bot host's own, say) with
a name that resolves to corral's address, and one in a corral session."""
import http.client
import http.server
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.parse

from corral_harness import SESSION_NETWORK, DaemonTestCase, Daemon, wait_until
from public_host import PublicHost, http_server_on, listening_socket, listening_socket_in

PAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages")
CHROMIUM = "/usr/bin/chromium"

# (name, method, path, body, headers, status, code). {port} is corrald's.
REFUSALS = [
    ("foreign Host, list", "GET", "/v1/sessions", None, {"Host": "evil.example:{port}"}, 403, "host_not_allowed"),
    ("foreign Host, health", "GET", "/v1/health", None, {"Host": "evil.example"}, 403, "host_not_allowed"),
    ("a page's POST: foreign Host, Origin, text/plain", "POST", "/v1/sessions", "{}",
     {"Host": "evil.example:{port}", "Origin": "http://evil.example", "Content-Type": "text/plain"}, 403,
     "host_not_allowed"),
    ("foreign Host, WebSocket upgrade", "GET", "/devtools/browser", None,
     {"Host": "evil.example", "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, 403, "host_not_allowed"),
    ("a name that ends in localhost", "GET", "/v1/sessions", None, {"Host": "localhost.evil.example"}, 403,
     "host_not_allowed"),
    ("Origin on a GET", "GET", "/v1/sessions", None, {"Origin": "http://evil.example"}, 403, "origin_not_allowed"),
    ("Origin null (a sandboxed page, a data: URL)", "GET", "/v1/sessions", None, {"Origin": "null"}, 403,
     "origin_not_allowed"),
    ("Origin on a WebSocket upgrade", "GET", "/devtools/browser", None,
     {"Origin": "http://evil.example", "Connection": "Upgrade", "Upgrade": "websocket",
      "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, 403, "origin_not_allowed"),
    ("Origin on an open", "POST", "/v1/sessions", {}, {"Origin": "http://127.0.0.1:9"}, 403, "origin_not_allowed"),
    ("text/plain body", "POST", "/v1/sessions", "{}", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("form body", "POST", "/v1/sessions", "kind=chrome", {"Content-Type": "application/x-www-form-urlencoded"}, 415,
     "unsupported_media_type"),
    ("multipart body", "POST", "/v1/sessions", "--x--", {"Content-Type": "multipart/form-data; boundary=x"}, 415,
     "unsupported_media_type"),
    ("a body without Content-Type", "POST", "/v1/sessions", "{}", {"Content-Type": None}, 415,
     "unsupported_media_type"),
]

# Requests the same daemon serves: IP literals, localhost, what the operator allowed.
SERVED = [
    ("Host localhost", "GET", "/v1/sessions", None, {"Host": "localhost:{port}"}, 200),
    ("Host an IPv6 literal", "GET", "/v1/sessions", None, {"Host": "[::1]:{port}"}, 200),
    ("Host an allowed name", "GET", "/v1/sessions", None, {"Host": "Corral.Test:{port}"}, 200),
    ("an allowed Origin", "GET", "/v1/sessions", None, {"Origin": "https://dash.example"}, 200),
    ("JSON with a charset", "POST", "/v1/sessions", {}, {"Content-Type": "application/json; charset=utf-8"}, 201),
    ("a POST with no body needs no Content-Type", "GET", "/v1/health", None, {}, 200),
]


def with_port(headers, port):
    return {name: value.format(port=port) if isinstance(value, str) else value for name, value in headers.items()}


def send(daemon, method, path, body, headers):
    """(status, headers, reply) of one request; {port} in a header value is corrald's."""
    return daemon.exchange(method, path, body, with_port(headers, daemon.port), timeout=30)


class Refusals(DaemonTestCase):
    daemon_args = ("--allow-host", "corral.test", "--allow-origin", "https://dash.example")

    def test_each_refusal_is_a_json_error_and_opens_nothing(self):
        for name, method, path, body, headers, status, code in REFUSALS:
            with self.subTest(name):
                got, _, reply = send(self.daemon, method, path, body, headers)
                self.assertEqual(got, status, reply)
                self.assertEqual(reply["error"]["code"], code, reply)
                self.assertTrue(reply["error"]["message"])
                self.assertEqual(self.daemon.request("GET", "/v1/sessions")[1]["sessions"], [])
                self.daemon.assert_nothing_left()

    def test_what_the_operator_allowed_is_served(self):
        for name, method, path, body, headers, status in SERVED:
            with self.subTest(name):
                got, _, reply = send(self.daemon, method, path, body, headers)
                self.assertEqual(got, status, reply)
                if got == 201:
                    self.daemon.close(reply["id"], grace=0)

    def test_a_refused_body_ends_the_connection(self):
        # The body was never read: the connection cannot carry another request.
        _, headers, _ = send(self.daemon, "POST", "/v1/sessions", "{}", {"Content-Type": "text/plain"})
        self.assertEqual(headers.get("Connection"), "close")


class RefusedBeforeTheToken(DaemonTestCase):
    daemon_options = {"token": "corral-test-token-" + os.urandom(12).hex()}

    def test_a_foreign_host_learns_nothing_of_the_token(self):
        status, _, reply = send(self.daemon, "GET", "/v1/sessions", None, {"Host": "evil.example"})
        self.assertEqual((status, reply["error"]["code"]), (403, "host_not_allowed"))


class OverAUnixSocket(DaemonTestCase):
    """No web page reaches a unix socket, and its clients put the socket's
    path or any name in Host: Host is not checked there; Origin still is."""
    daemon_options = {"unix_socket": True}

    def test_host_is_not_checked_but_origin_is(self):
        self.assertEqual(self.daemon.request("GET", "/v1/sessions", headers={"Host": "corral.sock"})[0], 200)
        status, reply = self.daemon.request("GET", "/v1/sessions", headers={"Origin": "http://evil.example"})
        self.assertEqual((status, reply["error"]["code"]), (403, "origin_not_allowed"))


class PageServer:
    """Serves pages/ on loopback and collects what pages POST to /report."""

    def __init__(self, sock=None):
        reports = self.reports = queue.Queue()

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=PAGES, **kwargs)

            def do_POST(self):
                reports.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http_server_on(sock or listening_socket("127.0.0.1"), Handler)
        self.port = self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class HostilePages(DaemonTestCase):
    use_stub = False

    def setUp(self):
        self.pages = PageServer()
        self.addCleanup(self.pages.close)

    def attack_url(self, host, victim=None):
        """The page, told corral's port, and the DevTools URLs (through corral) of a victim session."""
        url = f"http://{host}:{self.pages.port}/attack.html?corral={self.daemon.port}"
        if victim:
            url += "&" + urllib.parse.urlencode({"cdp_http": victim["devtools"]["http"], "cdp_ws": victim["devtools"]["ws"]})
        return url

    def targets(self, session):
        """The page targets of a session's browser, asked through corral (the
        browser's own port is out of reach in a network of its own)."""
        where, path = session["devtools"]["http"].split("//", 1)[1].split("/", 1)
        host, port = where.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", f"/{path}/json/list")
        listed = json.loads(connection.getresponse().read())
        connection.close()
        return sorted(target["id"] for target in listed)

    def assert_nothing_opened(self, sessions_before):
        self.assertEqual([s["id"] for s in self.daemon.request("GET", "/v1/sessions")[1]["sessions"]],
                         sessions_before)

    def test_a_page_in_an_ordinary_browser(self):
        """The bot host's own browser opens a page whose name resolves to
        corral's address (what DNS rebinding achieves): every try is refused,
        on the API and on a session's DevTools through corral, even with
        that session's URLs (secret included) in the page's hands."""
        victim = self.daemon.open({"kind": "chrome"})
        victim_targets = self.targets(victim)
        log_before = len(self.daemon.log())
        profile = tempfile.mkdtemp(prefix="corral-test-browser.")
        self.addCleanup(shutil.rmtree, profile, True)
        browser = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             "--host-resolver-rules=MAP evil.example 127.0.0.1", self.attack_url("evil.example", victim)],
            # TMPDIR: the SingletonSocket directory of a killed browser goes with the profile.
            env={**os.environ, "TMPDIR": profile, "HOME": profile},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            seen = self.pages.reports.get(timeout=60)
        finally:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait()
        print(f"\nthe page saw: {seen}")
        self.assert_nothing_opened([victim["id"]])
        self.assertEqual(self.targets(victim), victim_targets, "the page opened a tab in the victim's browser")
        log = self.daemon.log()[log_before:]
        self.assertIn(f"/cdp/{victim['id']}/…", log)  # refused, and logged without its secret
        self.assertNotIn(victim["devtools"]["http"].rsplit("/", 1)[1], log)
        self.assertIn("403 for POST /v1/sessions", log)
        self.assertIn("is not an IP address, localhost", log)
        self.assertEqual(set(re.findall(r"session (\w+) opened", log)) - {victim["id"]}, set())
        self.assertIn("requests from web pages (Origin 'http://evil.example:", log)

    def test_a_page_in_a_corral_session(self):
        session = self.daemon.open({"kind": "chrome"})
        log_before = len(self.daemon.log())
        if SESSION_NETWORK == "own":
            return self.page_in_a_session_of_its_own_network(session, log_before)
        self.navigate(session["devtools"]["local"]["http"], self.attack_url("127.0.0.1"))  # shared: its loopback is the host's
        seen = self.pages.reports.get(timeout=60)
        print(f"\nthe page in the session saw: {seen}")
        self.assert_nothing_opened([session["id"]])
        # A session's uid may not use the API at all (test_session_uids.py);
        # with a shared session user, the guard refuses what the page sends.
        log = self.daemon.log()[log_before:]
        self.assertRegex(log, r"403 for POST /v1/sessions from (uid \d+, a session's|127\.0\.0\.1: requests from web)")
        self.assertEqual(set(re.findall(r"session (\w+) opened", log)) - {session["id"]}, set())

    def page_in_a_session_of_its_own_network(self, session, log_before):
        """The page comes from the internet (a public test host); corral, on
        the host's loopback, is not even reached: the session's way out
        refuses the host's addresses, and counts each try."""
        with PublicHost() as public:
            pages = PageServer(listening_socket_in(public.name, public.client_address))
            try:
                url = f"http://{public.client_address}:{pages.port}/attack.html?corral={self.daemon.port}"
                relayed = urllib.parse.urlsplit(session["devtools"]["http"]).path.rstrip("/")
                status, _ = self.daemon.request("PUT", f"{relayed}/json/new?{url}", auth=False)
                self.assertEqual(status, 200)
                seen = pages.reports.get(timeout=60)
            finally:
                pages.close()
        print(f"\nthe page in the session saw: {seen}")
        self.assert_nothing_opened([session["id"]])
        log = self.daemon.log()[log_before:]
        self.assertNotRegex(log, r"for (GET|POST|PUT|DELETE) /v1/sessions")  # nothing of the page's came to corral
        refused = self.daemon.get(session["id"])[1]["network"]["egress"]["refused"]
        if self.daemon.request("GET", "/v1/health")[1]["session_way_out"] == "relay":
            # corral's own port, whatever the operator allows, refused by the relay and counted.
            self.assertGreater(refused["corral-itself"], 0, refused)
        else:
            # The kernel way out: the page's 127.0.0.1 is its own namespace's; nothing left it to
            # the host (asserted above), nor was refused on the way (it never took the way out).
            self.assertEqual(sum(refused.values()), 0, refused)

    def navigate(self, devtools, url):
        # /json/new opens a tab at url: no WebSocket client needed.
        host, port = devtools.split("//", 1)[1].split("/", 1)[0].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("PUT", "/json/new?" + url)
        response = connection.getresponse()
        self.assertEqual(response.status, 200, response.read())
        response.read()
        connection.close()


if __name__ == "__main__":
    unittest.main()
