// Reconstruction and syndrome checks. Every case is one linear combination of the
// surviving blocks, worked out below in closed form and handed to ISA-L's dot product
// in a single pass over the sources (md instead regenerates partial syndromes into the
// missing buffers and combines them in a second pass; the bytes come out the same).
#include <algorithm>
#include <cstring>
#include <string>

#include <isa-l.h>

#include "parity/gf.h"
#include "parity/internal.h"
#include "parity/parity.h"

namespace umd::parity {
namespace {

using detail::kMaxRows;
using detail::kMaxSources;

// Syndrome checks produce error vectors before judging them; a chunk this size keeps
// them in L1/L2 next to the data and bounds the per-thread scratch.
constexpr size_t kChunk = 16 * 1024;
struct CheckScratch {
  alignas(64) uint8_t perr[kChunk];
  alignas(64) uint8_t qerr[kChunk];
};
thread_local CheckScratch t_check;

bool all_zero(const uint8_t* b, size_t n) {
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, b + i, 8);
    acc |= v;
  }
  for (; i < n; ++i) acc |= b[i];
  return acc == 0;
}

Status invalid(std::string msg) { return Status(Err::invalid, "parity: " + std::move(msg)); }

// Runs fn(perr, qerr, off, n) over the row in chunks, with perr = P ^ XOR(data) and
// qerr = Q ^ sum g^slot * D_slot (qerr only when q != nullptr). fn returns false to stop.
template <class Fn>
void for_each_error_chunk(std::span<const uint8_t* const> slots, const uint8_t* p,
                          const uint8_t* q, size_t len, Fn&& fn) {
  const int rows = q ? 2 : 1;
  uint8_t coef[kMaxRows * kMaxSources];
  const uint8_t* base[kMaxSources];
  int k = 0;
  base[k++] = p;
  if (q) base[k++] = q;
  for (const uint8_t* d : slots)
    if (d) base[k++] = d;
  // Row 0: P's own coefficient 1, Q's 0, every data block 1. Row 1: Q 1, data g^slot.
  int c = 0;
  coef[c++] = 1;
  if (q) coef[c++] = 0;
  for (const uint8_t* d : slots)
    if (d) coef[c++] = 1;
  if (q) {
    coef[c++] = 0;
    coef[c++] = 1;
    for (size_t j = 0; j < slots.size(); ++j)
      if (slots[j]) coef[c++] = gf::pow_g(j);
  }
  CheckScratch& s = t_check;
  uint8_t* out[2] = {s.perr, s.qerr};
  const uint8_t* src[kMaxSources];
  for (size_t off = 0; off < len; off += kChunk) {
    const size_t n = std::min(kChunk, len - off);
    for (int j = 0; j < k; ++j) src[j] = base[j] + off;
    detail::lincomb(k, rows, coef, src, out, n);
    if (!fn(s.perr, s.qerr, off, n)) return;
  }
}

}  // namespace

