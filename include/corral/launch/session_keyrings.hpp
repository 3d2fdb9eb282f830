// The kernel keys a uid keeps after its last process is gone: its user
// keyring (and user-session keyring, the session keyring of a process that
// never joined one) and its persistent keyring (kept for days, for the
// uid's next login). A session may add keys to them; the next session with
// that uid could read them. The sweep command clears them as the uid
// itself: it joins an anonymous session keyring of its own first (the one
// it inherited is root's), then asks for the uid's persistent keyring
// (KEYCTL_GET_PERSISTENT links it there) and clears each. Raw keyctl(2)
// calls: no libkeyutils.
#pragma once

#include <string>
#include <vector>

namespace corral {

/// Clear the calling uid's user, user-session and persistent keyrings. What
/// failed, or is still in a keyring afterwards, is appended to `left`; what
/// this kernel does not have (no keys at all, no persistent keyrings) to
/// `notes`.
void clear_own_keyrings(std::vector<std::string>& left, std::vector<std::string>& notes);

}  // namespace corral
