"""One corral session through the raw HTTP API, for bots that drive Chrome
over CDP (Puppeteer-style, pyppeteer, playwright-python's connect_over_cdp)
or want chromedriver's URL for themselves."""
import logging
import time

from .connection import Client, error_from
from .errors import CorralError

REPORT_POLL_S = 0.05


class Endpoints:
    """A DevTools address pair: http (/json/version lives there) and ws."""

    def __init__(self, fields):
        self.http = fields.get("http")
        self.ws = fields.get("ws")

    def __repr__(self):
        return f"Endpoints(http={self.http!r}, ws={self.ws!r})"


class Devtools(Endpoints):
    """A session's DevTools: `http` and `ws` are where corral serves them;
    `local` is the browser's own loopback endpoint (an Endpoints), for bots on
    corral's host, or None from a corrald that does not name it."""

    def __init__(self, fields):
        super().__init__(fields)
        local = fields.get("local")
        self.local = Endpoints(local) if isinstance(local, dict) else None

    def __repr__(self):
        return f"Devtools(http={self.http!r}, ws={self.ws!r}, local={self.local!r})"


def _duration(value):
    """A duration for a query: seconds as a number become "1.5s"; strings go as they are."""
    if isinstance(value, bool):
        raise TypeError("a duration is a number of seconds or a string such as '2s'")
    if isinstance(value, (int, float)):
        return f"{value:g}s"
    return str(value)


def wait_for_report(client, session_id, timeout):
    """The session's close report from GET /v1/sessions/{id}, once it is final
    (state "closed", nothing `pending`), waiting at most `timeout` seconds.
    Returns the last report seen if it did not become final in time, None if
    there was none (or corrald no longer remembers the session)."""
    deadline = time.monotonic() + timeout
    report = None
    while True:
        status, _, body = client.request("GET", client.session_path(session_id))
        if status == 404:
            return report
        if status == 200 and isinstance(body, dict):
            if isinstance(body.get("report"), dict):
                report = body["report"]
                if body.get("state") == "closed" and not report.get("pending"):
                    return report
        if time.monotonic() >= deadline:
            return report
        time.sleep(REPORT_POLL_S)


class Session:
    """A running corral session.

        with Session.open(memory_max="1G", labels={"bot": "crawler"}) as session:
            browser = connect(session.devtools.ws)   # or session.webdriver, kind="chromedriver"
            ...
        session.report    # the verified cleanup's report

    Fields of open() are the POST /v1/sessions body: kind ("chrome", the
    default, or "chromedriver"), memory_max, memory_high, cpu_quota,
    tasks_max, args, labels, ttl, idle_timeout."""

    def __init__(self, client, info):
        self.client = client
        self.info = info
        self.id = info["id"]
        self.report = None
        self.closed = False

    @classmethod
    def open(cls, *, url=None, token_file=None, token=None, client=None, wait=None, **fields):
        """Open a session; wait: how long corral may queue the open for room
        (seconds or "30s"; default: not at all, 429 at_capacity at once)."""
        client = client or Client(url=url, token_file=token_file, token=token)
        query = {"wait": _duration(wait)} if wait is not None else None
        timeout = client.timeout + (float(wait) if isinstance(wait, (int, float)) else 0)
        info = client.call("POST", "/v1/sessions", body=fields, query=query, timeout=timeout)
        return cls(client, info)

    @classmethod
    def attach(cls, session_id, *, url=None, token_file=None, token=None, client=None):
        """A Session for one that is already open (e.g. opened by corralctl)."""
        client = client or Client(url=url, token_file=token_file, token=token)
        return cls(client, client.call("GET", client.session_path(session_id)))

    def __repr__(self):
        return f"corral_client.Session({self.id!r}, kind={self.kind!r}, closed={self.closed})"

    # --- what the open said ------------------------------------------------
    @property
    def kind(self):
        return self.info.get("kind", "chromedriver" if self.info.get("webdriver") else "chrome")

    @property
    def devtools(self):
        """DevTools endpoints (http, ws, local), or None for a chromedriver session."""
        fields = self.info.get("devtools")
        return Devtools(fields) if isinstance(fields, dict) else None

    @property
    def webdriver(self):
        """A chromedriver session's WebDriver base on corral's address, else
        None: http://HOST:PORT/webdriver/<id>/<secret>. Give it whole to
        webdriver.Remote; corral relays to the session's chromedriver with
        the checks of its own WebDriver endpoint (one WebDriver session at a
        time; a quit leaves the corral session running). The secret in it
        opens this session alone: do not log it."""
        return self.info.get("webdriver")

    # --- calls ------------------------------------------------------------
    def refresh(self):
        """GET the session again (live stats while it runs; exit and report once closed)."""
        self.info = self.client.call("GET", self.client.session_path(self.id))
        return self.info

    def keepalive(self):
        """Renew the idle lease (for bots that only talk to Chrome)."""
        return self.client.call("POST", self.client.session_path(self.id, "/keepalive"))

    def close(self, grace=None, wait=True, report_timeout=5.0):
        """End the session with corral's verified cleanup; the report.

        grace: seconds (or "2s") between SIGTERM and cgroup.kill; 0 kills at
        once; None: corrald's default. wait=False answers at once (corral
        cleans in the background) and returns None; wait_report() gets it.
        A session corral had already closed (expired, idle, crashed) gives
        the report of that close. A cleanup that left something raises
        CorralError("cleanup_failed") with the report in .report (and here)."""
        query = {}
        if grace is not None:
            query["grace"] = _duration(grace)
        if not wait:
            query["wait"] = "0"
        status, _, body = self.client.request("DELETE", self.client.session_path(self.id), query=query or None)
        if status in (200, 202):
            self.closed = True
            if status == 202:
                return None
            self.report = body
            if body.get("pending"):  # freeing files' space, the state file: final at GET
                self.report = wait_for_report(self.client, self.id, report_timeout) or body
            return self.report
        if status == 409:  # closed already, or a close under way: its report is at GET
            self.closed = True
            self.report = wait_for_report(self.client, self.id, report_timeout)
            return self.report
        error = self._error(status, body, "DELETE")
        if error.code == "cleanup_failed":
            self.closed = True
            self.report = error.report
        raise error

    def wait_report(self, timeout=10.0):
        """The final report of a close (after close(wait=False), or a close by
        corral itself), waiting at most `timeout` seconds; None if none came."""
        self.report = wait_for_report(self.client, self.id, timeout) or self.report
        return self.report

    def _error(self, status, body, method):
        return error_from(status, body, f"{method} {self.client.session_path(self.id)}")

    # --- context manager -----------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.closed:
            return False
        try:
            self.close()
        except CorralError:
            if exc_type is None:
                raise
            # The body's own exception is the one to see; the failed close is in the log.
            logging.getLogger("corral_client").exception("closing session %s failed", self.id)
        return False
