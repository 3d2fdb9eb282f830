// Private to the server (http_server.cpp, http_connection.cpp): what its
// connections share, and how the server starts, stops and refuses them.
// Includes Asio, so only those two translation units include it.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "corral/server/http_server.hpp"
#include "corral/util/work_queue.hpp"

namespace corral::http_detail {

using Socket = boost::asio::generic::stream_protocol::socket;
class Connection;

/// What every connection of one server shares. The server owns it; each
/// connection holds a reference, so it outlives them all.
struct ServerShared {
  explicit ServerShared(ServerOptions server_options)
      : options(std::move(server_options)), workers(options.workers) {}

  ServerOptions options;
  Router router;
  std::vector<RequestCheck> checks;
  WorkQueue workers;
  bool unix_listener = false;
  std::atomic<bool> stopping{false};

  std::mutex mutex;
  std::condition_variable connection_left;
  std::map<const Connection*, std::weak_ptr<Connection>> live;  ///< under mutex
  size_t taken = 0;  ///< under mutex: connections taken over (relays) and not yet closed

  /// What counts against --max-connections: served and taken over. Under mutex.
  size_t counted() const { return live.size() + taken; }
};

/// Serve `socket` (its executor a strand of its own) as one connection.
void serve(const std::shared_ptr<ServerShared>& shared, Socket socket);
/// Answer `socket` with a JSON 503 (too many connections), then close it.
void refuse(const std::shared_ptr<ServerShared>& shared, Socket socket);
/// The server stops: close the connection if it is between requests,
/// answer 503 to a request still arriving, let an answer under way finish.
/// On the connection's strand, from any thread.
void stop_gently(const std::shared_ptr<Connection>& connection);
/// Close the connection now, whatever it is doing; likewise.
void close_now(const std::shared_ptr<Connection>& connection);

}  // namespace corral::http_detail
