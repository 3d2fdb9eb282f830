"""A small fake corrald for corral_client's unit tests: the session API and
enough of the WebDriver endpoint for Selenium's Remote (new session, url,
title, quit), on loopback TCP or a unix socket. It records every request."""
import http.server
import json
import os
import re
import socketserver
import threading
import uuid


def error(code, message):
    return {"error": {"code": code, "message": message}}


def clean_report(session_id, pending=()):
    return {"id": session_id, "reason": "client", "graceful": True, "processes_killed": 3,
            "verified_empty": True, "stuck_pids": [], "scope_removed": True, "dirs_removed": True,
            "duration_ms": 12, "problems": [], "pending": list(pending)}


class FakeCorral:
    """Handlers read and change this state under `lock`.

    token            require Authorization: Bearer <token> (not on /v1/health)
    webdriver        serve POST /session etc. (False: 404 "no such endpoint", as corrald before it)
    pending_gets     how many GETs of a closed session still show `pending` in its report
    overrides        {(method, path regex): (status, body or raw bytes)}: answers to force
    quit_fails       DELETE /session/{id} answers a WebDriver error and closes nothing
    """

    def __init__(self, token=None, unix_path=None, webdriver=True):
        self.token = token
        self.webdriver = webdriver
        self.pending_gets = 2
        self.overrides = {}
        self.quit_fails = False
        self.lock = threading.Lock()
        self.requests = []   # (method, path with query, headers dict, parsed body)
        self.sessions = {}   # id -> {"info", "closed", "report", "gets_after_close", "url", "capabilities"}
        handler = _handler_for(self)
        if unix_path:
            self.server = _UnixServer(unix_path, handler)
            self.url = f"unix:{unix_path}"
        else:
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        if isinstance(self.server, _UnixServer):
            try:
                os.unlink(self.server.server_address)
            except OSError:
                pass

    # --- what a test asks ------------------------------------------------------
    def calls(self, method=None, prefix=""):
        with self.lock:
            return [r for r in self.requests if (method is None or r[0] == method) and r[1].startswith(prefix)]

    def open_sessions(self):
        with self.lock:
            return [sid for sid, s in self.sessions.items() if not s["closed"]]

    # --- the API -----------------------------------------------------------------
    def _new_session(self, body, capabilities=None):
        session_id = uuid.uuid4().hex[:12]
        kind = "chromedriver" if capabilities is not None else body.get("kind", "chrome")
        port = 40000 + len(self.sessions)
        info = {"id": session_id, "state": "running", "labels": body.get("labels", {}),
                "limits": {"memory_max": body.get("memory_max")},
                "devtools": None if kind == "chromedriver" else {
                    "http": f"http://corral.test/cdp/{session_id}/s3cret",
                    "ws": f"ws://corral.test/cdp/{session_id}/s3cret/devtools/browser/x",
                    "local": {"http": f"http://127.0.0.1:{port}", "ws": f"ws://127.0.0.1:{port}/devtools/browser/x"}},
                # As corrald: a base on corral's address with the session's secret,
                # relayed to its chromedriver (never chromedriver's own URL).
                "webdriver": f"http://corral.test/webdriver/{session_id}/{uuid.uuid4().hex}"
                             if kind == "chromedriver" else None}
        self.sessions[session_id] = {"info": info, "closed": False, "report": None, "gets_after_close": 0,
                                     "url": "about:blank", "capabilities": capabilities, "body": body}
        return session_id

    def _close(self, session_id):
        session = self.sessions[session_id]
        session["closed"] = True
        session["info"]["state"] = "closed"
        session["report"] = clean_report(session_id, ["files"])
        return dict(session["report"])

    def answer(self, method, path, headers, body):
        """(status, JSON body or bytes) for one request; called under the lock."""
        for (m, pattern), reply in self.overrides.items():
            if m == method and re.fullmatch(pattern, path):
                return reply
        route = path.split("?", 1)[0]
        if self.token and route != "/v1/health" and headers.get("Authorization") != f"Bearer {self.token}":
            return 401, error("unauthorized", "this API wants Authorization: Bearer <token>")
        if method == "POST" and route == "/v1/sessions":
            return 201, self.sessions[self._new_session(body or {})]["info"]
        if method == "GET" and route == "/v1/sessions":
            return 200, {"sessions": [s["info"] for s in self.sessions.values() if not s["closed"]]}
        match = re.fullmatch(r"/v1/sessions/([^/]+)(/keepalive)?", route)
        if match:
            session = self.sessions.get(match.group(1))
            if session is None:
                return 404, error("not_found", "no session with that id")
            if method == "POST" and match.group(2):
                return (409, error("already_closed", "closed")) if session["closed"] else (200, session["info"])
            if method == "GET" and not match.group(2):
                reply = dict(session["info"])
                if session["closed"]:
                    session["gets_after_close"] += 1
                    report = dict(session["report"])
                    if session["gets_after_close"] > self.pending_gets:
                        report["pending"] = []
                    reply["report"] = report
                return 200, reply
            if method == "DELETE" and not match.group(2):
                if session["closed"]:
                    return 409, error("already_closed", f"session {match.group(1)} is closed")
                return 200, self._close(match.group(1))
        if self.webdriver:
            return self._webdriver(method, route, body)
        return 404, error("not_found", "no such endpoint")

    def _webdriver(self, method, route, body):
        if method == "POST" and route in ("/session", "/wd/hub/session"):
            always = (body or {}).get("capabilities", {}).get("alwaysMatch", {})
            session_id = self._new_session(always.get("corral:options", {}), capabilities=body)
            return 200, {"value": {"sessionId": session_id, "capabilities": {"browserName": "chrome"}}}
        match = re.fullmatch(r"/session/([^/]+)(/.*)?", route)
        if not match or match.group(1) not in self.sessions or self.sessions[match.group(1)]["closed"]:
            return 404, {"value": {"error": "invalid session id", "message": "no such session", "stacktrace": ""}}
        session = self.sessions[match.group(1)]
        command = match.group(2) or ""
        if method == "DELETE" and command == "":
            if self.quit_fails:
                return 500, {"value": {"error": "unknown error", "message": "chrome not reachable",
                                       "stacktrace": ""}}
            self._close(match.group(1))
            return 200, {"value": None}
        if method == "POST" and command == "/url":
            session["url"] = body["url"]
            return 200, {"value": None}
        if method == "GET" and command == "/title":
            return 200, {"value": f"Fake {session['url']}"}
        return 404, {"value": {"error": "unknown command", "message": route, "stacktrace": ""}}


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _handler_for(fake):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet; and a unix peer has no address to print
            pass

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            headers = {name: value for name, value in self.headers.items()}
            with fake.lock:
                fake.requests.append((self.command, self.path, headers, body))
                status, reply = fake.answer(self.command, self.path, headers, body)
            data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(reply, bytes) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

    return Handler
