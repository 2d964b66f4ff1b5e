#include "parity/parity.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "util/aligned_buffer.h"

namespace umd::parity {
namespace {

// The reference is deliberately naive and independent of gf.h: shift-and-add
// multiplication with the 0x11d reduction, and g^slot by repeated doubling, as md's
// syndrome code does it.
uint8_t ref_mul(uint8_t a, uint8_t b) {
  uint8_t r = 0;
  while (b) {
    if (b & 1) r ^= a;
    a = static_cast<uint8_t>((a << 1) ^ ((a & 0x80) ? 0x1d : 0));
    b >>= 1;
  }
  return r;
}
uint8_t ref_pow2(size_t n) {
  uint8_t r = 1;
  for (size_t i = 0; i < n; ++i) r = ref_mul(r, 2);
  return r;
}

void ref_pq(const std::vector<const uint8_t*>& slots, uint8_t* p, uint8_t* q, size_t len) {
  std::vector<uint8_t> coef(slots.size());
  for (size_t j = 0; j < slots.size(); ++j) coef[j] = ref_pow2(j);
  for (size_t i = 0; i < len; ++i) {
    uint8_t pp = 0, qq = 0;
    for (size_t j = 0; j < slots.size(); ++j) {
      if (!slots[j]) continue;
      pp ^= slots[j][i];
      qq ^= ref_mul(coef[j], slots[j][i]);
    }
    p[i] = pp;
    if (q) q[i] = qq;
  }
}

// A row of `width` slots (some possibly empty) plus P and Q, each buffer placed at
// `misalign` bytes past a 4 KiB boundary.
struct Row {
  std::vector<AlignedBuffer> bufs;
  std::vector<uint8_t*> slots;
  uint8_t* p = nullptr;
  uint8_t* q = nullptr;
  size_t len;

