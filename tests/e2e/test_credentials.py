"""Credentials, attacked as they were found (issue 19): connect-to-launch's
tickets, credentials under disguised names, secrets in the log, and who may
use a corrald that has no token. Each test sends the attack as found on
d6ce25b, where it succeeded."""
import base64
import json
import os
import pwd
import re
import subprocess
import unittest
import urllib.parse

from corral_harness import DaemonTestCase, wait_until

TOKEN = "corral-test-token-" + os.urandom(12).hex()
STUB = os.environ["CORRAL_STUB"]



def launch_socket(daemon, query):
    """Send connect-to-launch's WebSocket upgrade, without the token header;
    (the socket, the status of corral's answer). The socket stays open."""
    sock = daemon.raw_socket(timeout=15)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /devtools/browser?{query} HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
                  f"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Key: {key}\r\n\r\n").encode())
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    status = int(head.split()[1]) if head.startswith(b"HTTP/") else None
    return sock, status


def ticket_of(url):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["ticket"][0]


class LaunchTickets(DaemonTestCase):
    daemon_args = ("--launch-on-connect",)
    daemon_options = {"token": TOKEN}

    def tearDown(self):
        wait_until(lambda: self.daemon.request("GET", "/v1/sessions")[1]["sessions"] == [], 10,
                   "launched sessions to close with their sockets")
        super().tearDown()

    def test_json_version_never_takes_a_ticket_for_the_token(self):
        # As found: any ticket, no token, and corral minted a fresh, valid one.
        status, reply = self.daemon.request("GET", "/json/version?ticket=anything", auth=False)
        self.assertEqual(status, 401, reply)
        self.assertEqual(reply["error"]["code"], "unauthorized")
        self.assertNotIn("webSocketDebuggerUrl", reply)
        status, reply = self.daemon.request("GET", "/json/version/?ticket=" + os.urandom(16).hex(), auth=False)
        self.assertEqual(status, 401, reply)

    def test_a_ticket_corral_did_not_mint_opens_nothing(self):
        before = self.daemon.metric("corral_sessions_opened_total")
        for ticket in ("anything", os.urandom(16).hex(), ""):
            sock, status = launch_socket(self.daemon, f"ticket={ticket}")
            sock.close()
            self.assertEqual(status, 401, ticket)
        self.assertEqual(self.daemon.metric("corral_sessions_opened_total"), before)

    def test_a_ticket_opens_one_launch_and_cannot_be_replayed(self):
        status, version = self.daemon.request("GET", f"/json/version?token={TOKEN}&labels.bot=replay", auth=False)
        self.assertEqual(status, 200, version)
        url = version["webSocketDebuggerUrl"]
        self.assertNotIn(TOKEN, url)
        ticket = ticket_of(url)
        before = self.daemon.metric("corral_sessions_opened_total")
        sock, status = launch_socket(self.daemon, urllib.parse.urlsplit(url).query)
        try:
            self.assertNotEqual(status, 401)
            wait_until(lambda: self.daemon.metric("corral_sessions_opened_total") == before + 1, 10,
                       "the launch to open a session")
            replay, status = launch_socket(self.daemon, f"ticket={ticket}")
            replay.close()
            self.assertEqual(status, 401, "a ticket is good for one launch")
            self.assertEqual(self.daemon.metric("corral_sessions_opened_total"), before + 1)
        finally:
            sock.close()

    def test_credentials_count_only_under_their_literal_names(self):
        # As found: ?%74oken=TOKEN passed as the token (and the log kept it).
        for target in (f"/json/version?%74oken={TOKEN}", f"/json/version?%74%6f%6b%65%6e={TOKEN}",
                       f"/json/version?token={TOKEN}&%74oken=x", f"/devtools/browser?%74icket={os.urandom(16).hex()}"):
            with self.subTest(target):
                status, reply = self.daemon.request("GET", target, auth=False)
                self.assertEqual(status, 400, reply)
                self.assertEqual(reply["error"]["code"], "bad_request")
        status, reply = self.daemon.request("GET", "/json/version", auth=False)
        self.assertEqual(status, 401, reply)


