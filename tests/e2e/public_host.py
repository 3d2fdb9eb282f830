"""Hosts and servers for tests of where a session's pages may connect.

PublicHost is "the internet": an OtherHost whose addresses come from
198.51.100.0/24 (TEST-NET-2, RFC 5737), which corral's default egress policy
treats as public. Its pages are served by this process, on a socket made
inside the namespace, so a test reads what the pages did without a second
process. RecordingServer answers and records every request, wherever its
socket was made: a target that was refused has no record.
"""
import http.server
import ipaddress
import json
import queue
import socket
import threading

from corral_harness import in_network_at
from other_host import OtherHost

PUBLIC_POOL = ipaddress.ip_network("198.51.100.0/24")


def listening_socket(address, port=0):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(64)
    return sock


def listening_socket_in(namespace, address, port=0):
    """A TCP socket listening on address:port inside /run/netns/NAMESPACE.
    Only this thread enters the namespace, and only to make the socket."""
    with in_network_at(f"/run/netns/{namespace}"):
        return listening_socket(address, port)


def http_server_on(sock, handler):
    """A ThreadingHTTPServer of `handler` on a listening socket made elsewhere, serving."""
    server = http.server.ThreadingHTTPServer(sock.getsockname(), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.server_name, server.server_port = sock.getsockname()[:2]  # what server_bind() would set
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class RecordingServer:
    """Serves `pages` ({path: html}; anything else gets a small text answer),
    records the path of every request it got, and queues what pages POST to
    /report."""

    def __init__(self, sock, pages=None):
        pages = pages or {}
        hits, reports = self.hits, self.reports = [], queue.Queue()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                body = pages.get(self.path.split("?", 1)[0], "reached").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                hits.append(self.path)
                reports.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.address, self.port = sock.getsockname()
        self.url = f"http://{self.address}:{self.port}"
        self.server = http_server_on(sock, Handler)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def serve_in(host, pages=None, address=None):
    """A RecordingServer inside OtherHost `host` (on its own address by default)."""
    return RecordingServer(listening_socket_in(host.name, address or host.client_address), pages)


class PublicHost(OtherHost):
    """An OtherHost on 198.51.100.0/24: a page server there is on the internet
    as far as a session can tell."""

    def __init__(self):
        super().__init__(pool=PUBLIC_POOL)

    def serve(self, pages=None, address=None):
        return serve_in(self, pages, address)
