#include "frontend/nbd/protocol.h"

#include <gtest/gtest.h>

namespace umd::nbd {
namespace {

TEST(NbdProtocol, BigEndianHelpers) {
  uint8_t b[8];
  put_be64(b, 0x0102030405060708ull);
  EXPECT_EQ(b[0], 1);
  EXPECT_EQ(b[7], 8);
  EXPECT_EQ(get_be64(b), 0x0102030405060708ull);
  EXPECT_EQ(get_be32(b), 0x01020304u);
  EXPECT_EQ(get_be16(b), 0x0102u);
}

TEST(NbdProtocol, GreetingBytes) {
  auto g = encode_greeting(kFlagFixedNewstyle | kFlagNoZeroes);
  const std::string magic(reinterpret_cast<const char*>(g.data()), 16);
  EXPECT_EQ(magic, "NBDMAGICIHAVEOPT");
  EXPECT_EQ(g[16], 0);
  EXPECT_EQ(g[17], 3);
}

TEST(NbdProtocol, ClientFlags) {
  auto dec = [](uint32_t f, uint16_t offered) {
    uint8_t b[4];
    put_be32(b, f);
    return decode_client_flags(std::span<const uint8_t, 4>(b, 4), offered);
  };
  EXPECT_EQ(*dec(0, 3), 0u);
  EXPECT_EQ(*dec(3, 3), 3u);
  EXPECT_FALSE(dec(2, kFlagFixedNewstyle).is_ok());  // NO_ZEROES not offered
  EXPECT_FALSE(dec(4, 3).is_ok());                   // unknown bit
  EXPECT_FALSE(dec(0x80000000u, 3).is_ok());
}

TEST(NbdProtocol, OptionHeaderRoundTripAndBadMagic) {
  auto b = encode_option_header(7, 42);
  ASSERT_EQ(b.size(), kOptionHeaderSize);
  auto h = decode_option_header(std::span<const uint8_t, kOptionHeaderSize>(b.data(), 16));
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->option, 7u);
  EXPECT_EQ(h->length, 42u);
  b[3] ^= 1;
  EXPECT_EQ(decode_option_header(std::span<const uint8_t, 16>(b.data(), 16)).status().code(),
            Err::corrupt);
}

TEST(NbdProtocol, OptionReplyLayout) {
  const uint8_t data[] = {9, 8, 7};
  auto r = encode_option_reply(6, kRepErrUnknown, data);
  ASSERT_EQ(r.size(), kOptionReplyHeaderSize + 3);
  EXPECT_EQ(get_be64(r.data()), kOptReplyMagic);
  EXPECT_EQ(get_be32(r.data() + 8), 6u);
  EXPECT_EQ(get_be32(r.data() + 12), 0x80000006u);
  EXPECT_EQ(get_be32(r.data() + 16), 3u);
  EXPECT_EQ(r[22], 7);
  auto h = decode_option_reply_header(std::span<const uint8_t, 20>(r.data(), 20));
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->type, kRepErrUnknown);
}

TEST(NbdProtocol, InfoRequestRoundTrip) {
  InfoRequest req{"array0", {kInfoBlockSize, kInfoName}};
  auto b = encode_info_request(req);
  EXPECT_EQ(b.size(), 4 + 6 + 2 + 4u);
  auto d = decode_info_request(b);
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->name, "array0");
  EXPECT_EQ(d->infos, req.infos);
  auto empty = decode_info_request(encode_info_request({"", {}}));
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->name.empty());
}

TEST(NbdProtocol, InfoRequestMalformed) {
  std::vector<uint8_t> b = encode_info_request({"abc", {3}});
  // Too short for the fixed fields.
  EXPECT_EQ(decode_info_request(std::span<const uint8_t>(b.data(), 5)).status().code(),
            Err::invalid);
  // Name length runs past the data.
  auto bad = b;
  put_be32(bad.data(), 1000);
  EXPECT_FALSE(decode_info_request(bad).is_ok());
  put_be32(bad.data(), 0xffffffffu);  // overflow-prone
  EXPECT_FALSE(decode_info_request(bad).is_ok());
  // Info count does not match the bytes left (too many, too few).
  bad = b;
  put_be16(bad.data() + 7, 2);
  EXPECT_FALSE(decode_info_request(bad).is_ok());
  bad = b;
  bad.push_back(0);
  EXPECT_FALSE(decode_info_request(bad).is_ok());
  // Name over 4096 bytes.
  auto big = encode_info_request({std::string(5000, 'x'), {}});
  EXPECT_FALSE(decode_info_request(big).is_ok());
}

