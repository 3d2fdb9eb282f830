// A session's own egress lists against the operator's policy: checked at
// open (nothing starts for a list that asks for more than the operator
// allows), resolved once the open leaves the I/O thread, resolved again
// when a restarted corrald adopts the session, and shown in its JSON.
#pragma once

#include <string>

#include "corral/egress/egress_names.hpp"
#include "corral/egress/egress_policy.hpp"
#include "corral/session/session.hpp"

namespace corral {

/// Without DNS (it runs on an I/O thread): EOPNOTSUPP when the session asks
/// for lists and there is no policy to narrow (sessions share corrald's
/// network); EBADMSG for a range entry the operator's policy does not admit.
Result<void> check_session_egress(const EgressPolicy* policy, const EgressLists& asked);

/// The lists the session's way out judges by: its names resolved, and the
/// whole checked again. EBADMSG for a name that does not resolve or
/// resolves to an address the operator's policy refuses.
Result<EgressLists> settle_session_egress(const EgressPolicy* policy, EgressLists asked, const NameResolver& resolver);

/// The same at adoption, where refusing is no longer possible: a name that
/// does not resolve now allows or denies nothing (logged), so the session
/// stays at most as open as it was.
EgressLists readopted_session_egress(const std::string& id, EgressLists recorded, const NameResolver& resolver);

/// What the session's JSON shows as its network policy.
EgressPolicyView egress_policy_view(const EgressPolicy& policy, const EgressLists& session);

}  // namespace corral
