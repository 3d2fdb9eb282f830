// A session's proxy URL: what is accepted, what is refused (without the
// URL quoted back), and that the credential never shows in its redacted
// form. And the dialogue with the proxy, answer by answer.
#include <doctest/doctest.h>

#include "corral/egress/upstream_dialogue.hpp"
#include "corral/egress/upstream_proxy.hpp"

using namespace corral;

namespace {

std::span<const uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace

TEST_CASE("an http proxy URL with a credential parses, and redacts its password") {
  auto proxy = parse_upstream_proxy("http://alice:s3cr%40t@proxy.example:3128");
  REQUIRE(proxy);
  CHECK(proxy->scheme == UpstreamProxy::Scheme::http);
  CHECK(proxy->host == "proxy.example");
  CHECK(proxy->port == 3128);
  CHECK(proxy->username == "alice");
  CHECK(proxy->password == "s3cr@t");
  CHECK(proxy->redacted() == "http://alice:***@proxy.example:3128");
  CHECK(proxy->url() == "http://alice:s3cr%40t@proxy.example:3128");
  CHECK(parse_upstream_proxy(proxy->url()).value() == *proxy);
}

TEST_CASE("socks5, IPv6 in brackets, no credential, a trailing slash") {
  auto proxy = parse_upstream_proxy("socks5://[2001:db8::7]:1080/");
  REQUIRE(proxy);
  CHECK(proxy->scheme == UpstreamProxy::Scheme::socks5);
  CHECK(proxy->host == "2001:db8::7");
  CHECK_FALSE(proxy->has_credential());
  CHECK(proxy->redacted() == "socks5://[2001:db8::7]:1080");
  auto v4 = parse_upstream_proxy("socks5://bob:pw@198.51.100.9:1080");
  REQUIRE(v4);
  CHECK(v4->redacted() == "socks5://bob:***@198.51.100.9:1080");
}

TEST_CASE("what is not a proxy URL is refused with EINVAL, and the message never quotes the password") {
  for (const char* bad : {"https://u:hunter2@p:1", "socks4://u:hunter2@p:1", "http://u:hunter2@p", "http://u:hunter2@p:0",
                          "http://u:hunter2@p:65536", "http://u:hunter2@p:1/path", "http://u:hunter2@p:1?x=1",
                          "http://u:hunter2@p q:1", "http://u:hunter2%zz@p:1", "http://u:hunter2@[::1:1",
                          "http://u:hunter2@[10.0.0.1]:1", "http://:hunter2@p:1", "http://u:hunter2\n@p:1", ""}) {
    CAPTURE(bad);
    auto proxy = parse_upstream_proxy(bad);
    REQUIRE_FALSE(proxy);
    CHECK(proxy.error().code == EINVAL);
    CHECK(proxy.error().message.find("hunter2") == std::string::npos);
  }
  CHECK_FALSE(parse_upstream_proxy("http://" + std::string(256, 'u') + ":p@h:1"));
}

TEST_CASE("base64 as Basic authentication needs it") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("a") == "YQ==");
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(base64_encode("alice:s3cr@t") == "YWxpY2U6czNjckB0");
}

