"""Issue 21, DNS: a session in a network of its own resolves names through the
resolver corral provides, and through nothing else. corrald is started with
--session-dns naming a tiny DNS server on the public test host
(198.51.100.0/24, dns_server.py); from inside a session (a process in its
network and mount namespaces, as its uid) /etc/resolv.conf reads `nameserver
127.0.0.1`, `getent hosts` (glibc's resolver, UDP) and a length-prefixed query over TCP to
127.0.0.1:53 get the test server's answers, and the test server saw them;
the host's /etc/resolv.conf is untouched. The same server asked directly
from the session is out of reach (no route), and a name it resolves to
127.0.0.1 leads nowhere but the session's own loopback: the host's server
there never sees a request. The session's JSON counts what was answered.

Root (cgroupfs) and an unprivileged corrald (user namespaces), as
test_session_egress.py; under systemd-user sessions share corrald's network."""
import os
# The egress relay's own policy and counts (the kernel way out's are
# test_kernel_way_out.py's): every corrald here has the relay.
os.environ["CORRAL_TEST_WAY_OUT"] = "relay"
import signal
import subprocess
import unittest

from corral_harness import BACKEND, NAMED_INSTANCE_UIDS, Daemon, DaemonTestCase, wait_until
from corral_harness.unprivileged import UnprivilegedDaemon
from dns_server import DnsServer
from public_host import PublicHost, RecordingServer, listening_socket

PUBLIC_NAME = "page.corral-dns.test"
LOOPBACK_NAME = "loopback.corral-dns.test"

# Run inside the session: a DNS question asked over TCP (to 127.0.0.1:53) or
# over UDP to an address given, printing the A record's address or the error.
PROBE = r"""
import socket, struct, sys
transport, server, name = sys.argv[1:4]
question = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
query = struct.pack("!HHHHHH", 0x2121, 0x0100, 1, 0, 0, 0) + question
try:
    if transport == "tcp":
        s = socket.create_connection((server, 53), timeout=5)
        s.sendall(struct.pack("!H", len(query)) + query)
        length = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
        answer = s.recv(length, socket.MSG_WAITALL)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(query, (server, 53))
        answer = s.recv(4096)
    if struct.unpack("!H", answer[6:8])[0] == 0:
        print("no record")
    else:
        print(socket.inet_ntoa(answer[-4:]))
except OSError as e:
    print("failed:", e)
"""
# Connect to 127.0.0.1:PORT from inside the session and GET /secret.
CONNECT = r"""
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    s.sendall(b"GET /secret HTTP/1.0\r\n\r\n")
    print("reached:", s.recv(100))
except OSError as e:
    print("failed:", e)
"""


@unittest.skipIf(BACKEND.startswith("systemd-user"),
                 "sessions of an unprivileged corrald under systemd share its network and its resolv.conf")
