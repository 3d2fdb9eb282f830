"""Browsers that misbehave on their own: the stub with behaviour flags exits
early, crashes, or plants a FIFO or a symlink where DevToolsActivePort goes.
corrald notices, reports what happened, follows nothing and leaves nothing.
(Split from test_stub_sessions.py, whose daemons run the plain stub.)"""
import http.server
import os
import shutil
import tempfile
import threading
import time
import unittest

from corral_harness import STUB_PROCESSES, Daemon, DaemonTestCase, FakeDevTools, pid_file, read_pid_file, stub_wrapper


class StubModeTestCase(DaemonTestCase):
    """A daemon whose browser is the stub with extra behaviour flags."""
    stub_args = ()

    @classmethod
    def setUpClass(cls):
        cls.wrapper = stub_wrapper(*cls.stub_args)
        cls.daemon = Daemon(*cls.daemon_args, browser=cls.wrapper)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        os.unlink(cls.wrapper)


class BrowserThatExitsOnItsOwn(StubModeTestCase):
    """The main process exits; its children and the escapee stay behind."""
    stub_args = ("--exit-after", "1")

    def test_is_noticed_reported_and_cleaned(self):
        session = self.daemon.open()
        pids = read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        closed = self.daemon.wait_closed(session["id"], 10, "the session to close itself")
        self.assertEqual(closed["report"]["reason"], "browser-exited")
        self.assertEqual(closed["exit"]["code"], 0)
        self.assertEqual(closed["report"]["processes_killed"], STUB_PROCESSES - 1)
        self.assertTrue(closed["report"]["verified_empty"])
        self.daemon.assert_nothing_left(pids)
        self.assertEqual(self.daemon.close(session["id"], expect=409)["error"]["code"], "already_closed")


class BrowserThatCrashes(StubModeTestCase):
    stub_args = ("--crash-after", "1")

    def test_crash_is_reported_with_its_signal(self):
        session = self.daemon.open()
        pids = read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        closed = self.daemon.wait_closed(session["id"], 10, "the crashed session to close")
        self.assertEqual(closed["exit"]["signal"], "SEGV")
        self.assertEqual(closed["report"]["reason"], "browser-exited")
        self.daemon.assert_nothing_left(pids)
        self.assertIn("killed by signal SEGV", self.daemon.log())


class BrowserThatPlantsDevToolsActivePort(StubModeTestCase):
    """The profile is the session user's: a browser can put a FIFO where
    DevToolsActivePort goes (a blocking open would hang corrald until
    --start-timeout), or a symlink to a file only root may read. The open
    fails at once, names what it found, follows nothing and leaves nothing."""
    daemon_args = ("--start-timeout", "30s")

    def assert_refused_at_once(self, what):
        started = time.monotonic()
        reply = self.daemon.open(expect=500)
        took = time.monotonic() - started
        self.assertEqual(reply["error"]["code"], "browser_failed")
        self.assertIn("DevToolsActivePort", reply["error"]["message"])
        self.assertIn(what, reply["error"]["message"])
        self.assertLess(took, 5, "refused at once, not after --start-timeout (30 s)")
        self.daemon.assert_nothing_left()


class BrowserThatPlantsAFifo(BrowserThatPlantsDevToolsActivePort):
    stub_args = ("--plant-devtools-fifo",)

    def test_open_fails_at_once(self):
        self.assert_refused_at_once("is a FIFO, not a regular file")


class BrowserThatPlantsASymlink(BrowserThatPlantsDevToolsActivePort):
    """The symlink points to a root-only file that names a port where a fake
    DevTools answers: had corrald followed it, the open would succeed."""

    @classmethod
    def setUpClass(cls):
        cls.private = tempfile.mkdtemp(prefix="corral-test-root-only.")  # 0700, root's
        cls.devtools = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeDevTools)
        threading.Thread(target=cls.devtools.serve_forever, daemon=True).start()
        cls.target = os.path.join(cls.private, "DevToolsActivePort")
        with open(os.open(cls.target, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(f"{cls.devtools.server_port}\n/devtools/browser/planted\n")
        cls.stub_args = ("--plant-devtools-symlink", cls.target)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.devtools.shutdown()
        cls.devtools.server_close()
        shutil.rmtree(cls.private)

    def test_open_fails_at_once_and_follows_nothing(self):
        self.assert_refused_at_once("is a symbolic link; not followed")
        self.assertEqual(FakeDevTools.asked, 0, "corrald read the file behind the symlink")
        with open(self.target) as f:
            self.assertIn("/devtools/browser/planted", f.read(), "removing the session left the target alone")


if __name__ == "__main__":
    unittest.main()
