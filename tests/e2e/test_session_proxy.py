"""A session with an upstream proxy of its own ("proxy" in POST /v1/sessions):
a real tinyproxy, checking a Basic credential, on the public test host. The
session's pages load through it (tinyproxy logs the CONNECT); a wrong
credential fails the page, not corral; a proxy on an address the policy
refuses is a 400 and nothing opens; nothing else leaves the session (a page's
WebRTC/STUN and a UDP send from inside the session's namespace reach nothing);
and the credential is in no process's argv or environment, no file of the
state dir and no line of corrald's log. A corrald killed with SIGKILL and
started again adopts the session, and its pages still go through the proxy
(the credential came back from a kernel key, not a file).

A SOCKS5 upstream is a small one in this test (socks5_upstream.py, on the
public test host): Debian's dante-server checks a username/password against
the system's accounts, which a test would have to create on the host. The
relay's SOCKS5 client side is unit-tested too (test_egress_upstream.cpp).

Root only, like test_session_egress (cgroupfs here, the system manager in the
VM); the unprivileged class below runs the same with corrald unprivileged."""
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from corral_harness import BACKEND, NAMED_INSTANCE_UIDS, Daemon, DaemonTestCase, in_network_at, processes_in
from corral_harness.unprivileged import UnprivilegedDaemon
from public_host import PublicHost, listening_socket_in
from socks5_upstream import Socks5Upstream

PROXY_PORT = 8888
USER = "alice"
# Where a page tries UDP: a STUN server (WebRTC) and a QUIC port.
STUN_PORT, QUIC_PORT = 3478, 4433

REPORT = "fetch('/report', {method: 'POST', body: JSON.stringify(RESULT)});"
LOADED = "<!doctype html><title>loaded</title><script>const RESULT = {loaded: true};" + REPORT + "</script>"
WEBRTC = """<!doctype html><title>webrtc</title><script>
(async () => {
  const candidates = [];
  try {
    const pc = new RTCPeerConnection({iceServers: [{urls: 'stun:' + location.hash.slice(1)}]});
    pc.createDataChannel('probe');
    pc.onicecandidate = event => { if (event.candidate) candidates.push(event.candidate.candidate); };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise(done => setTimeout(done, 6000));
  } catch (error) { candidates.push('error: ' + error.message); }
  const RESULT = {candidates};
  """ + REPORT + """
})();
</script>"""


class UdpRecorder:
    """Datagrams that reach address:port inside the public host's namespace."""

    def __init__(self, namespace, address, port):
        with in_network_at(f"/run/netns/{namespace}"):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((address, port))
        self.sock.settimeout(0.5)
        self.received = []
        self.running = True
        self.thread = threading.Thread(target=self._record, daemon=True)
        self.thread.start()

    def _record(self):
        while self.running:
            try:
                self.received.append(self.sock.recvfrom(2048))
            except socket.timeout:
                pass

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


