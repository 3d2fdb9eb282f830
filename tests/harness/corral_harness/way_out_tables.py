"""What a corrald killed with -9 and never restarted leaves of its kernel
way out (docs/network.md, "The kernel way out"): its nftables table (named
in <state>/kernel-way-out-table), the devices in the table's set, and an
uplink's forwarding that it turned on. Removed as corrald's own clean stop
would: forwarding goes off only where no other corrald's table guards
that uplink."""
import os
import re
import subprocess

GUARD = "corral turned forwarding on here: answers to sessions alone"


def _nft(*args):
    done = subprocess.run(["nft", *args], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def guarded_uplinks(listing):
    return re.findall(r'iifname "([^"]+)" drop comment "' + re.escape(GUARD) + '"', listing or "")


def way_out_tables():
    return re.findall(r"^table inet (corral_way_out(?:_\w+)?)$", _nft("list", "tables") or "", re.MULTILINE)


def remove_left_way_out(state_dir):
    """Nothing to do after a clean stop (corrald removed the name file with its table)."""
    try:
        with open(os.path.join(state_dir, "kernel-way-out-table")) as f:
            table = f.read().strip()
    except FileNotFoundError:
        return
    listing = _nft("list", "table", "inet", table)
    if listing is None:
        return
    devices = re.search(r"set session_devices \{[^}]*?elements = \{([^}]*)\}", listing)
    for device in re.findall(r'"([^"]+)"', devices.group(1) if devices else ""):
        subprocess.run(["ip", "link", "del", device], capture_output=True)
    _nft("delete", "table", "inet", table)
    still_needed = {uplink for other in way_out_tables() for uplink in guarded_uplinks(_nft("list", "table", "inet", other))}
    for uplink in set(guarded_uplinks(listing)) - still_needed:
        try:
            with open(f"/proc/sys/net/ipv4/conf/{uplink}/forwarding", "w") as f:
                f.write("0")
        except OSError:
            pass  # the uplink went (a test's veth)
