"""The one browser every side runs: Debian's Chromium and chromedriver, the
same flags, the same page."""
import http.server
import threading

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# What the Selenium bot asks for on every side (seed, predecessor, corral,
# the bare cgroup): the seed's headless mode and its five "optimization"
# flags (chrome-cleanup-fix.md), plus what keeps Chromium off the network on
# this closed host (corrald's chrome_base_flags in
# src/launch/browser_command.cpp). No --no-sandbox: every side runs Chromium
# as the session user, with its sandbox on.
BOT_FLAGS = [
    "--headless=new",
    "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding", "--disable-features=TranslateUI,BlinkGenPropertyTrees",
    "--disable-component-update",
    "--disable-background-networking", "--disable-sync", "--disable-default-apps",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--metrics-recording-only",
    "--no-first-run", "--no-default-browser-check", "--disable-gpu",
]

# corrald's own command line for a chrome session (chrome_base_flags, less
# the profile, which each launch sets), for the bare launch it is compared with.
CORRALD_CHROME_FLAGS = [
    "--headless=new", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
    "--no-first-run", "--no-default-browser-check",
    "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding", "--disable-features=TranslateUI", "--disable-component-update",
    "--disable-background-networking", "--disable-sync", "--disable-default-apps",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--metrics-recording-only",
    "--disable-gpu",
]

PAGE = b"""<!doctype html><html><head><title>corral bench</title></head>
<body><h1>corral bench</h1><p>A page on loopback, the same for every side.</p>
<script>document.body.dataset.ready = "1";</script></body></html>"""


class PageServer:
    """The bot's page, served by http.server on 127.0.0.1 (loopback only)."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(PAGE)))
                self.end_headers()
                self.wfile.write(PAGE)

            def log_message(self, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
