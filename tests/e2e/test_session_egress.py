"""Where a page in a session may connect. A session's only way out is corral's
egress relay, and it connects only where the policy allows, judged on the
address actually connected to: a page on the internet (the public test host)
loads; the host itself (loopback, its own addresses, a name that resolves to
127.0.0.1), the metadata address and the private ranges are refused, the
servers there never see a request, and the refusals are counted. An operator's
--egress-allow opens one range, and only that one.

Root only (cgroupfs here, the system manager in the VM): under systemd-user
sessions share corrald's network, which the test asserts and says."""
import os
# The egress relay's own policy and counts (the kernel way out's are
# test_kernel_way_out.py's): every corrald here has the relay.
os.environ["CORRAL_TEST_WAY_OUT"] = "relay"
import ipaddress
import json
import signal
import subprocess
import time
import unittest
import urllib.parse

from corral_harness import (BACKEND, NAMED_INSTANCE_UIDS, Daemon, DaemonTestCase, chromedriver_of, cmdline,
                            processes_in)
from corral_harness.unprivileged import UnprivilegedDaemon
from other_host import OtherHost
from public_host import PublicHost, RecordingServer, listening_socket, serve_in

# Fetches each target (a URL, or [URL, method, body]) and reports what
# happened, keyed by the URL (prefixed by the method when it is not GET).
PROBE = """<!doctype html><title>probe</title><script>
const targets = JSON.parse(decodeURIComponent(location.hash.slice(1)));
Promise.all(targets.map(target => {
  const [url, method, body] = typeof target === 'string' ? [target, 'GET', undefined] : target;
  const key = method === 'GET' ? url : method + ' ' + url;
  return fetch(url, {method, body, mode: 'no-cors', cache: 'no-store'})
    .then(() => [key, 'reached'], error => [key, 'failed: ' + error.message]);
})).then(results => fetch('/report', {method: 'POST', body: JSON.stringify(Object.fromEntries(results))}));
</script>"""
# What the attacker had a page send to a session's chromedriver: a
# new session whose browser runs a command (here, one that leaves a mark).
CHROMEDRIVER_PORT = 9515
# A connect-to-launch request as a WebSocket client starts it.
WEBSOCKET_UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}

# The metadata address of every cloud, on a veth end the test makes.
METADATA = ipaddress.ip_network("169.254.169.252/30")


def host_eth0_address():
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True).stdout
    for line in shown.splitlines():
        if " lo " not in line and not line.split()[1].startswith(("cv", "veth")):
            return line.split()[3].split("/")[0]
    return None


@unittest.skipIf(BACKEND.startswith("systemd-user"),
                 "sessions of an unprivileged corrald share its network; test_session_network checks that it says so")
class PagesUnderThePolicy(DaemonTestCase):
    use_stub = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.make_hosts_and_servers()
        except BaseException:
            cls.doClassCleanups()
            cls.daemon.remove()  # tearDownClass does not run after a failed setUpClass
            raise

    @classmethod
    def make_hosts_and_servers(cls):
        cls.public = PublicHost().__enter__()
        cls.addClassCleanup(cls.public.__exit__, None, None, None)
        cls.private = OtherHost().__enter__()  # 10.213.0.0/16
        cls.addClassCleanup(cls.private.__exit__, None, None, None)
        cls.metadata = OtherHost(pool=METADATA).__enter__()
        cls.addClassCleanup(cls.metadata.__exit__, None, None, None)
        cls.pages = cls.public.serve({"/probe.html": PROBE})
        cls.addClassCleanup(cls.pages.close)
        # Another server on the internet, for the allow and deny lists to tell apart.
        cls.elsewhere = cls.public.serve()
        cls.addClassCleanup(cls.elsewhere.close)
        cls.targets = {
            "loopback": RecordingServer(listening_socket("127.0.0.1")),
            "host's veth end": RecordingServer(listening_socket(cls.public.host_address)),
            "private": serve_in(cls.private),
            "metadata": serve_in(cls.metadata, address="169.254.169.254"),
        }
        eth0 = host_eth0_address()
        if eth0:
            cls.targets["host's own address"] = RecordingServer(listening_socket(eth0))
        for server in cls.targets.values():
            cls.addClassCleanup(server.close)

    def another_daemon(self, *args, reuse=None):
        """A corrald beside the class's. A root one gets uids of its own: the
        class's are swept after each close by a process that runs as the
        uid, and corrald refuses a range where a process runs."""
        if self.daemon_class is Daemon:
            args = (*args, "--session-uids", NAMED_INSTANCE_UIDS)
        return self.daemon_class(*args, reuse=reuse)

    def target_urls(self):
        urls = {name: server.url + "/secret" for name, server in self.targets.items()}
        urls["a name for 127.0.0.1"] = f"http://localhost:{self.targets['loopback'].port}/secret"
        return urls

    def open_tab(self, session, url):
        status, _ = self.daemon.request("PUT", self.relayed(session, "/json/new?" + url), auth=False)
        self.assertEqual(status, 200)

    def relayed(self, session, path):
        return urllib.parse.urlsplit(session["devtools"]["http"]).path.rstrip("/") + path

    def probe(self, session, urls):
        """What a page on the internet gets when it fetches each of urls."""
        self.open_tab(session, f"{self.pages.url}/probe.html#" + urllib.parse.quote(json.dumps(urls)))
        return self.pages.reports.get(timeout=60)

    def test_a_page_on_the_internet_loads_and_reaches_nothing_local_or_private(self):
        session = self.daemon.open({"kind": "chrome"})
        urls = self.target_urls()
        seen = self.probe(session, list(urls.values()))
        print(f"\nthe page saw: {json.dumps(seen, indent=1)}")
        self.assertIn("/probe.html", [hit.split("#")[0] for hit in self.pages.hits])
        for name, url in urls.items():
            self.assertTrue(seen[url].startswith("failed"), f"{name}: {seen[url]}")
        for name in urls:
            self.open_tab(session, urls[name])  # navigations, not only fetch
        time.sleep(3)
        for name, server in self.targets.items():
            self.assertEqual(server.hits, [], f"{name} was reached from the session")
        refused = self.daemon.get(session["id"])[1]["network"]["egress"]["refused"]
        self.assertGreaterEqual(sum(refused.values()), 2 * len(urls), refused)
        self.assertGreater(refused.get("local", 0), 0, refused)
        self.assertGreater(refused.get("private", 0), 0, refused)
        self.assertGreater(refused.get("link-local", 0), 0, refused)

    def test_the_operators_allow_opens_that_range_only(self):
        daemon = self.another_daemon("--egress-allow", str(self.private.pool))
        try:
            session = daemon.open({"kind": "chrome"})
            urls = self.target_urls()
            self.daemon, saved = daemon, self.daemon
            try:
                seen = self.probe(session, list(urls.values()))
            finally:
                self.daemon = saved
            private = urls.pop("private")
            self.assertEqual(seen[private], "reached", seen)
            for name, url in urls.items():
                self.assertTrue(seen[url].startswith("failed"), f"{name}: {seen[url]}")
            daemon.close(session["id"])
        finally:
            daemon.remove()

    def webdriver_command(self, method, url, body):
        """A command at a relayed WebDriver URL (its secret is the credential)."""
        status, reply = self.daemon.request(method, urllib.parse.urlsplit(url).path, body, auth=False)
        self.assertEqual(status, 200, reply)
        return reply

    def chromedriver_attack(self, victim):
        """The page's tries at `victim`'s chromedriver (its secret base
        given to the attacker, as the direct URL once was): a new session
        whose browser would run `touch` on a mark file, and its status."""
        _, base = chromedriver_of(victim)
        mark = os.path.join(self.daemon.state_dir, "sessions", victim["id"], "tmp", "pwned")
        body = json.dumps({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "args": ["--headless=new", f"--utility-cmd-prefix=/usr/bin/touch {mark}"]}}}})
        targets = [[f"http://{host}:{CHROMEDRIVER_PORT}{base}/session", "POST", body] for host in ("127.0.0.1", "localhost")]
        targets.append(f"http://127.0.0.1:{CHROMEDRIVER_PORT}{base}/status")
        return targets, mark

    def assert_chromedriver_untouched(self, victim, seen, mark):
        for key, outcome in seen.items():
            self.assertTrue(outcome.startswith("failed"), f"{key}: {outcome}")
        self.assertFalse(os.path.exists(mark), "a command ran")
        for pid in processes_in(victim["cgroup"]):
            self.assertFalse(any("--utility-cmd-prefix" in arg for arg in cmdline(pid)), cmdline(pid))

    def test_a_webdriver_bots_page_cannot_reach_its_own_chromedriver(self):
        """The issue's attack through the API alone: a WebDriver client drives
        its own session to a page that POSTs a command-running new session
        to the session's chromedriver."""
        session = self.daemon.open({"kind": "chromedriver"})
        webdriver = session["webdriver"]
        started = self.webdriver_command("POST", webdriver + "/session",
                                         {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}})
        driver = started["value"]["sessionId"]
        targets, mark = self.chromedriver_attack(session)
        page = f"{self.pages.url}/probe.html#" + urllib.parse.quote(json.dumps(targets))
        self.webdriver_command("POST", f"{webdriver}/session/{driver}/url", {"url": page})
        seen = self.pages.reports.get(timeout=60)
        print(f"\nthe WebDriver bot's page saw: {json.dumps(seen, indent=1)}")
        self.assert_chromedriver_untouched(session, seen, mark)
        refused = self.daemon.get(session["id"])[1]["network"]["egress"]["refused"]
        self.assertGreaterEqual(refused["local"], len(targets), refused)

    def test_a_cdp_sessions_page_cannot_reach_another_sessions_chromedriver(self):
        victim = self.daemon.open({"kind": "chromedriver"})
        session = self.daemon.open({"kind": "chrome"})
        targets, mark = self.chromedriver_attack(victim)
        seen = self.probe(session, targets)
        print(f"\nthe CDP session's page saw: {json.dumps(seen, indent=1)}")
        self.assert_chromedriver_untouched(victim, seen, mark)


    def test_an_adopted_sessions_pages_still_get_out_and_no_further(self):
        """kill -9 of corrald ends the connections in flight; the corrald
        that adopts the session makes its way out again, on the same port
        its Chrome was started with, under the same policy."""
        first = self.another_daemon()
        second = None
        try:
            session = first.open({"kind": "chrome"})
            first.stop(signal.SIGKILL)
            second = self.another_daemon(reuse=first)
            adopted = second.get(session["id"])[1]
            self.assertEqual(adopted["state"], "running", adopted)
            self.daemon, saved = second, self.daemon
            try:
                urls = self.target_urls()
                seen = self.probe(adopted, list(urls.values()))
            finally:
                self.daemon = saved
            for name, url in urls.items():
                self.assertTrue(seen[url].startswith("failed"), f"{name}: {seen[url]}")
            refused = second.get(session["id"])[1]["network"]["egress"]["refused"]
            self.assertGreater(refused["local"], 0, refused)
            self.assertTrue(second.close(session["id"])["verified_empty"])
        finally:
            for daemon in (second, first):
                if daemon:
                    daemon.remove()

    # --- allow and deny lists: the operator's, and a session's narrowing -----
    def pages_entry(self):
        return f"{self.pages.address}:{self.pages.port}"

    def elsewhere_entry(self):
        return f"{self.elsewhere.address}:{self.elsewhere.port}"

    def probe_on(self, daemon, session, urls):
        self.daemon, saved = daemon, self.daemon
        try:
            return self.probe(session, urls)
        finally:
            self.daemon = saved

    def refused_of(self, daemon, session):
        return daemon.get(session["id"])[1]["network"]["egress"]["refused"]

    def test_the_operators_deny_refuses_a_public_server_that_a_session_cannot_ask_back(self):
        daemon = self.another_daemon("--egress-deny", self.elsewhere_entry(), "--launch-on-connect")
        try:
            health = daemon.request("GET", "/v1/health")[1]
            self.assertEqual(health["egress_policy"]["deny"], [self.elsewhere.address + "/32:" + str(self.elsewhere.port)])
            session = daemon.open({"kind": "chrome"})
            target = self.elsewhere.url + "/denied"
            seen = self.probe_on(daemon, session, [target])  # the page's own server: same address, another port
            self.assertTrue(seen[target].startswith("failed"), seen)
            self.assertNotIn("/denied", self.elsewhere.hits)
            self.assertGreater(self.refused_of(daemon, session)["operator-deny"], 0)
            before = daemon.leftovers()
            for body in ({"egress": {"allow": [self.elsewhere_entry()]}}, {"egress": {"allow": ["10.0.0.0/8"]}}):
                status, reply = daemon.request("POST", "/v1/sessions", body)
                self.assertEqual(status, 400, reply)
                self.assertIn("operator's policy refuses", reply["error"]["message"])
            query = urllib.parse.urlencode({"egress_allow": "127.0.0.1,10.0.0.0/8"})
            status, reply = daemon.request("GET", "/devtools/browser?" + query, headers=WEBSOCKET_UPGRADE)
            self.assertEqual(status, 400, reply)
            self.assertEqual([s["id"] for s in daemon.request("GET", "/v1/sessions")[1]["sessions"]], [session["id"]])
            self.assertEqual(daemon.leftovers(), before)
            daemon.close(session["id"])
        finally:
            daemon.remove()

    def test_a_sessions_allow_list_means_only_those_and_its_deny_refuses_more(self):
        only_pages = self.daemon.open({"kind": "chrome", "egress": {"allow": [self.pages_entry()]}})
        policy = only_pages["network"]["policy"]
        self.assertEqual(policy["session_allow"], [self.pages.address + "/32:" + str(self.pages.port)], policy)
        self.assertEqual(policy["session_deny"], [])
        target = self.elsewhere.url + "/not-allowed"
        seen = self.probe(only_pages, [target])
        self.assertTrue(seen[target].startswith("failed"), seen)
        self.assertNotIn("/not-allowed", self.elsewhere.hits)
        self.assertGreater(self.refused_of(self.daemon, only_pages)["session-policy"], 0)
        denying = self.daemon.open({"kind": "chrome", "egress": {"deny": [self.elsewhere_entry()]}})
        reached = self.pages.url + "/still-there"
        seen = self.probe(denying, [target, reached])
        self.assertTrue(seen[target].startswith("failed"), seen)
        self.assertEqual(seen[reached], "reached", seen)
        self.assertGreater(self.refused_of(self.daemon, denying)["session-policy"], 0)
        plain = self.daemon.open({"kind": "chrome"})
        seen = self.probe(plain, [target])
        self.assertEqual(seen[target], "reached", seen)  # the server is there: the lists refused it
        for session in (only_pages, denying, plain):
            self.daemon.close(session["id"])

    def test_a_session_asking_to_widen_the_policy_or_writing_nonsense_gets_400_and_nothing_opens(self):
        before = self.daemon.leftovers()
        cases = [["10.0.0.0/8"], ["127.0.0.1"], ["localhost"], ["169.254.169.254:80"], ["0.0.0.0/0"],
                 ["10.0.0.1/8"], ["not a host"], ["1.2.3.4:0"], ["198.51.100.1"] * 65]
        for allow in cases:
            with self.subTest(allow[0]):
                status, reply = self.daemon.request("POST", "/v1/sessions", {"egress": {"allow": allow}})
                self.assertEqual(status, 400, reply)
                self.assertEqual(reply["error"]["code"], "bad_request", reply)
        status, reply = self.daemon.request("POST", "/v1/sessions", {"egress": {"permit": []}})
        self.assertEqual(status, 400, reply)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                 "corral:options": {"egress": {"allow": ["10.0.0.0/8"]}}}}}
        status, reply = self.daemon.request("POST", "/session", caps)
        self.assertEqual(status, 400, reply)
        self.assertEqual(reply["value"]["error"], "invalid argument", reply)
        self.assertIn("10.0.0.0/8", reply["value"]["message"])
        self.assertEqual(self.daemon.leftovers(), before)

    def test_a_webdriver_session_narrows_through_corral_options(self):
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                 "corral:options": {"egress": {"deny": [self.elsewhere_entry()]}}}}}
        status, reply = self.daemon.request("POST", "/session", caps)
        self.assertEqual(status, 200, reply)
        driver = reply["value"]["sessionId"]
        target = self.elsewhere.url + "/webdriver-denied"
        page = f"{self.pages.url}/probe.html#" + urllib.parse.quote(json.dumps([target]))
        status, _ = self.daemon.request("POST", f"/session/{driver}/url", {"url": page})
        self.assertEqual(status, 200)
        seen = self.pages.reports.get(timeout=60)
        self.assertTrue(seen[target].startswith("failed"), seen)
        sessions = [s for s in self.daemon.request("GET", "/v1/sessions")[1]["sessions"] if s["kind"] == "chromedriver"]
        self.assertEqual(len(sessions), 1, sessions)
        self.assertEqual(sessions[0]["network"]["policy"]["session_deny"], [self.elsewhere_entry().replace(":", "/32:")])
        self.assertGreater(self.refused_of(self.daemon, sessions[0])["session-policy"], 0)
        self.assertEqual(self.daemon.request("DELETE", f"/session/{driver}")[0], 200)

    def test_an_adopted_session_keeps_its_narrowing(self):
        first = self.another_daemon()
        second = None
        try:
            session = first.open({"kind": "chrome", "egress": {"deny": [self.elsewhere_entry()]}})
            first.stop(signal.SIGKILL)
            second = self.another_daemon(reuse=first)
            adopted = second.get(session["id"])[1]
            self.assertEqual(adopted["state"], "running", adopted)
            self.assertEqual(adopted["network"]["policy"]["session_deny"], session["network"]["policy"]["session_deny"])
            target, reached = self.elsewhere.url + "/after-adoption", self.pages.url + "/adopted"
            seen = self.probe_on(second, adopted, [target, reached])
            self.assertTrue(seen[target].startswith("failed"), seen)
            self.assertEqual(seen[reached], "reached", seen)
            self.assertGreater(self.refused_of(second, session)["session-policy"], 0)
            self.assertTrue(second.close(session["id"])["verified_empty"])
        finally:
            for daemon in (second, first):
                if daemon:
                    daemon.remove()


class PagesUnderThePolicyOfAnUnprivilegedCorrald(PagesUnderThePolicy):
    """The same pages and the same policy, with corrald unprivileged (as
    the user manager runs it): its sessions' networks are in user namespaces
    of their own, and their only way out is the same relay."""
    daemon_class = UnprivilegedDaemon

    def test_0_health_says_own_in_a_user_namespace(self):
        health = self.daemon.request("GET", "/v1/health")[1]
        self.assertEqual(health["session_network"], "own (user namespace)")
        self.assertTrue(health["session_network_separates"]["pages_from_host_and_private_addresses"], health)

if __name__ == "__main__":
    unittest.main()
