// The API token, read from a file (--token-file) by corrald and corralctl.
#pragma once

#include <filesystem>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

/// Shorter tokens are refused: 16 characters is the least that still takes
/// guessing out of reach at the rate one daemon can answer.
inline constexpr size_t kMinTokenLength = 16;

struct TokenFile {
  std::string token;
  bool group_can_read = false;  ///< mode has g+r: every member of the file's group can use the API
};

/// Read a token: the file's content less trailing whitespace (so
/// `echo TOKEN > file` works). Errors, each with the path in the message:
/// ENOENT and other open/read errnos; EINVAL for a file that is not a
/// regular file, is empty, is shorter than kMinTokenLength, or holds bytes
/// other than visible ASCII (it could not travel in an HTTP header), or
/// is larger than 4 KiB; ELOOP for a symbolic link (read_file follows none);
/// EPERM for a file that others (o+rwx) may read or write, since then
/// anyone on the host holds the token.
Result<TokenFile> read_token_file(const std::filesystem::path& path);

}  // namespace corral
