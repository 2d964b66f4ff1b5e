// Parity generation and the read-modify-write helpers.
#include "parity/parity.h"

#include <isa-l.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "parity/gf.h"
#include "parity/internal.h"

namespace umd::parity {
namespace detail {
namespace {

// ISA-L takes int lengths; split longer requests at a multiple of every vector width.
constexpr size_t kMaxCall = size_t{1} << 30;

// ISA-L's AVX2/SSE raid kernels use aligned (and non-temporal) loads and stores, and
// pq_gen rejects lengths that are not multiples of 32; the erasure-code kernels do not
// care. Below this alignment only the erasure-code kernels are used.
constexpr uintptr_t kRaidAlign = 32;

bool aligned(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & (kRaidAlign - 1)) == 0; }

uint64_t load64(const uint8_t* s) {
  uint64_t v;
  std::memcpy(&v, s, sizeof v);
  return v;
}
void store64(uint8_t* d, uint64_t v) { std::memcpy(d, &v, sizeof v); }

// Portable XOR for tails and misaligned buffers: not the hot path.
void xor_scalar(const uint8_t* const* src, size_t n, uint8_t* dst, size_t begin, size_t end) {
  size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    uint64_t acc = load64(src[0] + i);
    for (size_t j = 1; j < n; ++j) acc ^= load64(src[j] + i);
    store64(dst + i, acc);
  }
  for (; i < end; ++i) {
    uint8_t acc = src[0][i];
    for (size_t j = 1; j < n; ++j) acc ^= src[j][i];
    dst[i] = acc;
  }
}

// The coefficient tables of the last lincomb() on this thread. A stripe cache calls
// with the same few matrices over and over, so rebuilding them (32 bytes of table per
// coefficient) on every 4 KiB page would be a measurable share of the work.
struct TableCache {
  int k = 0;
  int rows = 0;
  uint8_t coef[kMaxRows * kMaxSources];
  alignas(64) uint8_t tbls[32 * kMaxRows * kMaxSources];
};
thread_local TableCache t_tables;

}  // namespace

void precondition_failed(const char* what) {
  std::fprintf(stderr, "umd::parity: precondition violated: %s\n", what);
  std::abort();
}

void lincomb(int k, int rows, const uint8_t* coef, const uint8_t* const* src,
             uint8_t* const* out, size_t len) {
  if (len == 0) return;
  if (k == 0) {
    for (int r = 0; r < rows; ++r) std::memset(out[r], 0, len);
    return;
  }
  TableCache& tc = t_tables;
  const size_t ncoef = static_cast<size_t>(k) * rows;
  if (tc.k != k || tc.rows != rows || std::memcmp(tc.coef, coef, ncoef) != 0) {
    std::memcpy(tc.coef, coef, ncoef);
    ec_init_tables(k, rows, tc.coef, tc.tbls);
    tc.k = k;
    tc.rows = rows;
  }
  // ISA-L's prototypes are not const-correct; the sources are only read.
  unsigned char* s[kMaxSources];
  unsigned char* o[kMaxRows];
  for (size_t off = 0; off < len; off += kMaxCall) {
    const size_t n = std::min(kMaxCall, len - off);
    for (int j = 0; j < k; ++j) s[j] = const_cast<uint8_t*>(src[j]) + off;
    for (int r = 0; r < rows; ++r) o[r] = out[r] + off;
    ec_encode_data(static_cast<int>(n), k, rows, tc.tbls, s, o);
  }
}

void xor_many(const uint8_t* const* src, size_t n, uint8_t* dst, size_t len) {
  if (len == 0) return;
  if (n == 0) {
    std::memset(dst, 0, len);
    return;
  }
  if (n == 1) {
    if (src[0] != dst) std::memcpy(dst, src[0], len);
    return;
  }
  bool fast = aligned(dst);
  for (size_t j = 0; j < n && fast; ++j) fast = aligned(src[j]);
  size_t bulk = 0;
  if (fast) {
    bulk = len & ~(kRaidAlign - 1);
    void* v[kMaxSources + 1];
    for (size_t off = 0; off < bulk; off += kMaxCall) {
      const size_t m = std::min(kMaxCall, bulk - off);
      for (size_t j = 0; j < n; ++j) v[j] = const_cast<uint8_t*>(src[j]) + off;
      v[n] = dst + off;
      require(xor_gen(static_cast<int>(n + 1), static_cast<int>(m), v) == 0, "xor_gen failed");
    }
  }
  xor_scalar(src, n, dst, bulk, len);
}

}  // namespace detail

