"""Test support: run a real corrald, talk to it over HTTP, and prove that
nothing of a session is left on the host afterwards. A package on the
PYTHONPATH that tests/meson.build and bench/run set (tests/harness), one
module per concept; everything is also importable from the package itself.

Environment (set by tests/meson.build):
  CORRALD            path of the corrald binary under test
  CORRAL_STUB        path of the stub browser
  CORRAL_TEST_BACKEND  cgroupfs (default) or systemd-user
  XDG_RUNTIME_DIR    for systemd-user: the private manager's runtime dir
  CORRAL_TEST_UID_BLOCK  the suite's own block of uids (users.py; CORRAL_TEST_UID_BASE moves them)
  CORRAL_TEST_SESSION_UIDS  without a block: the default instance's uids (unset: corral-s00..s15)
  CORRAL_TEST_WARM   e.g. chrome=2: every daemon keeps that warm pool unless told otherwise (daemon.py)
"""
from corral_harness.api import Api, UnixHTTPConnection, systemctl_user  # noqa: F401
from corral_harness.cgroups import CGROUP2, remove_cgroup_tree  # noqa: F401
from corral_harness.netns import in_network_at, in_network_of  # noqa: F401
from corral_harness.daemon import (BACKEND, RUN_WARM, SESSION_NETWORK, Daemon, DaemonTestCase, instance_scope_name,  # noqa: F401
                                   refused_start)
from corral_harness.processes import (PF_EXITING, chromedriver_of, cmdline, credentials, expected_credentials,  # noqa: F401
                                      pid_alive, process_status, processes_in, user_namespace, wait_until)
from corral_harness.sandbox import assert_chrome_sandboxed, chrome_sandbox_state  # noqa: F401
from corral_harness.stub import STUB_PROCESSES, FakeDevTools, pid_file, read_pid_file, stub_wrapper  # noqa: F401
from corral_harness.users import (NAMED_INSTANCE_UIDS, RUN_SESSION_UIDS, SESSION_USER,  # noqa: F401
                                  SMALL_POOL_UIDS, UID_BLOCK_FIRST, UnnamedUser, as_uid, session_user_of)
