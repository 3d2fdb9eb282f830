"""corralctl against a real corrald: tables for people, JSON for scripts,
and a non-zero exit with the daemon's message on errors."""
import json
import os
import subprocess
import unittest

from corral_harness import STUB_PROCESSES, DaemonTestCase, wait_until


class Corralctl(DaemonTestCase):
    def ctl(self, *args, check=True):
        result = subprocess.run([os.environ["CORRALCTL"], "--url", f"http://127.0.0.1:{self.daemon.port}", *args],
                                capture_output=True, text=True, timeout=60)
        if check:
            self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def test_open_ls_show_close(self):
        opened = json.loads(self.ctl("--json", "open", "--label", "bot=ctl", "--arg", "--mute-audio").stdout)
        session_id = opened["id"]
        self.assertEqual(opened["labels"], {"bot": "ctl"})

        table = self.ctl("ls").stdout.splitlines()
        self.assertTrue(table[0].startswith("ID"))
        self.assertIn(session_id, table[1])
        self.assertIn("running", table[1])
        self.assertEqual(table[0].split()[:7], ["ID", "KIND", "STATE", "PID", "MEM", "MEM_MAX", "PROCS"])
        procs = lambda: self.ctl("ls").stdout.splitlines()[1].split()[6]  # noqa: E731
        wait_until(lambda: procs() == str(STUB_PROCESSES), 10, "ls to count the stub's processes")

        shown = self.ctl("show", session_id).stdout
        self.assertIn(opened["cgroup"], shown)
        self.assertIn("processes", shown)

        closed = self.ctl("close", session_id, "--grace", "0").stdout
        self.assertIn(f"closed {session_id}", closed)
        self.assertIn("verified empty: yes", closed)
        self.assertEqual(json.loads(self.ctl("--json", "ls").stdout)["sessions"], [])

    def test_errors_exit_non_zero_with_the_message(self):
        result = self.ctl("close", "0123456789ab", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("404", result.stderr)
        self.assertIn("no session", result.stderr)
        result = self.ctl("open", "--arg", "--renderer-cmd-prefix=/bin/sh", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("forbidden", result.stderr)
        unreachable = subprocess.run([os.environ["CORRALCTL"], "--url", "http://127.0.0.1:1", "ls"],
                                     capture_output=True, text=True, timeout=60)
        self.assertEqual(unreachable.returncode, 2)
        self.assertIn("cannot reach corrald", unreachable.stderr)


if __name__ == "__main__":
    unittest.main()