class NothingSecretIsLogged(DaemonTestCase):
    daemon_args = ("--launch-on-connect",)
    daemon_options = {"token": TOKEN}

    def test_refusals_log_no_token_secret_or_ticket(self):
        session = self.daemon.open({"kind": "chrome"})
        session_id = session["id"]
        secret = re.search(rf"/cdp/{session_id}/([0-9a-f]+)", session["devtools"]["ws"]).group(1)
        ticket = ticket_of(self.daemon.request("GET", f"/json/version?token={TOKEN}", auth=False)[1]
                           ["webSocketDebuggerUrl"])
        hostile = {"Origin": "http://evil.example"}  # refused by the guard, and logged at debug level
        targets = [f"/session/{session_id}/{secret}/se/cdp", f"/wd/hub/session/{session_id}/{secret}/se/bidi",
                   f"/cdp/{session_id}/{secret}/json/list", f"/cdp/{session_id}%2F{secret}/json",
                   f"/cdp/{session_id}/%{ord(secret[0]):02x}{secret[1:]}/json", f"/json/version?%74oken={TOKEN}",
                   f"/json/version?token={TOKEN}", f"/devtools/browser?ticket={ticket}",
                   f"/devtools/browser?%74icket={ticket}", f"/v1/sessions?x={TOKEN}", f"/v1/{TOKEN}"]
        for target in targets:
            status, reply = self.daemon.request("GET", target, headers=hostile)
            self.assertEqual(status, 403, (target, reply))
        for target in (f"/json/version?%74oken={TOKEN}", f"/v1/sessions?x={TOKEN}&%74oken={TOKEN}"):
            self.daemon.request("GET", target, auth=False)
        self.daemon.request("GET", "/v1/sessions", headers={"Authorization": f"Bearer {TOKEN[:-1]}"})
        # The harness reads corrald's stderr on a thread of its own, line by
        # line: once the last refusal is in, every earlier one is.
        wait_until(lambda: "401 for GET /v1/sessions from" in self.daemon.log(), 5, "the last refusal in the log")
        log = self.daemon.log()
        self.assertIn("403 for GET /session/", log, "the refusals were logged")
        for name, value in (("token", TOKEN), ("secret", secret), ("ticket", ticket), ("token prefix", TOKEN[:-1])):
            self.assertNotIn(value, log, f"the {name} is in the log")
        self.daemon.close(session_id, grace=0)


def as_user(uid, gid, url, method="GET", body=None, groups=("--clear-groups",)):
    """(status, error code or None, error message or None) of one request sent as uid."""
    code = ("import json,sys,urllib.request,urllib.error\n"
            "data=sys.argv[3].encode() if sys.argv[3] else None\n"
            "req=urllib.request.Request(sys.argv[1], data=data, method=sys.argv[2],"
            " headers={'Content-Type':'application/json'} if data else {})\n"
            "try: r=urllib.request.urlopen(req); print(json.dumps([r.status, None, None]))\n"
            "except urllib.error.HTTPError as e:\n"
            " error=json.load(e)['error']; print(json.dumps([e.code, error['code'], error['message']]))")
    result = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", *groups, "python3", "-c", code,
                             url, method, body or ""], capture_output=True, text=True, timeout=30)
    return tuple(json.loads(result.stdout or "[0, null, null]"))


class TokenlessCorrald(DaemonTestCase):
    """Without --token-file, loopback TCP serves root, corrald's own uid and
    group corral; any other local user is refused (as found: every local
    user could open, list and close sessions)."""

    def test_another_local_user_is_refused_and_opens_nothing(self):
        url = f"http://127.0.0.1:{self.daemon.port}"
        before = self.daemon.metric("corral_sessions_opened_total")
        for method, path, body in (("GET", "/v1/sessions", None), ("POST", "/v1/sessions", "{}"),
                                   ("GET", "/v1/usage", None), ("GET", "/json/version", None)):
            with self.subTest(f"{method} {path}"):
                status, code, message = as_user(65534, 65534, url + path, method, body)
                self.assertEqual((status, code), (403, "forbidden"), message)
                self.assertIn("group corral", message)
                self.assertIn("--token-file", message)
        self.assertEqual(as_user(65534, 65534, url + "/v1/health")[0], 200, "health stays open")
        self.assertEqual(self.daemon.metric("corral_sessions_opened_total"), before)

    def test_root_and_members_of_group_corral_are_served(self):
        url = f"http://127.0.0.1:{self.daemon.port}"
        self.assertEqual(as_user(0, 0, url + "/v1/sessions"), (200, None, None))
        name = f"corral-test-client-{os.getpid() % 100000}"
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--groups",
                        "corral", name], check=True, capture_output=True)
        try:
            member = pwd.getpwnam(name)
            self.assertEqual(as_user(member.pw_uid, member.pw_gid, url + "/v1/sessions", groups=("--init-groups",)),
                             (200, None, None))
            status, _, message = as_user(member.pw_uid, member.pw_gid, url + "/v1/sessions", "POST", "{}",
                                         groups=("--init-groups",))
            self.assertEqual(status, 201, message)
        finally:
            subprocess.run(["userdel", name], capture_output=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
