#include "frontend/nbd/protocol.h"

namespace umd::nbd {

uint16_t get_be16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
uint32_t get_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
uint64_t get_be64(const uint8_t* p) { return (uint64_t(get_be32(p)) << 32) | get_be32(p + 4); }
void put_be16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = uint8_t(v >> (24 - 8 * i));
}
void put_be64(uint8_t* p, uint64_t v) {
  put_be32(p, uint32_t(v >> 32));
  put_be32(p + 4, uint32_t(v));
}

std::array<uint8_t, kGreetingSize> encode_greeting(uint16_t handshake_flags) {
  std::array<uint8_t, kGreetingSize> out{};
  put_be64(out.data(), kNbdMagic);
  put_be64(out.data() + 8, kOptMagic);
  put_be16(out.data() + 16, handshake_flags);
  return out;
}

Result<uint32_t> decode_client_flags(std::span<const uint8_t, 4> bytes, uint16_t offered) {
  uint32_t flags = get_be32(bytes.data());
  uint32_t allowed = kClientFixedNewstyle;
  if (offered & kFlagNoZeroes) allowed |= kClientNoZeroes;
  if (flags & ~allowed) {
    return Status(Err::invalid, "client flags 0x" + std::to_string(flags) +
                                    " set a bit the server did not offer");
  }
  return flags;
}

Result<OptionHeader> decode_option_header(std::span<const uint8_t, kOptionHeaderSize> bytes) {
  if (get_be64(bytes.data()) != kOptMagic) {
    return Status(Err::corrupt, "option does not start with IHAVEOPT");
  }
  return OptionHeader{get_be32(bytes.data() + 8), get_be32(bytes.data() + 12)};
}

std::vector<uint8_t> encode_option_header(uint32_t option, uint32_t length) {
  std::vector<uint8_t> out(kOptionHeaderSize);
  put_be64(out.data(), kOptMagic);
  put_be32(out.data() + 8, option);
  put_be32(out.data() + 12, length);
  return out;
}

std::vector<uint8_t> encode_option_reply(uint32_t option, uint32_t type,
                                         std::span<const uint8_t> data) {
  std::vector<uint8_t> out(kOptionReplyHeaderSize + data.size());
  put_be64(out.data(), kOptReplyMagic);
  put_be32(out.data() + 8, option);
  put_be32(out.data() + 12, type);
  put_be32(out.data() + 16, uint32_t(data.size()));
  if (!data.empty()) std::copy(data.begin(), data.end(), out.begin() + kOptionReplyHeaderSize);
  return out;
}

Result<OptionReplyHeader> decode_option_reply_header(
    std::span<const uint8_t, kOptionReplyHeaderSize> bytes) {
  if (get_be64(bytes.data()) != kOptReplyMagic) {
    return Status(Err::corrupt, "option reply has a bad magic");
  }
  return OptionReplyHeader{get_be32(bytes.data() + 8), get_be32(bytes.data() + 12),
                           get_be32(bytes.data() + 16)};
}

Result<InfoRequest> decode_info_request(std::span<const uint8_t> data) {
  if (data.size() < 6) {
    return Status(Err::invalid, "info request of " + std::to_string(data.size()) +
                                    " bytes is shorter than its 6-byte minimum");
  }
  uint32_t name_len = get_be32(data.data());
  if (name_len > data.size() - 6) {
    return Status(Err::invalid,
                  "export name length " + std::to_string(name_len) + " runs past the option data");
  }
  if (name_len > kMaxNameLength) {
    return Status(Err::invalid, "export name longer than 4096 bytes");
  }
  InfoRequest req;
  req.name.assign(reinterpret_cast<const char*>(data.data() + 4), name_len);
  size_t pos = 4 + name_len;
  uint16_t n = get_be16(data.data() + pos);
  pos += 2;
  if (data.size() - pos != size_t(n) * 2) {
    return Status(Err::invalid, std::to_string(n) + " information requests do not fill the " +
                                    std::to_string(data.size() - pos) + " bytes left");
  }
  for (uint16_t i = 0; i < n; i++) req.infos.push_back(get_be16(data.data() + pos + 2 * i));
  return req;
}

std::vector<uint8_t> encode_info_request(const InfoRequest& req) {
  std::vector<uint8_t> out(4 + req.name.size() + 2 + 2 * req.infos.size());
  put_be32(out.data(), uint32_t(req.name.size()));
  std::copy(req.name.begin(), req.name.end(), out.begin() + 4);
  size_t pos = 4 + req.name.size();
  put_be16(out.data() + pos, uint16_t(req.infos.size()));
  for (size_t i = 0; i < req.infos.size(); i++)
    put_be16(out.data() + pos + 2 + 2 * i, req.infos[i]);
  return out;
}

std::vector<uint8_t> encode_info_export(uint64_t size, uint16_t tx_flags) {
  std::vector<uint8_t> out(12);
  put_be16(out.data(), kInfoExport);
  put_be64(out.data() + 2, size);
  put_be16(out.data() + 10, tx_flags);
  return out;
}

std::vector<uint8_t> encode_info_block_size(uint32_t min, uint32_t preferred, uint32_t max) {
  std::vector<uint8_t> out(14);
  put_be16(out.data(), kInfoBlockSize);
  put_be32(out.data() + 2, min);
  put_be32(out.data() + 6, preferred);
  put_be32(out.data() + 10, max);
  return out;
}

std::vector<uint8_t> encode_info_string(uint16_t type, std::string_view text) {
  std::vector<uint8_t> out(2 + text.size());
  put_be16(out.data(), type);
  std::copy(text.begin(), text.end(), out.begin() + 2);
  return out;
}

