#!/usr/bin/env python3
"""The layering of docs/architecture.md, checked: every #include "corral/X/..."
in a folder's sources and headers names a folder that folder may use. Also
holds every source file to 400 lines (C and C++ everywhere; Python and shell
in tests/, bench/, tools/ and clients/ too: the same house rules), and Boost
to the HTTP server's files. Exits 1, naming each offence."""
import pathlib
import re
import sys

MAY_INCLUDE = {
    "util": {"util"},
    "net": {"net", "util"},
    "cgroup": {"cgroup", "util"},
    "backend": {"backend", "cgroup", "util"},
    "launch": {"launch", "egress", "net", "util"},
    "session": {"session", "backend", "launch", "egress", "cgroup", "net", "util"},
    # The front door. The HTTP server knows nothing of sessions or proxies:
    # routes declare their access and error shape to it (router.hpp). The
    # JSON API knows nothing of the proxies. Both proxies reach a session
    # only through proxy/ (SessionUpstream), and never include each other.
    "server": {"server", "net", "util"},
    "api": {"api", "server", "net", "session", "backend", "launch", "egress", "cgroup", "util"},
    "proxy": {"proxy", "server", "session", "net", "cgroup", "util"},
    "devtools": {"devtools", "proxy", "api", "server", "session", "net", "util"},
    "webdriver": {"webdriver", "proxy", "api", "server", "session", "launch", "net", "util"},
    # A session's way out (SOCKS5 and its policy): knows nothing of sessions
    # beyond the id, uid and listening socket corrald hands it.
    "egress": {"egress", "util"},
    # The operators' page (/ui/): static files served by the front door; it
    # talks to the API from the browser, so it needs nothing of sessions.
    "console": {"console", "server", "util"},
}
# What the proxies may take from net/: the request builder, not a way in.
# Every connection into a session is made by proxy/ (SessionUpstream).
PROXY_PARTS_MAY_NOT = re.compile(r'#include "corral/net/(session_connector|loopback_http|socket_owner)\.hpp"')
# The session manager reaches the host only through these two interfaces.
MANAGER_MAY_NOT = re.compile(r'#include "corral/(cgroup/cgroup|launch/(gated_child|child_watcher|host_launcher)|'
                             r'backend/(systemd|cgroupfs)_backend)\.hpp"')
INCLUDE = re.compile(r'#include "corral/([a-z_]+)/')
# Boost.Beast and Asio are heavy templates: only the server's files (and
# their private headers), the relay hub's, the launcher's loopback GET and
# the egress relay's and the DNS forwarder's include them, so the build stays fast; meson.build gives these the Boost flags.
BOOST_INCLUDE = re.compile(r'#include <boost/')
MAY_INCLUDE_BOOST = {"src/server/http_server.cpp", "src/server/http_connection.cpp", "src/server/http_connection.hpp",
                     "src/server/connection.hpp", "src/server/websocket_upgrade.cpp",
                     "src/proxy/relay_hub.cpp", "src/proxy/relay_exchange.cpp",
                     "src/proxy/relay.cpp", "src/proxy/relay.hpp",
                     "src/proxy/relay_hub_impl.hpp", "src/net/loopback_http.cpp",
                     "src/egress/egress_relay.cpp", "src/egress/egress_connection.cpp",
                     "src/egress/egress_relay_impl.hpp", "src/egress/dns_forwarder.cpp",
                     "src/egress/dns_resolver_query.cpp", "src/egress/dns_tcp_asker.cpp",
                     "src/egress/dns_forwarder_impl.hpp",
                     "src/egress/upstream_handshake.cpp",
                     "src/egress/upstream_handshake.hpp", "src/egress/asio_endpoints.hpp",
                     "src/egress/read_batching.hpp", "src/egress/read_batching.cpp"}
MAX_LINES = 400
# Python and shell files held to MAX_LINES as well: *.py, and scripts whose
# shebang names sh, bash or python (tools/vm/vm-run, tools/grid/relay-node-config).
SCRIPT_FOLDERS = ("tests", "bench", "tools", "clients")
NOT_OURS = {"node_modules", "__pycache__", "results", ".git"}
SCRIPT_SHEBANG = re.compile(rb"#!\S*(/|env\s+|busybox\s+)(sh|bash|python3?)\b")


def scripts(root):
    """The Python and shell files of SCRIPT_FOLDERS (not vendored packages or kept results)."""
    for folder in SCRIPT_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if not path.is_file() or NOT_OURS & set(path.relative_to(root).parts):
                continue
            if path.suffix == ".py":
                yield path
            elif not path.suffix or path.suffix == ".sh":
                with open(path, "rb") as f:
                    if SCRIPT_SHEBANG.match(f.readline()):
                        yield path


def too_long(root, path, text):
    lines = text.count("\n")
    if lines > MAX_LINES:
        return [f"{path.relative_to(root)}: {lines} lines (at most {MAX_LINES}: split it by concept)"]
    return []


def main(root):
    root = pathlib.Path(root)
    offences = []
    for layer, allowed in MAY_INCLUDE.items():
        for base in (root / "src" / layer, root / "include" / "corral" / layer):
            for path in sorted(base.glob("*.[ch]pp")):
                text = path.read_text()
                for used in INCLUDE.findall(text):
                    if used not in allowed:
                        offences.append(f"{path.relative_to(root)}: {layer}/ may not include corral/{used}/")
                if layer in ("devtools", "webdriver"):
                    for match in PROXY_PARTS_MAY_NOT.finditer(text):
                        offences.append(f"{path.relative_to(root)}: {match.group(0)[10:-1]} connects into a session; "
                                        "go through SessionUpstream (proxy/)")
                if path.stem in ("manager", "closing", "recovery", "connections") and layer == "session":
                    for match in MANAGER_MAY_NOT.finditer(text):
                        offences.append(f"{path.relative_to(root)}: the manager uses {match.group(0)[10:]} "
                                        "directly; go through ScopeBackend or BrowserLauncher")
    for path in sorted(list(root.glob("src/**/*.[ch]pp")) + list(root.glob("include/**/*.hpp")) +
                       list(root.glob("tests/**/*.[ch]pp")) + list(root.glob("tests/**/*.c"))):
        text = path.read_text()
        if BOOST_INCLUDE.search(text) and str(path.relative_to(root)) not in MAY_INCLUDE_BOOST:
            offences.append(f"{path.relative_to(root)}: includes Boost; only the server's and the relays' files may")
        offences += too_long(root, path, text)
    for path in scripts(root):
        offences += too_long(root, path, path.read_text(errors="replace"))
    for offence in offences:
        print(offence)
    print(f"{len(offences)} offences" if offences else "layers and file sizes as docs/architecture.md says")
    return 1 if offences else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent))
