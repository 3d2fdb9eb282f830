"""A test's way into a session's network namespace, as corrald's own
connector does it (setns on the calling thread, and back): for what a test
reaches directly on a session's loopback (chromedriver's direct `webdriver`
URL) when the session has a network of its own."""
import contextlib
import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def in_network_of(pid):
    """This thread in the network namespace of process `pid` (root), then back
    in its own; where that is this thread's namespace already (a session
    sharing corrald's network), nothing changes, and no privilege is needed."""
    return in_network_at(f"/proc/{pid}/ns/net")


@contextlib.contextmanager
def in_network_at(path):
    """As in_network_of, for the namespace at `path` (/run/netns/NAME too)."""
    if os.stat(path).st_ino == os.stat("/proc/thread-self/ns/net").st_ino:
        yield
        return
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def socket_at(path, family=socket.AF_INET):
    """A TCP socket made in the network namespace at `path`, by a thread of
    its own, so that no caller's thread ever changes namespace (a socket
    keeps the namespace it was made in)."""
    made = {}

    def make():
        try:
            with in_network_at(path):
                made["socket"] = socket.socket(family, socket.SOCK_STREAM)
        except OSError as failure:
            made["error"] = failure

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    if "error" in made:
        raise made["error"]
    return made["socket"]


def connected_at(path, address, timeout):
    """socket_at's socket, connected to `address` (host, port) within `timeout` s."""
    sock = socket_at(path, socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock
