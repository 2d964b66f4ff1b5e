// The NBD wire protocol as umd speaks it: a pure codec (bytes <-> structs, big-endian, no
// I/O) plus the request rules, so everything the server decides about a message is testable
// without a socket. Source of the facts: NetworkBlockDevice/nbd doc/proto.md.
//
// HANDSHAKE (fixed newstyle only; oldstyle is never offered)
//   S: "NBDMAGIC" "IHAVEOPT" u16 handshake flags = FIXED_NEWSTYLE | NO_ZEROES
//   C: u32 client flags. Any bit other than C_FIXED_NEWSTYLE / C_NO_ZEROES -> hard disconnect.
//      A client that omits C_FIXED_NEWSTYLE is still answered in fixed style (spec: MAY).
//   Then options, each "IHAVEOPT" u32 option u32 length + data, answered with
//   u64 0x3e889045565a9, u32 option, u32 reply type, u32 length + data:
//     GO / INFO      name "" (default) or the export name: NBD_REP_INFO(EXPORT: size, flags),
//                    NBD_REP_INFO(BLOCK_SIZE: min = target block_size, preferred =
//                    max(target preferred, min), max = max payload) always, NAME and
//                    DESCRIPTION when asked, then ACK. GO enters transmission. Other names ->
//                    ERR_UNKNOWN; malformed data -> ERR_INVALID. A GO without a BLOCK_SIZE
//                    request is accepted: misaligned commands are then failed cleanly.
//     EXPORT_NAME    known name -> u64 size, u16 flags (+124 zero bytes unless NO_ZEROES was
//                    negotiated), transmission. Unknown name -> hard disconnect (spec MUST).
//     LIST           one NBD_REP_SERVER (the export name) then ACK; data -> ERR_INVALID.
//     ABORT          ACK, then close.
//     anything else  ERR_UNSUP, including STRUCTURED_REPLY (so replies are always simple),
//                    STARTTLS and the META_CONTEXT options. Data is skipped using the length.
//   Option data longer than kMaxOptionLength is read and discarded, and answered ERR_INVALID.
//   While the server is stopping, options other than ABORT get ERR_SHUTDOWN.
//
// TRANSMISSION (simple replies only)
//   C: u32 0x25609513, u16 command flags, u16 type, u64 cookie, u64 offset, u32 length
//      (+ length bytes for WRITE)
//   S: u32 0x67446698, u32 error, u64 cookie (+ length bytes for a successful READ)
//   Transmission flags: HAS_FLAGS, SEND_FLUSH, SEND_FUA, SEND_WRITE_ZEROES, CAN_MULTI_CONN,
//   SEND_TRIM when the target supports trim, READ_ONLY when the target is read-only.
//   Requests are submitted to the BlockTarget as soon as they are read; many are in flight per
//   connection and replies go out in completion order, cookie echoed untouched.
//
// FLUSH, FUA AND MULTI-CONN
//   - FUA on WRITE / WRITE_ZEROES / TRIM is passed to the target (BlockRequest::fua), whose
//     contract makes the data durable before `done`. FUA on READ / FLUSH is accepted and ignored
//     (the spec says the server MUST accept it on every command).
//   - A reply is sent only after the target's `done`; a FLUSH is submitted to the target at the
//     moment it is read off the socket. The target acknowledges a flush only once every write it
//     acknowledged before the flush was submitted is durable. Any write whose reply a client
//     has seen -- on this connection or any other -- was acknowledged by the target before
//     the reply was sent, hence before the client sent the FLUSH, hence before we submitted it.
//     So a FLUSH covers every write COMPLETED on ALL connections, which is exactly what
//     CAN_MULTI_CONN promises; there is no per-connection write cache to drain.
//
// WHAT HAPPENS TO A BAD REQUEST (validate_request; never forwarded to the target)
//   bad request magic                          -> hard disconnect (stream is out of sync)
//   unknown command (CACHE, BLOCK_STATUS, ...) -> EINVAL
//   unknown flag, or NO_HOLE off WRITE_ZEROES, DF, FAST_ZERO, REQ_ONE -> EINVAL
//   WRITE / TRIM / WRITE_ZEROES on read-only    -> EPERM (checked first: the export is ro)
//   TRIM when SEND_TRIM was not advertised      -> EINVAL
//   offset or length not a multiple of min block -> EINVAL
//   READ / WRITE longer than max payload        -> EINVAL (a WRITE's payload is still read
//                                                  and discarded so the stream stays in sync)
//   TRIM / WRITE_ZEROES longer than max payload -> allowed (no payload; spec permits it)
//   range past the end: WRITE / WRITE_ZEROES    -> ENOSPC; READ / TRIM -> EINVAL
//   FLUSH / DISC with nonzero offset or length  -> EINVAL (DISC still disconnects)
//   length 0 (spec: unspecified, must not disconnect) -> success without touching the target
//   Target errors map per block_target.h: invalid -> EINVAL, no_space -> ENOSPC, unsupported
//   -> ENOTSUP, retry -> ENOMEM (the spec's list has no EAGAIN; ENOMEM is its only transient
//   error), everything else -> EIO.
//
// TERMINATION
//   DISC: stop reading, let in-flight requests finish and send their replies, close. A client
//   that vanishes: in-flight requests still complete, their replies are dropped, and the
//   connection is freed after the last completion. Server stop: stop accepting, shut the read
//   side of every connection, drain in-flight requests, close.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace umd::nbd {

