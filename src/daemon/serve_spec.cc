#include "daemon/serve_spec.h"
#include "util/numbers.h"

#include <filesystem>

namespace umd::daemon {

std::string ServeSpec::uri(const std::string& name, uint16_t tcp_port) const {
  if (kind == Kind::nbd_unix) return "nbd+unix:///" + name + "?socket=" + path;
  const bool v6 = host.find(':') != std::string::npos;
  return "nbd://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(tcp_port) + "/" + name;
}

Result<ServeSpec> parse_serve_spec(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Result<ServeSpec>(Err::invalid, "bad --serve \"" + text + "\": " + why +
                                               " (expected nbd:unix:PATH or nbd:tcp:HOST:PORT)");
  };
  ServeSpec s;
  s.text = text;
  if (text.rfind("nbd:unix:", 0) == 0) {
    std::string path = text.substr(9);
    if (path.empty()) return bad("no socket path");
    s.kind = ServeSpec::Kind::nbd_unix;
    std::error_code ec;
    auto abs = std::filesystem::absolute(path, ec);
    if (ec) return bad("cannot make the path absolute");
    s.path = abs.lexically_normal().string();
    return s;
  }
  if (text.rfind("nbd:tcp:", 0) == 0) {
    std::string rest = text.substr(8);
    size_t colon = rest.rfind(':');
    if (colon == std::string::npos) return bad("no port");
    std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string::npos) {
      return bad("an IPv6 address must be in brackets");
    }
    if (host.empty()) return bad("no host");
    const std::optional<uint64_t> n = port.find_first_not_of("0123456789") == std::string::npos ? parse_u64(port)
                                                                                                : std::nullopt;
    if (!n || *n > 65535) return bad("port \"" + port + "\" is not a number from 0 to 65535");
    s.kind = ServeSpec::Kind::nbd_tcp;
    s.host = host;
    s.port = uint16_t(*n);
    return s;
  }
  return bad("unknown kind");
}

}  // namespace umd::daemon
