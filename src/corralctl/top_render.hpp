// How `corralctl top` prints a frame: a header with the totals, one line per
// session, fitted to the terminal's width and height; or JSON for scripts.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "top_model.hpp"

namespace corralctl {

struct Screen {
  size_t width = 0;   ///< 0: no limit (not a terminal)
  size_t height = 0;  ///< 0: no limit
};

struct FrameContext {
  std::string url;      ///< where corrald is, shown in the header
  std::string clock;    ///< the daemon's time of the sample, "20:55:07"
  std::string problem;  ///< why this frame is old or empty ("cannot reach ..."), or ""
  SortKey sort = SortKey::memory;
  bool reverse = false;
  bool keys_help = false;  ///< a live view: say which keys sort
};

/// The lines of one frame, none wider than screen.width, at most
/// screen.height of them (the rows that do not fit are counted instead).
std::vector<std::string> render_frame(const TopFrame& frame, const FrameContext& context, Screen screen);

/// {"time","totals":{...},"sessions":[{...}]}: figures as numbers
/// (bytes, percent, seconds), null where there are none.
nlohmann::json frame_json(const TopFrame& frame, const std::string& time);

/// 1536M, 1.5G, 812K: binary units, as the daemon's limits are written.
std::string human_bytes(std::optional<uint64_t> bytes);
/// 45s, 12m, 1h02m, 3d04h.
std::string human_duration(std::optional<double> seconds);

}  // namespace corralctl