TEST(NbdProtocol, InfoPayloads) {
  auto e = encode_info_export(1ull << 40, 0x1234);
  ASSERT_EQ(e.size(), 12u);
  EXPECT_EQ(get_be16(e.data()), kInfoExport);
  EXPECT_EQ(get_be64(e.data() + 2), 1ull << 40);
  EXPECT_EQ(get_be16(e.data() + 10), 0x1234);
  auto bs = encode_info_block_size(512, 4096, 32u << 20);
  ASSERT_EQ(bs.size(), 14u);
  EXPECT_EQ(get_be32(bs.data() + 2), 512u);
  EXPECT_EQ(get_be32(bs.data() + 6), 4096u);
  EXPECT_EQ(get_be32(bs.data() + 10), 32u << 20);
  auto s = encode_rep_server("md0");
  EXPECT_EQ(get_be32(s.data()), 3u);
  EXPECT_EQ(s.size(), 7u);
  EXPECT_EQ(encode_export_name_reply(1, 1, false).size(), 134u);
  EXPECT_EQ(encode_export_name_reply(1, 1, true).size(), 10u);
}

TEST(NbdProtocol, RequestRoundTripAndBadMagic) {
  Request r{kCmdFlagFua, uint16_t(Cmd::write), 0xdeadbeefcafef00dull, 1ull << 33, 4096};
  auto b = encode_request(r);
  EXPECT_EQ(get_be32(b.data()), kRequestMagic);
  auto d = decode_request(b);
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->flags, r.flags);
  EXPECT_EQ(d->type, r.type);
  EXPECT_EQ(d->cookie, r.cookie);
  EXPECT_EQ(d->offset, r.offset);
  EXPECT_EQ(d->length, r.length);
  b[0] = 0;
  EXPECT_EQ(decode_request(b).status().code(), Err::corrupt);
}

TEST(NbdProtocol, SimpleReplyRoundTrip) {
  auto b = encode_simple_reply(kEnospc, 77);
  auto d = decode_simple_reply(b);
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->error, kEnospc);
  EXPECT_EQ(d->cookie, 77u);
  b[1] ^= 0xff;
  EXPECT_FALSE(decode_simple_reply(b).is_ok());
}

TEST(NbdProtocol, TransmissionFlags) {
  ExportLimits l;
  uint16_t f = transmission_flags(l);
  EXPECT_EQ(f, kTxHasFlags | kTxSendFlush | kTxSendFua | kTxSendTrim | kTxSendWriteZeroes |
                   kTxCanMultiConn);
  l.read_only = true;
  l.trim = false;
  f = transmission_flags(l);
  EXPECT_TRUE(f & kTxReadOnly);
  EXPECT_FALSE(f & kTxSendTrim);
  EXPECT_FALSE(f & kTxSendDf);  // structured replies are never negotiated
  EXPECT_FALSE(f & kTxSendFastZero);
}

