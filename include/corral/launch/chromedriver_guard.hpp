// chromedriver answers corrald alone, even inside its session. Its secret
// --url-base keeps out whoever does not know it, and a page's connections
// go through the session's way out, which refuses the session's loopback;
// but the session's own browser process runs as the session's uid on the
// same loopback. So a session in a network of its own gets one nftables
// rule in that namespace (a table of its own, gone with the namespace):
// a TCP connection to chromedriver's port from any uid but root (corrald
// connects as root, through setns) is reset.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "corral/util/error.hpp"

namespace corral {

/// The nft command line that installs the rule for `port`, run inside the
/// session's network namespace (by the gate, as root).
std::vector<std::string> chromedriver_guard_command(const std::filesystem::path& nft, uint16_t port);

/// nft's path when it can install the rule here (tried once, in a network
/// namespace made for the try); EOPNOTSUPP, with why, when it cannot: no
/// nft binary (Debian: nftables), or a kernel without nf_tables.
Result<std::filesystem::path> usable_nft();

}  // namespace corral