std::vector<uint8_t> encode_rep_server(std::string_view name) {
  std::vector<uint8_t> out(4 + name.size());
  put_be32(out.data(), uint32_t(name.size()));
  std::copy(name.begin(), name.end(), out.begin() + 4);
  return out;
}

std::vector<uint8_t> encode_export_name_reply(uint64_t size, uint16_t tx_flags, bool no_zeroes) {
  std::vector<uint8_t> out(10 + (no_zeroes ? 0 : kExportNameZeroes), 0);
  put_be64(out.data(), size);
  put_be16(out.data() + 8, tx_flags);
  return out;
}

Result<Request> decode_request(std::span<const uint8_t, kRequestSize> bytes) {
  const uint8_t* p = bytes.data();
  if (get_be32(p) != kRequestMagic) {
    return Status(Err::corrupt, "request has a bad magic");
  }
  Request r;
  r.flags = get_be16(p + 4);
  r.type = get_be16(p + 6);
  r.cookie = get_be64(p + 8);
  r.offset = get_be64(p + 16);
  r.length = get_be32(p + 24);
  return r;
}

std::array<uint8_t, kRequestSize> encode_request(const Request& r) {
  std::array<uint8_t, kRequestSize> out{};
  put_be32(out.data(), kRequestMagic);
  put_be16(out.data() + 4, r.flags);
  put_be16(out.data() + 6, r.type);
  put_be64(out.data() + 8, r.cookie);
  put_be64(out.data() + 16, r.offset);
  put_be32(out.data() + 24, r.length);
  return out;
}

std::array<uint8_t, kSimpleReplySize> encode_simple_reply(uint32_t error, uint64_t cookie) {
  std::array<uint8_t, kSimpleReplySize> out{};
  put_be32(out.data(), kSimpleReplyMagic);
  put_be32(out.data() + 4, error);
  put_be64(out.data() + 8, cookie);
  return out;
}

Result<SimpleReply> decode_simple_reply(std::span<const uint8_t, kSimpleReplySize> bytes) {
  if (get_be32(bytes.data()) != kSimpleReplyMagic) {
    return Status(Err::corrupt, "reply has a bad magic");
  }
  return SimpleReply{get_be32(bytes.data() + 4), get_be64(bytes.data() + 8)};
}

uint16_t transmission_flags(const ExportLimits& limits) {
  uint16_t f = kTxHasFlags | kTxSendFlush | kTxSendFua | kTxSendWriteZeroes | kTxCanMultiConn;
  if (limits.trim) f |= kTxSendTrim;
  if (limits.read_only) f |= kTxReadOnly;
  return f;
}

uint32_t validate_request(const Request& r, const ExportLimits& limits) {
  const Cmd cmd = static_cast<Cmd>(r.type);
  uint16_t allowed_flags = kCmdFlagFua;
  switch (cmd) {
    case Cmd::read:
    case Cmd::write:
    case Cmd::trim:
    case Cmd::flush:
    case Cmd::disc:
      break;
    case Cmd::write_zeroes:
      allowed_flags |= kCmdFlagNoHole;
      break;
    default:
      return kEinval;  // CACHE, BLOCK_STATUS, RESIZE and unknown: never advertised
  }
  if (r.flags & ~allowed_flags) return kEinval;

  const bool writes = cmd == Cmd::write || cmd == Cmd::trim || cmd == Cmd::write_zeroes;
  if (writes && limits.read_only) return kEperm;
  if (cmd == Cmd::trim && !limits.trim) return kEinval;
  if (cmd == Cmd::flush || cmd == Cmd::disc) {
    return (r.offset != 0 || r.length != 0) ? kEinval : 0;
  }
  if (limits.min_block > 1 && (r.offset % limits.min_block || r.length % limits.min_block)) {
    return kEinval;
  }
  if ((cmd == Cmd::read || cmd == Cmd::write) && r.length > limits.max_payload) return kEinval;
  const bool past_end = r.offset > limits.size || r.length > limits.size - r.offset;
  if (past_end) return (cmd == Cmd::write || cmd == Cmd::write_zeroes) ? kEnospc : kEinval;
  return 0;
}

uint32_t nbd_error_from(const Status& s) {
  switch (s.code()) {
    case Err::ok:
      return 0;
    case Err::invalid:
      return kEinval;
    case Err::no_space:
      return kEnospc;
    case Err::unsupported:
      return kEnotsup;
    case Err::retry:
      return kEnomem;
    default:
      return kEio;
  }
}

const char* command_name(uint16_t type) {
  switch (static_cast<Cmd>(type)) {
    case Cmd::read:
      return "READ";
    case Cmd::write:
      return "WRITE";
    case Cmd::disc:
      return "DISC";
    case Cmd::flush:
      return "FLUSH";
    case Cmd::trim:
      return "TRIM";
    case Cmd::cache:
      return "CACHE";
    case Cmd::write_zeroes:
      return "WRITE_ZEROES";
    case Cmd::block_status:
      return "BLOCK_STATUS";
    case Cmd::resize:
      return "RESIZE";
  }
  return "unknown";
}

const char* option_name(uint32_t option) {
  switch (static_cast<Opt>(option)) {
    case Opt::export_name:
      return "EXPORT_NAME";
    case Opt::abort:
      return "ABORT";
    case Opt::list:
      return "LIST";
    case Opt::peek_export:
      return "PEEK_EXPORT";
    case Opt::starttls:
      return "STARTTLS";
    case Opt::info:
      return "INFO";
    case Opt::go:
      return "GO";
    case Opt::structured_reply:
      return "STRUCTURED_REPLY";
    case Opt::list_meta_context:
      return "LIST_META_CONTEXT";
    case Opt::set_meta_context:
      return "SET_META_CONTEXT";
    case Opt::extended_headers:
      return "EXTENDED_HEADERS";
  }
  return "unknown";
}

}  // namespace umd::nbd
