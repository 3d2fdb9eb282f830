"""Servers a test starts besides corrald (Prometheus, a tmux server), so
that a run killed by meson's timeout ends them too: each has an abandon()
that kills it and removes its files; corral_harness calls abandon_helpers()
from its SIGTERM handler."""

_LIVE_HELPERS = []


def track_helper(helper):
    """Have a killed test run end `helper`; untrack_helper() once it is stopped."""
    _LIVE_HELPERS.append(helper)
    return helper


def untrack_helper(helper):
    if helper in _LIVE_HELPERS:
        _LIVE_HELPERS.remove(helper)


def abandon_helpers():
    for helper in list(_LIVE_HELPERS):
        try:
            helper.abandon()
        except Exception as failure:  # clean up the rest regardless
            print(f"harness: stopping {helper} failed: {failure}", flush=True)