Status recover(std::span<uint8_t* const> slots, uint8_t* p, uint8_t* q, size_t len,
               std::span<const int> missing) {
  if (p == nullptr) return invalid("recover: the row has no P buffer");
  if (slots.size() > kMaxSlots)
    return invalid("recover: " + std::to_string(slots.size()) + " slots, at most " +
                   std::to_string(kMaxSlots));
  const size_t tolerated = q ? 2 : 1;
  if (missing.size() > tolerated)
    return invalid("recover: " + std::to_string(missing.size()) + " blocks missing, the row tolerates " +
                   std::to_string(tolerated));
  bool p_missing = false, q_missing = false;
  int x = -1, y = -1;  // missing data slots
  for (int id : missing) {
    if (id == kBlockP) {
      if (p_missing) return invalid("recover: P listed twice");
      p_missing = true;
    } else if (id == kBlockQ) {
      if (!q) return invalid("recover: Q is missing but the row has no Q");
      if (q_missing) return invalid("recover: Q listed twice");
      q_missing = true;
    } else if (id < 0 || static_cast<size_t>(id) >= slots.size()) {
      return invalid("recover: block " + std::to_string(id) + " is not in a row of " +
                     std::to_string(slots.size()) + " slots");
    } else if (slots[id] == nullptr) {
      return invalid("recover: slot " + std::to_string(id) + " is empty and cannot be missing");
    } else if (id == x) {
      return invalid("recover: slot " + std::to_string(id) + " listed twice");
    } else if (x < 0) {
      x = id;
    } else {
      y = id;
    }
  }
  if (y >= 0 && gf::pow_g(x) == gf::pow_g(y))
    return Status(Err::unsupported, "parity: recover: slots " + std::to_string(x) + " and " +
                                        std::to_string(y) + " share a Q coefficient");
  if (missing.empty() || len == 0) return Status::ok();

  const std::span<const uint8_t* const> cslots(slots.data(), slots.size());
  if (x < 0) {  // only parity is missing: regenerate it
    if (p_missing && q_missing) {
      gen_pq(cslots, p, q, len);
    } else if (p_missing) {
      gen_p(cslots, p, len);
    } else {
      uint8_t coef[kMaxSources];
      const uint8_t* src[kMaxSources];
      int k = 0;
      for (size_t j = 0; j < slots.size(); ++j)
        if (slots[j]) {
          coef[k] = gf::pow_g(j);
          src[k++] = slots[j];
        }
      detail::lincomb(k, 1, coef, src, &q, len);
    }
    return Status::ok();
  }

  if (y < 0 && !p_missing && !q_missing) {  // one data block, P survives: plain XOR
    const uint8_t* src[kMaxSources];
    size_t n = 0;
    src[n++] = p;
    for (size_t j = 0; j < slots.size(); ++j)
      if (slots[j] && static_cast<int>(j) != x) src[n++] = slots[j];
    detail::xor_many(src, n, slots[x], len);
    return Status::ok();
  }

  // Two outputs from one pass. Sums below are over the surviving data slots i;
  // "+" is XOR. The leading sources are the surviving parity blocks.
  uint8_t row0[kMaxSources], row1[kMaxSources];
  const uint8_t* src[kMaxSources];
  uint8_t* out[2];
  int k = 0;
  const uint8_t gx = gf::pow_g(x);
  if (p_missing) {
    // Q = g^x Dx + sum g^i Di  =>  Dx = g^-x Q + sum g^(i-x) Di, and P = Dx + sum Di.
    const uint8_t ginv = gf::inv(gx);
    src[k] = q, row0[k] = ginv, row1[k] = ginv, ++k;
    for (size_t j = 0; j < slots.size(); ++j)
      if (slots[j] && static_cast<int>(j) != x) {
        const uint8_t c = gf::mul(gf::pow_g(j), ginv);
        src[k] = slots[j], row0[k] = c, row1[k] = c ^ 1, ++k;
      }
    out[0] = slots[x], out[1] = p;
  } else if (q_missing) {
    // Dx = P + sum Di, then Q = g^x Dx + sum g^i Di = g^x P + sum (g^x + g^i) Di.
    src[k] = p, row0[k] = 1, row1[k] = gx, ++k;
    for (size_t j = 0; j < slots.size(); ++j)
      if (slots[j] && static_cast<int>(j) != x) src[k] = slots[j], row0[k] = 1, row1[k] = gx ^ gf::pow_g(j), ++k;
    out[0] = slots[x], out[1] = q;
  } else {
    // With Pxy = P + sum Di = Dx + Dy and Qxy = Q + sum g^i Di = g^x Dx + g^y Dy:
    //   Dx = (g^y Pxy + Qxy) / (g^x + g^y),  Dy = (g^x Pxy + Qxy) / (g^x + g^y).
    // Expanding Pxy and Qxy gives each output directly from P, Q and the survivors.
    const uint8_t gy = gf::pow_g(y);
    const uint8_t d = gf::inv(gx ^ gy);
    src[k] = p, row0[k] = gf::mul(d, gy), row1[k] = gf::mul(d, gx), ++k;
    src[k] = q, row0[k] = d, row1[k] = d, ++k;
    for (size_t j = 0; j < slots.size(); ++j)
      if (slots[j] && static_cast<int>(j) != x && static_cast<int>(j) != y) {
        const uint8_t gi = gf::pow_g(j);
        src[k] = slots[j], row0[k] = gf::mul(d, gy ^ gi), row1[k] = gf::mul(d, gx ^ gi), ++k;
      }
    out[0] = slots[x], out[1] = slots[y];
  }
  uint8_t coef[kMaxRows * kMaxSources];
  std::memcpy(coef, row0, k);
  std::memcpy(coef + k, row1, k);
  detail::lincomb(k, 2, coef, src, out, len);
  return Status::ok();
}

PqCheck check_pq(std::span<const uint8_t* const> slots, const uint8_t* p, const uint8_t* q,
                 size_t len) {
  detail::require(p != nullptr, "check_pq: P is null");
  detail::require(slots.size() <= kMaxSlots, "check_pq: too many slots");
  PqCheck r{true, true};
  for_each_error_chunk(slots, p, q, len, [&](const uint8_t* perr, const uint8_t* qerr, size_t, size_t n) {
    if (r.p_ok && !all_zero(perr, n)) r.p_ok = false;
    if (q && r.q_ok && !all_zero(qerr, n)) r.q_ok = false;
    return r.p_ok || (q && r.q_ok);
  });
  return r;
}

Result<Culprit> find_culprit(std::span<const uint8_t* const> slots, const uint8_t* p,
                             const uint8_t* q, size_t len) {
  if (p == nullptr || q == nullptr) return invalid("find_culprit: needs both P and Q");
  if (slots.size() > kMaxSlots) return invalid("find_culprit: too many slots");
  bool p_only = false, q_only = false, both = false, inconsistent = false;
  int z = -1;
  for_each_error_chunk(slots, p, q, len, [&](const uint8_t* perr, const uint8_t* qerr, size_t, size_t n) {
    if (all_zero(perr, n) && all_zero(qerr, n)) return true;
    for (size_t i = 0; i < n; ++i) {
      const uint8_t a = perr[i], b = qerr[i];
      if (a == 0 && b == 0) continue;
      if (b == 0) {
        p_only = true;
      } else if (a == 0) {
        q_only = true;
      } else {
        both = true;
        const int zi = (gf::kTables.log[b] + 255 - gf::kTables.log[a]) % 255;
        if (z < 0) z = zi;
        else if (z != zi) inconsistent = true;
      }
    }
    // Once two kinds of evidence mix, no single block explains the row.
    return !inconsistent && (int{p_only} + int{q_only} + int{both}) <= 1;
  });
  const int kinds = int{p_only} + int{q_only} + int{both};
  Culprit c;
  if (kinds == 0) return c;
  c.kind = Culprit::Kind::unknown;
  if (kinds > 1 || inconsistent) return c;
  if (p_only) {
    c.kind = Culprit::Kind::p;
  } else if (q_only) {
    c.kind = Culprit::Kind::q;
  } else {
    // z is only known modulo 255; it names a culprit only if exactly one real block fits.
    int found = -1, count = 0;
    for (size_t j = static_cast<size_t>(z); j < slots.size(); j += 255)
      if (slots[j]) found = static_cast<int>(j), ++count;
    if (count == 1) c.kind = Culprit::Kind::slot, c.slot = found;
  }
  return c;
}

}  // namespace umd::parity
