// Proxied client connections to a session's browser (DevTools, WebDriver):
// while one is open the session is not idle, and when the session starts
// to close, whoever proxies is told at once (add_closing_listener).
#include "corral/session/manager.hpp"
#include "entry.hpp"

namespace corral {
using namespace std::chrono;

Result<SessionManager::EntryPtr> SessionManager::count_connection(const std::string& id) {
  auto entry = find(id);
  if (!entry) return Error::make(ENOENT, "no session '" + id + "'");
  switch (entry->info.state) {
    case SessionState::running: break;
    case SessionState::starting: return Error::make(EBUSY, "session " + id + " is still starting");
    default: return Error::make(EALREADY, "session " + id + " is closing or closed");
  }
  ++entry->connections;
  return entry;
}

Result<SessionInfo> SessionManager::begin_connection(const std::string& id) {
  std::lock_guard lock(m_mutex);
  CORRAL_TRY_ASSIGN(auto entry, count_connection(id));
  return entry->info;
}

Result<system_clock::time_point> SessionManager::begin_command(const std::string& id) {
  std::lock_guard lock(m_mutex);
  CORRAL_TRY_ASSIGN(auto entry, count_connection(id));
  return entry->info.expires_at;
}

void SessionManager::end_connection(const std::string& id) {
  std::lock_guard lock(m_mutex);
  auto entry = find(id);
  if (!entry || entry->connections == 0) return;
  --entry->connections;
  if (entry->info.state != SessionState::running) return;
  entry->renew(steady_clock::now());
  // The idle lease counts again once no connection is left; the closer
  // needs word only if it now ends before the closer would wake anyway.
  if (entry->connections == 0 && entry->idle_expires < m_closer_due) m_closer_wakeup.notify_all();
}

Result<void> SessionManager::bind_driver(const std::string& id, DriverBinding driver) {
  {
    std::lock_guard lock(m_mutex);
    auto entry = find(id);
    if (!entry) return Error::make(ENOENT, "no session '" + id + "'");
    if (entry->info.state != SessionState::running)
      return Error::make(EALREADY, "session " + id + " is closing or closed");
    entry->info.driver = std::move(driver);
  }
  persist();  // else a restart adopts the browser but forgets its WebDriver client
  return success();
}

int SessionManager::add_closing_listener(std::function<void(const std::string&)> listener) {
  std::lock_guard lock(m_mutex);
  int handle = m_next_listener++;
  m_closing_listeners[handle] = std::move(listener);
  return handle;
}

void SessionManager::remove_closing_listener(int handle) {
  std::lock_guard lock(m_mutex);
  m_closing_listeners.erase(handle);
}

}  // namespace corral
