#include "corral/util/token_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>

#include "corral/util/file_io.hpp"
#include "corral/util/unique_fd.hpp"

namespace corral {

namespace {

// A token file is a few dozen bytes; anything much larger is the wrong file.
constexpr size_t kMaxTokenFileSize = 4096;

Result<std::string> read_small_file(int fd, const std::string& name) {
  std::string content(kMaxTokenFileSize + 1, '\0');
  size_t filled = 0;
  while (filled < content.size()) {
    ssize_t n = ::read(fd, content.data() + filled, content.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "read token file '" + name + "'");
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  if (filled > kMaxTokenFileSize)
    return Error::make(EINVAL, "token file '" + name + "' is larger than 4 KiB; is it the right file?");
  content.resize(filled);
  return content;
}

bool visible_ascii(const std::string& text) {
  for (unsigned char c : text)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

}  // namespace

Result<TokenFile> read_token_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  UniqueFd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return Error::from_errno(errno, "open token file '" + name + "'");
  struct stat info {};
  if (::fstat(fd.get(), &info) < 0) return Error::from_errno(errno, "stat token file '" + name + "'");
  if (!S_ISREG(info.st_mode)) return Error::make(EINVAL, "token file '" + name + "' is not a regular file");
  if (info.st_mode & S_IRWXO)
    return Error::make(EPERM, "token file '" + name + "' is open to every user of this host (mode " +
                                  octal_mode(info.st_mode) + "); chmod o-rwx it");
  auto content = read_small_file(fd.get(), name);
  if (!content) return content.error();
  std::string token = std::move(*content);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) return Error::make(EINVAL, "token file '" + name + "' is empty");
  if (token.size() < kMinTokenLength)
    return Error::make(EINVAL, "the token in '" + name + "' has " + std::to_string(token.size()) +
                                   " characters; use at least " + std::to_string(kMinTokenLength) +
                                   " (e.g. openssl rand -hex 32)");
  if (!visible_ascii(token))
    return Error::make(EINVAL, "the token in '" + name + "' has spaces or bytes outside visible ASCII; "
                               "it could not be sent in an HTTP header");
  return TokenFile{std::move(token), (info.st_mode & S_IRGRP) != 0};
}

}  // namespace corral
