// `corralctl top`: a live view of what the sessions use, refreshed in place
// like systemd-cgtop; a stream of frames (text or JSON lines) when stdout is
// not a terminal; one frame with --once.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "client.hpp"

namespace corralctl {

struct TopOptions {
  double interval_seconds = 2;
  std::string sort = "memory";
  bool reverse = false;
  bool once = false;
};

CLI::App* add_top_command(CLI::App& app, TopOptions& options, bool& json_output);

/// 0 when the view was ended ('q', a signal, a closed pipe); 1 when corrald
/// refused (bad token); 2 when it could not be reached (--once and streams).
int run_top(const Target& target, const TopOptions& options);

}  // namespace corralctl
