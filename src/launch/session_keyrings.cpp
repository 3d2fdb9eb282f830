#include "corral/launch/session_keyrings.hpp"

#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corral {

namespace {

long keyctl(int operation, long a = 0, long b = 0, long c = 0) { return ::syscall(SYS_keyctl, operation, a, b, c, 0L); }

bool not_in_this_kernel(int error) { return error == ENOSYS || error == EOPNOTSUPP; }

// KEYCTL_READ of a keyring gives its key ids, 4 bytes each.
long keys_in(long keyring) { return keyctl(KEYCTL_READ, keyring, 0, 0); }

void clear(long keyring, const std::string& name, std::vector<std::string>& left) {
  if (keyctl(KEYCTL_CLEAR, keyring) < 0) {
    left.push_back("clear the " + name + " keyring: " + std::strerror(errno));
    return;
  }
  if (long size = keys_in(keyring); size > 0)
    left.push_back("the " + name + " keyring still holds " + std::to_string(size / 4) + " keys");
}

}  // namespace

void clear_own_keyrings(std::vector<std::string>& left, std::vector<std::string>& notes) {
  if (keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0) < 0) {
    if (not_in_this_kernel(errno)) return notes.push_back("kernel keyrings not checked: this kernel has none");
    return left.push_back(std::string("join a session keyring of the uid's own: ") + std::strerror(errno));
  }
  clear(KEY_SPEC_USER_KEYRING, "user", left);
  clear(KEY_SPEC_USER_SESSION_KEYRING, "user-session", left);
  long persistent = keyctl(KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_SESSION_KEYRING);
  if (persistent < 0) {
    if (not_in_this_kernel(errno)) return notes.push_back("persistent keyring not checked: this kernel has none");
    return left.push_back(std::string("get the persistent keyring: ") + std::strerror(errno));
  }
  clear(persistent, "persistent", left);
}

}  // namespace corral
