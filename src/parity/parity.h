// Parity for md's raid4/5 (P = XOR) and raid6 (P + Q over GF(2^8), polynomial 0x11d,
// generator g = 2), computed with ISA-L and bit-compatible with the kernel's md.
//
// Everything here speaks of a stripe *row* described by syndrome slot: blocks[slot] for
// slot in 0..width-1 enters Q with coefficient g^slot. The slot is the kernel's syndrome
// position, which is not always the logical data index (asymmetric layouts), and for the
// ddf layouts every device has a slot, so the slots of P and Q themselves hold nothing:
// a nullptr slot is an empty slot that contributes a block of zeros. The layout module
// decides slots; this module only does arithmetic on them.
//
// Any length and alignment is accepted. ISA-L's fastest kernels want 32-byte aligned
// pointers and lengths that are multiples of 32; when given those (md works in 4 KiB
// pages, and AlignedBuffer is 4 KiB aligned) the bulk goes through them and only a
// non-multiple tail takes a slower path; misaligned buffers still give correct bytes.
//
// Nothing here allocates: per-call coefficient tables live on the stack or in
// thread-local scratch, so these calls are safe on any thread without locking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "util/status.h"

namespace umd::parity {

// Widest syndrome accepted (slots, counting ddf's empty ones). g has order 255, so
// slots 0 and 255 share a coefficient; recover() refuses the one pair that this makes
// ambiguous rather than silently producing garbage.
inline constexpr size_t kMaxSlots = 256;

// What the parity scheme can do, stated as data so a stripe cache or the resync code
// can choose a strategy (read-modify-write vs reconstruct-write, degraded reads) without
// knowing which scheme it drives.
enum class Scheme : uint8_t { p, pq };  // raid4/5, raid6
struct ParityCaps {
  bool parity_delta;  // xor_into / q_delta can fold a data change into existing parity
  int max_recover;    // how many blocks of a row recover() rebuilds at once
  bool find_culprit;  // a silent single-block corruption can be located (needs Q)
  const char* impl;   // the library doing the arithmetic, for logs
};
ParityCaps caps(Scheme s);

// Identifiers of the blocks of a row in recover()'s `missing` list: a slot number
// (0..width-1) names a data block; these two name the parity blocks.
inline constexpr int kBlockP = -1;
inline constexpr int kBlockQ = -2;

// P = XOR of the data blocks (nullptr entries count as zeros). Preconditions (abort when
// broken, as they are programming errors): p != nullptr, data.size() <= kMaxSlots.
void gen_p(std::span<const uint8_t* const> data, uint8_t* p, size_t len);

// P and Q of a syndrome row. Same preconditions, and q != nullptr.
void gen_pq(std::span<const uint8_t* const> slots, uint8_t* p, uint8_t* q, size_t len);

// Read-modify-write helpers. With delta = old ^ new of the block in `slot`:
//   xor_into(p, delta)   brings P up to date (also computes delta itself: old ^= new),
//   q_delta(slot, delta, q) brings Q up to date (Q ^= g^slot * delta).
void xor_into(uint8_t* dst, const uint8_t* src, size_t len);
void q_delta(size_t slot, const uint8_t* old_xor_new, uint8_t* q, size_t len);

// Rebuild, in place, the blocks named in `missing` (slot numbers, kBlockP, kBlockQ) from
// the others. q == nullptr means the row has no Q (raid4/5): one block may be missing,
// otherwise two, in any combination. The buffers of missing blocks are outputs (their
// contents are ignored); an empty (nullptr) slot cannot be missing. Errors: Err::invalid
// for more missing blocks than tolerated, duplicates, unknown or empty blocks, a null P
// or a too-wide row; Err::unsupported for two slots sharing a coefficient.
Status recover(std::span<uint8_t* const> slots, uint8_t* p, uint8_t* q, size_t len,
               std::span<const int> missing);

// Whether the stored P (and Q, when q != nullptr) agree with the data: md's "check".
struct PqCheck {
  bool p_ok;
  bool q_ok;  // true when there is no Q
  bool ok() const { return p_ok && q_ok; }
};
PqCheck check_pq(std::span<const uint8_t* const> slots, const uint8_t* p, const uint8_t* q,
                 size_t len);

// Beyond md: name the one block that explains a P/Q mismatch, if one does. With a single
// bad data block in slot z and error e per byte, P is off by e and Q by g^z * e, so
// z = log(Qerr) - log(Perr) must come out the same at every byte where both differ,
// and no byte may differ in only one of them. A bad P alone leaves Q consistent and vice
// versa. Anything else (two or more bad blocks, or z naming an empty or absent slot)
// is `unknown`, and md's repair (regenerate P and Q) is then the only remedy.
struct Culprit {
  enum class Kind : uint8_t { none, p, q, slot, unknown };
  Kind kind = Kind::none;
  int slot = -1;  // for Kind::slot
};
Result<Culprit> find_culprit(std::span<const uint8_t* const> slots, const uint8_t* p,
                             const uint8_t* q, size_t len);

}  // namespace umd::parity
