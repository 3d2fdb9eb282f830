"""Who can reach the API: a unix socket (mode 0660, removed at shutdown), a
token for corralctl, and the start-up refusals that keep an unprotected API
off the network."""
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import unittest

from corral_harness import BACKEND, CGROUP2, Daemon, DaemonTestCase, STUB_PROCESSES, pid_file, read_pid_file

TOKEN = "corral-test-token-" + os.urandom(12).hex()


def corralctl(*args, env=None):
    return subprocess.run([os.environ["CORRALCTL"], *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


class UnixSocket(DaemonTestCase):
    daemon_options = {"unix_socket": True}

    def test_the_socket_is_0660(self):
        mode = os.lstat(self.daemon.unix_socket).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), 0o660)

    def test_a_session_over_the_socket(self):
        session = self.daemon.open()
        pids = read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        self.assertEqual([s["id"] for s in self.daemon.request("GET", "/v1/sessions")[1]["sessions"]],
                         [session["id"]])
        report = self.daemon.close(session["id"], grace=0)
        self.assertTrue(report["verified_empty"], report)
        self.daemon.assert_nothing_left(pids)

    def test_corralctl_over_the_socket(self):
        opened = corralctl("--url", self.daemon.url, "--json", "open")
        self.assertEqual(opened.returncode, 0, opened.stderr)
        session_id = json.loads(opened.stdout)["id"]
        listed = corralctl("ls", env={"CORRAL_URL": self.daemon.url})
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn(session_id, listed.stdout)
        closed = corralctl("--url", self.daemon.url, "close", session_id, "--grace", "0")
        self.assertEqual(closed.returncode, 0, closed.stderr)
        self.assertIn("verified empty: yes", closed.stdout)


class TokenOverUnixSocket(DaemonTestCase):
    daemon_options = {"unix_socket": True, "token": TOKEN}

    def test_corralctl_sends_the_token_from_a_file(self):
        refused = corralctl("--url", self.daemon.url, "ls")
        self.assertEqual(refused.returncode, 1)
        self.assertIn("401", refused.stderr)
        by_flag = corralctl("--url", self.daemon.url, "--token-file", self.daemon.token_file, "--json", "open")
        self.assertEqual(by_flag.returncode, 0, by_flag.stderr)
        session_id = json.loads(by_flag.stdout)["id"]
        by_env = corralctl("close", session_id, "--grace", "0",
                           env={"CORRAL_URL": self.daemon.url, "CORRAL_TOKEN_FILE": self.daemon.token_file})
        self.assertEqual(by_env.returncode, 0, by_env.stderr)
        self.assertIn(f"closed {session_id}", by_env.stdout)

    def test_corralctl_refuses_a_token_file_others_can_read(self):
        loose = os.path.join(self.daemon.state_dir, "loose.token")
        shutil.copy(self.daemon.token_file, loose)
        os.chmod(loose, 0o644)
        result = corralctl("--url", self.daemon.url, "--token-file", loose, "ls")
        self.assertEqual(result.returncode, 2)
        self.assertIn("every user", result.stderr)


