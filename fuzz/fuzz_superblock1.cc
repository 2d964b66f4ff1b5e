// md superblock 1.x: decode any bytes; what decodes must survive encode -> decode
// unchanged (but the two fields the encoder documents as never written, and the checksum
// it computes afresh), and encoding must then be a fixed point.
#include <cstdint>
#include <span>

#include "format/member_info.h"
#include "format/superblock1.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto sb = umd::decode_superblock1(std::span<const uint8_t>(data, size));
  if (!sb.is_ok()) return 0;
  (void)umd::from_superblock1(*sb);
  (void)sb->name();
  (void)sb->role();
  const std::vector<uint8_t> bytes = umd::encode_superblock1(*sb);
  auto again = umd::decode_superblock1(bytes);
  FUZZ_CHECK(again.is_ok());
  umd::Superblock1 want = *sb;
  want.pad0 = 0;                // encoded as 0
  want.logical_block_size = 0;  // never encoded
  want.sb_csum = again->sb_csum;  // fresh over what was encoded
  FUZZ_CHECK(*again == want);
  FUZZ_CHECK(umd::encode_superblock1(*again) == bytes);
  return 0;
}
