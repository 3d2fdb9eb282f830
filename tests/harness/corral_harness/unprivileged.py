"""An unprivileged corrald, as the user manager runs one (CI's `systemd-run
--user`): here as a uid of the run's block, on the cgroupfs backend in a
cgroup delegated to that uid (its directory and its cgroup.procs,
cgroup.subtree_control and cgroup.threads chowned, as systemd's Delegate=
does). It starts as root only to enter that cgroup and hand it its state
dir, then drops to the uid with no capabilities at all (setpriv)."""
import itertools
import os
import types

from corral_harness.cgroups import CGROUP2, remove_cgroup_tree
from corral_harness.daemon import Daemon

# The uid of an unprivileged corrald: one of the run's block that no pool
# of it uses (its pools take +0..+41).
UNPRIVILEGED_UID = int(os.environ.get("CORRAL_TEST_UID_BASE", "450000")) + \
    100 * int(os.environ.get("CORRAL_TEST_UID_BLOCK", "0")) + 50

# Run as root: give the state dir to the uid, enter the delegated cgroup, drop.
_ENTER_AND_DROP = ('d=$1; u=$2; shift 2; prev=; for a; do [ "$prev" = --state-dir ] && chown "$u:$u" "$a"; '
                   'prev=$a; done; echo $$ > "$d/cgroup.procs" && '
                   'exec setpriv --reuid="$u" --regid="$u" --clear-groups --inh-caps=-all "$@"')


_COUNT = itertools.count()


def delegated_cgroup(uid):
    path = f"{CGROUP2}/corral-test-unprivileged-{os.getpid()}-{next(_COUNT)}"
    os.makedirs(path, exist_ok=True)
    for name in ("", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
        os.chown(os.path.join(path, name), uid, uid)
    return path


class UnprivilegedDaemon(Daemon):
    """A Daemon that runs as `uid`, with no capabilities, on the cgroupfs
    backend in a cgroup delegated to it; remove() takes that cgroup too."""

    def __init__(self, *extra_args, uid=UNPRIVILEGED_UID, browser=None, reuse=None):
        self.uid = uid
        self.delegated = reuse.delegated if reuse else delegated_cgroup(uid)
        beside = types.SimpleNamespace(shared_root=os.path.join(self.delegated, "corral"))
        try:
            super().__init__(*extra_args, browser=browser, backend="cgroupfs", reuse=reuse,
                             beside=None if reuse else beside, unprivileged=True,
                             launch_prefix=("sh", "-c", _ENTER_AND_DROP, "sh", self.delegated, str(uid)))
        except BaseException:
            remove_cgroup_tree(self.delegated)
            raise

    def remove(self):
        super().remove()
        remove_cgroup_tree(self.delegated)

    def abandon(self):
        super().abandon()
        remove_cgroup_tree(self.delegated)
