"""`corralctl top` tested as a person would use it: in a real terminal
(tmux), with sessions opening and closing under it, keys that sort, and the
shell's terminal as it was afterwards, whether the view ended by 'q', a
signal, a refused token or a closed pipe. Over TCP, and over the unix
socket with a token; --once/--json for scripts."""
import json
import os
import signal
import subprocess
import tempfile
import unittest

from corral_harness import STUB_PROCESSES, DaemonTestCase, pid_alive, pid_file, read_pid_file, wait_until
from tmux_screen import PROMPT, TmuxScreen

CORRALCTL = os.environ["CORRALCTL"]
TOKEN = "top-test-token-0123456789abcdef"


def session_rows(lines):
    """The ids of the session rows on a top screen, top to bottom."""
    return [line.split()[0] for line in lines if len(line) > 12 and all(c in "0123456789abcdef" for c in line[:12])]


class TopTestCase(DaemonTestCase):
    daemon_args = ("--metrics-label", "bot", "--max-sessions", "8", "--default-tasks-max", "64")

    def setUp(self):
        self.screen = TmuxScreen()
        self.addCleanup(self.screen.stop)

    def open_stub(self, bot):
        session = self.daemon.open({"labels": {"bot": bot}})
        read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        return session["id"]

    def top_command(self, *args, token_file=None):
        command = [CORRALCTL, "--url", self.daemon.url]
        if token_file:
            command += ["--token-file", token_file]
        return " ".join(command + ["top", "--interval", "0.3", *args])

    def showing(self, text):
        return lambda lines: any(text in line for line in lines)

    def assert_exit_status(self, status):
        """What the shell says top exited with (asked right after it ended)."""
        self.screen.wait_for_prompt()
        self.screen.type("echo status=$?")
        self.screen.wait_for(self.showing("status="), "the exit status")
        self.assertIn(f"status={status}", self.screen.lines())

    def assert_shell_as_before(self, marker):
        """The alternate screen is gone (the shell's own lines are back, no
        frame of top), the prompt answers, and the terminal's modes are the
        shell's: canonical input and echo."""
        self.screen.wait_for_prompt()
        lines = self.screen.lines()
        self.assertTrue(any(line == marker for line in lines), "\n".join(lines))
        self.assertFalse(any(line.startswith("corral top") for line in lines), "\n".join(lines))
        self.assertEqual(self.screen.terminal_modes(), {"icanon": True, "echo": True})


