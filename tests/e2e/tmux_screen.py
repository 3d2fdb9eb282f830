"""A terminal a person would use, for testing `corralctl top` as one: a
private tmux server (its own socket, no user config) running a plain bash;
the test types with send-keys and reads the screen with capture-pane."""
import os
import shutil
import subprocess
import tempfile

from corral_harness import wait_until
from corral_harness.live_helpers import track_helper, untrack_helper

PROMPT = "corral$"


def last_filled(lines):
    """The last line with something on it ("" for a blank screen)."""
    filled = [line for line in lines if line.strip()]
    return filled[-1] if filled else ""


class TmuxScreen:
    def __init__(self, width=160, height=40):
        # The server's socket in a directory of our own, removed with it.
        self.dir = tempfile.mkdtemp(prefix="corral-test-tmux.")
        self.socket = os.path.join(self.dir, "socket")
        self.width, self.height = width, height
        track_helper(self)
        shell = f"env -i PATH={os.environ['PATH']} TERM=xterm-256color PS1='{PROMPT} ' bash --norc --noprofile"
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), shell)
        wait_until(lambda: self.last_line() == PROMPT, 10, "the shell's prompt")

    def __repr__(self):
        return f"tmux server {self.socket}"

    def tmux(self, *args):
        result = subprocess.run(["tmux", "-S", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0, f"tmux {args}: {result.stderr}"
        return result.stdout

    def type(self, text, enter=True):
        self.tmux("send-keys", "-t", "0", "-l", text)
        if enter:
            self.tmux("send-keys", "-t", "0", "Enter")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "0", *keys)

    def lines(self):
        """What the screen shows now, one string a row (trailing blanks dropped)."""
        return [line.rstrip() for line in self.tmux("capture-pane", "-p", "-t", "0").split("\n")]

    def text(self):
        return "\n".join(self.lines())

    def last_line(self):
        return last_filled(self.lines())

    def wait_for(self, predicate, what, timeout=30):
        """Wait until predicate(lines) holds; the screen goes into the failure."""
        last = {}

        def check():
            last["lines"] = self.lines()
            return predicate(last["lines"])
        try:
            wait_until(check, timeout, what)
        except AssertionError as failed:
            raise AssertionError(f"{failed}; the screen:\n" + "\n".join(last.get("lines", []))) from None

    def wait_for_prompt(self):
        self.wait_for(lambda lines: last_filled(lines) == PROMPT, "the shell's prompt")

    def foreground_pids(self):
        """Processes the pane's shell is running now (its children)."""
        shell = int(self.tmux("list-panes", "-t", "0", "-F", "#{pane_pid}").strip())
        with open(f"/proc/{shell}/task/{shell}/children") as f:
            return [int(pid) for pid in f.read().split()]

    def terminal_modes(self):
        """stty's flags, as the shell's terminal has them now: {"icanon": True, "echo": True, ...}."""
        self.tmux("send-keys", "-t", "0", "clear", "Enter")
        self.wait_for_prompt()
        self.type("stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo")
        self.wait_for(lambda lines: any("icanon" in line and "stty" not in line for line in lines), "stty's answer")
        answer = next(line for line in self.lines() if "icanon" in line and "stty" not in line)
        return {word.lstrip("-"): not word.startswith("-") for word in answer.split()}

    def stop(self):
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)
        untrack_helper(self)

    abandon = stop
