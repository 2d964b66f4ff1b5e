#include "layout/layout_names.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "layout/geometry_types.h"
#include "layout/raid0.h"
#include "layout/raid10.h"
#include "layout/raid456.h"
#include "util/numbers.h"

namespace umd::layout {

std::string level_name(int level) {
  switch (level) {
    case -1: return "linear";
    case -4: return "multipath";
    case -5: return "faulty";
    default: return fmt::format("raid{}", level);
  }
}

Result<int> parse_level(std::string_view t) {
  if (t == "linear" || t == "-1") return kLevelLinear;
  if (t == "0" || t == "raid0" || t == "stripe") return kLevelRaid0;
  if (t == "1" || t == "raid1" || t == "mirror") return kLevelRaid1;
  if (t == "4" || t == "raid4") return kLevelRaid4;
  if (t == "5" || t == "raid5") return kLevelRaid5;
  if (t == "6" || t == "raid6") return kLevelRaid6;
  if (t == "10" || t == "raid10") return kLevelRaid10;
  return Result<int>(Err::invalid, fmt::format("--level: unknown level '{}' (linear, 0, 1, 4, 5, 6, 10)", t));
}

namespace {

struct Name {
  std::string_view name;
  uint32_t value;
  bool raid6_only;
};

// First entry per value is the canonical spelling. For raid5 the ddf names are aliases of
// plain layouts (a single parity has no coefficient order to differ in).
constexpr std::array<Name, 22> kParity{{
    {"left-asymmetric", 0, false},
    {"right-asymmetric", 1, false},
    {"left-symmetric", 2, false},
    {"right-symmetric", 3, false},
    {"parity-first", 4, false},
    {"parity-last", 5, false},
    {"ddf-zero-restart", 8, true},
    {"ddf-N-restart", 9, true},
    {"ddf-N-continue", 10, true},
    {"left-asymmetric-6", 16, true},
    {"right-asymmetric-6", 17, true},
    {"left-symmetric-6", 18, true},
    {"right-symmetric-6", 19, true},
    {"parity-first-6", 20, true},
    {"default", 2, false},
    {"la", 0, false},
    {"ra", 1, false},
    {"ls", 2, false},
    {"rs", 3, false},
    // raid5 spellings of the ddf names (mdadm's r5layout).
    {"ddf-zero-restart", 1, false},
    {"ddf-N-restart", 0, false},
    {"ddf-N-continue", 2, false},
}};

constexpr std::array<Name, 5> kRaid0{{
    {"original", kRaid0LayoutOriginal, false},
    {"alternate", kRaid0LayoutAlternate, false},
    {"dangerous", kRaid0LayoutUnset, false},
    {"1", kRaid0LayoutOriginal, false},
    {"2", kRaid0LayoutAlternate, false},
}};

std::string unknown(uint32_t layout) { return "unknown-" + std::to_string(layout); }

bool parse_u32(std::string_view s, uint32_t& out) {
  const std::optional<uint64_t> n = s.size() == trim_trailing(s).size() ? parse_u64(s) : std::nullopt;
  if (!n || *n > UINT32_MAX) return false;
  out = uint32_t(*n);
  return true;
}

std::string raid10_name(uint32_t layout) {
  const uint32_t nc = layout & 0xff, fc = (layout >> 8) & 0xff, sets = layout >> 17;
  const bool off = layout & kRaid10OffsetBit;
  if (sets == 0 && (layout >> 19) == 0) {
    if (fc == 1 && !off && nc >= 1) return "n" + std::to_string(nc);
    if (nc == 1 && fc >= 1) return (off ? "o" : "f") + std::to_string(fc);
  }
  std::string s = "near=" + std::to_string(nc) + ",far=" + std::to_string(fc);
  if (off) s += ",offset";
  if (sets) s += ",far-sets=" + std::to_string(sets);
  return s;
}

Result<uint32_t> parse_raid10(std::string_view s) {
  auto bad = [&] {
    return Result<uint32_t>(Err::invalid, "raid10 layout must be nN, fN or oN (N copies), not '" +
                                              std::string(s) + "'");
  };
  if (s == "default") return default_layout(kLevelRaid10);
  if (s.size() >= 2 && (s[0] == 'n' || s[0] == 'f' || s[0] == 'o') && s[1] >= '0' && s[1] <= '9') {
    uint32_t c = 0;
    if (!parse_u32(s.substr(1), c) || c < 1 || c > 200) return bad();
    if (s[0] == 'n') return 0x100u + c;
    if (s[0] == 'o') return kRaid10OffsetBit + (c << 8) + 1;
    return (c << 8) + 1;
  }
  // The long form layout_name produces for words mdadm cannot spell.
  uint32_t nc = 0, fc = 0, sets = 0;
  bool off = false;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    const std::string_view part = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    if (part == "offset") {
      off = true;
    } else if (part.starts_with("near=")) {
      if (!parse_u32(part.substr(5), nc) || nc > 255) return bad();
    } else if (part.starts_with("far=")) {
      if (!parse_u32(part.substr(4), fc) || fc > 255) return bad();
    } else if (part.starts_with("far-sets=")) {
      if (!parse_u32(part.substr(9), sets) || sets > 3) return bad();
    } else {
      return bad();
    }
  }
  if (nc == 0 || fc == 0) return bad();
  return nc | (fc << 8) | (off ? kRaid10OffsetBit : 0) | (sets << 17);
}

}  // namespace

