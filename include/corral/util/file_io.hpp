// Small whole-file helpers for cgroupfs and /proc, where every file is a few
// lines of text and a partial read or write is a real error.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "corral/util/error.hpp"

namespace corral {

/// Read the whole file. ENOENT when it does not exist.
Result<std::string> read_text_file(const std::filesystem::path& path);

/// Write `text` with one write(2) call, as cgroupfs expects (no O_CREAT, no
/// O_TRUNC: control files exist already and reject truncation).
Result<void> write_control_file(const std::filesystem::path& path, const std::string& text);

/// A file mode's permission bits as in ls and chmod, "0711", for messages.
std::string octal_mode(mode_t mode);

}  // namespace corral
