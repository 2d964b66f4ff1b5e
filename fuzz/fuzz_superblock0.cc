// md superblock 0.90: decode any bytes; what decodes must survive encode -> decode
// unchanged (but logical_block_size, never encoded, and the
// checksum, computed afresh), and encoding must then be a fixed point.
#include <cstdint>
#include <span>

#include "format/member_info.h"
#include "format/superblock0.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto sb = umd::decode_superblock0(std::span<const uint8_t>(data, size));
  if (!sb.is_ok()) return 0;
  (void)umd::from_superblock0(*sb, 1 << 20);
  const std::vector<uint8_t> bytes = umd::encode_superblock0(*sb);
  auto again = umd::decode_superblock0(bytes);
  FUZZ_CHECK(again.is_ok());
  umd::Superblock0 want = *sb;
  want.logical_block_size = 0;    // decoded only, encoded as 0
  want.sb_csum = again->sb_csum;  // fresh: reserved words the input may have set encode as zero
  FUZZ_CHECK(*again == want);
  FUZZ_CHECK(umd::encode_superblock0(*again) == bytes);
  return 0;
}
