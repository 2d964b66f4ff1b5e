// GF(2^8) with md's raid6 field: polynomial x^8+x^4+x^3+x^2+1 (0x11d), generator 2.
// ISA-L uses the same field, which is what makes its kernels usable for md's Q; these
// small tables serve the scalar work (coefficients, logs) around the vector kernels.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace umd::parity::gf {

struct Tables {
  std::array<uint8_t, 510> exp{};  // doubled so exp[log a + log b] needs no modulo
  std::array<uint8_t, 256> log{};  // log[0] is meaningless
};

constexpr Tables make_tables() {
  Tables t;
  unsigned x = 1;
  for (int i = 0; i < 255; ++i) {
    t.exp[i] = static_cast<uint8_t>(x);
    t.exp[i + 255] = static_cast<uint8_t>(x);
    t.log[x] = static_cast<uint8_t>(i);
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  return t;
}

inline constexpr Tables kTables = make_tables();

// g^n for any n: g has order 255, exactly as md's repeated doubling wraps.
constexpr uint8_t pow_g(size_t n) { return kTables.exp[n % 255]; }

constexpr uint8_t mul(uint8_t a, uint8_t b) {
  if (a == 0 || b == 0) return 0;
  return kTables.exp[kTables.log[a] + kTables.log[b]];
}

// a must be nonzero.
constexpr uint8_t inv(uint8_t a) { return kTables.exp[255 - kTables.log[a]]; }

constexpr uint8_t div(uint8_t a, uint8_t b) { return mul(a, inv(b)); }

static_assert(pow_g(8) == 0x1d, "0x11d reduction");
static_assert(mul(pow_g(200), inv(pow_g(200))) == 1);

}  // namespace umd::parity::gf
