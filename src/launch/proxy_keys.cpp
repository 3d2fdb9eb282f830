#include "corral/launch/proxy_keys.hpp"

#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace corral {
namespace {

// <keyutils.h>'s permission bits: the possessor may do everything; the
// key's uid, its group and others nothing (not even see it in /proc/keys).
constexpr long kPossessorAll = 0x3f000000;

long keyctl(int operation, long a = 0, long b = 0, long c = 0) { return ::syscall(SYS_keyctl, operation, a, b, c, 0L); }

std::string key_name(const std::string& session_id) { return "corral-proxy:" + session_id; }

// The uid's user keyring, linked into this process's keyring (made if
// need be): from then on every thread of corrald possesses what is in it.
Result<void> possess_user_keyring() {
  if (keyctl(KEYCTL_LINK, KEY_SPEC_USER_KEYRING, KEY_SPEC_PROCESS_KEYRING) < 0)
    return Error::from_errno(errno, "link the user keyring into corrald's process keyring");
  return success();
}

Result<long> find_key(const std::string& session_id) {
  CORRAL_TRY(possess_user_keyring());
  auto name = key_name(session_id);
  long key = keyctl(KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, reinterpret_cast<long>("user"),
                    reinterpret_cast<long>(name.c_str()));
  if (key < 0) return Error::from_errno(errno, "search the user keyring for " + name);
  return key;
}

}  // namespace

Result<void> keep_proxy_key(const std::string& session_id, const UpstreamProxy& proxy) {
  CORRAL_TRY(possess_user_keyring());
  auto name = key_name(session_id);
  auto url = proxy.url();
  long key = ::syscall(SYS_add_key, "user", name.c_str(), url.data(), url.size(), KEY_SPEC_USER_KEYRING);
  if (key < 0) return Error::from_errno(errno, "add the kernel key " + name);
  if (keyctl(KEYCTL_SETPERM, key, kPossessorAll) < 0) {
    int error = errno;
    keyctl(KEYCTL_UNLINK, key, KEY_SPEC_USER_KEYRING);
    return Error::from_errno(error, "restrict the kernel key " + name + " to its possessor");
  }
  return success();
}

Result<std::optional<UpstreamProxy>> kept_proxy_key(const std::string& session_id) {
  auto key = find_key(session_id);
  if (!key && key.error().code == ENOKEY) return std::optional<UpstreamProxy>();
  if (!key) return key.error();
  std::vector<char> url(2048);
  long size = keyctl(KEYCTL_READ, *key, reinterpret_cast<long>(url.data()), static_cast<long>(url.size()));
  if (size < 0) return Error::from_errno(errno, "read the kernel key " + key_name(session_id));
  if (static_cast<size_t>(size) > url.size()) return Error::make(EMSGSIZE, "the kernel key is too long");
  auto proxy = parse_upstream_proxy(std::string_view(url.data(), static_cast<size_t>(size)));
  if (!proxy) return Error::make(EBADMSG, "the kernel key " + key_name(session_id) + " holds no proxy URL");
  return std::optional<UpstreamProxy>(std::move(*proxy));
}

void forget_proxy_key(const std::string& session_id) {
  auto key = find_key(session_id);
  if (!key) return;
  keyctl(KEYCTL_UNLINK, *key, KEY_SPEC_USER_KEYRING);
  keyctl(KEYCTL_INVALIDATE, *key);
}

}  // namespace corral
