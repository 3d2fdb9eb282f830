"""A Node client the bench speaks to in JSON lines: one command a line on
its stdin, one answer a line on its stdout (bench/cdp_client.mjs,
bench/network/network_cdp.mjs). An answer with "error" raises; so does a
client that ends or stays silent past the timeout, with its last stderr."""
import collections
import json
import os
import queue
import shutil
import subprocess
import threading


class LineClient:
    def __init__(self, script, args, prefix=(), hello_timeout=60):
        node = shutil.which("node") or "/usr/bin/node"
        self.name = os.path.basename(script)
        self.process = subprocess.Popen([*prefix, node, script, *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.answers, self.errors = queue.Queue(), collections.deque(maxlen=50)
        threading.Thread(target=self._pump, args=(self.process.stdout, self.answers.put, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self.errors.append), daemon=True).start()
        try:
            self.hello = self._answer(hello_timeout)
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _pump(stream, put, say_end=False):
        for line in stream:
            put(line.rstrip("\n"))
        if say_end:
            put(None)  # the client ended: no answer will come

    def _answer(self, timeout):
        try:
            line = self.answers.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None:
            raise RuntimeError(f"{self.name} gave no answer: " + "\n".join(self.errors))
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.name}: {answer['error']}")
        return answer

    def ask(self, timeout=300, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._answer(timeout)

    def stop(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
