// The control ops that reach the array's control plane: "attr", "manage" and "action"
// (protocol in control_protocol.h). Apart from daemon.cc so they can be tested on any
// ServedArray.
#pragma once

#include <optional>
#include <string>

#include "daemon/control_protocol.h"
#include "daemon/served_array.h"

namespace umd::daemon {

// The response to request (whose "op" is op) when op is one of the array ops; nullopt
// for any other op. Errors come back as error_response, one line naming the problem.
std::optional<json> handle_array_op(ServedArray& array, const std::string& op, const json& request);

}  // namespace umd::daemon
