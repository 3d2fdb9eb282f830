"""JSON that cannot stop or bloat corrald (issue 19). Every JSON corral reads
is parsed with bounds (64 levels, 100,000 values) before anything copies or
walks it: the new-session body of 100,000 nested arrays that killed corrald
with SIGSEGV is answered W3C `invalid argument`, and so is the same depth
in corral:options; POST /v1/sessions answers its own 400; a deep state file
is corrupt like any other; a browser that answers deep nesting on
/json/version or /json/list is refused, not followed. A 32 MiB new-session
body costs corrald less than three times its size, and is parsed on the
worker pool: GET /v1/health answers while several are in flight."""
import json
import os
import signal
import threading
import time
import unittest

from corral_harness import STUB_PROCESSES, Daemon, DaemonTestCase, pid_alive, pid_file, read_pid_file, \
    stub_wrapper, wait_until

STUB = os.environ["CORRAL_STUB"]
LEVELS = 100_000
DEEP = "[" * LEVELS + "]" * LEVELS  # the body of issue 19: 200 KB
MIB = 1 << 20


def new_session_body(capabilities):
    return {"capabilities": {"alwaysMatch": capabilities, "firstMatch": [{}]}}


def with_deep(prefix, suffix):
    """A JSON text with DEEP where a value goes."""
    return prefix + DEEP + suffix


def json_text(value):
    return json.dumps(value, separators=(",", ":"))


