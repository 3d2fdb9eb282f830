#include "client.hpp"

#include <sys/socket.h>

#include <iostream>

#include "corral/util/json_bounded.hpp"

namespace corralctl {
using nlohmann::json;

// httplib 0.11.4 speaks HTTP over a unix socket when the "host" is the
// socket's path and the address family is AF_UNIX.
std::unique_ptr<httplib::Client> connect(const Target& target) {
  constexpr std::string_view kUnix = "unix:";
  std::unique_ptr<httplib::Client> client;
  if (target.url.starts_with(kUnix)) {
    client = std::make_unique<httplib::Client>(target.url.substr(kUnix.size()), 80);
    client->set_address_family(AF_UNIX);
    client->set_default_headers({{"Host", "localhost"}});
  } else {
    client = std::make_unique<httplib::Client>(target.url);
  }
  if (!target.token.empty()) client->set_bearer_token_auth(target.token);
  return client;
}

Reply fetch(const Target& target, const std::string& method, const std::string& path, const std::string& body,
            int timeout_seconds) {
  auto connection = connect(target);
  auto& client = *connection;
  client.set_connection_timeout(timeout_seconds);
  client.set_read_timeout(timeout_seconds);
  httplib::Result response = method == "GET"    ? client.Get(path.c_str())
                             : method == "POST" ? client.Post(path.c_str(), body, "application/json")
                                                : client.Delete(path.c_str());
  Reply reply;
  if (!response) {
    reply.problem = "cannot reach corrald at " + target.url + ": " + httplib::to_string(response.error());
    return reply;
  }
  reply.reached = true;
  reply.status = response->status;
  // Bounded like everything corral reads: corrald's replies are 5 deep at
  // most, but a list of many sessions may have millions of values.
  auto parsed = corral::parse_json_bounded(response->body, corral::JsonLimits{64, 50'000'000});
  reply.body = parsed ? std::move(*parsed) : json(json::value_t::discarded);
  if (reply.status >= 400)
    reply.problem = reply.body.is_object() && reply.body.contains("error")
                        ? reply.body["error"].value("message", "")
                        : response->body;
  return reply;
}

json call(const Target& target, const std::string& method, const std::string& path, const std::string& body) {
  auto reply = fetch(target, method, path, body);
  if (!reply.reached) {
    std::cerr << "corralctl: " << reply.problem << "\n";
    std::exit(2);
  }
  if (reply.status >= 400) {
    std::cerr << "corralctl: " << reply.status << ": " << reply.problem << "\n";
    if (target.json_output && !reply.body.is_discarded()) std::cout << reply.body.dump(2) << "\n";
    std::exit(1);
  }
  return reply.body;
}

}  // namespace corralctl
