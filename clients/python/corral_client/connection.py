"""Where corrald is and how to prove who we are: the URL, the token, and
one JSON request at a time over http.client (TCP, TLS or a unix socket).

The rules are corralctl's (src/corralctl/client.cpp, src/util/token_file.cpp):
  URL    the argument, else $CORRAL_URL, else http://127.0.0.1:8420;
         http://HOST[:PORT][/PREFIX], https://..., or unix:/PATH
  token  the argument, else the file named by the argument or by
         $CORRAL_TOKEN_FILE, read as corralctl reads it: a regular file, not
         a symbolic link, that others cannot read, holding one token of at
         least 16 visible ASCII characters (trailing whitespace ignored)
"""
import errno
import http.client
import json
import os
import socket
import stat
from urllib.parse import quote, urlencode, urlsplit

from .errors import CorralError, TokenFileError

DEFAULT_URL = "http://127.0.0.1:8420"
MIN_TOKEN_LENGTH = 16
MAX_TOKEN_FILE_SIZE = 4096


def read_token_file(path):
    """The token in `path`, or TokenFileError where corralctl would refuse it."""
    name = os.fspath(path)
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(name, flags)
    except OSError as failure:
        if failure.errno == errno.ELOOP:
            raise TokenFileError(f"token file '{name}' is a symbolic link; give the path of the file itself") from None
        raise TokenFileError(f"token file: open '{name}': {failure.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TokenFileError(f"token file '{name}' is not a regular file")
        content = b""
        while len(content) <= MAX_TOKEN_FILE_SIZE:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            content += chunk
    finally:
        os.close(fd)
    if len(content) > MAX_TOKEN_FILE_SIZE:
        raise TokenFileError(f"token file '{name}' is larger than 4 KiB; is it the right file?")
    if info.st_mode & stat.S_IRWXO:
        raise TokenFileError(f"token file '{name}' is open to every user of this host "
                             f"(mode {stat.S_IMODE(info.st_mode):04o}); chmod o-rwx it")
    token = content.rstrip(b" \t\n\r\v\f")
    if not token:
        raise TokenFileError(f"token file '{name}' is empty")
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenFileError(f"the token in '{name}' has {len(token)} characters; use at least "
                             f"{MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32)")
    if any(byte < 0x21 or byte > 0x7E for byte in token):
        raise TokenFileError(f"the token in '{name}' has spaces or bytes outside visible ASCII; "
                             "it could not be sent in an HTTP header")
    return token.decode("ascii")


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket; the Host is "localhost", as corralctl sends."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class Client:
    """corrald's address and token; every call is one request on a fresh
    connection (the API closes nothing early, so nothing to pool)."""

    def __init__(self, url=None, token_file=None, token=None, timeout=120.0):
        self.url = (url or os.environ.get("CORRAL_URL") or DEFAULT_URL).rstrip("/")
        self.timeout = timeout
        if token is None:
            if token_file is None:
                token_file = os.environ.get("CORRAL_TOKEN_FILE") or None
            if token_file:
                token = read_token_file(token_file)
        self.token = token or None
        self.unix_path = None
        self.prefix = ""
        if self.url.startswith("unix:"):
            self.unix_path = self.url[len("unix:"):]
            if not self.unix_path:
                raise CorralError(None, "bad_url", f"'{self.url}' names no socket: use unix:/PATH")
            return
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CorralError(None, "bad_url",
                              f"'{self.url}' is not a corrald address: use http://HOST:PORT or unix:/PATH")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise CorralError(None, "bad_url", f"'{parts.scheme}://{parts.hostname}...' carries credentials, a query "
                              "or a fragment; give the token with a token file instead")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")

    def __repr__(self):  # never the token
        return f"corral_client.Client({self.url!r}, token={'yes' if self.token else 'no'})"

    @property
    def is_unix(self):
        return self.unix_path is not None

    def _connection(self, timeout):
        if self.unix_path is not None:
            return _UnixHTTPConnection(self.unix_path, timeout)
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def headers(self):
        """What every request carries: the token as a Bearer header, if any."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method, path, body=None, query=None, timeout=None):
        """(status, headers, parsed JSON or None) of one request; raises
        CorralError("unreachable") if no answer came."""
        target = self.prefix + path
        if query:
            target += "?" + urlencode(query)
        headers = {"Accept": "application/json", **self.headers()}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection = self._connection(self.timeout if timeout is None else timeout)
        try:
            connection.request(method, target, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as failure:
            raise CorralError(None, "unreachable", f"cannot reach corrald at {self.url}: {failure}") from failure
        finally:
            connection.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
            if response.status < 400:
                raise CorralError(response.status, "bad_response",
                                  f"{method} {path}: not JSON: {raw[:200]!r}") from None
        return response.status, response.headers, parsed

    def call(self, method, path, body=None, query=None, timeout=None):
        """The parsed JSON of a 2xx answer; any other answer raises CorralError
        with corral's status, code and message."""
        status, _, parsed = self.request(method, path, body, query, timeout)
        if status >= 400:
            raise error_from(status, parsed, f"{method} {path}")
        return parsed

    def session_path(self, session_id, suffix=""):
        return f"/v1/sessions/{quote(str(session_id), safe='')}{suffix}"

    # A few calls that are not about one session.
    def sessions(self):
        """The open sessions, each with its live stats."""
        return self.call("GET", "/v1/sessions")["sessions"]

    def health(self):
        return self.call("GET", "/v1/health")


def error_from(status, body, what):
    """CorralError from an error answer: {"error":{"code","message"}} as corral
    sends it, or whatever else came."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return CorralError(status, error.get("code") or f"http_{status}", error.get("message") or what, body)
    return CorralError(status, f"http_{status}", f"{what}: {http.client.responses.get(status, 'error')}", body)
