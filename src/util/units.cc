#include "util/units.h"

#include <cctype>
#include <cstdio>

namespace umd {
namespace {

Result<uint64_t> parse_with_default(const std::string& text, uint64_t unit_default) {
  if (text.empty()) return Result<uint64_t>(Err::invalid, "empty size");
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t d = uint64_t(text[i] - '0');
    if (n > (UINT64_MAX - d) / 10) return Result<uint64_t>(Err::invalid, "size '" + text + "' is too large");
    n = n * 10 + d;
    i++;
  }
  if (i == 0) return Result<uint64_t>(Err::invalid, "size '" + text + "' is not a number");
  uint64_t unit = unit_default;
  if (i < text.size()) {
    std::string suffix = text.substr(i);
    char c = char(std::toupper(static_cast<unsigned char>(suffix[0])));
    if (suffix.size() == 2 && (suffix[1] == 'i' || suffix[1] == 'B' || suffix[1] == 'b')) suffix.resize(1);
    if (suffix.size() == 3 && suffix.substr(1) == "iB") suffix.resize(1);
    if (suffix.size() != 1) return Result<uint64_t>(Err::invalid, "size '" + text + "' has an unknown suffix");
    switch (c) {
      case 'S': unit = 512; break;
      case 'K': unit = 1ULL << 10; break;
      case 'M': unit = 1ULL << 20; break;
      case 'G': unit = 1ULL << 30; break;
      case 'T': unit = 1ULL << 40; break;
      default: return Result<uint64_t>(Err::invalid, "size '" + text + "' has an unknown suffix");
    }
  }
  if (n > UINT64_MAX / unit) return Result<uint64_t>(Err::invalid, "size '" + text + "' is too large");
  return n * unit;
}

}  // namespace

Result<uint64_t> parse_size_kib_default(const std::string& text) { return parse_with_default(text, 1024); }
Result<uint64_t> parse_size_bytes(const std::string& text) { return parse_with_default(text, 1); }

std::string human_size_sectors(uint64_t sectors) {
  double bytes = double(sectors) * 512.0;
  const char* bin[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  const char* dec[] = {"KB", "MB", "GB", "TB", "PB"};
  double b = bytes / 1024, d = bytes / 1000;
  int bi = 0, di = 0;
  while (b >= 1024 && bi < 4) { b /= 1024; bi++; }
  while (d >= 1000 && di < 4) { d /= 1000; di++; }
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.2f %s %.2f %s", b, bin[bi], d, dec[di]);
  return buf;
}

std::string mdadm_human_size(uint64_t sectors) {
  using u128 = unsigned __int128;
  const u128 bytes = u128(sectors) * 512;
  if (bytes < 5000 * 1024) return "";
  struct Tier {
    u128 below, bin, dec;
    const char *bin_name, *dec_name;
  };
  static constexpr Tier kTiers[] = {
      {u128(2) << 30, u128(1) << 20, 1000000, "MiB", "MB"},
      {u128(2) << 40, u128(1) << 30, 1000000000, "GiB", "GB"},
      {~u128(0), u128(1) << 40, 1000000000000ull, "TiB", "TB"},
  };
  const Tier* t = &kTiers[0];
  while (bytes >= t->below) t++;
  // Hundredths, rounded half up, as mdadm computes them.
  const uint64_t cb = uint64_t((bytes * 200 / t->bin + 1) / 2);
  const uint64_t cd = uint64_t((bytes / (t->dec / 200) + 1) / 2);
  char buf[96];
  std::snprintf(buf, sizeof buf, " (%llu.%02llu %s %llu.%02llu %s)", (unsigned long long)(cb / 100),
                (unsigned long long)(cb % 100), t->bin_name, (unsigned long long)(cd / 100),
                (unsigned long long)(cd % 100), t->dec_name);
  return buf;
}

}  // namespace umd