def url_path(url):
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def memory_kib(pid, field):
    """VmRSS or VmHWM of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class HostileTestCase(DaemonTestCase):
    def assert_still_serving(self):
        self.assertIsNone(self.daemon.process.poll(), "corrald died:\n" + self.daemon.log()[-3000:])
        status, health = self.daemon.request("GET", "/v1/health", timeout=30)
        self.assertEqual(status, 200, health)

    def assert_invalid_argument(self, status, reply, words):
        self.assertEqual(status, 400, reply)
        self.assertEqual(reply["value"]["error"], "invalid argument", reply)
        self.assertIn(words, reply["value"]["message"])


class DeepBodies(HostileTestCase):
    """The attack of issue 19 and its kin, on every route that reads a body."""

    def test_100000_nested_arrays_as_a_new_session_is_an_invalid_argument(self):
        # As capabilities, they were copied, recursing once per level: corrald
        # died of SIGSEGV. As the whole body they were refused, but only
        # because an array is not an object.
        for body in ('{"capabilities":{"alwaysMatch":' + DEEP + "}}", DEEP):
            for route in ("/session", "/wd/hub/session"):
                status, reply = self.daemon.request("POST", route, body)
                self.assert_invalid_argument(status, reply, "nested deeper than 64 levels")
                self.assert_still_serving()

    def test_the_same_depth_inside_capabilities_and_corral_options(self):
        for body in (with_deep('{"capabilities":{"alwaysMatch":{"goog:chromeOptions":{"prefs":', '}}}}'),
                     with_deep('{"capabilities":{"alwaysMatch":{"corral:options":{"labels":', '}}}}'),
                     with_deep('{"desiredCapabilities":{"corral:options":', '}}')):
            status, reply = self.daemon.request("POST", "/session", body)
            self.assert_invalid_argument(status, reply, "nested deeper than 64 levels")
            self.assert_still_serving()

    def test_65_levels_of_corral_options_are_refused_and_64_are_planned(self):
        # Depth counts from the body: 4 levels lead to corral:options.labels.
        too_deep = '{"capabilities":{"alwaysMatch":{"corral:options":{"labels":' + "[" * 61 + "]" * 61 + "}}}}"
        status, reply = self.daemon.request("POST", "/session", too_deep)
        self.assert_invalid_argument(status, reply, "nested deeper than 64 levels")
        deep_enough = '{"capabilities":{"alwaysMatch":{"corral:options":{"labels":' + "[" * 60 + "]" * 60 + "}}}}"
        status, reply = self.daemon.request("POST", "/session", deep_enough)
        # Parsed and planned: corral:options' own check refuses labels that are not an object.
        self.assert_invalid_argument(status, reply, "labels")

    def test_the_same_depth_on_post_v1_sessions_is_a_bad_request(self):
        # 32,000 levels: as deep as the API's 64 KiB body limit lets through.
        deep = "[" * 32_000 + "]" * 32_000
        for body in (deep, '{"labels":' + deep + "}"):
            status, reply = self.daemon.request("POST", "/v1/sessions", body)
            self.assertEqual(status, 400, reply)
            self.assertEqual(reply["error"]["code"], "bad_request")
            self.assertIn("nested deeper than 64 levels", reply["error"]["message"])
            self.assert_still_serving()

    def test_more_than_100000_values_are_refused(self):
        many = '{"capabilities":{"alwaysMatch":{"x:many":[' + ",".join(["0"] * 200_000) + "]}}}"
        status, reply = self.daemon.request("POST", "/session", many)
        self.assert_invalid_argument(status, reply, "more than 100000 values")
        self.assert_still_serving()


class LargeNewSessionBodies(HostileTestCase):
    """32 MiB new-session bodies, planned in full: the one session the daemon
    admits is taken, so each is refused for room only after its parse and
    plan, and no chromedriver is started."""
    daemon_args = ("--max-sessions", "1", "--new-session-wait", "1s")
    BODY = 32 * MIB

    def setUp(self):
        self.holder = self.daemon.open()

    def big_body(self, extensions=4):
        """Capabilities of about 32 MiB: base64 "extensions", as a bot sends them."""
        frame = len(json_text(new_session_body({"browserName": "chrome", "goog:chromeOptions": {
            "extensions": [""] * extensions}})))
        each = (self.BODY - frame) // extensions
        body = json_text(new_session_body({"browserName": "chrome", "goog:chromeOptions": {
            "extensions": ["Q" * each for _ in range(extensions)]}}))
        self.assertLessEqual(len(body), self.BODY)
        self.assertGreater(len(body), self.BODY - 4096)
        return body

    def post_big(self, body, answers, index):
        answers[index] = self.daemon.request("POST", "/session", body, timeout=300)

    def assert_refused_for_room(self, answer):
        status, reply = answer
        self.assertEqual(status, 500, reply)
        self.assertEqual(reply["value"]["error"], "session not created", reply)
        self.assertIn("no room for a new session", reply["value"]["message"])

    def test_a_32_mib_body_costs_less_than_three_times_its_size(self):
        body = self.big_body()
        pid = self.daemon.process.pid
        before = memory_kib(pid, "VmRSS")
        answers = [None]
        self.post_big(body, answers, 0)
        self.assert_refused_for_room(answers[0])
        growth = (memory_kib(pid, "VmHWM") - before) * 1024
        print(f"RSS peak growth for one {len(body)} byte body: {growth / MIB:.1f} MiB "
              f"({growth / len(body):.2f}x)")
        self.assertLess(growth, 3 * len(body))
        self.assert_still_serving()

    def test_health_answers_while_four_bodies_are_parsed(self):
        body = self.big_body()
        pid = self.daemon.process.pid
        before = memory_kib(pid, "VmRSS")
        answers = [None] * 4
        senders = [threading.Thread(target=self.post_big, args=(body, answers, i)) for i in range(len(answers))]
        for sender in senders:
            sender.start()
        slowest, asked = 0.0, 0
        while any(sender.is_alive() for sender in senders):
            started = time.monotonic()
            status, health = self.daemon.request("GET", "/v1/health", timeout=60)
            self.assertEqual(status, 200, health)
            slowest, asked = max(slowest, time.monotonic() - started), asked + 1
            time.sleep(0.05)
        for sender in senders:
            sender.join()
        for answer in answers:
            self.assert_refused_for_room(answer)
        growth = (memory_kib(pid, "VmHWM") - before) * 1024
        in_flight = len(answers) * len(body)
        print(f"{asked} health checks while {len(answers)} bodies were in flight, slowest {slowest:.3f} s; "
              f"RSS peak growth {growth / MIB:.1f} MiB ({growth / in_flight:.2f}x of all bodies)")
        self.assertGreater(asked, 0)
        self.assertLess(growth, 3 * in_flight)
        self.assert_still_serving()


class DeepBrowserAnswers(unittest.TestCase):
    """The browser runs as the session's user: what it answers may be an attack."""

    def daemon_with(self, path):
        wrapper = stub_wrapper("--deep-json", path)
        self.addCleanup(os.unlink, wrapper)
        daemon = Daemon(browser=wrapper)
        self.addCleanup(daemon.remove)
        return daemon

    def test_deep_json_version_at_start_up_fails_the_open_at_once(self):
        daemon = self.daemon_with("/json/version")
        started = time.monotonic()
        status, reply = daemon.request("POST", "/v1/sessions", {})
        self.assertEqual(status, 500, reply)
        self.assertEqual(reply["error"]["code"], "browser_failed")
        self.assertIn("/json/version was refused: JSON nested deeper than 64 levels", reply["error"]["message"])
        # Refused, not waited on until --start-timeout (60 s).
        self.assertLess(time.monotonic() - started, 50)
        self.assertIsNone(daemon.process.poll())
        daemon.assert_nothing_left()

    def test_deep_json_list_is_a_refusal_not_a_crash(self):
        daemon = self.daemon_with("/json/list")
        session = daemon.open()
        pids = read_pid_file(pid_file(daemon, session), STUB_PROCESSES)
        status, reply = daemon.request("GET", url_path(session["devtools"]["http"]) + "/json/list")
        self.assertEqual(status, 502, reply)
        self.assertEqual(reply["error"]["code"], "browser_answer_refused")
        self.assertIn("nested deeper than 64 levels", reply["error"]["message"])
        self.assertIsNone(daemon.process.poll(), daemon.log()[-3000:])
        # corrald logs before it answers, but the harness reads its stderr on a thread of its own.
        refused = f"session {session['id']}: the browser's answer to /json/list refused"
        wait_until(lambda: refused in daemon.log(), 5, "the refusal in corrald's log")
        # The session itself is still served: /json/version is the stub's usual answer.
        status, version = daemon.request("GET", url_path(session["devtools"]["http"]) + "/json/version")
        self.assertEqual(status, 200, version)
        daemon.close(session["id"], grace=0)
        daemon.assert_nothing_left(pids)


