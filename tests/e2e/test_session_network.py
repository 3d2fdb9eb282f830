"""Issue 21, the namespaces: a root corrald (cgroupfs here) runs every session in
network, mount and IPC namespaces of its own (--session-network own), and
corrald alone reaches a session's ports, from inside its namespace. An
unprivileged corrald (as the user manager runs one; here a uid of the run's
on a delegated cgroup) gives them the same inside user namespaces of their
own, reached through a forked helper (OwnNetworksOfAnUnprivilegedCorrald).

With two real Chromium sessions A and B, each as a uid of its own: no
process of a session is in corrald's network namespace; B's DevTools port
cannot be reached from the host as `nobody` or as A's uid, nor from inside
A's network namespace, while corral's relayed DevTools of B answers; A's
/proc shows A's processes and none of B's; A's /tmp is not the host's. And
after `kill -9` of corrald, the adopted session's relayed DevTools still
answers Browser.getVersion."""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import unittest
import urllib.parse

from corral_harness import (BACKEND, SESSION_NETWORK, Daemon, assert_chrome_sandboxed, in_network_of, processes_in,
                            refused_start, wait_until)
from corral_harness.unprivileged import UnprivilegedDaemon

NOBODY = 65534

# Connect to 127.0.0.1:PORT and GET /json/version: the body, or why not.
PROBE = """
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(b"GET /json/version HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n")
    print(s.recv(65536).decode(errors="replace"))
except OSError as e:
    print("refused:", e)
"""