@unittest.skipIf(BACKEND != "cgroupfs", "a root corrald's own networks (systemd-user: see NoProxyWhereSessionsShare)")
class PagesThroughAProxy(DaemonTestCase):
    use_stub = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.make_hosts_and_proxy()
        except BaseException:
            cls.doClassCleanups()
            cls.daemon.remove()
            raise

    @classmethod
    def make_hosts_and_proxy(cls):
        cls.password = "pw-" + secrets.token_hex(12)
        cls.public = PublicHost().__enter__()
        cls.addClassCleanup(cls.public.__exit__, None, None, None)
        cls.pages = cls.public.serve({"/loaded.html": LOADED, "/webrtc.html": WEBRTC})
        cls.addClassCleanup(cls.pages.close)
        cls.proxy_dir = tempfile.mkdtemp(prefix="corral-test-tinyproxy.")
        cls.addClassCleanup(shutil.rmtree, cls.proxy_dir, True)
        os.chmod(cls.proxy_dir, 0o777)  # tinyproxy writes its log as nobody
        cls.proxy_log = os.path.join(cls.proxy_dir, "tinyproxy.log")
        conf = os.path.join(cls.proxy_dir, "tinyproxy.conf")
        with open(conf, "w") as f:
            f.write(f"User nobody\nGroup nogroup\nPort {PROXY_PORT}\nListen {cls.public.client_address}\n"
                    f"Timeout 60\nMaxClients 64\nLogLevel Info\nLogFile \"{cls.proxy_log}\"\n"
                    f"DisableViaHeader Yes\nBasicAuth {USER} {cls.password}\n")
        cls.tinyproxy = cls.public.popen(["tinyproxy", "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while "Listening on" not in cls.read_proxy_log() and "listening" not in cls.read_proxy_log().lower():
            if time.monotonic() > deadline or cls.tinyproxy.poll() is not None:
                raise AssertionError("tinyproxy did not start: " + cls.read_proxy_log())
            time.sleep(0.1)

    @classmethod
    def read_proxy_log(cls):
        try:
            with open(cls.proxy_log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def proxy_url(self, password=None, address=None):
        return f"http://{USER}:{password or self.password}@{address or self.public.client_address}:{PROXY_PORT}"

    def another_daemon(self, *args, reuse=None):
        if self.daemon_class is Daemon:
            args = (*args, "--session-uids", NAMED_INSTANCE_UIDS)
        return self.daemon_class(*args, reuse=reuse)

    def open_tab(self, daemon, session, url):
        path = urllib.parse.urlsplit(session["devtools"]["http"]).path.rstrip("/") + "/json/new?" + url
        status, _ = daemon.request("PUT", path, auth=False)
        self.assertEqual(status, 200)

    def load(self, daemon, session, page="/loaded.html", timeout=60):
        self.open_tab(daemon, session, self.pages.url + page)
        return self.pages.reports.get(timeout=timeout)

    def connects_logged(self):
        return self.read_proxy_log().count(f"CONNECT {self.pages.address}:{self.pages.port}")

    # --- the tests ---------------------------------------------------------
    def test_a_page_loads_through_the_proxy(self):
        session = self.daemon.open({"kind": "chrome", "proxy": self.proxy_url()})
        self.assertEqual(session["network"]["proxy"], f"http://{USER}:***@{self.public.client_address}:{PROXY_PORT}")
        before = self.connects_logged()
        self.assertEqual(self.load(self.daemon, session), {"loaded": True})
        self.assertGreater(self.connects_logged(), before, self.read_proxy_log()[-2000:])
        egress = self.daemon.get(session["id"])[1]["network"]["egress"]
        self.assertGreater(egress["connections"], 0, egress)
        self.assertEqual(egress["proxy_refused"], 0, egress)
        self.assert_no_credential_anywhere(self.daemon, session, self.password)
        self.assertTrue(self.daemon.close(session["id"])["verified_empty"])

    def test_a_page_loads_through_a_socks5_proxy_and_a_wrong_password_fails_it(self):
        sock = listening_socket_in(self.public.name, self.public.client_address)
        upstream = Socks5Upstream(sock, USER, self.password)
        try:
            url = f"socks5://{USER}:{{}}@{upstream.address}:{upstream.port}"
            session = self.daemon.open({"kind": "chrome", "proxy": url.format(self.password)})
            self.assertEqual(self.load(self.daemon, session), {"loaded": True})
            self.assertIn((f"{self.pages.address}:{self.pages.port}", True), upstream.requests)
            self.assert_no_credential_anywhere(self.daemon, session, self.password)
            self.daemon.close(session["id"])
            wrong = self.daemon.open({"kind": "chrome", "proxy": url.format("wrong-" + secrets.token_hex(8))})
            hits = len(self.pages.hits)
            self.open_tab(self.daemon, wrong, self.pages.url + "/loaded.html")
            self.wait_for_proxy_refusal(wrong)
            self.assertEqual(len(self.pages.hits), hits, "the page got through without the right password")
            self.assertIn((None, False), upstream.requests)
            self.daemon.close(wrong["id"])
        finally:
            upstream.close()

    def test_a_webdriver_bots_pages_go_through_the_proxy_of_its_corral_options(self):
        body = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                 "corral:options": {"proxy": self.proxy_url()}}}}
        status, started = self.daemon.request("POST", "/session", body)
        self.assertEqual(status, 200, started)
        session_id = started["value"]["sessionId"]
        try:
            shown = self.daemon.get(session_id)[1]
            self.assertEqual(shown["network"]["proxy"], f"http://{USER}:***@{self.public.client_address}:{PROXY_PORT}")
            before = self.connects_logged()
            status, _ = self.daemon.request("POST", f"/session/{session_id}/url",
                                            {"url": self.pages.url + "/loaded.html"})
            self.assertEqual(status, 200)
            self.assertEqual(self.pages.reports.get(timeout=60), {"loaded": True})
            self.assertGreater(self.connects_logged(), before)
            self.assert_no_credential_anywhere(self.daemon, shown, self.password)
        finally:
            self.daemon.request("DELETE", f"/session/{session_id}")

    def test_a_connect_to_launch_sessions_pages_go_through_the_proxy_of_its_query(self):
        daemon = self.another_daemon("--launch-on-connect")
        try:
            query = urllib.parse.urlencode({"proxy": self.proxy_url()})
            client = socket.create_connection(("127.0.0.1", daemon.port), timeout=60)
            client.sendall((f"GET /devtools/browser?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
            self.assertIn(b" 101 ", client.recv(4096).split(b"\r\n")[0])
            launched = daemon.request("GET", "/v1/sessions")[1]["sessions"][0]
            self.assertEqual(launched["network"]["proxy"],
                             f"http://{USER}:***@{self.public.client_address}:{PROXY_PORT}")
            before = self.connects_logged()
            self.assertEqual(self.load(daemon, launched), {"loaded": True})
            self.assertGreater(self.connects_logged(), before)
            self.assert_no_credential_anywhere(daemon, launched, self.password)
            client.close()
        finally:
            daemon.remove()

    def wait_for_proxy_refusal(self, session):
        deadline = time.monotonic() + 30
        while (egress := self.daemon.get(session["id"])[1]["network"]["egress"])["proxy_refused"] == 0:
            self.assertLess(time.monotonic(), deadline,
                            f"the proxy's refusal was never counted: {egress}\n{self.read_proxy_log()[-1500:]}")
            time.sleep(0.2)
        time.sleep(1)

    def test_a_wrong_credential_fails_the_page_not_corral(self):
        wrong = "wrong-" + secrets.token_hex(8)
        session = self.daemon.open({"kind": "chrome", "proxy": self.proxy_url(password=wrong)})
        hits = len(self.pages.hits)
        self.open_tab(self.daemon, session, self.pages.url + "/loaded.html")
        self.wait_for_proxy_refusal(session)
        self.assertEqual(len(self.pages.hits), hits, "the page got through without the right credential")
        self.assertEqual(self.daemon.request("GET", "/v1/health")[0], 200)
        self.assertEqual(self.daemon.get(session["id"])[1]["state"], "running")
        self.assert_no_credential_anywhere(self.daemon, session, wrong)
        self.assertTrue(self.daemon.close(session["id"])["verified_empty"])

    def test_a_proxy_on_a_refused_address_is_a_400_and_nothing_opens(self):
        sessions_dir = os.path.join(self.daemon.state_dir, "sessions")
        before = set(os.listdir(sessions_dir)) if os.path.isdir(sessions_dir) else set()
        listed = len(self.daemon.request("GET", "/v1/sessions")[1]["sessions"])
        for address in ("127.0.0.1", "10.0.0.1", "localhost"):
            status, body = self.daemon.request("POST", "/v1/sessions",
                                               {"kind": "chrome", "proxy": self.proxy_url(address=address)})
            self.assertEqual(status, 400, body)
            self.assertIn("***", body["error"]["message"], body)
            self.assertNotIn(self.password, json.dumps(body))
        self.assertEqual(len(self.daemon.request("GET", "/v1/sessions")[1]["sessions"]), listed)
        after = set(os.listdir(sessions_dir)) if os.path.isdir(sessions_dir) else set()
        self.assertEqual(after, before)
        self.assertNotIn(self.password, self.daemon.log())

    def test_nothing_but_the_proxy_leaves_no_udp_no_webrtc(self):
        stun = UdpRecorder(self.public.name, self.public.client_address, STUN_PORT)
        quic = UdpRecorder(self.public.name, self.public.client_address, QUIC_PORT)
        try:
            session = self.daemon.open({"kind": "chrome", "proxy": self.proxy_url()})
            seen = self.load(self.daemon, session, f"/webrtc.html#{self.public.client_address}:{STUN_PORT}")
            print(f"\nthe page's ICE candidates: {seen}")
            self.assertFalse([c for c in seen["candidates"] if " srflx " in c or " relay " in c], seen)
            sent = self.udp_from_the_session(session, self.public.client_address, QUIC_PORT)
            print(f"a UDP send from inside the session's namespace: {sent}")
            self.assertIn("unreachable", sent.lower(), "a UDP datagram could leave the session's namespace")
            time.sleep(1)
            self.assertEqual(stun.received, [], "the STUN server heard from the page")
            self.assertEqual(quic.received, [], "the QUIC port heard from the session")
            self.daemon.close(session["id"])
        finally:
            stun.close()
            quic.close()

    def test_an_adopted_proxied_session_still_loads_through_the_proxy(self):
        first = self.another_daemon()
        second = None
        try:
            session = first.open({"kind": "chrome", "proxy": self.proxy_url()})
            first.stop(signal.SIGKILL)
            second = self.another_daemon(reuse=first)
            adopted = second.get(session["id"])[1]
            self.assertEqual(adopted["state"], "running", adopted)
            self.assertEqual(adopted["network"]["proxy"], f"http://{USER}:***@{self.public.client_address}:{PROXY_PORT}")
            before = self.connects_logged()
            self.assertEqual(self.load(second, adopted), {"loaded": True})
            self.assertGreater(self.connects_logged(), before)
            self.assert_no_credential_anywhere(second, adopted, self.password)
            self.assertNotIn(self.password, first.log())
            self.assertTrue(second.close(session["id"])["verified_empty"])
        finally:
            for daemon in (second, first):
                if daemon:
                    daemon.remove()

    # --- where the credential must not be ----------------------------------
    def udp_from_the_session(self, session, address, port):
        """A datagram sent from inside the session's network namespace."""
        pid = processes_in(session["cgroup"])[0]
        code = (f"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                f"try:\n  s.sendto(b'quic?', ('{address}', {port})); print('sent')\n"
                f"except OSError as e:\n  print(e.strerror)")
        return subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "python3", "-c", code],
                              capture_output=True, text=True, timeout=10).stdout.strip()

    def assert_no_credential_anywhere(self, daemon, session, secret):
        pids = processes_in(session["cgroup"]) + [daemon.process.pid]
        for pid in pids:
            for name in ("cmdline", "environ"):
                try:
                    with open(f"/proc/{pid}/{name}", "rb") as f:  # root reads more than any other uid
                        self.assertNotIn(secret.encode(), f.read(), f"/proc/{pid}/{name}")
                except (FileNotFoundError, ProcessLookupError):
                    pass
        nobody = pwd.getpwnam("nobody")
        as_nobody = subprocess.run(["sh", "-c", "ps -eo args; cat /proc/*/cmdline /proc/*/environ 2>/dev/null"],
                                   capture_output=True, timeout=30,
                                   preexec_fn=lambda: (os.setgid(nobody.pw_gid), os.setuid(nobody.pw_uid)))
        self.assertNotIn(secret.encode(), as_nobody.stdout)
        for top, _, files in os.walk(daemon.state_dir):
            for name in files:
                path = os.path.join(top, name)
                try:
                    with open(path, "rb") as f:
                        self.assertNotIn(secret.encode(), f.read(), path)
                except OSError:
                    pass  # a socket, a file gone meanwhile
        self.assertNotIn(secret, daemon.log())
        self.assertNotIn(secret, json.dumps(daemon.get(session["id"])[1]))


