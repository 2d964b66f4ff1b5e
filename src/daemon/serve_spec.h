// --serve SPEC: where the daemon serves the array.
//   nbd:unix:PATH        an NBD server on a Unix socket (PATH made absolute)
//   nbd:tcp:HOST:PORT    an NBD server on TCP; HOST may be a name, an IPv4 address or
//                        [IPv6]; PORT 0 picks a free port (--detail shows which).
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace umd::daemon {

struct ServeSpec {
  enum class Kind { nbd_unix, nbd_tcp };
  Kind kind = Kind::nbd_unix;
  std::string path;  // nbd_unix
  std::string host;  // nbd_tcp, without brackets
  uint16_t port = 0;
  std::string text;  // as given

  // The NBD URI a client uses to reach export `name` here (tcp_port: the port bound).
  std::string uri(const std::string& name, uint16_t tcp_port) const;
};

// Err::invalid naming the spec and what was expected.
Result<ServeSpec> parse_serve_spec(const std::string& text);

}  // namespace umd::daemon