class DeepStateFile(unittest.TestCase):
    """A state file of deep nesting at start is corrupt, as garbage is
    (test_recovery.py): kept aside, every session reaped, corrald serving."""

    def test_a_deep_state_file_is_corrupt(self):
        first = Daemon(browser=STUB)
        self.addCleanup(first.remove)
        session = first.open()
        pids = read_pid_file(pid_file(first, session), STUB_PROCESSES)
        first.stop(signal.SIGKILL)
        state_file = os.path.join(first.state_dir, "sessions.json")
        with open(state_file, "w") as f:
            f.write('{"version": 1, "sessions": [{"id": ' + DEEP + "}]}\n")
        second = Daemon(browser=STUB, reuse=first)
        self.addCleanup(second.stop)
        self.assertRegex(second.log(), r"is unusable.*nested deeper than 64 levels")
        self.assertIn("0 sessions adopted, 1 reaped", second.log())
        wait_until(lambda: not any(pid_alive(p) for p in pids), 5, "reaped processes to die")
        self.assertTrue(os.path.exists(state_file + ".corrupt"), "the bad file is kept for the operator")
        second.assert_nothing_left(pids)
        again = second.open()
        second.close(again["id"], grace=0)
        os.unlink(state_file + ".corrupt")


if __name__ == "__main__":
    unittest.main(verbosity=2)