// The table in protocol.h's "WHAT HAPPENS TO A BAD REQUEST", row by row.
TEST(NbdProtocol, ValidateRequestMatchesDocumentedTable) {
  ExportLimits l{.size = 1 << 20,
                 .min_block = 512,
                 .max_payload = 64 * 1024,
                 .read_only = false,
                 .trim = true};
  ExportLimits ro = l;
  ro.read_only = true;
  ExportLimits notrim = l;
  notrim.trim = false;
  auto v = [](Cmd c, uint64_t off, uint32_t len, uint16_t flags, const ExportLimits& lim) {
    return validate_request({flags, uint16_t(c), 1, off, len}, lim);
  };
  struct Row {
    const char* what;
    uint32_t got, want;
  };
  const Row rows[] = {
      {"good read", v(Cmd::read, 0, 4096, 0, l), 0},
      {"good write fua", v(Cmd::write, 4096, 4096, kCmdFlagFua, l), 0},
      {"fua on read accepted", v(Cmd::read, 0, 512, kCmdFlagFua, l), 0},
      {"fua on flush accepted", v(Cmd::flush, 0, 0, kCmdFlagFua, l), 0},
      {"no_hole on write_zeroes", v(Cmd::write_zeroes, 0, 512, kCmdFlagNoHole, l), 0},
      {"cache unknown", v(Cmd::cache, 0, 512, 0, l), kEinval},
      {"block_status unknown", v(Cmd::block_status, 0, 512, 0, l), kEinval},
      {"type 99 unknown", validate_request({0, 99, 1, 0, 512}, l), kEinval},
      {"unknown flag", v(Cmd::read, 0, 512, 1u << 9, l), kEinval},
      {"no_hole on write", v(Cmd::write, 0, 512, kCmdFlagNoHole, l), kEinval},
      {"df not negotiated", v(Cmd::read, 0, 512, kCmdFlagDf, l), kEinval},
      {"fast_zero not offered", v(Cmd::write_zeroes, 0, 512, kCmdFlagFastZero, l), kEinval},
      {"req_one", v(Cmd::read, 0, 512, kCmdFlagReqOne, l), kEinval},
      {"write on ro", v(Cmd::write, 0, 512, 0, ro), kEperm},
      {"trim on ro", v(Cmd::trim, 0, 512, 0, ro), kEperm},
      {"write_zeroes on ro", v(Cmd::write_zeroes, 0, 512, 0, ro), kEperm},
      {"ro checked before range", v(Cmd::write, 1 << 20, 512, 0, ro), kEperm},
      {"read on ro", v(Cmd::read, 0, 512, 0, ro), 0},
      {"flush on ro", v(Cmd::flush, 0, 0, 0, ro), 0},
      {"trim not advertised", v(Cmd::trim, 0, 512, 0, notrim), kEinval},
      {"unaligned offset", v(Cmd::read, 100, 512, 0, l), kEinval},
      {"unaligned length", v(Cmd::write, 0, 100, 0, l), kEinval},
      {"read over max payload", v(Cmd::read, 0, 128 * 1024, 0, l), kEinval},
      {"write over max payload", v(Cmd::write, 0, 128 * 1024, 0, l), kEinval},
      {"trim over max payload", v(Cmd::trim, 0, 128 * 1024, 0, l), 0},
      {"write_zeroes over max payload", v(Cmd::write_zeroes, 0, 128 * 1024, 0, l), 0},
      {"write past end", v(Cmd::write, (1 << 20) - 512, 1024, 0, l), kEnospc},
      {"write_zeroes past end", v(Cmd::write_zeroes, 1 << 20, 512, 0, l), kEnospc},
      {"read past end", v(Cmd::read, 1 << 20, 512, 0, l), kEinval},
      {"trim past end", v(Cmd::trim, (1 << 20) - 512, 1024, 0, l), kEinval},
      {"offset overflow", v(Cmd::read, ~0ull - 511, 512, 0, l), kEinval},
      {"read ending exactly at the end", v(Cmd::read, (1 << 20) - 512, 512, 0, l), 0},
      {"flush with offset", v(Cmd::flush, 512, 0, 0, l), kEinval},
      {"flush with length", v(Cmd::flush, 0, 512, 0, l), kEinval},
      {"disc with length", v(Cmd::disc, 0, 512, 0, l), kEinval},
      {"zero-length read", v(Cmd::read, 4096, 0, 0, l), 0},
      {"zero-length read at the end", v(Cmd::read, 1 << 20, 0, 0, l), 0},
      {"zero-length read past the end", v(Cmd::read, 2 << 20, 0, 0, l), kEinval},
  };
  for (const Row& r : rows) EXPECT_EQ(r.got, r.want) << r.what;
}

TEST(NbdProtocol, ErrorMappingPerBlockTargetContract) {
  EXPECT_EQ(nbd_error_from(Status::ok()), 0u);
  EXPECT_EQ(nbd_error_from(Status(Err::io, "x")), kEio);
  EXPECT_EQ(nbd_error_from(Status(Err::corrupt, "x")), kEio);
  EXPECT_EQ(nbd_error_from(Status(Err::busy, "x")), kEio);
  EXPECT_EQ(nbd_error_from(Status(Err::not_found, "x")), kEio);
  EXPECT_EQ(nbd_error_from(Status(Err::invalid, "x")), kEinval);
  EXPECT_EQ(nbd_error_from(Status(Err::no_space, "x")), kEnospc);
  EXPECT_EQ(nbd_error_from(Status(Err::unsupported, "x")), kEnotsup);
  EXPECT_EQ(nbd_error_from(Status(Err::retry, "x")), kEnomem);
}

TEST(NbdProtocol, Names) {
  EXPECT_STREQ(command_name(uint16_t(Cmd::write_zeroes)), "WRITE_ZEROES");
  EXPECT_STREQ(command_name(1234), "unknown");
  EXPECT_STREQ(option_name(uint32_t(Opt::go)), "GO");
  EXPECT_STREQ(option_name(99), "unknown");
}

}  // namespace
}  // namespace umd::nbd
