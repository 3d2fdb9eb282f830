#include "corral/launch/nftables.hpp"

#include <nftables/libnftables.h>

#include <memory>
#include <mutex>

namespace corral {
namespace {

// nft_ctx_new() initialises libnftables' globals once, unguarded.
std::mutex& nft_mutex() {
  static std::mutex mutex;
  return mutex;
}

struct ContextFree {
  void operator()(nft_ctx* context) const { nft_ctx_free(context); }
};

std::string trimmed(const char* text) {
  std::string all = text ? text : "";
  while (!all.empty() && (all.back() == '\n' || all.back() == ' ')) all.pop_back();
  return all;
}

}  // namespace

Result<std::string> run_nft(const std::string& commands) {
  std::lock_guard lock(nft_mutex());
  // A context per run: its netlink socket is made now, in this thread's
  // namespace, and its cache cannot be older than this run.
  std::unique_ptr<nft_ctx, ContextFree> context(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!context) return Error::make(ENOMEM, "nft: no libnftables context");
  if (nft_ctx_buffer_output(context.get()) != 0 || nft_ctx_buffer_error(context.get()) != 0)
    return Error::make(ENOMEM, "nft: cannot buffer libnftables' output");
  if (nft_run_cmd_from_buffer(context.get(), commands.c_str()) != 0)
    return Error::make(EIO, "nft: " + trimmed(nft_ctx_get_error_buffer(context.get())));
  return std::string(nft_ctx_get_output_buffer(context.get()));
}

}  // namespace corral
