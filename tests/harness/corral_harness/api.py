"""A client of corrald's HTTP API (TCP or unix socket), and systemctl --user."""
import http.client
import json
import re
import socket
import subprocess

from corral_harness.processes import wait_until


def systemctl_user(*args):
    return subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True, timeout=30)


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket (corrald --listen unix:PATH)."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Api:
    """A client of a running corrald's HTTP API, on a TCP port or a unix
    socket; with a token, every request carries it unless told otherwise."""

    def __init__(self, port=None, unix_socket=None, token=None, host="127.0.0.1"):
        self.host = host  # where the API listens: loopback, or an address of an OtherHost's veth
        self.port = port
        self.unix_socket = unix_socket
        self.token = token

    @property
    def url(self):
        """The address as corralctl --url takes it."""
        return f"unix:{self.unix_socket}" if self.unix_socket else f"http://{self.host}:{self.port}"

    def log(self):
        return ""

    def connection(self, timeout=360):
        if self.unix_socket:
            return UnixHTTPConnection(self.unix_socket, timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def raw_socket(self, timeout=30):
        """A plain socket connected to the API, for bytes http.client will not send."""
        if self.unix_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(self.unix_socket)
            return sock
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=360, auth=True):
        """(status, parsed JSON or raw text) of one request. auth=False sends no token."""
        headers = dict(headers or {})
        if self.token and auth:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        status, _, reply = self.exchange(method, path, body, headers, timeout)
        return status, reply

    def exchange(self, method, path, body=None, headers=None, timeout=360):
        """(status, response headers, parsed JSON or raw text); headers are sent
        as given (a Host of their own included), and one given as None is not
        sent at all (a body without Content-Type)."""
        connection = self.connection(timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        headers = dict(headers or {})
        if body is not None and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"  # as every API client sends a body
        headers = {name: value for name, value in headers.items() if value is not None}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read().decode("utf-8", "replace")
        connection.close()
        try:
            return response.status, response.headers, json.loads(raw)
        except ValueError:
            return response.status, response.headers, raw

    def metric(self, name):
        """The value of one series of /metrics (`name` with its labels, as
        the page writes it), or None when the page has no such series."""
        _, text = self.request("GET", "/metrics")
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        return float(match.group(1)) if match else None

    def open(self, body=None, expect=201):
        status, reply = self.request("POST", "/v1/sessions", body if body is not None else {})
        assert status == expect, f"open: {status} {reply}\n{self.log()[-3000:]}"
        return reply

    def close(self, session_id, grace=None, expect=200):
        path = f"/v1/sessions/{session_id}" + (f"?grace={grace}" if grace is not None else "")
        status, reply = self.request("DELETE", path)
        assert status == expect, f"close: {status} {reply}"
        return reply

    def get(self, session_id):
        return self.request("GET", f"/v1/sessions/{session_id}")

    def get_quietly(self, session_id):
        """The session's state, read without renewing its lease (from the list)."""
        for session in self.request("GET", "/v1/sessions")[1]["sessions"]:
            if session["id"] == session_id:
                return session["state"]
        return "closed"

    def wait_closed(self, session_id, timeout, what):
        """Wait, without renewing the lease, until the session has closed;
        then its GET (state, exit and close report)."""
        wait_until(lambda: self.get_quietly(session_id) == "closed", timeout, what)
        return self.get(session_id)[1]
