#include "top.hpp"

#include <unistd.h>

#include <iostream>
#include <optional>

#include "terminal.hpp"
#include "top_model.hpp"
#include "top_render.hpp"
#include "view_signals.hpp"

namespace corralctl {
using nlohmann::json;
using namespace std::chrono;

namespace {

// A poll of corrald, or why there is none. `fatal`: asking again will not
// help (401, a bad request), so the view ends.
struct Poll {
  std::optional<Sample> sample;
  std::string problem;
  bool fatal = false;
};

Poll take_sample(const Target& target) {
  Poll poll;
  auto sessions = fetch(target, "GET", "/v1/sessions", "", 5);
  if (sessions.reached && sessions.status < 400) {
    auto usage = fetch(target, "GET", "/v1/usage", "", 5);
    Sample sample;
    sample.sessions = sessions.body.value("sessions", json::array());
    // An older corrald without /v1/usage still gets its rows shown.
    if (usage.reached && usage.status == 200 && usage.body.is_object()) sample.usage = usage.body;
    sample.taken = steady_clock::now();
    poll.sample = std::move(sample);
    return poll;
  }
  poll.problem = sessions.reached ? std::to_string(sessions.status) + ": " + sessions.problem : sessions.problem;
  poll.fatal = sessions.reached;
  return poll;
}

std::string clock_of(const Sample& sample) {
  std::string time = sample.usage.value("time", "");
  return time.size() >= 19 ? time.substr(11, 8) : "";
}

milliseconds interval_of(const TopOptions& options) {
  return milliseconds(static_cast<int64_t>(options.interval_seconds * 1000));
}

int report_failure(const Poll& poll) {
  std::cerr << "corralctl: " << poll.problem << "\n";
  return poll.fatal ? 1 : 2;
}

// The live view: its samples, its sort order, and the terminal it owns.
class LiveView {
 public:
  LiveView(const Target& target, const TopOptions& options, ViewSignals& signals)
      : m_target(target), m_options(options), m_signals(signals), m_sort(*parse_sort_key(options.sort)),
        m_reverse(options.reverse) {}

  int run() {
    for (;;) {
      auto poll = take_sample(m_target);
      if (poll.fatal) return report_after_leaving(poll);
      m_problem = poll.problem;
      if (poll.sample) m_previous = std::exchange(m_current, std::move(poll.sample));
      if (!redraw()) return 0;
      if (auto code = wait_for_next_poll()) return *code;
    }
  }

 private:
  bool redraw() {
    Sample empty;
    const Sample& now = m_current ? *m_current : empty;
    auto frame = build_frame(now, m_previous ? &*m_previous : nullptr, m_sort, m_reverse);
    FrameContext context{m_target.url, clock_of(now), m_problem, m_sort, m_reverse, m_terminal->key_fd() >= 0};
    return m_terminal->draw(render_frame(frame, context, terminal_size(1)));
  }

