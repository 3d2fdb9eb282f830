#include "corral/egress/upstream_dialogue.hpp"

#include <algorithm>
#include <string_view>

#include "corral/egress/ip_address.hpp"

namespace corral {
namespace {

using State = UpstreamDialogue::State;
using Step = UpstreamDialogue::Step;

constexpr uint8_t kUsernamePassword = 0x02;  // RFC 1929
constexpr uint8_t kAuthenticationVersion = 0x01;

Step step(State state, size_t consumed = 0, std::string to_send = {}) {
  Step next;
  next.state = state;
  next.consumed = consumed;
  next.to_send = std::move(to_send);
  return next;
}

Step failure(State state, socks5::Reply reply, std::string why) {
  Step failed;
  failed.state = state;
  failed.reply = reply;
  failed.why = std::move(why);
  return failed;
}

std::string host_for_http(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// An HTTP proxy's refusal, as the page hears it through SOCKS5.
socks5::Reply reply_for_status(int status) {
  if (status == 403) return socks5::Reply::not_allowed;
  if (status == 502 || status == 503 || status == 504) return socks5::Reply::host_unreachable;
  return socks5::Reply::general_failure;
}

// "HTTP/1.1 200 Connection established" → 200; -1 when it is not a status line.
int status_of(std::string_view head) {
  if (!head.starts_with("HTTP/1.") || head.size() < 12 || head[8] != ' ') return -1;
  auto digits = head.substr(9, 3);
  if (digits.find_first_not_of("0123456789") != std::string_view::npos) return -1;
  return std::stoi(std::string(digits));
}

}  // namespace

UpstreamDialogue::UpstreamDialogue(const UpstreamProxy& proxy, std::string host, uint16_t port)
    : m_proxy(proxy), m_host(std::move(host)), m_port(port),
      m_phase(proxy.scheme == UpstreamProxy::Scheme::http ? Phase::http_answer : Phase::socks_method) {}

std::string UpstreamDialogue::opening() const {
  if (m_proxy.scheme == UpstreamProxy::Scheme::socks5) {
    uint8_t method = m_proxy.has_credential() ? kUsernamePassword : socks5::kNoAuthentication;
    return std::string{char(socks5::kVersion), 1, char(method)};
  }
  std::string target = host_for_http(m_host) + ":" + std::to_string(m_port);
  std::string request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (m_proxy.has_credential())
    request += "Proxy-Authorization: Basic " + base64_encode(m_proxy.username + ":" + m_proxy.password) + "\r\n";
  return request + "\r\n";
}

UpstreamDialogue::Step UpstreamDialogue::received(std::span<const uint8_t> bytes) {
  switch (m_phase) {
    case Phase::http_answer: return http_answer(bytes);
    case Phase::socks_method: return socks_method(bytes);
    case Phase::socks_authentication: return socks_authentication(bytes);
    case Phase::socks_reply: return socks_reply(bytes);
  }
  return failure(State::failed, socks5::Reply::general_failure, "confused");
}

Step UpstreamDialogue::http_answer(std::span<const uint8_t> bytes) const {
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto end = text.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (text.size() >= kLongestProxyAnswerHead)
      return failure(State::failed, socks5::Reply::general_failure, "the proxy's answer head is over 16 KiB");
    return step(State::need_more);
  }
  int status = status_of(text);
  if (status < 0) return failure(State::failed, socks5::Reply::general_failure, "the proxy did not answer in HTTP");
  if (status >= 200 && status < 300) return step(State::connected, end + 4);
  auto why = "the proxy answered CONNECT with " + std::to_string(status);
  // 407 is the standard's; some proxies (tinyproxy 1.11) answer 401.
  if (status == 407 || status == 401) return failure(State::credential_refused, socks5::Reply::general_failure, why);
  return failure(State::failed, reply_for_status(status), why);
}

Step UpstreamDialogue::socks_method(std::span<const uint8_t> bytes) {
  if (bytes.size() < 2) return step(State::need_more);
  if (bytes[0] != socks5::kVersion)
    return failure(State::failed, socks5::Reply::general_failure, "the proxy did not answer in SOCKS5");
  if (bytes[1] == socks5::kNoAuthentication) {
    m_phase = Phase::socks_reply;
    return step(State::send, 2, socks_request());
  }
  if (bytes[1] == kUsernamePassword && m_proxy.has_credential()) {
    m_phase = Phase::socks_authentication;
    std::string request{char(kAuthenticationVersion), char(m_proxy.username.size())};
    request += m_proxy.username;
    request += char(m_proxy.password.size());
    request += m_proxy.password;
    return step(State::send, 2, std::move(request));
  }
  return failure(State::credential_refused, socks5::Reply::general_failure,
                 m_proxy.has_credential() ? "the SOCKS5 proxy accepts no username/password"
                                          : "the SOCKS5 proxy wants a credential");
}

Step UpstreamDialogue::socks_authentication(std::span<const uint8_t> bytes) {
  if (bytes.size() < 2) return step(State::need_more);
  if (bytes[1] != 0x00)
    return failure(State::credential_refused, socks5::Reply::general_failure, "the SOCKS5 proxy refused the credential");
  m_phase = Phase::socks_reply;
  return step(State::send, 2, socks_request());
}

// VER REP RSV ATYP BND.ADDR BND.PORT: its length depends on ATYP.
Step UpstreamDialogue::socks_reply(std::span<const uint8_t> bytes) const {
  if (bytes.size() < 5) return step(State::need_more);
  if (bytes[0] != socks5::kVersion)
    return failure(State::failed, socks5::Reply::general_failure, "the proxy did not answer in SOCKS5");
  size_t length = 0;
  if (bytes[3] == 0x01) length = 4 + 4 + 2;
  else if (bytes[3] == 0x04) length = 4 + 16 + 2;
  else if (bytes[3] == 0x03) length = 4 + 1 + bytes[4] + 2;
  else return failure(State::failed, socks5::Reply::general_failure, "the SOCKS5 proxy's reply has no address type");
  if (bytes[1] != 0x00) {
    auto reply = bytes[1] <= 0x08 ? static_cast<socks5::Reply>(bytes[1]) : socks5::Reply::general_failure;
    return failure(State::failed, reply, "the SOCKS5 proxy answered CONNECT with " + std::to_string(bytes[1]));
  }
  if (bytes.size() < length) return step(State::need_more);
  return step(State::connected, length);
}

std::string UpstreamDialogue::socks_request() const {
  std::string request{char(socks5::kVersion), char(socks5::kConnect), 0};
  if (auto address = IpAddress::parse(m_host)) {
    request += char(address->is_v4() ? 0x01 : 0x04);
    request.append(reinterpret_cast<const char*>(address->bytes.data()), address->size());
  } else {
    request += char(0x03);
    request += char(std::min<size_t>(m_host.size(), 255));
    request += m_host.substr(0, 255);
  }
  request += char(m_port >> 8);
  request += char(m_port & 0xff);
  return request;
}

}  // namespace corral
