// Numbers as written in attributes, options and control requests: one parser, so every
// place accepts and refuses the same spellings.
//  - parse_u64: the whole text is a decimal unsigned number ("0", "4096"); no sign, no
//    space, no suffix. A trailing newline or spaces (what `echo` writes into an md
//    attribute) are allowed. nullopt on anything else or on overflow.
//  - parse_seconds: a non-negative decimal number of seconds ("5", "0.2"), same trailing
//    rule; nullopt otherwise.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

namespace umd {

inline std::string_view trim_trailing(std::string_view t) {
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
  return t;
}

inline std::optional<uint64_t> parse_u64(std::string_view text) {
  const std::string_view t = trim_trailing(text);
  uint64_t x = 0;
  if (t.empty() || t.front() == '+' || t.front() == '-') return std::nullopt;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
  if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
  return x;
}

inline std::optional<double> parse_seconds(std::string_view text) {
  const std::string_view t = trim_trailing(text);
  double x = 0;
  if (t.empty() || t.front() == '+' || t.front() == '-') return std::nullopt;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), x, std::chars_format::fixed);
  if (ec != std::errc() || p != t.data() + t.size() || !std::isfinite(x) || x < 0) return std::nullopt;
  return x;
}

}  // namespace umd