// ---- magics ----
inline constexpr uint64_t kNbdMagic = 0x4e42444d41474943ull;  // "NBDMAGIC"
inline constexpr uint64_t kOptMagic = 0x49484156454F5054ull;  // "IHAVEOPT"
inline constexpr uint64_t kOptReplyMagic = 0x3e889045565a9ull;
inline constexpr uint32_t kRequestMagic = 0x25609513u;
inline constexpr uint32_t kSimpleReplyMagic = 0x67446698u;

// ---- handshake flags (server, u16) and client flags (u32) ----
inline constexpr uint16_t kFlagFixedNewstyle = 1u << 0;
inline constexpr uint16_t kFlagNoZeroes = 1u << 1;
inline constexpr uint32_t kClientFixedNewstyle = 1u << 0;
inline constexpr uint32_t kClientNoZeroes = 1u << 1;

// ---- transmission flags (u16) ----
inline constexpr uint16_t kTxHasFlags = 1u << 0;
inline constexpr uint16_t kTxReadOnly = 1u << 1;
inline constexpr uint16_t kTxSendFlush = 1u << 2;
inline constexpr uint16_t kTxSendFua = 1u << 3;
inline constexpr uint16_t kTxRotational = 1u << 4;
inline constexpr uint16_t kTxSendTrim = 1u << 5;
inline constexpr uint16_t kTxSendWriteZeroes = 1u << 6;
inline constexpr uint16_t kTxSendDf = 1u << 7;
inline constexpr uint16_t kTxCanMultiConn = 1u << 8;
inline constexpr uint16_t kTxSendResize = 1u << 9;
inline constexpr uint16_t kTxSendCache = 1u << 10;
inline constexpr uint16_t kTxSendFastZero = 1u << 11;

// ---- options ----
enum class Opt : uint32_t {
  export_name = 1,
  abort = 2,
  list = 3,
  peek_export = 4,
  starttls = 5,
  info = 6,
  go = 7,
  structured_reply = 8,
  list_meta_context = 9,
  set_meta_context = 10,
  extended_headers = 11,
};

// ---- option reply types ----
inline constexpr uint32_t kRepAck = 1;
inline constexpr uint32_t kRepServer = 2;
inline constexpr uint32_t kRepInfo = 3;
inline constexpr uint32_t kRepMetaContext = 4;
inline constexpr uint32_t kRepErrBit = 1u << 31;
inline constexpr uint32_t kRepErrUnsup = kRepErrBit + 1;
inline constexpr uint32_t kRepErrPolicy = kRepErrBit + 2;
inline constexpr uint32_t kRepErrInvalid = kRepErrBit + 3;
inline constexpr uint32_t kRepErrPlatform = kRepErrBit + 4;
inline constexpr uint32_t kRepErrTlsReqd = kRepErrBit + 5;
inline constexpr uint32_t kRepErrUnknown = kRepErrBit + 6;
inline constexpr uint32_t kRepErrShutdown = kRepErrBit + 7;
inline constexpr uint32_t kRepErrBlockSizeReqd = kRepErrBit + 8;
inline constexpr uint32_t kRepErrTooBig = kRepErrBit + 9;

// ---- NBD_INFO types ----
inline constexpr uint16_t kInfoExport = 0;
inline constexpr uint16_t kInfoName = 1;
inline constexpr uint16_t kInfoDescription = 2;
inline constexpr uint16_t kInfoBlockSize = 3;

// ---- commands and command flags ----
enum class Cmd : uint16_t {
  read = 0,
  write = 1,
  disc = 2,
  flush = 3,
  trim = 4,
  cache = 5,
  write_zeroes = 6,
  block_status = 7,
  resize = 8,
};
inline constexpr uint16_t kCmdFlagFua = 1u << 0;
inline constexpr uint16_t kCmdFlagNoHole = 1u << 1;
inline constexpr uint16_t kCmdFlagDf = 1u << 2;
inline constexpr uint16_t kCmdFlagReqOne = 1u << 3;
inline constexpr uint16_t kCmdFlagFastZero = 1u << 4;
inline constexpr uint16_t kCmdFlagPayloadLen = 1u << 5;

// ---- error values (the spec's complete list) ----
inline constexpr uint32_t kEperm = 1;
inline constexpr uint32_t kEio = 5;
inline constexpr uint32_t kEnomem = 12;
inline constexpr uint32_t kEinval = 22;
inline constexpr uint32_t kEnospc = 28;
inline constexpr uint32_t kEoverflow = 75;
inline constexpr uint32_t kEnotsup = 95;
inline constexpr uint32_t kEshutdown = 108;

