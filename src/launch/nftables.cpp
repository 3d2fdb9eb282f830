#include "corral/launch/nftables.hpp"

#include <nftables/libnftables.h>

#include <future>
#include <memory>

#include "corral/net/in_network_namespace.hpp"
#include "corral/util/work_queue.hpp"

namespace corral {
namespace {

// Every run happens on this one thread. libnftables initialises globals
// unguarded, so runs must not overlap anyway; and a run's parser and cache
// take a megabyte or so of heap that malloc keeps in the running thread's
// arena: on one thread that is paid once, where runs on whichever thread
// asked (HTTP, closer, opens) grew each of their arenas in turn.
WorkQueue& nft_thread() {
  static WorkQueue thread(1);
  return thread;
}

struct ContextFree {
  void operator()(nft_ctx* context) const { nft_ctx_free(context); }
};

std::string trimmed(const char* text) {
  std::string all = text ? text : "";
  while (!all.empty() && (all.back() == '\n' || all.back() == ' ')) all.pop_back();
  return all;
}

// A context per run: its netlink socket is made now, in the namespace the
// thread is in, and its cache cannot be older than this run.
Result<std::string> run_here(const std::string& commands) {
  std::unique_ptr<nft_ctx, ContextFree> context(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!context) return Error::make(ENOMEM, "nft: no libnftables context");
  if (nft_ctx_buffer_output(context.get()) != 0 || nft_ctx_buffer_error(context.get()) != 0)
    return Error::make(ENOMEM, "nft: cannot buffer libnftables' output");
  if (nft_run_cmd_from_buffer(context.get(), commands.c_str()) != 0)
    return Error::make(EIO, "nft: " + trimmed(nft_ctx_get_error_buffer(context.get())));
  return std::string(nft_ctx_get_output_buffer(context.get()));
}

// Its rule in a session's namespace: the nft thread visits it, and comes
// back before the host's next rules.
Result<std::string> run_in(const std::string& commands, int netns_fd) {
  if (netns_fd < 0) return run_here(commands);
  Result<std::string> ran = std::string();
  CORRAL_TRY(visit_network_namespace(netns_fd, [&]() -> Result<void> {
    ran = run_here(commands);
    return success();
  }));
  return ran;
}

}  // namespace

Result<std::string> run_nft(const std::string& commands, int netns_fd) {
  std::promise<Result<std::string>> done;
  auto outcome = done.get_future();
  nft_thread().post([&] { done.set_value(run_in(commands, netns_fd)); });
  return outcome.get();
}

}  // namespace corral