def as_uid(uid, *command, netns_of=None, mntns_of=None):
    """Run `command` as `uid` (its own gid, no groups), in the network or mount
    namespace of process netns_of / mntns_of when given."""
    enter = []
    if netns_of or mntns_of:
        enter = ["nsenter", "-t", str(netns_of or mntns_of), "-n" if netns_of else "-m"]
    result = subprocess.run([*enter, "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                             *command], capture_output=True, text=True, timeout=60)
    return result


def netns_inode(pid, kind="net"):
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except FileNotFoundError:
        return None  # ended meanwhile


def devtools_port(daemon, session):
    """B's DevTools port, from the file its browser wrote (devtools.local is null)."""
    with open(os.path.join(daemon.state_dir, "sessions", session["id"], "profile", "DevToolsActivePort")) as f:
        return int(f.readline())


def received(sock, count, so_far):
    """Up to `count` bytes; an end of the connection is an error, not an
    empty read to loop on (a CI run spun here for 300 s once)."""
    chunk = sock.recv(count)
    if not chunk:
        raise ConnectionError(f"the connection ended after {so_far[-300:]!r}")
    return chunk


def cdp_call(ws_url, method):
    """One CDP command over a WebSocket (RFC 6455, the client's side, unfragmented)."""
    where, path = ws_url.split("//", 1)[1].split("/", 1)
    host, port = where.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(f"GET /{path} HTTP/1.1\r\nHost: {where}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += received(s, 1, head)
        assert head.startswith(b"HTTP/1.1 101"), head
        payload = json.dumps({"id": 1, "method": method}).encode()
        mask = os.urandom(4)
        frame = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask
        s.sendall(frame + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        first = received(s, 2, head)
        length = first[1] & 0x7F
        if length == 126:
            length = int.from_bytes(received(s, 2, head), "big")
        elif length == 127:
            length = int.from_bytes(received(s, 8, head), "big")
        body = b""
        while len(body) < length:
            body += received(s, length - len(body), head + body)
        return json.loads(body)


def adopted_call(daemon, ws_url):
    """Browser.getVersion on an adopted session; a failure says what the adopting corrald logged."""
    try:
        return cdp_call(ws_url, "Browser.getVersion")
    except OSError as failure:
        raise AssertionError(f"{failure}; the adopting corrald's log:\n{daemon.log()[-6000:]}") from failure


@unittest.skipIf(BACKEND != "cgroupfs", "the namespaces need a root corrald (systemd-user: see SharedUnderUserManager)")
class OwnNetworks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon()
        try:
            cls.a = cls.daemon.open({"kind": "chrome"})
            cls.b = cls.daemon.open({"kind": "chrome"})
        except BaseException:
            cls.daemon.remove()  # tearDownClass does not run after a failed setUpClass
            raise

    @classmethod
    def tearDownClass(cls):
        for session in cls.daemon.request("GET", "/v1/sessions")[1]["sessions"]:
            cls.daemon.close(session["id"], grace=0)
        cls.daemon.remove()

    def test_0_health_and_session_json_say_own(self):
        self.assertEqual(SESSION_NETWORK, "own", "the harness gives a root corrald --session-network own")
        self.assertEqual(self.daemon.request("GET", "/v1/health")[1]["session_network"], "own")
        for session in (self.a, self.b):
            self.assertIsNone(session["devtools"]["local"], "nothing outside the session reaches its loopback")
            self.assertTrue(session["devtools"]["http"].startswith("http://127.0.0.1:"), session)
        self.assertNotEqual(self.a["uid"], self.b["uid"])

    def test_no_session_process_is_in_corralds_network(self):
        corrald = netns_inode(self.daemon.process.pid)
        for session in (self.a, self.b):
            wait_until(lambda: len(processes_in(session["cgroup"])) >= 3, 20, "Chromium's helpers")
            pids = processes_in(session["cgroup"])
            inodes = {pid: netns_inode(pid) for pid in pids}
            self.assertNotIn(corrald, inodes.values(), inodes)
            # The main process's namespace is the session's; Chrome's sandbox
            # puts renderers in namespaces of their own below it.
            self.assertNotEqual(netns_inode(session["pid"]), netns_inode(self.a["pid"] if session is self.b
                                                                         else self.b["pid"]))

    def assert_not_bs_devtools(self, answer):
        b_browser = self.b["devtools"]["ws"].rsplit("/", 1)[1]
        self.assertNotIn(b_browser, answer, "B's DevTools answered")

    def test_bs_port_is_out_of_reach_from_the_host_and_from_a(self):
        port = devtools_port(self.daemon, self.b)
        attempts = {"nobody on the host": as_uid(NOBODY, "python3", "-c", PROBE, str(port)),
                    "A's uid on the host": as_uid(self.a["uid"], "python3", "-c", PROBE, str(port)),
                    "A's uid in A's network": as_uid(self.a["uid"], "python3", "-c", PROBE, str(port),
                                                     netns_of=self.a["pid"])}
        for who, result in attempts.items():
            with self.subTest(who=who):
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assert_not_bs_devtools(result.stdout)
                print(f"\n{who} -> B's DevTools port {port}: {result.stdout.strip()[:80]}")
        # B runs on, and corral reaches it from inside B's namespace.
        self.assertEqual(self.daemon.get(self.b["id"])[1]["state"], "running")
        version = cdp_call(self.b["devtools"]["ws"], "Browser.getVersion")
        self.assertIn("product", version["result"], version)

    def test_chromedriver_answers_corrald_alone_even_inside_its_session(self):
        """The session's own uid (its browser's) is refused at chromedriver's
        port by the nftables rule in its namespace; root there (corrald,
        through setns) is admitted, and corral drives it."""
        self.assertTrue(self.daemon.request("GET", "/v1/health")[1]["chromedriver_guard"],
                        "nft can install the rule here (tools/setup installs nftables)")
        session = self.daemon.open({"kind": "chromedriver"})
        try:
            by_its_uid = as_uid(session["uid"], "python3", "-c", PROBE, "9515", netns_of=session["pid"])
            self.assertIn("refused: [Errno 111]", by_its_uid.stdout, by_its_uid.stderr)
            with in_network_of(session["pid"]):
                socket.create_connection(("127.0.0.1", 9515), timeout=5).close()
            status, ready = self.daemon.request("GET", urllib.parse.urlsplit(session["webdriver"]).path + "/status",
                                                auth=False)
            self.assertEqual(status, 200, ready)
            self.assertTrue(ready["value"]["ready"], ready)
        finally:
            self.daemon.close(session["id"], grace=0)

    def test_as_proc_shows_its_own_processes_and_none_of_bs(self):
        listed = as_uid(self.a["uid"], "ls", "/proc", mntns_of=self.a["pid"])
        self.assertEqual(listed.returncode, 0, listed.stderr)
        pids = {int(name) for name in listed.stdout.split() if name.isdigit()}
        self.assertIn(self.a["pid"], pids)
        self.assertEqual(pids & set(processes_in(self.b["cgroup"])), set(), "B's processes are visible in A")
        self.assertNotIn(self.daemon.process.pid, pids, "corrald (root) is visible in A")
        # The host's /proc, as A's uid, shows B's (nothing hides them there).
        self.assertIn(str(self.b["pid"]), as_uid(self.a["uid"], "ls", "/proc").stdout.split())

    def test_as_tmp_is_its_own_and_ends_with_it(self):
        session = self.daemon.open({"kind": "chrome"})
        planted = f"/tmp/corral-test-netns-{os.getpid()}"
        wrote = as_uid(session["uid"], "sh", "-c", f"echo secret > {planted} && cat {planted}",
                       mntns_of=session["pid"])
        self.assertEqual((wrote.returncode, wrote.stdout.strip()), (0, "secret"), wrote.stderr)
        self.assertFalse(os.path.exists(planted), "A's /tmp is the host's")
        # The mount namespace, and its tmpfs, go with the session's last process.
        # Held open meanwhile, so that its inode number cannot pass to a new
        # namespace (another suite's session) and be mistaken for it.
        held = os.open(f"/proc/{session['pid']}/ns/mnt", os.O_RDONLY)
        self.addCleanup(os.close, held)
        mnt = os.fstat(held).st_ino
        report = self.daemon.close(session["id"], grace=0)
        self.assertTrue(report["verified_empty"], report)
        self.assertFalse(os.path.exists(planted))
        alive = [pid for pid in os.listdir("/proc") if pid.isdigit() and self.in_mount_namespace(pid, mnt)]
        self.assertEqual(alive, [], "a process still holds the session's mount namespace")

    @staticmethod
    def in_mount_namespace(pid, inode):
        try:
            return os.stat(f"/proc/{pid}/ns/mnt").st_ino == inode
        except OSError:
            return False

    def test_z_adopted_after_kill_9(self):
        # Last in this class: it replaces the daemon.
        first = type(self).daemon
        first.stop(signal.SIGKILL)
        second = Daemon(reuse=first)
        type(self).daemon = second
        self.assertIn("adopted", second.log())
        listed = {s["id"]: s for s in second.request("GET", "/v1/sessions")[1]["sessions"]}
        for before in (self.a, self.b):
            after = listed[before["id"]]
            self.assertIsNone(after["devtools"]["local"], "found again as a session with a network of its own")
            version = adopted_call(second, after["devtools"]["ws"])
            self.assertIn("product", version["result"], version)


@unittest.skipIf(BACKEND != "cgroupfs", "an unprivileged corrald on the cgroupfs backend (the cgroupfs variant runs it)")
class OwnNetworksOfAnUnprivilegedCorrald(unittest.TestCase):
    """corrald as an unprivileged uid with no capabilities, as the user
    manager runs it, and --session-network auto: every session gets network,
    mount and IPC namespaces inside a user namespace of its own, and corrald
    reaches its ports through a forked helper. What that separates, proved
    here: no session process is in corrald's network namespace; another
    local user (nobody), and corrald's own uid on the host, cannot reach a
    session's DevTools port; Chrome keeps its sandbox; adoption finds the
    namespaces again. What it does not: the session runs as corrald's uid."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = UnprivilegedDaemon("--session-network", "auto")
        try:
            cls.a = cls.daemon.open({"kind": "chrome"})
            cls.b = cls.daemon.open({"kind": "chrome"})
        except BaseException:
            cls.daemon.remove()
            raise

    @classmethod
    def tearDownClass(cls):
        for session in cls.daemon.request("GET", "/v1/sessions")[1]["sessions"]:
            cls.daemon.close(session["id"], grace=0)
        cls.daemon.remove()

    def test_0_health_says_own_in_a_user_namespace_and_what_it_separates(self):
        health = self.daemon.request("GET", "/v1/health")[1]
        self.assertEqual(health["session_network"], "own (user namespace)")
        self.assertEqual(health["session_network_separates"],
                         {"pages_from_host_and_private_addresses": True, "session_ports_from_other_local_users": True,
                          "corrald_and_other_sessions_from_a_compromised_browser": False})
        for session in (self.a, self.b):
            self.assertIsNone(session["devtools"]["local"], "nothing outside the session reaches its loopback")
            self.assertIsNone(session["uid"], "an unprivileged corrald has no uid pool")
        self.assertEqual(os.stat(f"/proc/{self.a['pid']}").st_uid, self.daemon.uid, "the session runs as corrald's uid")

    def test_no_session_process_is_in_corralds_network_or_user_namespace(self):
        corrald = {kind: netns_inode(self.daemon.process.pid, kind) for kind in ("net", "user")}
        self.assertEqual(os.stat(f"/proc/{self.daemon.process.pid}").st_uid, self.daemon.uid, "corrald dropped")
        for session in (self.a, self.b):
            wait_until(lambda: len(processes_in(session["cgroup"])) >= 3, 20, "Chromium's helpers")
            for kind in ("net", "user"):
                inodes = {pid: netns_inode(pid, kind) for pid in processes_in(session["cgroup"])}
                self.assertNotIn(corrald[kind], inodes.values(), (kind, inodes))
        self.assertNotEqual(netns_inode(self.a["pid"]), netns_inode(self.b["pid"]))

    def test_chrome_keeps_its_sandbox(self):
        state = assert_chrome_sandboxed(lambda: processes_in(self.a["cgroup"]))
        print(f"\nsandbox in a user namespace of the session's own: {state}")

    def test_bs_port_is_out_of_reach_of_other_local_users(self):
        port = devtools_port(self.daemon, self.b)
        b_browser = self.b["devtools"]["ws"].rsplit("/", 1)[1]
        attempts = {"nobody on the host": as_uid(NOBODY, "python3", "-c", PROBE, str(port)),
                    "corrald's uid on the host": as_uid(self.daemon.uid, "python3", "-c", PROBE, str(port))}
        for who, result in attempts.items():
            with self.subTest(who=who):
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertNotIn(b_browser, result.stdout, "B's DevTools answered")
                print(f"\n{who} -> B's DevTools port {port}: {result.stdout.strip()[:80]}")
        version = cdp_call(self.b["devtools"]["ws"], "Browser.getVersion")
        self.assertIn("product", version["result"], version)

    def test_what_it_does_not_separate_a_session_process_can_signal_corrald(self):
        # What health says is false, shown: a process in A's user and
        # network namespaces, as A's (corrald's) uid, may signal corrald.
        signal_corrald = f"import os; os.kill({self.daemon.process.pid}, 0); print('signalled')"
        result = as_uid(self.daemon.uid, "nsenter", "-t", str(self.a["pid"]), "-U", "-n", "--preserve-credentials",
                        "python3", "-c", signal_corrald)
        self.assertEqual((result.returncode, result.stdout.strip()), (0, "signalled"), result.stderr)

    def test_z_adopted_after_kill_9(self):
        first = type(self).daemon
        first.stop(signal.SIGKILL)
        second = UnprivilegedDaemon("--session-network", "auto", reuse=first)
        type(self).daemon = second
        self.assertIn("adopted", second.log())
        listed = {s["id"]: s for s in second.request("GET", "/v1/sessions")[1]["sessions"]}
        for before in (self.a, self.b):
            version = adopted_call(second, listed[before["id"]]["devtools"]["ws"])
            self.assertIn("product", version["result"], version)


@unittest.skipIf(BACKEND != "cgroupfs", "a root corrald's start-up")
class RefusedWhereItCannotHold(unittest.TestCase):
    """--session-network own that cannot be given: corrald says why and does
    not start, rather than run sessions that share its network after all."""

    def test_without_cap_sys_admin(self):
        # Root without CAP_SYS_ADMIN in its bounding set has none after exec.
        stderr = refused_start("--session-network", "own", prefix=("setpriv", "--bounding-set=-sys_admin"))
        self.assertIn("--session-network own needs CAP_SYS_ADMIN", stderr)

    def test_with_the_state_dir_under_tmp(self):
        state_dir = f"/tmp/corral-test-netns-state-{os.getpid()}"
        os.makedirs(state_dir, mode=0o711, exist_ok=True)
        try:
            stderr = refused_start("--session-network", "own", "--state-dir", state_dir)
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
        self.assertIn(f"'{state_dir}' is under /tmp, which every session gets an empty tmpfs of its own on", stderr)


@unittest.skipIf(BACKEND == "cgroupfs", "the user manager's corrald")
class SharedUnderUserManager(unittest.TestCase):
    """The harness's systemd-user corrald runs with --session-network auto
    and the stub: its sessions share its network, and it says so."""

    def test_sessions_share_corralds_network_and_health_says_so(self):
        self.assertEqual(SESSION_NETWORK, "shared")
        daemon = Daemon(browser=os.environ["CORRAL_STUB"])
        try:
            self.assertEqual(daemon.request("GET", "/v1/health")[1]["session_network"], "shared")
            session = daemon.open()
            self.assertTrue(session["devtools"]["local"]["http"].startswith("http://127.0.0.1:"), session)
            wait_until(lambda: netns_inode(session["pid"]) is not None, 10, "the session's process")
            self.assertEqual(netns_inode(session["pid"]), netns_inode(daemon.process.pid))
            print("\nsystemd-user: sessions share corrald's network namespace (session_network: shared)")
            daemon.close(session["id"], grace=0)
        finally:
            daemon.remove()


if __name__ == "__main__":
    unittest.main(verbosity=2)
