"""A Selenium Chrome in a corral session, in place of a local Chrome and a
hand-written cleanup:

    with corral_client.Chrome(options=ChromeOptions(), memory_max="1G") as driver:
        driver.get("https://example.com")
    # quit; corral killed every process of the session and verified it

The driver is a webdriver.Remote to corrald's WebDriver endpoint (POST
/session), with the corral fields in the `corral:options` capability. The
token goes as an Authorization header, never in the URL (Selenium logs URLs).
Selenium speaks HTTP over TCP only, so this needs a http(s):// corrald
address; over a unix socket, use Session.
"""
import copy
import json
import logging

from selenium import webdriver
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection

from .connection import Client, error_from
from .errors import CorralError
from .session import wait_for_report

CAPABILITY = "corral:options"
LOG = logging.getLogger("corral_client")


class CorralConnection(ChromiumRemoteConnection):
    """Selenium's connection to corrald: the token as a Bearer header, and
    corral's own errors ({"error":{"code","message"}}) raised as CorralError
    instead of reaching Selenium's W3C error handling as garbled text."""

    def __init__(self, client, keep_alive=True):
        if client.is_unix:
            raise CorralError(None, "unsupported",
                              f"Selenium cannot send WebDriver commands over a unix socket ({client.url}); "
                              "give corrald a TCP --listen address, or use corral_client.Session "
                              "(kind='chromedriver') for the raw API over the socket")
        super().__init__(client.url, "goog", "chrome", keep_alive)
        self.corral_client = client

    # Selenium 4.8.3 calls this on the instance for every request, and so do
    # later versions (which then add a ClientConfig's auth header, if any).
    def get_remote_connection_headers(self, parsed_url, keep_alive=False):
        headers = super().get_remote_connection_headers(parsed_url, keep_alive)
        headers.update(self.corral_client.headers())
        return headers

    def execute(self, command, params):
        response = super().execute(command, params)
        error = corral_error(response, command)
        if error is not None:
            raise error
        return response


def corral_error(response, command):
    """CorralError for a corral-shaped error answer, else None. Selenium hands
    a 4xx/500 over as {"status": N, "value": "<raw body>"}; a body of another
    status that parses comes as the JSON itself."""
    if not isinstance(response, dict):
        return None
    status, body = response.get("status"), response
    if isinstance(status, int) and status >= 400:
        body = response.get("value")
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                body = None
    else:
        status = None
    corral_shaped = isinstance(body, dict) and isinstance(body.get("error"), dict)
    if status == 401 and not corral_shaped:  # W3C-shaped, or Selenium's own words: still a refused token
        value = body.get("value") if isinstance(body, dict) else None
        message = value.get("message") if isinstance(value, dict) else None
        return CorralError(401, "unauthorized", message or "corrald refused the token (or none was sent)", body)
    if not corral_shaped:
        return None
    error = error_from(status, body, command)
    if command == "newSession" and status == 404 and error.message == "no such endpoint":
        error = CorralError(404, "not_found", "this corrald has no WebDriver endpoint (POST /session); "
                            "use a newer corrald, or Session.open(kind='chromedriver') and "
                            "webdriver.Remote(session.webdriver)", body)
    return error


class CorralWebDriver(webdriver.Remote):
    """webdriver.Remote whose quit() also fetches corral's cleanup report
    (onto the Chrome that made it)."""

    _corral_chrome = None

    def quit(self):
        if self._corral_chrome is None:
            return super().quit()
        self._corral_chrome.quit()


class Chrome:
    """A Selenium WebDriver in a corral session; `with` gives the driver, and
    its end (also by an exception) quits it and keeps corral's cleanup report
    in `.report`.

    options:  selenium ChromeOptions (copied; not changed)
    headless: add --headless=new unless the options name a --headless flag
    fields:   the POST /v1/sessions body less `kind`: memory_max, memory_high,
              cpu_quota, tasks_max, args, labels, ttl, idle_timeout
    url, token_file, token, client: where corrald is (see Client)
    report_timeout: how long quit() waits for the final report
    """

    def __init__(self, options=None, *, url=None, token_file=None, token=None, client=None, headless=True,
                 report_timeout=10.0, keep_alive=True, **fields):
        if "kind" in fields:
            raise TypeError("Chrome is always a chromedriver session; use Session.open(kind=...) for others")
        self.client = client or Client(url=url, token_file=token_file, token=token)
        if self.client.is_unix:  # say so before anything starts
            CorralConnection(self.client)
        self.options = options
        self.headless = headless
        self.fields = fields
        self.report_timeout = report_timeout
        self.keep_alive = keep_alive
        self.driver = None
        self.session_id = None
        self.report = None
        self._quit = False

    def __repr__(self):
        return f"corral_client.Chrome(session={self.session_id!r}, url={self.client.url!r})"

    def capabilities(self):
        """The options as they go to corral: a copy, with the headless flag and corral:options."""
        options = copy.deepcopy(self.options) if self.options is not None else webdriver.ChromeOptions()
        if self.headless and not any(arg.startswith("--headless") for arg in options.arguments):
            options.add_argument("--headless=new")
        if self.fields:
            merged = dict(options.to_capabilities().get(CAPABILITY) or {})
            merged.update(self.fields)
            options.set_capability(CAPABILITY, merged)
        return options

    def start(self):
        """Open the session and its WebDriver session; the driver."""
        if self.driver is None:
            connection = CorralConnection(self.client, keep_alive=self.keep_alive)
            try:
                driver = CorralWebDriver(command_executor=connection, options=self.capabilities())
            except BaseException:
                connection.close()  # its pool of connections; no session was made
                raise
            driver._corral_chrome = self
            self.driver, self.session_id = driver, driver.session_id
        return self.driver

    def info(self):
        """The corral session (GET /v1/sessions/{id}): limits, live stats, or exit and report once closed."""
        return self.client.call("GET", self.client.session_path(self.session_id))

    def quit(self):
        """Quit the driver; corral cleans the session. The final cleanup
        report, also kept in `.report`. If the WebDriver quit fails, the
        session is closed through the API instead. A cleanup that left
        something raises CorralError("cleanup_failed") (report in .report)."""
        if self.driver is None or self._quit:
            return self.report
        self._quit = True
        try:
            webdriver.Remote.quit(self.driver)
        except Exception as failure:  # the browser or chromedriver is gone, or the call failed
            LOG.warning("WebDriver quit of corral session %s failed (%s); closing it through the API",
                        self.session_id, failure)
            self._close_through_api(failure)
        self.report = wait_for_report(self.client, self.session_id, self.report_timeout) or self.report
        if self.report is None:
            raise CorralError(None, "report_timeout",
                              f"no cleanup report for session {self.session_id} within {self.report_timeout}s")
        if self.report.get("verified_empty") is False or self.report.get("stuck_pids"):
            raise CorralError(500, "cleanup_failed", f"session {self.session_id} was not cleaned completely: "
                              f"{'; '.join(self.report.get('problems') or []) or 'see the report'}",
                              {"report": self.report})
        return self.report

    def _close_through_api(self, failure):
        status, _, body = self.client.request("DELETE", self.client.session_path(self.session_id))
        if status == 200:
            self.report = body
        elif status not in (404, 409):  # 409: already closed or closing; its report is at GET
            error = error_from(status, body, f"DELETE session {self.session_id}")
            if error.report:
                self.report = error.report
            else:
                raise error from failure

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            self.quit()
        except Exception:
            if exc_type is None:
                raise
            LOG.exception("cleaning up corral session %s failed", self.session_id)
        return False
