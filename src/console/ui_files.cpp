#include "corral/console/ui_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "corral/util/unique_fd.hpp"

namespace corral {

namespace {

// Larger than any file the console has; a bound on what is kept in memory.
constexpr off_t kMaxUiFile = 1 << 20;

const char* content_type_of(std::string_view name) {
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return nullptr;
  auto ext = name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  return nullptr;
}

// The file's bytes, opened without following a symlink and only if it is
// a regular file below the size bound.
Result<std::string> read_regular_file(int dir_fd, const std::string& name) {
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return Error::make(errno, "cannot open it");
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return Error::make(errno, "cannot stat it");
  if (!S_ISREG(st.st_mode)) return Error::make(EINVAL, "not a regular file");
  if (st.st_size > kMaxUiFile) return Error::make(E2BIG, "larger than 1 MiB");
  std::string body(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < body.size()) {
    auto n = ::read(fd.get(), body.data() + done, body.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::make(n < 0 ? errno : EIO, "cannot read it");
    done += static_cast<size_t>(n);
  }
  return body;
}

}  // namespace

bool is_servable_ui_name(std::string_view name) {
  if (name.empty() || name.size() > 100 || name.front() == '.') return false;
  bool plain = std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '_' || c == '-' || c == '.';
  });
  return plain && name.find("..") == std::string_view::npos && content_type_of(name) != nullptr;
}

Result<UiFiles> UiFiles::load(const std::filesystem::path& dir) {
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return Error::make(errno, "cannot open " + dir.string());
  UiFiles files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    auto name = entry.path().filename().string();
    if (!is_servable_ui_name(name)) continue;
    auto body = read_regular_file(dir_fd.get(), name);
    if (!body) {
      spdlog::warn("console: not serving {}: {}", (dir / name).string(), body.error().message);
      continue;
    }
    files.m_files[name] = UiFile{content_type_of(name), std::move(*body)};
  }
  if (ec) return Error::make(ec.value(), "cannot list " + dir.string() + ": " + ec.message());
  return files;
}

const UiFile* UiFiles::find(std::string_view name) const {
  auto found = m_files.find(name);
  return found == m_files.end() ? nullptr : &found->second;
}

}  // namespace corral