TEST_CASE("HTTP: CONNECT with Proxy-Authorization; 200 connects and leaves the destination's early bytes") {
  auto proxy = *parse_upstream_proxy("http://alice:pw@proxy:3128");
  UpstreamDialogue dialogue(proxy, "example.com", 443);
  CHECK(dialogue.opening() ==
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic YWxpY2U6cHc=\r\n\r\n");
  CHECK(dialogue.received(bytes_of("HTTP/1.1 200 Connection est")).state == UpstreamDialogue::State::need_more);
  std::string answer = "HTTP/1.1 200 Connection established\r\nVia: tinyproxy\r\n\r\n";
  auto step = dialogue.received(bytes_of(answer + "SSH-2.0"));
  CHECK(step.state == UpstreamDialogue::State::connected);
  CHECK(step.consumed == answer.size());
}

TEST_CASE("HTTP: 407 is the credential refused, 403 and 502 are failures the page hears") {
  auto proxy = *parse_upstream_proxy("http://proxy:3128");
  CHECK(UpstreamDialogue(proxy, "2001:db8::1", 80).opening().starts_with("CONNECT [2001:db8::1]:80 HTTP/1.1\r\n"));
  CHECK(UpstreamDialogue(proxy, "h", 1).opening().find("Proxy-Authorization") == std::string::npos);
  auto refused = UpstreamDialogue(proxy, "h", 1).received(bytes_of("HTTP/1.0 407 Proxy Authentication Required\r\n\r\n"));
  CHECK(refused.state == UpstreamDialogue::State::credential_refused);
  auto tinyproxys = UpstreamDialogue(proxy, "h", 1).received(bytes_of("HTTP/1.0 401 Unauthorized\r\n\r\n"));
  CHECK(tinyproxys.state == UpstreamDialogue::State::credential_refused);
  auto forbidden = UpstreamDialogue(proxy, "h", 1).received(bytes_of("HTTP/1.1 403 Forbidden\r\n\r\n"));
  CHECK(forbidden.state == UpstreamDialogue::State::failed);
  CHECK(forbidden.reply == socks5::Reply::not_allowed);
  auto bad_gateway = UpstreamDialogue(proxy, "h", 1).received(bytes_of("HTTP/1.1 502 Bad Gateway\r\n\r\n"));
  CHECK(bad_gateway.reply == socks5::Reply::host_unreachable);
  auto garbage = UpstreamDialogue(proxy, "h", 1).received(bytes_of("SSH-2.0-OpenSSH\r\n\r\n"));
  CHECK(garbage.state == UpstreamDialogue::State::failed);
  std::string endless(kLongestProxyAnswerHead, 'x');
  CHECK(UpstreamDialogue(proxy, "h", 1).received(bytes_of(endless)).state == UpstreamDialogue::State::failed);
}

TEST_CASE("SOCKS5: username/password, then CONNECT by name, which the proxy resolves") {
  auto proxy = *parse_upstream_proxy("socks5://bob:pw@proxy:1080");
  UpstreamDialogue dialogue(proxy, "example.com", 443);
  CHECK(dialogue.opening() == std::string("\x05\x01\x02", 3));
  auto auth = dialogue.received(bytes_of(std::string("\x05\x02", 2)));
  REQUIRE(auth.state == UpstreamDialogue::State::send);
  CHECK(auth.to_send == std::string("\x01\x03" "bob" "\x02" "pw", 8));
  auto request = dialogue.received(bytes_of(std::string("\x01\x00", 2)));
  REQUIRE(request.state == UpstreamDialogue::State::send);
  CHECK(request.to_send == std::string("\x05\x01\x00\x03\x0b" "example.com" "\x01\xbb", 18));
  std::string reply("\x05\x00\x00\x01\x0a\x00\x00\x01\x30\x39", 10);
  CHECK(dialogue.received(bytes_of(reply.substr(0, 7))).state == UpstreamDialogue::State::need_more);
  auto done = dialogue.received(bytes_of(reply + "early"));
  CHECK(done.state == UpstreamDialogue::State::connected);
  CHECK(done.consumed == 10);
}

TEST_CASE("SOCKS5: a refused password, a proxy that wants one, and a refused CONNECT") {
  auto with = *parse_upstream_proxy("socks5://bob:wrong@proxy:1080");
  UpstreamDialogue refused(with, "h", 1);
  (void)refused.received(bytes_of(std::string("\x05\x02", 2)));
  CHECK(refused.received(bytes_of(std::string("\x01\x01", 2))).state == UpstreamDialogue::State::credential_refused);
  auto without = *parse_upstream_proxy("socks5://proxy:1080");
  UpstreamDialogue wanting(without, "h", 1);
  CHECK(wanting.opening() == std::string("\x05\x01\x00", 3));
  CHECK(wanting.received(bytes_of(std::string("\x05\xff", 2))).state == UpstreamDialogue::State::credential_refused);
  UpstreamDialogue connect(without, "198.51.100.7", 80);
  auto request = connect.received(bytes_of(std::string("\x05\x00", 2)));
  CHECK(request.to_send == std::string("\x05\x01\x00\x01\xc6\x33\x64\x07\x00\x50", 10));
  auto failed = connect.received(bytes_of(std::string("\x05\x05\x00\x01\0\0\0\0\0\0", 10)));
  CHECK(failed.state == UpstreamDialogue::State::failed);
  CHECK(failed.reply == socks5::Reply::connection_refused);
}
