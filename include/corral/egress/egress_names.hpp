// The names in egress lists, resolved by corrald: the operator's at start
// and then every minute (egress_names_refresh.hpp), a session's once when
// it opens (and again when a restarted corrald adopts it). What a name
// stands for is the addresses found last.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "corral/egress/egress_rule.hpp"

namespace corral {

/// Every address a name has (A and AAAA); an error if it has none.
using NameResolver = std::function<Result<std::vector<IpAddress>>(const std::string& name)>;

/// The system's resolver (getaddrinfo): blocks, so never on an I/O thread.
Result<std::vector<IpAddress>> resolve_by_system(const std::string& name);

/// Fill in the addresses of every name in `lists`. A name that does not
/// resolve is an error (EHOSTUNREACH, saying which) unless `tolerate`:
/// then it stays without addresses (it allows nothing, denies nothing) and
/// the error is only returned as a warning in `problems`.
Result<void> resolve_names(EgressLists& lists, const NameResolver& resolver, bool tolerate = false,
                           std::vector<std::string>* problems = nullptr);

}  // namespace corral