using detail::require;

namespace {
// Read-only stand-in for empty slots; pq_gen only reads its sources.
alignas(64) const uint8_t kZeroPage[64 * 1024] = {};
}  // namespace

ParityCaps caps(Scheme s) {
  if (s == Scheme::p) return {.parity_delta = true, .max_recover = 1, .find_culprit = false, .impl = "isa-l"};
  return {.parity_delta = true, .max_recover = 2, .find_culprit = true, .impl = "isa-l"};
}

void gen_p(std::span<const uint8_t* const> data, uint8_t* p, size_t len) {
  require(p != nullptr, "gen_p: P is null");
  require(data.size() <= kMaxSlots, "gen_p: too many slots");
  const uint8_t* src[detail::kMaxSources];
  size_t n = 0;
  for (const uint8_t* d : data)
    if (d) src[n++] = d;
  detail::xor_many(src, n, p, len);
}

void gen_pq(std::span<const uint8_t* const> slots, uint8_t* p, uint8_t* q, size_t len) {
  require(p != nullptr && q != nullptr, "gen_pq: P or Q is null");
  require(slots.size() <= kMaxSlots, "gen_pq: too many slots");
  if (len == 0) return;

  // pq_gen knows only dense rows: slot j is its source j. Trailing empty slots add
  // nothing; empty slots before the last block (ddf) are fed from a shared zero page,
  // in segments no longer than it, which keeps ddf rows on the fast kernel.
  size_t width = slots.size();
  while (width > 0 && slots[width - 1] == nullptr) --width;
  bool fast = width >= 2 && detail::aligned(p) && detail::aligned(q);
  bool holes = false;
  for (size_t j = 0; j < width && fast; ++j) {
    holes |= slots[j] == nullptr;
    fast = slots[j] == nullptr || detail::aligned(slots[j]);
  }

  size_t done = 0;
  if (fast) {
    const size_t bulk = len & ~(detail::kRaidAlign - 1);
    const size_t seg = holes ? sizeof(kZeroPage) : detail::kMaxCall;
    void* v[detail::kMaxSources];
    for (size_t off = 0; off < bulk; off += seg) {
      const size_t m = std::min(seg, bulk - off);
      for (size_t j = 0; j < width; ++j)
        v[j] = slots[j] ? const_cast<uint8_t*>(slots[j]) + off : const_cast<uint8_t*>(kZeroPage);
      v[width] = p + off;
      v[width + 1] = q + off;
      require(pq_gen(static_cast<int>(width + 2), static_cast<int>(m), v) == 0, "pq_gen failed");
    }
    done = bulk;
    if (done == len) return;
  }

  // Misalignment, a single block, or a tail: the general dot product.
  uint8_t coef[detail::kMaxRows * detail::kMaxSources];
  const uint8_t* src[detail::kMaxSources];
  int k = 0;
  for (size_t j = 0; j < width; ++j)
    if (slots[j]) src[k++] = slots[j] + done;
  int i = 0;
  for (size_t j = 0; j < width; ++j)
    if (slots[j]) coef[i++] = 1;
  for (size_t j = 0; j < width; ++j)
    if (slots[j]) coef[i++] = gf::pow_g(j);
  uint8_t* out[2] = {p + done, q + done};
  detail::lincomb(k, 2, coef, src, out, len - done);
}

namespace {

// dst ^= c * src, with ISA-L's multiply-accumulate: it is documented to update dest in
// place, handles any length and alignment, and for c = 1 beats a plain XOR loop here
// because it is hand-vectorized for the widest unit the CPU has.
void mad(uint8_t c, const uint8_t* src, uint8_t* dst, size_t len) {
  alignas(64) unsigned char tbl[32];
  ec_init_tables(1, 1, &c, tbl);
  for (size_t off = 0; off < len; off += detail::kMaxCall) {
    const size_t m = std::min(detail::kMaxCall, len - off);
    unsigned char* out = dst + off;
    ec_encode_data_update(static_cast<int>(m), 1, 1, 0, tbl, const_cast<uint8_t*>(src) + off, &out);
  }
}

}  // namespace

void xor_into(uint8_t* dst, const uint8_t* src, size_t len) { mad(1, src, dst, len); }

void q_delta(size_t slot, const uint8_t* old_xor_new, uint8_t* q, size_t len) {
  mad(gf::pow_g(slot), old_xor_new, q, len);
}

}  // namespace umd::parity
