// Bitmap superblocks, classic (versions 3-5) and lockless (6): decode any bytes, round
// trip what decodes (encode(decode(b)) == b for the 256 bytes), and read the bits or the
// state bytes that follow as -X and the running bitmaps do.
#include <algorithm>
#include <cstdint>
#include <span>

#include "bitmap/bitmap_super.h"
#include "bitmap/classic_bits.h"
#include "bitmap/llbitmap_state.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  auto sb = umd::bitmap::decode_bitmap_super(in);
  if (!sb.is_ok()) return 0;
  const auto bytes = umd::bitmap::encode_bitmap_super(*sb);
  FUZZ_CHECK(std::equal(bytes.begin(), bytes.end(), data));
  auto again = umd::bitmap::decode_bitmap_super(bytes);
  FUZZ_CHECK(again.is_ok() && *again == *sb);
  (void)umd::bitmap::state_flag_names(sb->state);
  (void)sb->cluster_name_str();
  const uint64_t chunks = sb->chunks();
  if (sb->lockless()) {
    const auto c = umd::bitmap::count_ll_states(in, chunks);
    FUZZ_CHECK(c.total <= chunks);
    (void)umd::bitmap::format_ll_bits_show(c);
    (void)umd::bitmap::format_ll_metadata_show(umd::bitmap::ll_metadata(*sb, 8));
    if (chunks > 0) (void)umd::bitmap::ll_state_byte(in, std::min<uint64_t>(chunks - 1, size));
  } else {
    const auto bits = in.subspan(umd::bitmap::kClassicBitsOffset);
    const auto c = umd::bitmap::count_dirty(bits, chunks);
    FUZZ_CHECK(c.dirty <= c.total && c.total <= chunks);
    uint64_t in_ranges = 0;
    for (const auto& r : umd::bitmap::dirty_ranges(bits, chunks)) {
      FUZZ_CHECK(r.first <= r.last);
      in_ranges += r.last - r.first + 1;
    }
    FUZZ_CHECK(in_ranges == c.dirty);
  }
  return 0;
}
