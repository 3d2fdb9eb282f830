// What include/corral/session/warm_pool.hpp declares: --warm's parsing, the
// hit rule, and the pool's counters.
#include <sstream>

#include "corral/session/warm_pool.hpp"

namespace corral {

namespace {

Result<std::pair<BrowserKind, size_t>> parse_one_target(const std::string& item) {
  auto equals = item.find('=');
  if (equals == std::string::npos)
    return Error::make(EINVAL, "--warm: '" + item + "' is not KIND=N (e.g. chrome=4)");
  auto kind = parse_browser_kind(item.substr(0, equals));
  if (!kind) return Error::make(EINVAL, "--warm: " + kind.error().message);
  auto count = item.substr(equals + 1);
  if (count.empty() || count.size() > 4 || count.find_first_not_of("0123456789") != std::string::npos)
    return Error::make(EINVAL, "--warm: '" + count + "' is not a count from 0 to 9999");
  return std::pair{*kind, static_cast<size_t>(std::stoul(count))};
}

}  // namespace

Result<WarmTargets> parse_warm_targets(const std::string& text) {
  WarmTargets targets;
  std::istringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    CORRAL_TRY_ASSIGN(auto target, parse_one_target(item));
    if (!targets.emplace(target).second)
      return Error::make(EINVAL, std::string("--warm: ") + browser_kind_name(target.first) + " is named twice");
  }
  if (targets.empty()) return Error::make(EINVAL, "--warm: give KIND=N (e.g. chrome=4)");
  return targets;
}

std::optional<std::string> warm_miss_reason(const SessionRequest& request) {
  if (request.kind == BrowserKind::chromedriver && !request.warm_attach_miss.empty()) return request.warm_attach_miss;
  if (!request.args.empty()) return "it asks for browser args";
  if (request.proxy) return "it asks for an upstream proxy";
  if (!request.egress.allow.empty() || !request.egress.deny.empty()) return "it narrows its egress";
  return std::nullopt;
}

void WarmCounters::hit(BrowserKind kind) {
  std::lock_guard lock(m_mutex);
  ++of(kind).hits;
}

void WarmCounters::miss(BrowserKind kind) {
  std::lock_guard lock(m_mutex);
  ++of(kind).misses;
}

void WarmCounters::discarded(BrowserKind kind) {
  std::lock_guard lock(m_mutex);
  ++of(kind).discarded;
}

void WarmCounters::refilled(BrowserKind kind, double seconds) {
  std::lock_guard lock(m_mutex);
  auto& counts = of(kind);
  counts.last_refill_ms = seconds * 1000;
  counts.refill_seconds.observe(seconds);
}

WarmStatus WarmCounters::status(BrowserKind kind, size_t target, size_t ready) const {
  std::lock_guard lock(m_mutex);
  WarmStatus status;
  status.kind = kind;
  status.target = target;
  status.ready = ready;
  if (auto it = m_kinds.find(kind); it != m_kinds.end()) {
    status.hits = it->second.hits;
    status.misses = it->second.misses;
    status.discarded = it->second.discarded;
    status.last_refill_ms = it->second.last_refill_ms;
  }
  return status;
}

std::string WarmCounters::render(const std::map<BrowserKind, size_t>& ready) const {
  std::lock_guard lock(m_mutex);
  std::ostringstream out;
  auto counter = [&](const char* name, const char* help, uint64_t Kind::*field) {
    prometheus::family(out, name, "counter", help);
    for (const auto& [kind, count] : ready) {
      auto it = m_kinds.find(kind);
      prometheus::sample(out, name, {{"kind", browser_kind_name(kind)}},
                         it == m_kinds.end() ? 0 : static_cast<double>(it->second.*field));
    }
  };
  prometheus::family(out, "corral_warm_ready", "gauge", "Warm browsers frozen and ready to be handed out.");
  for (const auto& [kind, count] : ready)
    prometheus::sample(out, "corral_warm_ready", {{"kind", browser_kind_name(kind)}}, static_cast<double>(count));
  counter("corral_warm_hits_total", "Opens served by a warm browser.", &Kind::hits);
  counter("corral_warm_misses_total", "Opens of a kept-warm kind that started cold.", &Kind::misses);
  counter("corral_warm_discarded_total", "Warm browsers killed unused (gave way, exited, failed a check).",
          &Kind::discarded);
  prometheus::family(out, "corral_warm_refill_seconds", "histogram", "Starting one warm browser, until frozen.");
  static const prometheus::Histogram empty{{0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  for (const auto& [kind, count] : ready) {
    auto it = m_kinds.find(kind);
    (it == m_kinds.end() ? empty : it->second.refill_seconds)
        .write(out, "corral_warm_refill_seconds", {{"kind", browser_kind_name(kind)}});
  }
  return out.str();
}

}  // namespace corral
