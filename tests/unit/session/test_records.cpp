#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "corral/util/file_io.hpp"
#include "corral/util/process_identity.hpp"
#include "corral/session/records.hpp"

using namespace corral;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

SessionRecord sample_record() {
  SessionRecord record;
  SessionInfo& info = record.info;
  info.id = "0123456789ab";
  info.request.kind = BrowserKind::chromedriver;
  info.request.args = {"--mute-audio"};
  info.request.labels = {{"bot", "checkout"}};
  info.request.limits.memory_max = 512u << 20;
  info.request.ttl = milliseconds(90000);
  info.limits = info.request.limits;
  info.limits.tasks_max = 256;
  info.enforced = {true, false, true};
  info.scope = {"corral-0123456789ab", "corral-0123456789ab.scope", "/sys/fs/cgroup/corral.slice/corral-0123456789ab.scope"};
  info.pid = 4242;
  info.endpoints.webdriver = "http://127.0.0.1:4444";
  info.created_at = system_clock::time_point(milliseconds(1'800'000'000'123));
  info.ttl = milliseconds(90000);
  info.idle_timeout = milliseconds(300000);
  record.pid_start_time = 987654;
  return record;
}

}  // namespace

TEST_CASE("a state file round-trips everything adoption needs") {
  auto decoded = decode_session_records(encode_session_records({sample_record()}));
  REQUIRE(decoded.ok());
  REQUIRE(decoded->size() == 1);
  const SessionRecord& record = decoded->front();
  const SessionInfo& info = record.info;
  CHECK(info.id == "0123456789ab");
  CHECK(info.request.kind == BrowserKind::chromedriver);
  CHECK(info.request.args == std::vector<std::string>{"--mute-audio"});
  CHECK(info.request.labels.at("bot") == "checkout");
  CHECK(info.request.limits.memory_max == (512u << 20));
  CHECK_FALSE(info.request.limits.tasks_max.has_value());
  CHECK(info.request.ttl == milliseconds(90000));
  CHECK_FALSE(info.request.idle_timeout.has_value());
  CHECK(info.limits.tasks_max == 256u);
  CHECK(info.enforced.memory);
  CHECK_FALSE(info.enforced.cpu);
  CHECK(info.scope.unit == "corral-0123456789ab.scope");
  CHECK(info.scope.cgroup == "/sys/fs/cgroup/corral.slice/corral-0123456789ab.scope");
  CHECK(info.pid == 4242);
  CHECK(record.pid_start_time == 987654u);
  CHECK(info.endpoints.webdriver == "http://127.0.0.1:4444");
  CHECK_FALSE(info.endpoints.devtools_http.has_value());
  CHECK(info.created_at == system_clock::time_point(milliseconds(1'800'000'000'123)));
  CHECK(info.expires_at == info.created_at + milliseconds(90000));
  CHECK(info.idle_timeout == milliseconds(300000));
}