  Row(size_t width, size_t len_, std::mt19937_64& rng, const std::vector<bool>& empty = {},
      size_t misalign = 0)
      : len(len_) {
    for (size_t j = 0; j < width + 2; ++j) bufs.emplace_back(len + misalign + 1);
    for (size_t j = 0; j < width; ++j) {
      bool e = j < empty.size() && empty[j];
      slots.push_back(e ? nullptr : bufs[j].data() + misalign);
      if (!e)
        for (size_t i = 0; i < len; ++i) slots[j][i] = static_cast<uint8_t>(rng());
    }
    p = bufs[width].data() + misalign;
    q = bufs[width + 1].data() + misalign;
  }
  std::span<const uint8_t* const> cslots() const { return {slots.data(), slots.size()}; }
  std::vector<const uint8_t*> vslots() const { return {slots.begin(), slots.end()}; }
  std::vector<uint8_t> copy(const uint8_t* b) const { return {b, b + len}; }
};


TEST(Gf, ReferenceSanity) {
  EXPECT_EQ(ref_mul(0x80, 2), 0x1d);
  EXPECT_EQ(ref_pow2(255), 1);
}

TEST(Caps, DeclaresWhatEachSchemeDoes) {
  EXPECT_EQ(caps(Scheme::p).max_recover, 1);
  EXPECT_TRUE(caps(Scheme::p).parity_delta);
  EXPECT_FALSE(caps(Scheme::p).find_culprit);
  EXPECT_EQ(caps(Scheme::pq).max_recover, 2);
  EXPECT_TRUE(caps(Scheme::pq).parity_delta);
  EXPECT_TRUE(caps(Scheme::pq).find_culprit);
}

TEST(GenPq, MatchesNaiveReference) {
  std::mt19937_64 rng(1);
  for (size_t width = 1; width <= 16; ++width) {
    for (size_t len : {size_t{1}, size_t{31}, size_t{32}, size_t{100}, size_t{4096}, size_t{4096 + 64 + 7},
                       size_t{65536}}) {
      for (size_t misalign : {size_t{0}, size_t{3}}) {
        Row r(width, len, rng, {}, misalign);
        gen_pq(r.cslots(), r.p, r.q, len);
        std::vector<uint8_t> p(len), q(len);
        ref_pq(r.vslots(), p.data(), q.data(), len);
        ASSERT_EQ(r.copy(r.p), p) << "width " << width << " len " << len << " misalign " << misalign;
        ASSERT_EQ(r.copy(r.q), q) << "width " << width << " len " << len << " misalign " << misalign;

        std::memset(r.p, 0xa5, len);
        gen_p(r.cslots(), r.p, len);
        ASSERT_EQ(r.copy(r.p), p) << "gen_p width " << width << " len " << len;
      }
    }
  }
}

TEST(GenPq, EmptySlotsAreZeroBlocks) {
  std::mt19937_64 rng(2);
  for (int iter = 0; iter < 200; ++iter) {
    const size_t width = 1 + rng() % 18;
    std::vector<bool> empty(width);
    for (size_t j = 0; j < width; ++j) empty[j] = rng() % 3 == 0;
    const size_t len = 1 + rng() % 9000;
    Row r(width, len, rng, empty, rng() % 2 ? 0 : 5);
    gen_pq(r.cslots(), r.p, r.q, len);
    std::vector<uint8_t> p(len), q(len);
    ref_pq(r.vslots(), p.data(), q.data(), len);
    ASSERT_EQ(r.copy(r.p), p) << iter;
    ASSERT_EQ(r.copy(r.q), q) << iter;
  }
}

TEST(GenPq, LongDdfRowsSpanSeveralZeroPageSegments) {
  std::mt19937_64 rng(13);
  const size_t len = 3 * 65536 + 4096 + 40;
  Row r(6, len, rng, {true, false, false, true, false, false});
  gen_pq(r.cslots(), r.p, r.q, len);
  std::vector<uint8_t> p(len), q(len);
  ref_pq(r.vslots(), p.data(), q.data(), len);
  EXPECT_EQ(r.copy(r.p), p);
  EXPECT_EQ(r.copy(r.q), q);
}

TEST(GenPq, WidestRowWrapsCoefficients) {
  std::mt19937_64 rng(3);
  Row r(kMaxSlots, 256, rng);
  gen_pq(r.cslots(), r.p, r.q, r.len);
  std::vector<uint8_t> p(r.len), q(r.len);
  ref_pq(r.vslots(), p.data(), q.data(), r.len);
  EXPECT_EQ(r.copy(r.p), p);
  EXPECT_EQ(r.copy(r.q), q);
}

TEST(GenPq, AllEmptyGivesZeroParity) {
  std::vector<const uint8_t*> none(4, nullptr);
  std::vector<uint8_t> p(64, 7), q(64, 7);
  gen_pq(none, p.data(), q.data(), 64);
  EXPECT_EQ(p, std::vector<uint8_t>(64, 0));
  EXPECT_EQ(q, std::vector<uint8_t>(64, 0));
}

TEST(Rmw, DeltaUpdatesMatchRegeneration) {
  std::mt19937_64 rng(4);
  for (size_t len : {size_t{4096}, size_t{77}, size_t{65536 + 13}}) {
    for (int iter = 0; iter < 20; ++iter) {
      const size_t width = 2 + rng() % 14;
      Row r(width, len, rng);
      gen_pq(r.cslots(), r.p, r.q, len);
      const size_t slot = rng() % width;
      std::vector<uint8_t> fresh(len);
      for (auto& b : fresh) b = static_cast<uint8_t>(rng());
      std::vector<uint8_t> delta = r.copy(r.slots[slot]);
      xor_into(delta.data(), fresh.data(), len);  // delta = old ^ new
      xor_into(r.p, delta.data(), len);
      q_delta(slot, delta.data(), r.q, len);
      std::memcpy(r.slots[slot], fresh.data(), len);
      std::vector<uint8_t> p(len), q(len);
      ref_pq(r.vslots(), p.data(), q.data(), len);
      ASSERT_EQ(r.copy(r.p), p);
      ASSERT_EQ(r.copy(r.q), q) << "slot " << slot << " len " << len;
    }
  }
}

// Wipe the named blocks, recover them, and compare with the originals.
void expect_recovers(Row& r, bool has_q, std::vector<int> missing, const std::string& what) {
  std::vector<std::vector<uint8_t>> saved;
  auto buf = [&](int id) { return id == kBlockP ? r.p : id == kBlockQ ? r.q : r.slots[id]; };
  for (int id : missing) {
    saved.push_back(r.copy(buf(id)));
    std::memset(buf(id), 0xee, r.len);
  }
  Status s = recover({r.slots.data(), r.slots.size()}, r.p, has_q ? r.q : nullptr, r.len, missing);
  ASSERT_TRUE(s.is_ok()) << what << ": " << s.message();
  for (size_t m = 0; m < missing.size(); ++m)
    ASSERT_EQ(r.copy(buf(missing[m])), saved[m]) << what << " block " << missing[m];
}

void recover_all_combinations(size_t width, const std::vector<bool>& empty, size_t len, std::mt19937_64& rng,
                              size_t misalign) {
  Row r(width, len, rng, empty, misalign);
  gen_pq(r.cslots(), r.p, r.q, len);
  std::vector<int> ids = {kBlockP, kBlockQ};
  for (size_t j = 0; j < width; ++j)
    if (r.slots[j]) ids.push_back(static_cast<int>(j));
  const std::string ctx = "width " + std::to_string(width) + " len " + std::to_string(len);
  for (size_t a = 0; a < ids.size(); ++a) {
    expect_recovers(r, true, {ids[a]}, ctx + " 1 missing");
    if (ids[a] != kBlockQ) expect_recovers(r, false, {ids[a]}, ctx + " raid5");
    for (size_t b = a + 1; b < ids.size(); ++b) {
      expect_recovers(r, true, {ids[a], ids[b]}, ctx + " 2 missing " + std::to_string(ids[a]) + "," +
                                                      std::to_string(ids[b]));
      expect_recovers(r, true, {ids[b], ids[a]}, ctx + " 2 missing reversed");
    }
  }
}

TEST(Recover, EveryOneAndTwoMissingCombination) {
  std::mt19937_64 rng(5);
  for (size_t width = 1; width <= 16; ++width) {
    const size_t len = 64 * (1 + rng() % 64);
    recover_all_combinations(width, {}, len, rng, 0);
  }
}

TEST(Recover, UnalignedLengthsAndBuffers) {
  std::mt19937_64 rng(6);
  for (size_t width = 1; width <= 16; width += 3)
    recover_all_combinations(width, {}, 1 + rng() % 5000, rng, 1 + rng() % 31);
}

TEST(Recover, DdfLayoutsWithEmptySlots) {
  std::mt19937_64 rng(7);
  // ddf: slots count every device, so two slots of each row (where P and Q sit) are empty.
  for (size_t data = 1; data <= 16; ++data) {
    const size_t width = data + 2;
    std::vector<bool> empty(width);
    const size_t pd = rng() % width;
    empty[pd] = true;
    empty[(pd + 1) % width] = true;
    recover_all_combinations(width, empty, 4096, rng, 0);
  }
}

TEST(Check, DetectsEachKindOfMismatch) {
  std::mt19937_64 rng(8);
  Row r(6, 8192, rng, {false, true, false, false, false, false});
  gen_pq(r.cslots(), r.p, r.q, r.len);
  EXPECT_TRUE(check_pq(r.cslots(), r.p, r.q, r.len).ok());
  EXPECT_TRUE(check_pq(r.cslots(), r.p, nullptr, r.len).ok());
  r.p[5000] ^= 1;
  auto c = check_pq(r.cslots(), r.p, r.q, r.len);
  EXPECT_FALSE(c.p_ok);
  EXPECT_TRUE(c.q_ok);
  r.p[5000] ^= 1;
  r.q[8191] ^= 0x40;
  c = check_pq(r.cslots(), r.p, r.q, r.len);
  EXPECT_TRUE(c.p_ok);
  EXPECT_FALSE(c.q_ok);
  r.q[8191] ^= 0x40;
  r.slots[3][0] ^= 0x80;
  c = check_pq(r.cslots(), r.p, r.q, r.len);
  EXPECT_FALSE(c.p_ok);
  EXPECT_FALSE(c.q_ok);
}

Culprit culprit(const Row& r) {
  auto c = find_culprit(r.cslots(), r.p, r.q, r.len);
  EXPECT_TRUE(c.is_ok()) << c.status().message();
  return c.is_ok() ? *c : Culprit{Culprit::Kind::unknown, -2};
}

TEST(Culprit, FindsEverySlot) {
  std::mt19937_64 rng(9);
  for (size_t width : {size_t{1}, size_t{3}, size_t{8}, size_t{16}, size_t{18}}) {
    std::vector<bool> empty(width);
    if (width == 18) empty[4] = empty[5] = true;
    Row r(width, 20000, rng, empty);
    gen_pq(r.cslots(), r.p, r.q, r.len);
    EXPECT_EQ(culprit(r).kind, Culprit::Kind::none);
    for (size_t j = 0; j < width; ++j) {
      if (!r.slots[j]) continue;
      auto saved = r.copy(r.slots[j]);
      for (int n = 0; n < 50; ++n) r.slots[j][rng() % r.len] ^= static_cast<uint8_t>(1 + rng() % 255);
      Culprit c = culprit(r);
      EXPECT_EQ(c.kind, Culprit::Kind::slot) << "width " << width << " slot " << j;
      EXPECT_EQ(c.slot, static_cast<int>(j));
      std::memcpy(r.slots[j], saved.data(), r.len);
    }
    r.p[17] ^= 3;
    EXPECT_EQ(culprit(r).kind, Culprit::Kind::p);
    r.p[17] ^= 3;
    r.q[19999] ^= 3;
    EXPECT_EQ(culprit(r).kind, Culprit::Kind::q);
    r.q[19999] ^= 3;
    if (width >= 3) {
      r.slots[0][100] ^= 1;
      r.slots[2][100] ^= 1;  // same byte, two blocks: z points at some other slot or none
      r.slots[2][9000] ^= 1;
      EXPECT_EQ(culprit(r).kind, Culprit::Kind::unknown) << width;
      r.slots[0][100] ^= 1;
      r.slots[2][100] ^= 1;
      r.slots[2][9000] ^= 1;
    }
  }
}

TEST(Culprit, ErrorPointingAtAnEmptySlotIsUnknown) {
  std::mt19937_64 rng(10);
  Row r(4, 4096, rng, {false, true, false, false});
  gen_pq(r.cslots(), r.p, r.q, r.len);
  // P off by e and Q off by 2e is what slot 1 would produce, but slot 1 is empty.
  r.p[10] ^= 0x11;
  r.q[10] ^= ref_mul(2, 0x11);
  EXPECT_EQ(culprit(r).kind, Culprit::Kind::unknown);
}

TEST(Recover, RejectsBadRequests) {
  std::mt19937_64 rng(11);
  Row r(4, 4096, rng, {false, true, false, false});
  gen_pq(r.cslots(), r.p, r.q, r.len);
  std::span<uint8_t* const> s(r.slots.data(), r.slots.size());
  auto rec = [&](std::vector<int> m, bool q = true) { return recover(s, r.p, q ? r.q : nullptr, r.len, m); };
  EXPECT_EQ(rec({0, 2, 3}).code(), Err::invalid);
  EXPECT_EQ(rec({0, kBlockP, kBlockQ}).code(), Err::invalid);
  EXPECT_EQ(rec({0, 2}, false).code(), Err::invalid);
  EXPECT_EQ(rec({kBlockQ}, false).code(), Err::invalid);
  EXPECT_EQ(rec({0, 0}).code(), Err::invalid);
  EXPECT_EQ(rec({kBlockP, kBlockP}).code(), Err::invalid);
  EXPECT_EQ(rec({kBlockQ, kBlockQ}).code(), Err::invalid);
  EXPECT_EQ(rec({1}).code(), Err::invalid);   // empty slot
  EXPECT_EQ(rec({4}).code(), Err::invalid);   // past the row
  EXPECT_EQ(rec({-3}).code(), Err::invalid);  // neither P nor Q
  EXPECT_EQ(recover(s, nullptr, r.q, r.len, std::vector<int>{0}).code(), Err::invalid);
  EXPECT_TRUE(rec({}).is_ok());
  // Nothing was touched by the rejected calls.
  EXPECT_TRUE(check_pq(r.cslots(), r.p, r.q, r.len).ok());

  std::vector<uint8_t*> wide(kMaxSlots + 1, r.slots[0]);
  EXPECT_EQ(recover(wide, r.p, r.q, r.len, std::vector<int>{0}).code(), Err::invalid);
  std::vector<uint8_t*> widest(kMaxSlots, nullptr);
  widest[0] = r.slots[0];
  widest[255] = r.slots[2];
  EXPECT_EQ(recover(widest, r.p, r.q, r.len, std::vector<int>{0, 255}).code(), Err::unsupported);

  EXPECT_EQ(find_culprit(r.cslots(), r.p, nullptr, r.len).status().code(), Err::invalid);
}

TEST(Recover, ZeroLengthIsANoOp) {
  std::mt19937_64 rng(12);
  Row r(3, 0, rng);
  EXPECT_TRUE(recover({r.slots.data(), r.slots.size()}, r.p, r.q, 0, std::vector<int>{0, 1}).is_ok());
}

}  // namespace
}  // namespace umd::parity
