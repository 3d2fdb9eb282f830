#include "corral/launch/session_proxy.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "corral/launch/proxy_keys.hpp"
#include "corral/util/file_io.hpp"

namespace corral {
namespace {

std::filesystem::path marker(const SessionDirs& dirs) { return dirs.base / "upstream-proxy"; }

}  // namespace

Result<void> remember_session_proxy(const SessionDirs& dirs, const std::string& session_id, const UpstreamProxy& proxy) {
  CORRAL_TRY(write_file_atomic(marker(dirs), proxy.redacted() + "\n", 0600));
  if (auto kept = keep_proxy_key(session_id, proxy); !kept)
    spdlog::warn("session {}: its proxy's credential is not kept over a restart of corrald ({}); adopted, its pages "
                 "would reach nothing", session_id, kept.error().message);
  return success();
}

Result<std::optional<UpstreamProxy>> recall_session_proxy(const SessionDirs& dirs, const std::string& session_id) {
  auto kept = kept_proxy_key(session_id);
  std::error_code ec;
  bool had_one = std::filesystem::exists(marker(dirs), ec);
  if (kept && (*kept || !had_one)) return kept;
  if (!kept) return Error::make(kept.error().code, "its proxy: " + kept.error().message);
  return Error::make(ENOKEY, "it had a proxy, and the kernel key with its credential is gone");
}

void forget_session_proxy(const std::string& session_id) { forget_proxy_key(session_id); }

}  // namespace corral
