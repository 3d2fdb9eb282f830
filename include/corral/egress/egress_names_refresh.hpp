// EgressNamesRefresh: the names in the operator's --egress-allow and
// --egress-deny resolved again now and then, so that a denied name that
// moves (a CDN, a rotating endpoint) stays denied at its new addresses.
// Resolved once at start only, a deny of `tracker.example` would stop
// meaning anything as soon as its addresses changed: the one list entry an
// operator writes for security would go stale without a word.
//
// A name that does not resolve at a refresh keeps the addresses it had
// (a resolver's bad minute must not lift a deny), with a warning. Sessions'
// own names (resolved at open, session_egress.hpp) are resolved again with
// the operator's, for the same reason: a client that denied a name for its
// session expects the deny to follow the name, as the operator's does.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "corral/egress/egress_names.hpp"
#include "corral/egress/egress_policy.hpp"
#include "corral/egress/egress_relay.hpp"

namespace corral {

class EgressNamesRefresh {
 public:
  /// `configured`: the operator's lists as given (names unresolved);
  /// `sessions`: the relay whose sessions' own names are refreshed too
  /// (none: the operator's alone).
  EgressNamesRefresh(EgressPolicy& policy, EgressLists configured, NameResolver resolver,
                     EgressRelay* sessions = nullptr);
  ~EgressNamesRefresh();  ///< stops the thread, if started
  EgressNamesRefresh(const EgressNamesRefresh&) = delete;
  EgressNamesRefresh& operator=(const EgressNamesRefresh&) = delete;

  /// Resolve every name once more, the operator's and the sessions', and
  /// put the lists in force; true if a name now stands for other addresses.
  bool refresh_once();
  /// refresh_once() every `interval`, on a thread of its own (getaddrinfo
  /// blocks), until destroyed.
  void start(std::chrono::milliseconds interval);

 private:
  void run(std::chrono::milliseconds interval);
  bool refresh_operator();
  bool refresh_sessions();

  EgressPolicy& m_policy;
  const EgressLists m_configured;
  const NameResolver m_resolver;
  EgressRelay* const m_sessions;
  std::mutex m_mutex;
  std::condition_variable m_wakeup;
  bool m_stopping = false;
  std::thread m_thread;
};

}  // namespace corral
