"""Who sessions run as: the shared session user, the uid ranges this run
gives its daemons, and the user behind a session's uid."""
import os
import pwd


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


# Each suite's own uids (tests/meson.build gives every suite a block of
# 100, 410000 + 100*k), so that suites running side by side, and other test
# runs on the host, never share, and quarantine, each other's session uids.
# All below systemd's container range (524288-) and clear of its dynamic
# users (61000-61200); unset, the fixed ranges below.
#
# The default instance's sessions (CORRAL_TEST_SESSION_UIDS=FIRST-LAST);
# unset: corral's default pool corral-s00..s15 (the suite that proves that
# pool runs without a range, and alone).
RUN_SESSION_UIDS = os.environ.get("CORRAL_TEST_SESSION_UIDS")
# A named instance's sessions (the default pool is the default instance's).
NAMED_INSTANCE_UIDS = os.environ.get("CORRAL_TEST_INSTANCE_UIDS", "400300-400315")
# A pool of two, for tests of what happens past a pool's end.
SMALL_POOL_UIDS = os.environ.get("CORRAL_TEST_SMALL_POOL_UIDS", "400100-400101")
