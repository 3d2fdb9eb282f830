"""Who sessions run as: the shared session user, the uid ranges this run
gives its daemons, and the user behind a session's uid."""
import os
import pwd
import subprocess


def _session_user():
    """The user a root corrald runs sessions as (tools/setup creates it)."""
    try:
        return pwd.getpwnam("corral-session")
    except KeyError:
        raise SystemExit("no user corral-session on this host: run tools/setup (it runs "
                         "systemd-sysusers units/sysusers.d/corral.conf)") from None


SESSION_USER = _session_user()


class UnnamedUser:
    """What pwd says of a user, for a uid of a --session-uids range (no
    passwd entry; corral gives it the group of the same number)."""

    def __init__(self, uid):
        self.pw_uid = self.pw_gid = uid
        self.pw_name = f"uid {uid}"


def session_user_of(session):
    """The user a session runs as: its own uid from the pool (a root
    corrald's default, corral-s00..s15, or the run's CORRAL_TEST_SESSION_UIDS),
    else the shared SESSION_USER."""
    if session.get("uid") is None:
        return SESSION_USER
    try:
        return pwd.getpwuid(session["uid"])
    except KeyError:
        return UnnamedUser(session["uid"])


# Each suite's own uids, so that suites running side by side, and other
# test runs on the host, never share, and quarantine, each other's session
# uids. tests/meson.build gives every suite but the one that proves the
# default pool a block number k (CORRAL_TEST_UID_BLOCK); its block is 100
# uids from CORRAL_TEST_UID_BASE + 100*k (base 450000; another checkout
# running the suites at the same time sets another base). Every block lies
# below systemd's container range (524288-), clear of its dynamic users
# (61000-61200), of the fixed ranges below and of bench's (401000 + 1000
# per daemon, bench/common/daemons.py).
UID_BLOCK_SIZE = 100
CONTAINER_UIDS = 524288


def _block_ranges(block):
    """The block's first uid, and its default instance's 16, a named instance's 16 and a pool of 2."""
    first = int(os.environ.get("CORRAL_TEST_UID_BASE", "450000")) + UID_BLOCK_SIZE * int(block)
    if not 400400 <= first or first + UID_BLOCK_SIZE > CONTAINER_UIDS:
        raise SystemExit(f"uid block {block} ({first}-) is not between 400400 and {CONTAINER_UIDS}: "
                         "set CORRAL_TEST_UID_BASE lower or higher")
    return first, (f"{first}-{first + 15}", f"{first + 20}-{first + 35}", f"{first + 40}-{first + 41}")


_BLOCK = os.environ.get("CORRAL_TEST_UID_BLOCK")
UID_BLOCK_FIRST = None  # the first uid of the run's block, if it has one
if _BLOCK:
    UID_BLOCK_FIRST, (RUN_SESSION_UIDS, NAMED_INSTANCE_UIDS, SMALL_POOL_UIDS) = _block_ranges(_BLOCK)
else:
    # The default instance's sessions: the run's CORRAL_TEST_SESSION_UIDS
    # (FIRST-LAST), or unset: corral's default pool corral-s00..s15.
    RUN_SESSION_UIDS = os.environ.get("CORRAL_TEST_SESSION_UIDS")
    # A named instance's sessions (the default pool is the default instance's).
    NAMED_INSTANCE_UIDS = "400300-400315"
    # A pool of two, for tests of what happens past a pool's end.
    SMALL_POOL_UIDS = "400100-400101"


def as_uid(uid, *command):
    """Run `command` as uid (gid the same, no groups, NoNewPrivs), as a
    session's process would; its CompletedProcess, output as text."""
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
                           *command], capture_output=True, text=True, timeout=30)