class ResolverOfASession(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        cls.public = PublicHost().__enter__()
        try:
            cls.page_server = cls.public.serve()
            cls.dns = DnsServer(cls.public, {PUBLIC_NAME: cls.public.client_address, LOOPBACK_NAME: "127.0.0.1"})
            cls.host_loopback = RecordingServer(listening_socket("127.0.0.1"))
            with open("/etc/resolv.conf") as f:
                cls.host_resolv_conf = f.read()
            cls.daemon_args = ("--session-dns", cls.dns.address)
            super().setUpClass()
        except BaseException:
            cls.cleanup_servers()
            raise

    @classmethod
    def cleanup_servers(cls):
        for name in ("host_loopback", "dns", "page_server"):
            if hasattr(cls, name):
                getattr(cls, name).close()
        cls.public.__exit__(None, None, None)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.cleanup_servers()

    def in_session(self, session, *command):
        """Run `command` in the session's network and mount namespaces, as its uid."""
        if self.daemon_class is UnprivilegedDaemon:
            argv = ["setpriv", f"--reuid={self.daemon.uid}", f"--regid={self.daemon.uid}", "--clear-groups",
                    "nsenter", "-t", str(session["pid"]), "-U", "-n", "-m", "--preserve-credentials", *command]
        else:
            argv = ["nsenter", "-t", str(session["pid"]), "-n", "-m", "setpriv", f"--reuid={session['uid']}",
                    f"--regid={session['uid']}", "--clear-groups", *command]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        print(f"\n{' '.join(command[:4])}... -> {result.stdout.strip()} {result.stderr.strip()[:200]}")
        return result

    def dns_counts(self, session):
        return self.daemon.get(session["id"])[1]["network"]["dns"]

    def test_names_resolve_through_corrals_resolver_over_udp_and_tcp(self):
        session = self.daemon.open({"kind": "chrome"})
        resolv_conf = self.in_session(session, "cat", "/etc/resolv.conf").stdout
        self.assertIn("nameserver 127.0.0.1\n", resolv_conf)
        self.assertNotIn("nameserver 10.", resolv_conf)
        by_udp = self.in_session(session, "python3", "-c", PROBE, "udp", "127.0.0.1", PUBLIC_NAME)
        self.assertEqual(by_udp.stdout.strip(), self.public.client_address, by_udp.stderr)
        # `getent hosts`, not `ahostsv4`: that one asks with AI_ADDRCONFIG, and a
        # namespace with only `lo` has no IPv4 address that counts, so glibc
        # answers "not found" without asking anyone (docs/network.md).
        by_getent = self.in_session(session, "getent", "hosts", PUBLIC_NAME)
        self.assertEqual(by_getent.returncode, 0, by_getent.stderr)
        self.assertIn(self.public.client_address, by_getent.stdout)
        self.assertTrue(self.dns.asked(PUBLIC_NAME, "udp"), self.dns.questions)
        by_tcp = self.in_session(session, "python3", "-c", PROBE, "tcp", "127.0.0.1", PUBLIC_NAME)
        self.assertEqual(by_tcp.stdout.strip(), self.public.client_address, by_tcp.stderr)
        self.assertTrue(self.dns.asked(PUBLIC_NAME, "tcp"), self.dns.questions)
        unknown = self.in_session(session, "getent", "hosts", "nothing.corral-dns.test")
        self.assertEqual(unknown.returncode, 2, unknown.stdout)  # NXDOMAIN came back: not found
        counts = self.dns_counts(session)
        self.assertGreaterEqual(counts["answered"], 3, counts)
        self.assertEqual(counts["failed"], 0, counts)
        # Each query is ~40 bytes and each answer more: they count as the
        # session's bytes, with its pages', where a byte cap would see them.
        self.assertGreaterEqual(counts["bytes_out"], 3 * 30, counts)
        self.assertGreater(counts["bytes_in"], counts["bytes_out"], counts)
        stats = self.daemon.get(session["id"])[1]["stats"]
        self.assertGreaterEqual(stats["network_bytes_in"], counts["bytes_in"], stats)
        self.assertGreaterEqual(stats["network_bytes_out"], counts["bytes_out"], stats)
        with open("/etc/resolv.conf") as f:
            self.assertEqual(f.read(), self.host_resolv_conf)
        with open("/proc/self/mountinfo") as f:
            self.assertNotIn(" /etc/resolv.conf ", f.read())

    def test_the_resolver_is_no_way_around_the_policy(self):
        session = self.daemon.open({"kind": "chrome"})
        direct = self.in_session(session, "python3", "-c", PROBE, "udp", self.dns.address, PUBLIC_NAME)
        self.assertTrue(direct.stdout.startswith("failed:"), direct.stdout)
        self.assertIn("unreachable", direct.stdout)
        resolved = self.in_session(session, "getent", "hosts", LOOPBACK_NAME)
        self.assertIn("127.0.0.1", resolved.stdout, resolved.stderr)
        for address in ("127.0.0.1", self.public.client_address):
            port = self.host_loopback.port if address == "127.0.0.1" else self.page_server.port
            tried = self.in_session(session, "python3", "-c", CONNECT, address, str(port))
            self.assertTrue(tried.stdout.startswith("failed:"), tried.stdout)
        self.assertEqual(self.host_loopback.hits, [])
        self.assertEqual(self.page_server.hits, [])

    def test_closing_one_session_leaves_anothers_resolver_serving(self):
        first, second = self.daemon.open({"kind": "chrome"}), self.daemon.open({"kind": "chrome"})
        self.daemon.close(first["id"])
        again = self.in_session(second, "python3", "-c", PROBE, "tcp", "127.0.0.1", PUBLIC_NAME)
        self.assertEqual(again.stdout.strip(), self.public.client_address)
        self.assertTrue(wait_until(lambda: self.dns_counts(second)["answered"] >= 1, timeout=10))

    def test_z_an_adopted_session_resolves_again(self):
        """kill -9 of corrald closes the session's port 53 with it; the corrald
        that adopts the session binds it again, and serves it."""
        first = self.another_daemon()
        second = None
        try:
            session = first.open({"kind": "chrome"})
            first.stop(signal.SIGKILL)
            second = self.another_daemon(reuse=first)
            self.assertEqual(second.get(session["id"])[1]["state"], "running")
            asked_before = len(self.dns.asked(PUBLIC_NAME))
            self.daemon, saved = second, self.daemon
            try:
                again = self.in_session(session, "getent", "hosts", PUBLIC_NAME)
                counts = self.dns_counts(session)
            finally:
                self.daemon = saved
            self.assertIn(self.public.client_address, again.stdout, again.stderr)
            self.assertGreater(len(self.dns.asked(PUBLIC_NAME)), asked_before)
            self.assertGreaterEqual(counts["answered"], 1, counts)
            self.assertTrue(second.close(session["id"])["verified_empty"])
        finally:
            for daemon in (second, first):
                if daemon:
                    daemon.remove()

    def another_daemon(self, reuse=None):
        """A corrald beside the class's, with the same resolver; a root one
        with uids of its own (as test_session_egress.py's)."""
        args = self.daemon_args
        if self.daemon_class is Daemon:
            args = (*args, "--session-uids", NAMED_INSTANCE_UIDS)
        return self.daemon_class(*args, browser=os.environ["CORRAL_STUB"], reuse=reuse)


@unittest.skipUnless(BACKEND.startswith("systemd-user"), "sessions share corrald's network only under systemd-user here")
class SharedNetworkKeepsTheHostsResolver(DaemonTestCase):
    """Under systemd-user sessions share corrald's network: nothing of the
    resolver changes there, and corrald says that --session-dns is unused."""
    daemon_args = ("--session-dns", "198.51.100.53")

    def test_the_session_reads_the_hosts_resolv_conf_and_has_no_dns_counts(self):
        session = self.daemon.open({"kind": "chrome"})
        network = self.daemon.get(session["id"])[1]["network"]
        self.assertEqual((network["own"], network["dns"]), (False, None), network)
        with open("/etc/resolv.conf") as host, open(f"/proc/{session['pid']}/root/etc/resolv.conf") as seen:
            self.assertEqual(seen.read(), host.read())
        self.assertIn("--session-dns has no effect", self.daemon.log())


class ResolverOfASessionOfAnUnprivilegedCorrald(ResolverOfASession):
    """The same with corrald unprivileged: the session's network belongs to a
    user namespace of its own, whose owner (corrald's uid) may bind its port 53."""
    daemon_class = UnprivilegedDaemon


if __name__ == "__main__":
    unittest.main()