// ---- sizes ----
inline constexpr size_t kGreetingSize = 18;      // NBDMAGIC IHAVEOPT u16
inline constexpr size_t kOptionHeaderSize = 16;  // IHAVEOPT u32 u32
inline constexpr size_t kOptionReplyHeaderSize = 20;
inline constexpr size_t kRequestSize = 28;
inline constexpr size_t kSimpleReplySize = 16;
inline constexpr size_t kExportNameZeroes = 124;
inline constexpr uint32_t kMaxOptionLength = 64 * 1024;  // names are <= 4096 bytes by spec
inline constexpr uint32_t kMaxNameLength = 4096;
inline constexpr uint32_t kDefaultMaxPayload = 32u << 20;  // 2^25, the spec's safe maximum

// ---- big-endian field access ----
uint16_t get_be16(const uint8_t* p);
uint32_t get_be32(const uint8_t* p);
uint64_t get_be64(const uint8_t* p);
void put_be16(uint8_t* p, uint16_t v);
void put_be32(uint8_t* p, uint32_t v);
void put_be64(uint8_t* p, uint64_t v);

// ---- handshake ----
std::array<uint8_t, kGreetingSize> encode_greeting(uint16_t handshake_flags);
// Client flags with an unknown bit, or C_NO_ZEROES when the server did not offer it, are an
// error (the server must then drop the connection).
Result<uint32_t> decode_client_flags(std::span<const uint8_t, 4> bytes, uint16_t offered);

struct OptionHeader {
  uint32_t option = 0;
  uint32_t length = 0;
};
// Err::corrupt on a bad magic.
Result<OptionHeader> decode_option_header(std::span<const uint8_t, kOptionHeaderSize> bytes);
std::vector<uint8_t> encode_option_header(uint32_t option, uint32_t length);  // client side

// A full option reply: header + data.
std::vector<uint8_t> encode_option_reply(uint32_t option, uint32_t type,
                                         std::span<const uint8_t> data = {});
struct OptionReplyHeader {
  uint32_t option = 0;
  uint32_t type = 0;
  uint32_t length = 0;
};
Result<OptionReplyHeader> decode_option_reply_header(
    std::span<const uint8_t, kOptionReplyHeaderSize> bytes);  // client side

// Data of NBD_OPT_INFO / NBD_OPT_GO.
struct InfoRequest {
  std::string name;
  std::vector<uint16_t> infos;
};
// Err::invalid when the lengths inside do not add up to the option length.
Result<InfoRequest> decode_info_request(std::span<const uint8_t> data);
std::vector<uint8_t> encode_info_request(const InfoRequest& req);  // client side

// NBD_REP_INFO payloads and NBD_REP_SERVER payload.
std::vector<uint8_t> encode_info_export(uint64_t size, uint16_t tx_flags);
std::vector<uint8_t> encode_info_block_size(uint32_t min, uint32_t preferred, uint32_t max);
std::vector<uint8_t> encode_info_string(uint16_t type, std::string_view text);
std::vector<uint8_t> encode_rep_server(std::string_view name);
// Reply to NBD_OPT_EXPORT_NAME: size, flags, and 124 zero bytes unless no_zeroes.
std::vector<uint8_t> encode_export_name_reply(uint64_t size, uint16_t tx_flags, bool no_zeroes);

// ---- transmission ----
struct Request {
  uint16_t flags = 0;
  uint16_t type = 0;
  uint64_t cookie = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
};
// Err::corrupt on a bad magic (the caller hard-disconnects).
Result<Request> decode_request(std::span<const uint8_t, kRequestSize> bytes);
std::array<uint8_t, kRequestSize> encode_request(const Request& r);  // client side

struct SimpleReply {
  uint32_t error = 0;
  uint64_t cookie = 0;
};
std::array<uint8_t, kSimpleReplySize> encode_simple_reply(uint32_t error, uint64_t cookie);
Result<SimpleReply> decode_simple_reply(std::span<const uint8_t, kSimpleReplySize> bytes);

// What the server promised in the handshake; validate_request enforces it.
struct ExportLimits {
  uint64_t size = 0;
  uint32_t min_block = 512;
  uint32_t max_payload = kDefaultMaxPayload;
  bool read_only = false;
  bool trim = true;
};
// The transmission flags that go with `limits` (see the comment at the top).
uint16_t transmission_flags(const ExportLimits& limits);

// 0 when the request may go to the target, otherwise the NBD error to reply with. DISC is
// checked too (nonzero offset/length -> EINVAL), though the server disconnects regardless.
uint32_t validate_request(const Request& r, const ExportLimits& limits);

// Target status -> NBD error value (0 for ok).
uint32_t nbd_error_from(const Status& s);

const char* command_name(uint16_t type);
const char* option_name(uint32_t option);

}  // namespace umd::nbd
