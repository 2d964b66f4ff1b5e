#include "util/printable.h"

#include <cstdint>

namespace umd {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 when s[i] does not start one.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return uint8_t(s[i + k]); };
  const uint8_t c = b(0);
  size_t n;
  uint8_t lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < n; k++) {
    if (b(k) < 0x80 || b(k) > 0xbf) return 0;
  }
  return n;
}

}  // namespace

std::string printable(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size();) {
    const uint8_t c = uint8_t(raw[i]);
    const size_t n = c < 0x20 || c == 0x7f ? 0 : utf8_sequence(raw, i);
    if (n == 0) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
      i++;
      continue;
    }
    out.append(raw.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace umd
