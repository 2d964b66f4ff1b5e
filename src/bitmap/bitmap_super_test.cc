#include "bitmap/bitmap_super.h"

#include <gtest/gtest.h>

#include "util/endian.h"

namespace umd::bitmap {
namespace {

BitmapSuper sample() {
  BitmapSuper sb;
  sb.version = kVersionClustered;
  for (int i = 0; i < 16; i++) sb.uuid[size_t(i)] = uint8_t(0x30 + i);
  sb.events = 0x1'0000'0002ull;
  sb.events_cleared = 0x1'0000'0001ull;
  sb.sync_size = 0x12'3456'7890ull;
  sb.state = (1u << kStateStale) | (1u << kStateHostEndian);
  sb.chunksize = 64 * 1024;
  sb.daemon_sleep = 5;
  sb.write_behind = 256;
  sb.sectors_reserved = 256;
  sb.nodes = 4;
  const char name[] = "cluster-a";
  std::copy(name, name + sizeof name - 1, sb.cluster_name.begin());
  sb.pad[119] = 0x5a;  // kept, not checked: the kernel ignores it
  return sb;
}

TEST(BitmapSuper, RoundTripsEveryField) {
  const BitmapSuper sb = sample();
  const auto bytes = encode_bitmap_super(sb);
  auto back = decode_bitmap_super(bytes);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(*back, sb);
  EXPECT_EQ(back->cluster_name_str(), "cluster-a");
  EXPECT_EQ(encode_bitmap_super(*back), bytes);
}

TEST(BitmapSuper, FieldOffsetsAsMdBitmapH) {
  const auto b = encode_bitmap_super(sample());
  EXPECT_EQ(get_le32(b.data() + 0), kBitmapMagic);
  EXPECT_EQ(b[0], 'b');  // "bitm" on disk
  EXPECT_EQ(get_le32(b.data() + 4), 5u);
  EXPECT_EQ(b[8], 0x30);
  EXPECT_EQ(get_le64(b.data() + 24), 0x1'0000'0002ull);
  EXPECT_EQ(get_le64(b.data() + 32), 0x1'0000'0001ull);
  EXPECT_EQ(get_le64(b.data() + 40), 0x12'3456'7890ull);
  EXPECT_EQ(get_le32(b.data() + 48), 0x8002u);
  EXPECT_EQ(get_le32(b.data() + 52), 65536u);
  EXPECT_EQ(get_le32(b.data() + 56), 5u);
  EXPECT_EQ(get_le32(b.data() + 60), 256u);
  EXPECT_EQ(get_le32(b.data() + 64), 256u);
  EXPECT_EQ(get_le32(b.data() + 68), 4u);
  EXPECT_EQ(b[72], 'c');
  EXPECT_EQ(b[255], 0x5a);
}

TEST(BitmapSuper, ChunkUnitsDependOnVersion) {
  BitmapSuper sb;
  sb.chunksize = 65536;
  sb.sync_size = 63488;  // 31 MiB
  EXPECT_EQ(sb.chunk_bytes(), 65536u);
  EXPECT_EQ(sb.chunk_sectors(), 128u);
  EXPECT_EQ(sb.chunks(), 496u);
  sb.version = kVersionLockless;
  sb.chunksize = 128;  // sectors
  EXPECT_EQ(sb.chunk_bytes(), 65536u);
  EXPECT_EQ(sb.chunk_sectors(), 128u);
  EXPECT_EQ(sb.chunks(), 496u);
  sb.sync_size = 63489;
  EXPECT_EQ(sb.chunks(), 497u);
}

Status decode_status(const BitmapSuper& sb) {
  return decode_bitmap_super(encode_bitmap_super(sb)).status();
}

TEST(BitmapSuper, Truncated) {
  const auto b = encode_bitmap_super(sample());
  auto r = decode_bitmap_super(std::span<const uint8_t>(b.data(), 255));
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos);
}

TEST(BitmapSuper, BadMagicIsNotABitmap) {
  BitmapSuper sb = sample();
  sb.magic = 0xa92b4efc;
  const Status s = decode_status(sb);
  EXPECT_EQ(s.code(), Err::not_found);
  EXPECT_NE(s.message().find("0xa92b4efc"), std::string::npos) << s.message();
}

TEST(BitmapSuper, UnknownVersions) {
  for (uint32_t v : {0u, 2u, 7u, 0x04000000u}) {
    BitmapSuper sb = sample();
    sb.version = v;
    const Status s = decode_status(sb);
    EXPECT_EQ(s.code(), Err::unsupported) << v;
    EXPECT_NE(s.message().find("version " + std::to_string(v)), std::string::npos) << s.message();
  }
  for (uint32_t v : {3u, 4u, 5u}) {
    BitmapSuper sb = sample();
    sb.version = v;
    EXPECT_TRUE(decode_status(sb).is_ok()) << v;
  }
}

TEST(BitmapSuper, ChunksizeChecks) {
  BitmapSuper sb = sample();
  sb.chunksize = 0;
  EXPECT_NE(decode_status(sb).message().find("below 512"), std::string::npos);
  sb.chunksize = 256;
  EXPECT_NE(decode_status(sb).message().find("below 512"), std::string::npos);
  sb.chunksize = 3 * 65536;
  const Status s = decode_status(sb);
  EXPECT_EQ(s.code(), Err::corrupt);
  EXPECT_NE(s.message().find("not a power of two"), std::string::npos) << s.message();
  sb.chunksize = 512;
  EXPECT_TRUE(decode_status(sb).is_ok());
}

TEST(BitmapSuper, DaemonSleepAndWriteBehindChecks) {
  BitmapSuper sb = sample();
  sb.daemon_sleep = 0;
  EXPECT_NE(decode_status(sb).message().find("daemon_sleep"), std::string::npos);
  sb = sample();
  sb.write_behind = kMaxWriteBehind;
  EXPECT_TRUE(decode_status(sb).is_ok());
  sb.write_behind = kMaxWriteBehind + 1;
  EXPECT_NE(decode_status(sb).message().find("write_behind 16384"), std::string::npos);
}

TEST(BitmapSuper, LocklessChecks) {
  BitmapSuper sb;
  sb.version = kVersionLockless;
  sb.chunksize = 128;
  sb.daemon_sleep = 30;
  EXPECT_TRUE(decode_status(sb).is_ok());  // 128 sectors: fine although below 512 "bytes"
  sb.chunksize = 96;
  EXPECT_NE(decode_status(sb).message().find("96 sectors is not a power of two"),
            std::string::npos);
  // Not yet initialised: mdadm leaves the rest to the kernel.
  sb.set_state(kStateFirstUse, true);
  sb.chunksize = 0;
  sb.daemon_sleep = 0;
  EXPECT_TRUE(decode_status(sb).is_ok());
}

TEST(BitmapSuper, StateFlags) {
  BitmapSuper sb;
  EXPECT_EQ(state_flag_names(sb.state), "");
  sb.set_state(kStateStale, true);
  EXPECT_EQ(sb.state, 2u);  // what mdadm calls "Out of date"
  sb.set_state(kStateFirstUse, true);
  sb.set_state(kStateClean, true);
  EXPECT_EQ(sb.state, 0x1au);
  EXPECT_EQ(state_flag_names(sb.state), "stale,first-use,clean");
  sb.set_state(kStateStale, false);
  EXPECT_FALSE(sb.has_state(kStateStale));
  EXPECT_EQ(state_flag_names(sb.state | 1u | (1u << 20)), "first-use,clean,bit0,bit20");
}

}  // namespace
}  // namespace umd::bitmap
