#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <signal.h>

// As corrald does (block_daemon_signals): a write to a socket whose peer
// left is an EPIPE to handle, not a signal that ends the process. splice(2)
// has no MSG_NOSIGNAL, so the egress relay's tests need this as corrald does.
int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return doctest::Context(argc, argv).run();
}
