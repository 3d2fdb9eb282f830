"""corral in the limits suite's guest, as an operator has it: installed with
meson, corrald.service started with CORRALD_ARGS, its journal, MainPID and
/metrics; the stub browser and wrappers of it in /usr/local/libexec. The
suite's tests are in limits_suite.py."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from corral_harness import Api

STUB = "/usr/local/libexec/corral-test/stub_browser"
SYSTEM_PORT, USER_PORT = 8420, 8421


def run(*args, check=True, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def read(path):
    with open(path) as f:
        return f.read()


def keyed(path, key):
    for line in read(path).splitlines():
        name, value = line.split()
        if name == key:
            return int(value)
    raise KeyError(key)


def stub_wrapper(name, *stub_args):
    """A --browser program that runs the stub with extra behaviour flags."""
    path = f"/usr/local/libexec/corral-test/{name}"
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nexec {STUB} {' '.join(stub_args)} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def install_corral(build):
    """As an operator: meson install from the build dir `build`, the session user, the units in
    place, daemon-reload."""
    run("meson", "install", "-C", build, "--no-rebuild", "--quiet")
    run("systemd-sysusers")
    os.makedirs(os.path.dirname(STUB), exist_ok=True)
    run("install", "-m", "0755", os.path.join(build, "tests", "stub_browser"), STUB)
    run("systemctl", "daemon-reload")


def start_system_service(*args):
    """(Re)start corrald.service with CORRALD_ARGS from /etc/default/corrald. The system
    manager's corrald is root: its sessions get networks of their own, as the harness's do."""
    with open("/etc/default/corrald", "w") as f:
        f.write("CORRALD_ARGS=" + " ".join(["--listen", f"127.0.0.1:{SYSTEM_PORT}", "--start-timeout", "300s",
                                            "--session-network", "own",
                                            # TCG is slow: no session may idle out mid-test
                                            "--default-idle-timeout", "1h",
                                            *args]) + "\n")
    # The suite restarts the service more often than systemd's start limit
    # (5 in 10 s) allows once the VM runs fast; that limit is for crash loops.
    run("systemctl", "reset-failed", "corrald.service", check=False)
    # Type=notify: restart returns once corrald said READY=1.
    run("systemctl", "restart", "corrald.service")
    return Api(SYSTEM_PORT)


def fetch(url, method="GET"):
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=60) as response:
        return response.read().decode()


def open_tab_despite_load(url):
    """PUT /json/new through corral. Under TCG Chromium has been seen to miss
    corral's 10 s DevTools deadline (a 502, "no answer within 10 s") when the
    page it opens hogs memory from the start; the memory test's page now
    waits before it does. Should it happen again, the 502 is printed and the
    PUT tried again, since the test's subject is the cap."""
    for attempt in range(3):
        try:
            return fetch(url, method="PUT")
        except urllib.error.HTTPError as failure:
            if failure.code != 502 or attempt == 2:
                raise
            print(f"PUT /json/new: 502 {failure.read().decode(errors='replace')[:300]}; again", flush=True)
            time.sleep(5)


def scrape(port):
    """GET /metrics as {"name{labels}": value}."""
    samples = {}
    for line in fetch(f"http://127.0.0.1:{port}/metrics").splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def main_pid():
    return int(run("systemctl", "show", "-P", "MainPID", "corrald.service").stdout.strip() or 0)


def service_active():
    return run("systemctl", "is-active", "corrald.service", check=False).stdout.strip() == "active"


def journal(*match):
    """Journal entries (parsed -o json) that match, e.g. FIELD=value or -u UNIT."""
    out = run("journalctl", "--no-pager", "-o", "json", *match, check=False).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def cgroup_path(session):
    return session["cgroup"]


def close_or_await(api, session_id):
    """Close a running session; one whose browser a cap killed closes itself:
    wait for that. Returns the close report either way."""
    status, session = api.get(session_id)
    if session["state"] == "running":
        status, report = api.request("DELETE", f"/v1/sessions/{session_id}?grace=0")
        if status == 200:
            return report
    return api.wait_closed(session_id, 60, f"session {session_id} to close")["report"]