TEST_CASE("a record keeps the bytes its session moved, and one without them (an older corral's) reads as zero") {
  auto record = sample_record();
  record.network_bytes_in = 20'000'123'456;  // past 32 bits
  record.network_bytes_out = 4096;
  auto decoded = decode_session_records(encode_session_records({record}));
  REQUIRE(decoded.ok());
  CHECK((*decoded)[0].network_bytes_in == 20'000'123'456u);
  CHECK((*decoded)[0].network_bytes_out == 4096u);

  auto older = nlohmann::json::parse(encode_session_records({record}));
  for (auto& each : older["sessions"]) each.erase("network_bytes");
  auto without = decode_session_records(older.dump());
  REQUIRE(without.ok());
  CHECK((*without)[0].network_bytes_in == 0u);
  CHECK((*without)[0].network_bytes_out == 0u);
}

TEST_CASE("a state file that says \"pids\" for the tasks controller, as older corralds wrote, is read") {
  std::string text = encode_session_records({sample_record()});
  auto at = text.find("\"tasks\"");
  REQUIRE(at != std::string::npos);
  text.replace(at, 7, "\"pids\"");
  auto decoded = decode_session_records(text);
  REQUIRE(decoded.ok());
  CHECK((*decoded)[0].info.enforced.tasks);
  CHECK_FALSE((*decoded)[0].info.enforced.cpu);
}

TEST_CASE("a WebDriver client's chromedriver session is kept, and only a plausible one read back") {
  SessionRecord record = sample_record();
  CHECK(decode_session_records(encode_session_records({record}))->front().info.driver == std::nullopt);
  record.info.driver = DriverBinding{"fd5533a3edcb1dcd7fb68918b7caa9e8", 35419,
                                               "/devtools/browser/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab"};
  auto decoded = decode_session_records(encode_session_records({record}));
  REQUIRE(decoded.ok());
  const auto& driver = decoded->front().info.driver;
  REQUIRE(driver.has_value());
  CHECK(driver->driver_id == "fd5533a3edcb1dcd7fb68918b7caa9e8");
  CHECK(driver->debugger_port == 35419);
  CHECK(driver->browser_path == "/devtools/browser/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab");
  // The id goes into forwarded paths: anything but chromedriver's hex is refused.
  for (auto [bad_id, bad_path] : {std::pair{"../../status", "/devtools/browser/x"}, std::pair{"", "/devtools/browser/x"},
                                  std::pair{"fd5533a3", "/json/new?evil"}}) {
    record.info.driver = DriverBinding{bad_id, 1, bad_path};
    auto refused = decode_session_records(encode_session_records({record}));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == EBADMSG);
  }
}

TEST_CASE("a damaged state file is rejected whole, with EBADMSG") {
  std::string good = encode_session_records({sample_record()});
  for (std::string bad : {std::string(""), std::string("\x00\xff garbage", 11), std::string("{"), std::string("[]"),
                          std::string(R"({"version": 99, "sessions": []})"),
                          std::string(R"({"version": 1, "sessions": [{"id": "0123456789ab"}]})"),
                          good.substr(0, good.size() / 2),
                          R"({"version": 1, "sessions": [{"id": )" + std::string(100'000, '[') +
                              std::string(100'000, ']') + "}]}"}) {
    CAPTURE(bad);
    auto decoded = decode_session_records(bad);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == EBADMSG);
  }
}

TEST_CASE("a record may only point at its own corral scope") {
  auto record = sample_record();
  record.info.scope.cgroup = "/sys/fs/cgroup/system.slice/sshd.service";
  auto decoded = decode_session_records(encode_session_records({record}));
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().message.find("scope") != std::string::npos);
  record = sample_record();
  record.info.pid = 1;
  CHECK_FALSE(decode_session_records(encode_session_records({record})).ok());
}

TEST_CASE("saving replaces the file whole and leaves no temporary behind") {
  char pattern[] = "/tmp/corral-unit-records.XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  fs::path dir = pattern, file = session_records_path(dir);
  REQUIRE(save_session_records(file, {sample_record(), sample_record()}).ok());
  REQUIRE(save_session_records(file, {sample_record()}).ok());
  auto loaded = load_session_records(file);
  REQUIRE(loaded.ok());
  CHECK(loaded->size() == 1);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  fs::remove_all(dir);
  CHECK(load_session_records(file).error().code == ENOENT);
}

TEST_CASE("a process start time is read from the field after the last parenthesis") {
  std::string stat = "77 (a) b (c) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10";
  auto start = parse_process_start_time(stat);
  REQUIRE(start.ok());
  CHECK(*start == 123456u);
  CHECK(parse_process_start_time("77 (a) S 1 2").error().code == EBADMSG);
  auto mine = process_start_time(getpid());
  REQUIRE(mine.ok());
  CHECK(*mine > 0u);
}

TEST_CASE("a proxied session's record holds its proxy redacted, never the password") {
  auto record = sample_record();
  record.info.request.proxy = parse_upstream_proxy("http://alice:s3cret@198.51.100.9:3128").value();
  auto text = encode_session_records({record});
  CHECK(text.find("s3cret") == std::string::npos);
  auto decoded = decode_session_records(text);
  REQUIRE(decoded.ok());
  REQUIRE(decoded->front().info.request.proxy);
  CHECK(decoded->front().info.request.proxy->redacted() == "http://alice:***@198.51.100.9:3128");
  CHECK_FALSE(decode_session_records(encode_session_records({sample_record()}))->front().info.request.proxy);
}
