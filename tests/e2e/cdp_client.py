"""A small Chrome DevTools Protocol client on the standard library: one
WebSocket to a browser's (or corral's) browser-level endpoint, pages driven
through flattened target sessions. Enough for a test to open a page, serve
it from the test itself (Fetch interception: no network needed, in a
session's own network namespace or not) and evaluate JavaScript in it."""
import base64
import json
import os
import socket
import struct


class CdpClient:
    def __init__(self, ws_url, timeout=30):
        rest = ws_url.split("//", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError(f"no WebSocket answer from {ws_url}: {head!r}")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"WebSocket refused: {head!r}")
        self.next_id = 0
        self.events = []

    def close(self):
        self.sock.close()

    def _send_frame(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read_exact(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("WebSocket closed")
            data += chunk
        return data

    def _read_message(self):
        message = b""
        while True:
            first, second = self._read_exact(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read_exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read_exact(8))[0]
            payload = self._read_exact(length)
            opcode = first & 0x0F
            if opcode == 8:
                raise ConnectionError("WebSocket closed by the browser")
            if opcode in (9, 10):
                continue  # ping/pong: nothing to answer for a test's short exchange
            message += payload
            if first & 0x80:
                return json.loads(message)

    def send(self, method, params=None, session=None):
        """Send a command without waiting: its id, for result()."""
        self.next_id += 1
        request = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = session
        self._send_frame(json.dumps(request))
        return self.next_id

    def result(self, command_id):
        while True:
            for message in self.events:
                if message.get("id") == command_id:
                    self.events.remove(message)
                    if "error" in message:
                        raise RuntimeError(f"command {command_id}: {message['error']}")
                    return message.get("result", {})
            self.events.append(self._read_message())

    def call(self, method, params=None, session=None):
        return self.result(self.send(method, params, session))

    def wait_event(self, method, session=None):
        while True:
            for event in self.events:
                if event.get("method") == method and (session is None or event.get("sessionId") == session):
                    self.events.remove(event)
                    return event
            self.events.append(self._read_message())

    def open_page(self):
        """A new page target, attached: its session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        return self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def serve_and_load(self, page, url, html):
        """Navigate `page` to `url`, answering the request with `html` from here."""
        self.call("Fetch.enable", {"patterns": [{"urlPattern": url + "*"}]}, page)
        self.call("Page.enable", {}, page)
        # Its answer waits for the request, which waits for us: sent, not awaited yet.
        navigation = self.send("Page.navigate", {"url": url}, page)
        paused = self.wait_event("Fetch.requestPaused", page)
        self.call("Fetch.fulfillRequest", {
            "requestId": paused["params"]["requestId"], "responseCode": 200,
            "responseHeaders": [{"name": "Content-Type", "value": "text/html"}],
            "body": base64.b64encode(html.encode()).decode()}, page)
        self.result(navigation)
        self.wait_event("Page.loadEventFired", page)

    def evaluate(self, page, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, page)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")