class PagesThroughAProxyOfAnUnprivilegedCorrald(PagesThroughAProxy):
    """The same, with corrald unprivileged (as the user manager runs it): the
    kernel key is in its uid's user keyring, and its sessions, in user
    namespaces of their own, never possess it."""
    daemon_class = UnprivilegedDaemon


@unittest.skipIf(BACKEND == "cgroupfs", "the user manager's corrald")
class NoProxyWhereSessionsShare(unittest.TestCase):
    """The harness's systemd-user corrald runs its sessions in its own
    network (test_session_network's SharedUnderUserManager): there is no way
    out to carry a proxy, and a session asking for one is refused, 422,
    without its credential in the answer or the log, and nothing opens."""

    def test_a_proxy_is_refused_and_nothing_opens(self):
        daemon = Daemon(browser=os.environ["CORRAL_STUB"])
        try:
            self.assertEqual(daemon.request("GET", "/v1/health")[1]["session_network"], "shared")
            password = "pw-" + secrets.token_hex(12)
            status, body = daemon.request("POST", "/v1/sessions",
                                          {"kind": "chrome", "proxy": f"http://{USER}:{password}@198.51.100.9:3128"})
            self.assertEqual(status, 422, body)
            self.assertIn(f"http://{USER}:***@198.51.100.9:3128", body["error"]["message"])
            self.assertNotIn(password, json.dumps(body))
            self.assertEqual(daemon.request("GET", "/v1/sessions")[1]["sessions"], [])
            self.assertNotIn(password, daemon.log())
        finally:
            daemon.remove()


if __name__ == "__main__":
    unittest.main()