class TopOverTcp(TopTestCase):
    def test_live_view_follows_sessions_sorts_on_keys_and_quits_clean(self):
        self.screen.type("echo shell-before-top")
        self.screen.wait_for(self.showing("shell-before-top"), "the marker")
        self.screen.type(self.top_command())
        self.screen.wait_for(self.showing("sessions 0/8"), "top with no session")

        crawler, checkout = self.open_stub("crawler"), self.open_stub("checkout")
        self.screen.wait_for(lambda lines: set(session_rows(lines)) == {crawler, checkout}, "both sessions listed")
        self.screen.wait_for(self.showing("sessions 2/8"), "the total against --max-sessions")
        row = next(line for line in self.screen.lines() if line.startswith(crawler))
        self.assertIn(f"{STUB_PROCESSES}/64", row, "processes against tasks_max")
        self.assertIn("bot=crawler", row)
        self.screen.wait_for(self.showing(f"TOTAL 2"), "the totals row")

        self.daemon.close(crawler, grace=0)
        self.screen.wait_for(lambda lines: session_rows(lines) == [checkout], "the closed session gone")
        third = self.open_stub("third")
        self.screen.wait_for(lambda lines: set(session_rows(lines)) == {checkout, third}, "a new session listed")

        self.screen.keys("i")
        self.screen.wait_for(self.showing("sort: id"), "sorted by id")
        self.screen.wait_for(lambda lines: session_rows(lines) == sorted([checkout, third]), "rows in id order")
        self.screen.keys("r")
        self.screen.wait_for(self.showing("sort: id (reversed)"), "the order reversed")
        self.screen.wait_for(lambda lines: session_rows(lines) == sorted([checkout, third], reverse=True),
                             "rows in reverse id order")

        self.screen.keys("q")
        self.assert_exit_status(0)
        self.assert_shell_as_before("shell-before-top")

    def test_once_prints_one_frame_for_scripts(self):
        ids = sorted([self.open_stub("crawler"), self.open_stub("checkout")])
        result = subprocess.run(self.top_command("--once", "--sort", "id").split(), capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertNotIn("\x1b", result.stdout, "no escape codes when printing for a script")
        self.assertEqual(session_rows(lines), ids)
        self.assertTrue(lines[0].startswith("corral top") and "sessions 2/8" in lines[0], lines[0])

        frame = json.loads(subprocess.run(self.top_command("--once", "--json").split(), capture_output=True,
                                          text=True, timeout=60, check=True).stdout)
        self.assertEqual(sorted(s["id"] for s in frame["sessions"]), ids)
        for row in frame["sessions"]:
            self.assertEqual(row["pids"], STUB_PROCESSES)
            self.assertEqual(row["tasks_max"], 64)
            self.assertGreaterEqual(row["cpu_percent"], 0, "two samples give a CPU %")
            self.assertGreaterEqual(row["age_seconds"], 0)
            self.assertLessEqual(row["expires_in_seconds"], 300, "the idle timeout (5 min) comes first")
        self.assertEqual(frame["totals"]["open_sessions"], 2)
        self.assertEqual(frame["totals"]["max_sessions"], 8)
        self.assertEqual(frame["totals"]["pids"], 2 * STUB_PROCESSES)

    def test_a_closed_pipe_ends_the_stream_cleanly(self):
        self.open_stub("crawler")
        script = f"{self.top_command()} | head -n 2; echo status=${{PIPESTATUS[0]}}"
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 3, result.stdout)
        self.assertTrue(lines[0].startswith("corral top"))
        self.assertEqual(lines[2], "status=0", result.stderr)
        self.assertEqual(result.stderr, "")


class TopOverUnixSocketWithToken(TopTestCase):
    daemon_options = {"token": TOKEN, "unix_socket": True}

    def test_live_view_with_the_token_and_sigterm_restores_the_terminal(self):
        session = self.open_stub("crawler")
        self.screen.type("echo shell-before-top")
        self.screen.type(self.top_command(token_file=self.daemon.token_file))
        self.screen.wait_for(lambda lines: session_rows(lines) == [session], "the session over the unix socket")
        self.screen.wait_for(self.showing(f"unix:{self.daemon.unix_socket}"), "the socket in the header")
        (top,) = self.screen.foreground_pids()
        os.kill(top, signal.SIGTERM)
        wait_until(lambda: not pid_alive(top), 10, "top to end on SIGTERM")
        self.assert_shell_as_before("shell-before-top")

    def test_a_refused_token_ends_the_view_with_the_message_on_the_shell_screen(self):
        with tempfile.NamedTemporaryFile("w", prefix="corral-test-token.", delete=False) as wrong:
            wrong.write("not-the-right-token-at-all\n")
        self.addCleanup(os.unlink, wrong.name)
        os.chmod(wrong.name, 0o600)
        self.screen.type("echo shell-before-top")
        self.screen.type(self.top_command(token_file=wrong.name))
        self.screen.wait_for(self.showing("401"), "the daemon's refusal")
        self.assert_exit_status(1)
        self.assert_shell_as_before("shell-before-top")

    def test_once_json_over_the_socket(self):
        session = self.open_stub("checkout")
        result = subprocess.run(self.top_command("--once", "--json", token_file=self.daemon.token_file).split(),
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        frame = json.loads(result.stdout)
        self.assertEqual([s["id"] for s in frame["sessions"]], [session])
        self.assertEqual(frame["sessions"][0]["labels"], {"bot": "checkout"})


if __name__ == "__main__":
    unittest.main()