  // Keys and resizes redraw at once from the samples at hand; the next poll
  // waits for the interval. Returns an exit code when the view ends.
  std::optional<int> wait_for_next_poll() {
    auto due = steady_clock::now() + interval_of(m_options);
    for (;;) {
      auto left = duration_cast<milliseconds>(due - steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto event = m_signals.wait(m_terminal->key_fd(), left);
      if (event == ViewSignals::Event::stop) return 0;
      if (event == ViewSignals::Event::timeout) return std::nullopt;
      if (event == ViewSignals::Event::input && !apply_keys(m_terminal->read_keys())) return 0;
      if (!redraw()) return 0;
    }
  }

  // False on 'q'. Space polls at once.
  bool apply_keys(const std::string& keys) {
    static const std::map<char, SortKey> sort_keys = {
        {'m', SortKey::memory}, {'k', SortKey::peak}, {'c', SortKey::cpu}, {'p', SortKey::processes},
        {'o', SortKey::oom},    {'a', SortKey::age},  {'e', SortKey::expiry}, {'i', SortKey::id}};
    for (char key : keys) {
      if (key == 'q' || key == 'Q') return false;
      if (key == 'r') m_reverse = !m_reverse;
      if (auto it = sort_keys.find(key); it != sort_keys.end()) m_sort = it->second;
    }
    return true;
  }

  int report_after_leaving(const Poll& poll) {
    m_terminal.reset();  // the message belongs on the shell's screen, not the alternate one
    return report_failure(poll);
  }

  const Target& m_target;
  const TopOptions& m_options;
  ViewSignals& m_signals;
  SortKey m_sort;
  bool m_reverse;
  std::optional<Sample> m_current, m_previous;
  std::string m_problem;
  std::unique_ptr<LiveTerminal> m_terminal = std::make_unique<LiveTerminal>();
};

std::string frame_text(const TopFrame& frame, const Sample& now, const Target& target, const TopOptions& options,
                       bool as_json) {
  if (as_json) return frame_json(frame, now.usage.value("time", "")).dump() + "\n";
  FrameContext context{target.url, clock_of(now), "", *parse_sort_key(options.sort), options.reverse, false};
  std::string text;
  for (const auto& line : render_frame(frame, context, {})) text += line + "\n";
  return text;
}

// Not a terminal: one frame after another (text with a blank line between,
// or a JSON object a line) until a signal or until the reader goes away.
int stream_frames(const Target& target, const TopOptions& options, ViewSignals& signals) {
  std::optional<Sample> previous;
  for (bool first = true;; first = false) {
    auto poll = take_sample(target);
    if (!poll.sample) return report_failure(poll);
    auto frame = build_frame(*poll.sample, previous ? &*previous : nullptr, *parse_sort_key(options.sort),
                             options.reverse);
    std::string text = frame_text(frame, *poll.sample, target, options, target.json_output);
    if (!target.json_output && !first) text = "\n" + text;
    if (!write_all(1, text)) return 0;
    previous = std::move(poll.sample);
    if (signals.wait(-1, interval_of(options)) == ViewSignals::Event::stop) return 0;
  }
}

// --once: two samples an interval apart, so that CPU % has a span to cover.
int print_once(const Target& target, const TopOptions& options, ViewSignals& signals) {
  auto first = take_sample(target);
  if (!first.sample) return report_failure(first);
  if (signals.wait(-1, interval_of(options)) == ViewSignals::Event::stop) return 0;
  auto second = take_sample(target);
  if (!second.sample) return report_failure(second);
  auto frame = build_frame(*second.sample, &*first.sample, *parse_sort_key(options.sort), options.reverse);
  if (target.json_output) {
    write_all(1, frame_json(frame, second.sample->usage.value("time", "")).dump(2) + "\n");
    return 0;
  }
  write_all(1, frame_text(frame, *second.sample, target, options, false));
  return 0;
}

}  // namespace

CLI::App* add_top_command(CLI::App& app, TopOptions& options, bool& json_output) {
  auto* top = app.add_subcommand("top", "live view of what each session uses, refreshed in place");
  top->add_option("--interval", options.interval_seconds, "seconds between refreshes (and the span of CPU %)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  top->add_option("--sort", options.sort, "memory, peak, cpu, pids, oom, age, expiry or id")
      ->check([](const std::string& key) { return parse_sort_key(key) ? "" : "unknown sort key '" + key + "'"; })
      ->capture_default_str();
  top->add_flag("--reverse", options.reverse, "smallest first (for expiry and id: last first)");
  top->add_flag("--once", options.once, "print one frame (two samples --interval apart) and exit");
  top->add_flag("--json", json_output, "JSON: one object with --once, else one object a line");
  return top;
}

int run_top(const Target& target, const TopOptions& options) {
  ViewSignals signals;
  if (options.once) return print_once(target, options, signals);
  if (target.json_output || !::isatty(1)) return stream_frames(target, options, signals);
  LiveView view(target, options, signals);
  return view.run();
}

}  // namespace corralctl
