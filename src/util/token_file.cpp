#include "corral/util/token_file.hpp"

#include <sys/stat.h>

#include <cctype>

#include "corral/util/file_io.hpp"

namespace corral {

namespace {

// A token file is a few dozen bytes; anything much larger is the wrong file.
constexpr size_t kMaxTokenFileSize = 4096;

// read_file's checks, in the words a token file's errors have always used.
Error token_read_error(const Error& error, const std::string& name) {
  switch (error.code) {
    case EFBIG: return Error::make(EINVAL, "token file '" + name + "' is larger than 4 KiB; is it the right file?");
    case EISDIR:
    case EBADFD: return Error::make(EINVAL, "token file '" + name + "' is not a regular file");
    case ELOOP:
      return Error::make(ELOOP, "token file '" + name + "' is a symbolic link; give the path of the file itself");
    default: return Error::make(error.code, "token file: " + error.message);
  }
}

bool visible_ascii(const std::string& text) {
  for (unsigned char c : text)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

}  // namespace

Result<TokenFile> read_token_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  struct stat info {};
  auto content = read_file(path, kMaxTokenFileSize, &info);
  if (!content) return token_read_error(content.error(), name);
  if (info.st_mode & S_IRWXO)
    return Error::make(EPERM, "token file '" + name + "' is open to every user of this host (mode " +
                                  octal_mode(info.st_mode) + "); chmod o-rwx it");
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
