#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <thread>

#include "test_server.hpp"

using namespace corral;
using namespace std::chrono;
using namespace corral::test;

TEST_CASE("RequestMeter tells a long request line (414) from a long header line or head (431)") {
  ConnectionLimits limits;
  RequestMeter line(limits);
  CHECK(line.count_head("GET /" + std::string(8200, 'a')) == ReadFailure::line_too_long);
  RequestMeter header(limits);
  CHECK(header.count_head("GET / HTTP/1.1\r\nX: " + std::string(8200, 'a')) == ReadFailure::head_too_large);
  RequestMeter head(limits);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 700; ++i) many += "X-Filler: abcdefghijklmnopqrstuvwxyz0123456789abcdef\r\n";
  CHECK(head.count_head(many) == ReadFailure::head_too_large);
  RequestMeter fine(limits);
  CHECK(fine.count_head("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(70000, 'b')) == ReadFailure::none);
  CHECK(fine.head_done());
  CHECK(fine.count_body(limits.max_body) == ReadFailure::none);
  CHECK(fine.count_body(1) == ReadFailure::body_too_large);
}

TEST_CASE("parse_target decodes the path and the query") {
  std::string path;
  std::multimap<std::string, std::string> params;
  REQUIRE(parse_target("/v1/sessions/a%2Fb?wait=30s&x=a+b%21", path, params));
  CHECK(path == "/v1/sessions/a/b");
  CHECK(params.find("wait")->second == "30s");
  CHECK(params.find("x")->second == "a b!");
  CHECK_FALSE(parse_target("http://host/x", path, params));
  CHECK_FALSE(parse_target("*", path, params));
}

TEST_CASE("a head route takes the connection over, past the API's time limits; it counts until let go") {
  TestServer test(short_limits());
  std::promise<TakenConnection> taken;
  test.server.routes().add_head("GET", "/tunnel", [&](const HttpRequest&) -> std::variant<HttpResponse, Takeover> {
    return Takeover{[&](TakenConnection connection) { taken.set_value(std::move(connection)); }};
  });
  test.start();
  auto client = test.connect();
  send_all(client.get(), "GET /tunnel HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nEARLY");
  auto handed = taken.get_future();
  REQUIRE(handed.wait_for(seconds(3)) == std::future_status::ready);
  auto connection = handed.get();
  CHECK(connection.head.path == "/tunnel");
  CHECK(connection.head.get_header_value("upgrade") == "websocket");
  CHECK(connection.buffered == "EARLY");
  CHECK(test.server.connections() == 1);  // against --max-connections, as long as the taker keeps it
  std::this_thread::sleep_for(milliseconds(700));  // past idle, request and keep-alive limits
  send_all(connection.socket.get(), "HTTP/1.1 101 Switching Protocols\r\n\r\nhello");
  CHECK(receive(client.get(), "hello") == "HTTP/1.1 101 Switching Protocols\r\n\r\nhello");
  connection.counted.reset();
  CHECK(test.server.connections() == 0);
}

TEST_CASE("upgrades are ignored on plain routes, except WebSocket, which is refused") {
  TestServer test(short_limits());
  test.server.routes().add("GET", "/plain", [](const HttpRequest&, HttpResponse& res) { res.set_content("fine", "text/plain"); });
  test.start();
  auto h2c = test.connect();
  send_all(h2c.get(), "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n");
  auto answer = receive(h2c.get(), "fine");
  CHECK(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  auto websocket = test.connect();
  send_all(websocket.get(), "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  answer = receive(websocket.get(), "\n}\n");
  CHECK(answer.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(answer.find("WebSocket") != std::string::npos);
}

TEST_CASE("an async handler answers later, from another thread, and the connection goes on") {
  TestServer test(short_limits());
  test.server.routes().add_async("GET", "/later", [&](const HttpRequest&, Reply reply) {
    test.server.call_after(milliseconds(50), [reply] {
      HttpResponse res;
      res.set_content("late", "text/plain");
      std::thread([reply, res] { reply(res); }).detach();
    });
  });
  test.start();
  auto client = test.connect();
  send_all(client.get(), "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(receive(client.get(), "late").find("keep-alive") != std::string::npos);
  send_all(client.get(), "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(receive(client.get(), "late").find("200 OK") != std::string::npos);
}

TEST_CASE("a client that expects 100-continue is told to go on before it sends the body") {
  TestServer test(short_limits());
  test.server.routes().add("POST", "/echo", [](const HttpRequest& req, HttpResponse& res) {
    res.set_content(req.body, "text/plain");
  });
  test.start();
  auto client = test.connect();
  send_all(client.get(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  CHECK(receive(client.get(), "\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n");
  send_all(client.get(), "hello");
  CHECK(receive(client.get(), "hello").rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
}

TEST_CASE("keep-alive is bounded by time, not by count: 100 requests on one connection all answered") {
  TestServer test(short_limits());
  test.server.routes().add("GET", "/n", [](const HttpRequest&, HttpResponse& res) { res.set_content("n", "text/plain"); });
  test.start();
  auto client = test.connect();
  for (int i = 0; i < 100; ++i) {
    send_all(client.get(), "GET /n HTTP/1.1\r\nHost: x\r\n\r\n");
    auto answer = receive(client.get(), "\r\n\r\nn");
    REQUIRE_MESSAGE(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0, "request ", i + 1, ": ", answer);
    CHECK(answer.find("Connection: keep-alive\r\n") != std::string::npos);
    CHECK(answer.find("Keep-Alive: timeout=0\r\n") != std::string::npos);  // 200 ms, in whole seconds; no max=
  }
}

TEST_CASE("a connection older than its lifetime is closed after its current answer") {
  auto limits = short_limits();
  limits.keep_alive_idle = seconds(2);
  limits.keep_alive_lifetime = milliseconds(300);
  TestServer test(limits);
  test.server.routes().add("GET", "/n", [](const HttpRequest&, HttpResponse& res) { res.set_content("n", "text/plain"); });
  test.start();
  auto client = test.connect();
  send_all(client.get(), "GET /n HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(receive(client.get(), "\r\n\r\nn").find("Connection: keep-alive\r\n") != std::string::npos);
  std::this_thread::sleep_for(milliseconds(400));  // within keep_alive_idle, past the lifetime
  send_all(client.get(), "GET /n HTTP/1.1\r\nHost: x\r\n\r\n");
  auto last = receive(client.get(), "\r\n\r\nn");
  CHECK(last.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);  // answered in full
  CHECK(last.find("Connection: close\r\n") != std::string::npos);
  char byte;
  CHECK(::recv(client.get(), &byte, 1, 0) == 0);  // then closed
}

TEST_CASE("request checks get the rules of the route that will answer, or of its fallback, before the body") {
  TestServer test(short_limits());
  auto& routes = test.server.routes();
  routes.add("POST", "/open", [](const HttpRequest&, HttpResponse& res) { res.set_content("served", "text/plain"); },
             {Access::open});
  routes.add_head("GET", "/socket", [](const HttpRequest&) -> std::variant<HttpResponse, Takeover> {
    HttpResponse res;
    res.set_content("head route", "text/plain");
    return res;
  }, {Access::session_secret});
  routes.add_fallback("/shaped/.*", {Access::launch_ticket});
  std::mutex mutex;  // the checks run on the I/O threads
  std::vector<std::pair<std::string, Access>> seen;
  test.server.add_request_check([&](const HttpRequest& req, const RouteRules& rules, HttpResponse&) {
    std::lock_guard lock(mutex);
    seen.emplace_back(req.method + " " + req.path + (req.body.empty() ? "" : " with body"), rules.access);
    return false;
  });
  test.start();
  for (const char* request : {"POST /open HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
                              "GET /socket HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD /socket HTTP/1.1\r\nHost: x\r\n\r\n",
                              "GET /shaped/x HTTP/1.1\r\nHost: x\r\n\r\n", "GET /other HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    auto client = test.connect();
    send_all(client.get(), request);
    receive(client.get(), "\x01");
  }
  // A HEAD is no upgrade: a head route does not answer it, and it gets the rules of no route.
  const std::vector<std::pair<std::string, Access>> expected{{"POST /open", Access::open},
                                                             {"GET /socket", Access::session_secret},
                                                             {"HEAD /socket", Access::token},
                                                             {"GET /shaped/x", Access::launch_ticket},
                                                             {"GET /other", Access::token}};
  std::lock_guard lock(mutex);
  CHECK(seen == expected);  // and none saw a body: the checks come before it
}
