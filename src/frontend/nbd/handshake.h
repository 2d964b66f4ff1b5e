// Option haggling (fixed newstyle) for one connection; see the protocol comment in
// protocol.h for every option and its answer. Runs on the connection's reader thread.
#pragma once

#include <atomic>
#include <string>

#include "frontend/nbd/protocol.h"
#include "frontend/nbd/socket_io.h"
#include "util/status.h"

namespace umd::nbd {

// The one export a server offers.
struct ExportInfo {
  std::string name;         // accepted along with "" (the default export)
  std::string description;  // sent for NBD_INFO_DESCRIPTION when non-empty
  ExportLimits limits;
  uint32_t preferred_block = 4096;
};

enum class HandshakeEnd {
  transmission,  // GO acknowledged or EXPORT_NAME answered: requests follow
  closed,        // ABORT, or the client closed between options: close quietly
};

// Err::* when the session must end with a hard disconnect (bad magic, unknown client flags,
// unknown EXPORT_NAME, I/O error).
Result<HandshakeEnd> run_handshake(int fd, SocketReader& in, const ExportInfo& ex,
                                   const std::atomic<bool>& stopping);

}  // namespace umd::nbd
