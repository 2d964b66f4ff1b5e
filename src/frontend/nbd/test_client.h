// A tiny blocking NBD client for unit tests: speaks just enough of the protocol to drive the
// server byte by byte, including things real clients never send. Not for production use.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "frontend/nbd/protocol.h"
#include "frontend/nbd/socket_io.h"

namespace umd::nbd::testing {

struct OptionReply {
  uint32_t option = 0;
  uint32_t type = 0;
  std::vector<uint8_t> data;
};

struct ExportReply {
  uint64_t size = 0;
  uint16_t flags = 0;
  uint32_t min_block = 0, preferred_block = 0, max_payload = 0;
  std::string name;
};

class TestClient {
 public:
  explicit TestClient(int fd) : fd_(fd), in_(fd, 4096) {
    timeval tv{10, 0};  // a server that fails to answer fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~TestClient() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

  // Reads the greeting and sends client flags.
  Status greet(uint32_t client_flags = kClientFixedNewstyle | kClientNoZeroes) {
    std::array<uint8_t, kGreetingSize> g{};
    UMD_TRY(in_.read(g));
    if (get_be64(g.data()) != kNbdMagic || get_be64(g.data() + 8) != kOptMagic) {
      return Status(Err::corrupt, "bad greeting");
    }
    handshake_flags = get_be16(g.data() + 16);
    uint8_t f[4];
    put_be32(f, client_flags);
    return write_all(fd_, std::span<const uint8_t>(f, 4));
  }

  Status send_option(uint32_t opt, std::span<const uint8_t> data = {}) {
    std::vector<uint8_t> msg = encode_option_header(opt, uint32_t(data.size()));
    msg.insert(msg.end(), data.begin(), data.end());
    return write_all(fd_, msg);
  }

  Result<OptionReply> read_option_reply() {
    std::array<uint8_t, kOptionReplyHeaderSize> h{};
    UMD_TRY(in_.read(h));
    UMD_ASSIGN_OR_RETURN(OptionReplyHeader hdr, decode_option_reply_header(h));
    OptionReply r{hdr.option, hdr.type, std::vector<uint8_t>(hdr.length)};
    UMD_TRY(in_.read(r.data));
    return r;
  }

  // Reads replies up to and including the final one (ACK or an error).
  Result<std::vector<OptionReply>> read_option_replies() {
    std::vector<OptionReply> out;
    for (;;) {
      UMD_ASSIGN_OR_RETURN(OptionReply r, read_option_reply());
      out.push_back(std::move(r));
      uint32_t t = out.back().type;
      if (t == kRepAck || (t & kRepErrBit)) return out;
    }
  }

  // NBD_OPT_GO (or INFO): Err::not_found with the reply type in the text on an error reply.
  Result<ExportReply> go(const std::string& name = "", bool info_only = false,
                         std::vector<uint16_t> infos = {kInfoBlockSize}) {
    const uint32_t opt = uint32_t(info_only ? Opt::info : Opt::go);
    UMD_TRY(send_option(opt, encode_info_request({name, infos})));
    UMD_ASSIGN_OR_RETURN(auto replies, read_option_replies());
    ExportReply e;
    for (auto& r : replies) {
      if (r.type & kRepErrBit) return Status(Err::not_found, std::to_string(r.type));
      if (r.type != kRepInfo || r.data.size() < 2) continue;
      const uint8_t* p = r.data.data();
      switch (get_be16(p)) {
        case kInfoExport:
          e.size = get_be64(p + 2);
          e.flags = get_be16(p + 10);
          break;
        case kInfoBlockSize:
          e.min_block = get_be32(p + 2);
          e.preferred_block = get_be32(p + 6);
          e.max_payload = get_be32(p + 10);
          break;
        case kInfoName:
          e.name.assign(r.data.begin() + 2, r.data.end());
          break;
      }
    }
    return e;
  }

  Status send_request(uint16_t type, uint64_t cookie, uint64_t offset, uint32_t length,
                      uint16_t flags = 0, std::span<const uint8_t> payload = {}) {
    auto hdr = encode_request({flags, type, cookie, offset, length});
    std::vector<uint8_t> msg(hdr.begin(), hdr.end());
    msg.insert(msg.end(), payload.begin(), payload.end());
    return write_all(fd_, msg);
  }

  Result<SimpleReply> read_reply() {
    std::array<uint8_t, kSimpleReplySize> b{};
    UMD_TRY(in_.read(b));
    return decode_simple_reply(b);
  }
  Status read_data(std::span<uint8_t> out) { return in_.read(out); }

  // One synchronous request; returns the NBD error (or ~0u on a transport failure).
  uint32_t call(Cmd cmd, uint64_t offset, uint32_t length, uint16_t flags = 0,
                std::span<const uint8_t> payload = {}, std::vector<uint8_t>* read_out = nullptr) {
    const uint64_t cookie = next_cookie_++;
    if (!send_request(uint16_t(cmd), cookie, offset, length, flags, payload).is_ok()) return ~0u;
    Result<SimpleReply> r = read_reply();
    if (!r.is_ok() || r->cookie != cookie) return ~0u;
    if (cmd == Cmd::read && r->error == 0) {
      std::vector<uint8_t> data(length);
      if (!in_.read(data).is_ok()) return ~0u;
      if (read_out) *read_out = std::move(data);
    }
    return r->error;
  }

  // True when the server closed the connection (EOF) within a short wait.
  bool closed_by_server() {
    uint8_t b;
    return in_.read(std::span<uint8_t>(&b, 1)).code() == Err::not_found;
  }

  uint16_t handshake_flags = 0;

 private:
  int fd_;
  SocketReader in_;
  uint64_t next_cookie_ = 1;
};

}  // namespace umd::nbd::testing
