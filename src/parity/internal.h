// Shared by the parity .cc files; not part of the module's interface.
#pragma once

#include <cstddef>
#include <cstdint>

#include "parity/parity.h"

namespace umd::parity::detail {

// Sources of a row plus P and Q: the most pointers any call hands to ISA-L at once.
inline constexpr size_t kMaxSources = kMaxSlots + 2;
inline constexpr int kMaxRows = 2;

[[noreturn]] void precondition_failed(const char* what);
inline void require(bool cond, const char* what) {
  if (!cond) precondition_failed(what);
}

// out[r] = sum over j of coef[r*k + j] * src[j], for r < rows (1 or 2), any length and
// alignment. Outputs must not overlap the sources.
void lincomb(int k, int rows, const uint8_t* coef, const uint8_t* const* src,
             uint8_t* const* out, size_t len);

// dst = XOR of n sources (n may be 0 or 1). dst must not overlap a source.
void xor_many(const uint8_t* const* src, size_t n, uint8_t* dst, size_t len);

}  // namespace umd::parity::detail