class SocketFile(unittest.TestCase):
    """The socket file's life: made at start, removed at stop; a stale one
    is replaced; anything else at the path stops corrald."""

    def setUp(self):
        self.stub = os.environ["CORRAL_STUB"]

    def test_removed_at_shutdown_and_a_stale_one_replaced(self):
        first = Daemon(browser=self.stub, unix_socket=True)
        path = first.unix_socket
        try:
            self.assertEqual(first.stop(), 0)
            self.assertFalse(os.path.exists(path), "the socket file outlived corrald")
            # A socket nobody listens on, as a killed corrald leaves it.
            with socket.socket(socket.AF_UNIX) as stale:
                stale.bind(path)
            second = Daemon(browser=self.stub, unix_socket=True, reuse=first)
            try:
                self.assertIn("removed the stale API socket", second.log())
                self.assertEqual(second.request("GET", "/v1/health")[0], 200)
                self.assertEqual(second.stop(), 0)
                self.assertFalse(os.path.exists(path))
            finally:
                second.remove()
        finally:
            first.remove()

    def test_refuses_a_path_that_is_not_a_socket_or_is_in_use(self):
        workdir = tempfile.mkdtemp(prefix="corral-test-sock.")
        try:
            regular = os.path.join(workdir, "api.sock")
            with open(regular, "w") as f:
                f.write("not a socket\n")
            result = run_corrald(workdir, "--listen", f"unix:{regular}")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("is not a socket", result.stderr)
            with open(regular) as f:
                self.assertEqual(f.read(), "not a socket\n", "corrald touched a file that is not its socket")

            busy = os.path.join(workdir, "busy.sock")
            with socket.socket(socket.AF_UNIX) as listener:
                listener.bind(busy)
                listener.listen(1)
                result = run_corrald(workdir, "--listen", f"unix:{busy}")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("another process listens", result.stderr)
        finally:
            shutil.rmtree(workdir)


def run_corrald(workdir, *args):
    """Run corrald to its refusal, in a state dir and cgroup root of its own
    that are removed afterwards, whatever it did."""
    state_dir = os.path.join(workdir, "state")
    cgroup_root = f"{CGROUP2}/corral-test-{os.getpid()}-refusal"
    command = [os.environ["CORRALD"], "--state-dir", state_dir, "--backend", BACKEND, *args]
    if BACKEND == "cgroupfs":
        command += ["--cgroup-root", cgroup_root]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.terminate()
        _, stderr = process.communicate(timeout=60)
        raise AssertionError(f"corrald {args} kept running instead of refusing:\n{stderr}")
    finally:
        if os.path.isdir(cgroup_root):
            os.rmdir(cgroup_root)
    return subprocess.CompletedProcess(command, process.returncode, "", stderr)


class StartupRefusals(unittest.TestCase):
    """An API other hosts can reach needs a good token; corrald will not start otherwise."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="corral-test-refusal.")
        self.addCleanup(shutil.rmtree, self.workdir)

    def token_file(self, content, mode=0o600):
        path = os.path.join(self.workdir, "token")
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def assert_refused(self, message, *args):
        result = run_corrald(self.workdir, *args)
        self.assertNotEqual(result.returncode, 0, result.stderr)
        self.assertIn(message, result.stderr)
        self.assertNotIn("corrald ready", result.stderr)

    def test_an_address_beyond_loopback_without_a_token(self):
        for address in ("0.0.0.0:0", "[::]:0", "192.0.2.1:8420", "example.com:8420"):
            with self.subTest(address):
                self.assert_refused("without --token-file", "--listen", address)

    def test_a_bad_token_file(self):
        cases = [
            ("short token", "0123456789abcde\n", 0o600, "use at least 16"),
            ("empty token", "\n", 0o600, "is empty"),
            ("world-readable token", TOKEN + "\n", 0o644, "every user of this host"),
        ]
        for name, content, mode, message in cases:
            with self.subTest(name):
                path = self.token_file(content, mode)
                self.assert_refused(message, "--listen", "0.0.0.0:0", "--token-file", path)
        self.assert_refused("No such file", "--token-file", os.path.join(self.workdir, "missing"))

    def test_an_address_beyond_loopback_with_a_token(self):
        daemon = Daemon(browser=os.environ["CORRAL_STUB"], listen="0.0.0.0:0", token=TOKEN)
        try:
            self.assertEqual(daemon.request("GET", "/v1/health", auth=False)[0], 200)
            self.assertEqual(daemon.request("GET", "/v1/sessions", auth=False)[0], 401)
            self.assertEqual(daemon.request("GET", "/v1/sessions")[0], 200)
            daemon.assert_nothing_left()
        finally:
            daemon.remove()


if __name__ == "__main__":
    unittest.main()
