"""The internet of the network bench: tests/e2e's PublicHost (a namespace on
198.51.100.0/24, joined to the host by a veth pair, which corral's default
egress policy counts as public), with a server of this process on a socket
made inside it. It serves a small HTML page (the origin the downloads run
from, so that fetch needs no CORS) and 5 MB of random bytes that no cache
may keep. Every answer ends its connection (HTTP/1.0, http.server's
default): each download pays for its own TCP connection, and in a session
of its own for its SOCKS5 handshake with corrald's way out.

With tls=True it serves https (a self-signed certificate made for the run;
the browsers are started with --ignore-certificate-errors): a browser told
to use an HTTP proxy then tunnels with CONNECT, as corral's way out always
does, so that a proxy used directly and one behind corral do the same work."""
import http.server
import os
import shutil
import ssl
import subprocess
import tempfile

from public_host import PublicHost, http_server_on, listening_socket_in

DOWNLOAD_BYTES = 5_000_000
PAGE = b"<!doctype html><title>network bench</title><p>the origin of the downloads"


def download_script(url):
    """A page's fetch of url to its last byte, timed in the page (performance.now())."""
    return f"""(async () => {{
  const start = performance.now();
  const answer = await fetch({url!r}, {{cache: 'no-store'}});
  const body = await answer.arrayBuffer();
  return {{ms: performance.now() - start, bytes: body.byteLength, status: answer.status}};
}})()"""


# A page's own state, to wait for: loaded from the server, not about:blank any more.
LOADED_SCRIPT = "location.origin + ' ' + document.readyState"


class PublicPages:
    """A PublicHost and its server; a context manager, removed on exit."""

    def __init__(self, tls=False):
        self.host = PublicHost()
        self.server = None
        self.served = 0  # downloads answered in full
        self.tls = tls
        self.cert_dir = None

    def __enter__(self):
        self.host.__enter__()
        try:
            sock = listening_socket_in(self.host.name, self.host.client_address)
            if self.tls:
                sock = self._tls_context().wrap_socket(sock, server_side=True)
            self.server = http_server_on(sock, self._handler())
        except BaseException:
            self._remove_cert()
            self.host.abandon()
            raise
        scheme = "https" if self.tls else "http"
        self.origin = f"{scheme}://{self.host.client_address}:{self.server.server_port}"
        return self

    def _tls_context(self):
        """A server context with a throw-away self-signed P-256 certificate."""
        self.cert_dir = tempfile.mkdtemp(prefix="corral-bench-tls.")
        key, cert = os.path.join(self.cert_dir, "key.pem"), os.path.join(self.cert_dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-subj", "/CN=corral-bench", "-days", "1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=30)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context

    def _remove_cert(self):
        if self.cert_dir:
            shutil.rmtree(self.cert_dir, ignore_errors=True)

    def browser_args(self):
        """What a browser needs to load these pages: the certificate is nobody's."""
        return ["--ignore-certificate-errors"] if self.tls else []

    def _handler(self):
        body, pages = os.urandom(DOWNLOAD_BYTES), self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                data, kind = (body, "application/octet-stream") if self.path.startswith("/5mb") else (PAGE, "text/html")
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)
                if data is body:
                    pages.served += 1

            def log_message(self, *args):
                pass

        return Handler

    def page_url(self):
        return self.origin + "/"

    def download_url(self, round_index):
        return f"{self.origin}/5mb?round={round_index}"

    def __exit__(self, *exc):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
        self._remove_cert()
        self.host.abandon()
        return False

    def leftovers(self):
        return self.host.leftovers() + ([self.cert_dir] if self.cert_dir and os.path.exists(self.cert_dir) else [])