std::string layout_name(int level, uint32_t layout) {
  switch (level) {
    case kLevelLinear:
    case kLevelRaid1: return "";
    case kLevelRaid0:
      for (const Name& n : kRaid0)
        if (n.value == layout) return std::string(n.name);
      return unknown(layout);
    case kLevelRaid4: return "parity-last";
    case kLevelRaid5:
    case kLevelRaid6:
      for (const Name& n : kParity) {
        if (n.name.empty() || (n.raid6_only && level != kLevelRaid6)) continue;
        if (n.value == layout) return std::string(n.name);
      }
      return unknown(layout);
    case kLevelRaid10: return raid10_name(layout);
    default: return unknown(layout);
  }
}

Result<uint32_t> parse_layout(int level, std::string_view name) {
  const std::string quoted = "'" + std::string(name) + "'";
  switch (level) {
    case kLevelRaid0:
      for (const Name& n : kRaid0)
        if (n.name == name) return n.value;
      return Result<uint32_t>(Err::invalid, "layout " + quoted + " not understood for raid0");
    case kLevelRaid4:
    case kLevelRaid5:
    case kLevelRaid6: {
      if (level == kLevelRaid4 && name == "default") return default_layout(level);
      for (const Name& n : kParity) {
        if (n.name.empty() || n.name != name) continue;
        if (n.raid6_only && level != kLevelRaid6) continue;
        if (level == kLevelRaid6 && !n.raid6_only && name.starts_with("ddf")) continue;
        if (level == kLevelRaid4 && n.value != 5)
          return Result<uint32_t>(Err::invalid, "raid4 has only the parity-last layout, not " + quoted);
        return n.value;
      }
      uint32_t v = 0;
      if (parse_u32(name, v) && algorithm_valid(level, v)) return v;
      return Result<uint32_t>(Err::invalid, "layout " + quoted + " not understood for raid" +
                                                std::to_string(level));
    }
    case kLevelRaid10: return parse_raid10(name);
    default:
      return Result<uint32_t>(Err::invalid, "a layout is not meaningful for level " +
                                                std::to_string(level));
  }
}

uint32_t default_layout(int level) {
  switch (level) {
    case kLevelRaid0: return kRaid0LayoutOriginal;
    case kLevelRaid4: return static_cast<uint32_t>(ParityAlgorithm::parity_n);
    case kLevelRaid5:
    case kLevelRaid6: return static_cast<uint32_t>(ParityAlgorithm::left_symmetric);
    case kLevelRaid10: return 0x102;  // n2
    default: return 0;
  }
}

}  // namespace umd::layout
