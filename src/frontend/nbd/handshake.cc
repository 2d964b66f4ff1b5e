#include "frontend/nbd/handshake.h"

#include <algorithm>
#include <vector>

namespace umd::nbd {
namespace {

constexpr uint16_t kOfferedHandshakeFlags = kFlagFixedNewstyle | kFlagNoZeroes;

bool name_matches(const ExportInfo& ex, const std::string& name) {
  return name.empty() || name == ex.name;
}

Status reply(int fd, uint32_t option, uint32_t type, std::span<const uint8_t> data = {}) {
  return write_all(fd, encode_option_reply(option, type, data));
}

Status reply_error(int fd, uint32_t option, uint32_t type, const std::string& text) {
  return reply(
      fd, option, type,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// NBD_OPT_INFO / NBD_OPT_GO. Returns true when the export was accepted (ACK sent).
Result<bool> answer_info(int fd, uint32_t option, std::span<const uint8_t> data,
                         const ExportInfo& ex) {
  Result<InfoRequest> req = decode_info_request(data);
  if (!req.is_ok()) {
    UMD_TRY(reply_error(fd, option, kRepErrInvalid, req.status().message()));
    return false;
  }
  if (!name_matches(ex, req->name)) {
    UMD_TRY(reply_error(fd, option, kRepErrUnknown, "no export named '" + req->name + "'"));
    return false;
  }
  const ExportLimits& l = ex.limits;
  UMD_TRY(reply(fd, option, kRepInfo, encode_info_export(l.size, transmission_flags(l))));
  UMD_TRY(reply(fd, option, kRepInfo,
                encode_info_block_size(l.min_block, ex.preferred_block, l.max_payload)));
  auto asked = [&](uint16_t t) {
    return std::find(req->infos.begin(), req->infos.end(), t) != req->infos.end();
  };
  if (asked(kInfoName))
    UMD_TRY(reply(fd, option, kRepInfo, encode_info_string(kInfoName, ex.name)));
  if (asked(kInfoDescription) && !ex.description.empty()) {
    UMD_TRY(reply(fd, option, kRepInfo, encode_info_string(kInfoDescription, ex.description)));
  }
  UMD_TRY(reply(fd, option, kRepAck));
  return true;
}

}  // namespace

Result<HandshakeEnd> run_handshake(int fd, SocketReader& in, const ExportInfo& ex,
                                   const std::atomic<bool>& stopping) {
  UMD_TRY(write_all(fd, encode_greeting(kOfferedHandshakeFlags)));
  std::array<uint8_t, 4> cflags_bytes{};
  Status s = in.read(cflags_bytes);
  if (s.code() == Err::not_found) return HandshakeEnd::closed;
  UMD_TRY(s);
  UMD_ASSIGN_OR_RETURN(uint32_t cflags, decode_client_flags(cflags_bytes, kOfferedHandshakeFlags));
  const bool no_zeroes = cflags & kClientNoZeroes;

  for (;;) {
    std::array<uint8_t, kOptionHeaderSize> hdr_bytes{};
    s = in.read(hdr_bytes);
    if (s.code() == Err::not_found) return HandshakeEnd::closed;
    UMD_TRY(s);
    UMD_ASSIGN_OR_RETURN(OptionHeader hdr, decode_option_header(hdr_bytes));
    const uint32_t opt = hdr.option;

    if (hdr.length > kMaxOptionLength) {
      UMD_TRY(in.skip(hdr.length));
      UMD_TRY(reply_error(fd, opt, kRepErrInvalid, "option data too long"));
      continue;
    }
    std::vector<uint8_t> data(hdr.length);
    UMD_TRY(in.read(data));

    if (stopping.load() && opt != uint32_t(Opt::abort)) {
      if (opt == uint32_t(Opt::export_name)) {
        return Status(Err::busy, "server is shutting down");  // cannot answer: hard disconnect
      }
      UMD_TRY(reply_error(fd, opt, kRepErrShutdown, "server is shutting down"));
      continue;
    }

    switch (static_cast<Opt>(opt)) {
      case Opt::export_name: {
        std::string name(data.begin(), data.end());
        if (!name_matches(ex, name)) {
          return Status(Err::not_found, "EXPORT_NAME asked for unknown export '" + name + "'");
        }
        UMD_TRY(write_all(fd, encode_export_name_reply(ex.limits.size,
                                                       transmission_flags(ex.limits), no_zeroes)));
        return HandshakeEnd::transmission;
      }
      case Opt::abort:
        (void)reply(fd, opt, kRepAck);  // the client may already be gone
        return HandshakeEnd::closed;
      case Opt::list:
        if (!data.empty()) {
          UMD_TRY(reply_error(fd, opt, kRepErrInvalid, "LIST takes no data"));
          break;
        }
        UMD_TRY(reply(fd, opt, kRepServer, encode_rep_server(ex.name)));
        UMD_TRY(reply(fd, opt, kRepAck));
        break;
      case Opt::info:
      case Opt::go: {
        UMD_ASSIGN_OR_RETURN(bool accepted, answer_info(fd, opt, data, ex));
        if (accepted && opt == uint32_t(Opt::go)) return HandshakeEnd::transmission;
        break;
      }
      default:
        UMD_TRY(reply_error(fd, opt, kRepErrUnsup,
                            std::string("option ") + option_name(opt) + " is not supported"));
        break;
    }
  }
}

}  // namespace umd::nbd
