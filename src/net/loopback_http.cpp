#include "corral/net/loopback_http.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/system_error.hpp>

#include "corral/net/loopback_request.hpp"

namespace corral {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using namespace std::chrono;

namespace {

// Wait until `fd` is ready for `events` or `deadline` passes (false).
bool wait_until(int fd, short events, steady_clock::time_point deadline) {
  for (;;) {
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd ready{fd, events, 0};
    int n = ::poll(&ready, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // the read or write that follows says what is wrong
  }
}

// The connector's non-blocking socket as Beast's SyncReadStream, each read
// waiting at most until the exchange's deadline. (Not an Asio socket with
// SO_RCVTIMEO: Asio's blocking reads wait again, without end, when a read
// times out.)
class DeadlineReader {
 public:
  DeadlineReader(int fd, steady_clock::time_point deadline) : m_fd(fd), m_deadline(deadline) {}

  template <class Buffers>
  size_t read_some(const Buffers& buffers, error_code& ec) {
    asio::mutable_buffer into = *asio::buffer_sequence_begin(buffers);
    ec = {};
    for (;;) {
      if (!wait_until(m_fd, POLLIN, m_deadline)) return ec = beast::error::timeout, 0;
      ssize_t n = ::recv(m_fd, into.data(), into.size(), 0);
      if (n > 0) return static_cast<size_t>(n);
      if (n == 0) return ec = asio::error::eof, 0;
      if (errno != EAGAIN && errno != EINTR) return ec = error_code(errno, boost::system::system_category()), 0;
    }
  }

  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  int m_fd;
  steady_clock::time_point m_deadline;
};

Result<void> send_request(int fd, const std::string& request, steady_clock::time_point deadline) {
  for (size_t sent = 0; sent < request.size();) {
    if (!wait_until(fd, POLLOUT, deadline)) return Error::make(ETIMEDOUT, "the request could not be sent in time");
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<size_t>(n);
    else if (errno != EAGAIN && errno != EINTR) return Error::from_errno(errno, "send the request");
  }
  return success();
}

Error read_error(error_code ec, const LoopbackLimits& limits) {
  if (ec == beast::error::timeout)
    return Error::make(ETIMEDOUT, "no whole answer within " + std::to_string(limits.answer_timeout.count()) + " ms");
  if (ec == http::error::body_limit)
    return Error::make(E2BIG, "an answer larger than " + std::to_string(limits.max_body) + " bytes");
  if (ec == http::error::header_limit) return Error::make(E2BIG, "an answer whose head is too large");
  return Error::make(EBADMSG, "the answer could not be read: " + ec.message());
}

Result<LoopbackAnswer> exchange(const SessionNetwork& network, uint16_t port, const std::string& request,
                                const LoopbackLimits& limits) {
  CORRAL_TRY_ASSIGN(auto fd, connect_to_session(network, port, limits.connect_timeout));
  auto deadline = steady_clock::now() + limits.answer_timeout;
  CORRAL_TRY(send_request(fd.get(), request, deadline));
  DeadlineReader reader(fd.get(), deadline);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(limits.max_body);
  error_code ec;
  http::read(reader, buffer, parser, ec);
  if (ec) return read_error(ec, limits);
  auto response = parser.release();
  return LoopbackAnswer{static_cast<int>(response.result_int()), std::move(response.body())};
}

}  // namespace

Result<LoopbackAnswer> loopback_get(const SessionNetwork& network, uint16_t port, const std::string& target,
                                    const LoopbackLimits& limits) {
  auto request = loopback_request("GET", target, port, {{"Accept", "application/json"}, {"Connection", "close"}});
  return exchange(network, port, request, limits);
}

Result<LoopbackAnswer> loopback_post(const SessionNetwork& network, uint16_t port, const std::string& target,
                                     const std::string& json_body, const LoopbackLimits& limits) {
  auto request = loopback_request("POST", target, port,
                                  {{"Accept", "application/json"}, {"Content-Type", "application/json"},
                                   {"Connection", "close"}},
                                  json_body);
  return exchange(network, port, request, limits);
}

}  // namespace corral
