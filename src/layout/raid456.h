// md raid4, raid5 and raid6: one geometry, as in the kernel where a single driver serves
// all three levels. Each chunk row ("stripe" in md's words) holds one chunk per member:
// ndata data chunks, P, and for raid6 Q. The algorithm (the superblock's layout) says which
// member holds P and Q in each row and in which order the data chunks follow.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "layout/geometry_types.h"
#include "layout/level_limits.h"
#include "util/status.h"

namespace umd::layout {

// md's algorithm numbers (include/uapi/linux/raid/md_p.h's ALGORITHM_*).
enum class ParityAlgorithm : uint32_t {
  left_asymmetric = 0,
  right_asymmetric = 1,
  left_symmetric = 2,
  right_symmetric = 3,
  parity_0 = 4,  // P on the first member, "parity-first"
  parity_n = 5,  // P (and Q) on the last members, "parity-last"; raid4 always maps this way
  // raid6 only, from the DDF standard: Q's coefficients follow member positions.
  rotating_zero_restart = 8,
  rotating_n_restart = 9,
  rotating_n_continue = 10,
  // raid6 only: a raid5 layout over all but the last member, Q fixed on the last member
  // (what converting raid5 to raid6 in place produces).
  left_asymmetric_6 = 16,
  right_asymmetric_6 = 17,
  left_symmetric_6 = 18,
  right_symmetric_6 = 19,
  parity_0_6 = 20,
};

[[nodiscard]] bool algorithm_valid(int level, uint32_t layout);

enum class DiskRole : uint8_t { data, p, q };

// Where one array sector lives.
struct ChunkPlace {
  uint64_t row = 0;         // chunk row; its first member sector is row * chunk_sectors
  uint64_t dev_sector = 0;  // member sector of the array sector itself
  uint32_t data_index = 0;  // which data chunk of the row (order of array addresses)
  uint32_t disk = 0;
  int32_t pd_idx = -1;
  int32_t qd_idx = -1;      // -1 without Q
  uint32_t len = 0;         // sectors to the end of the chunk; 0 past the end of the array
};

inline constexpr uint16_t kNoSlot = 0xffff;

// One row's full picture.
struct StripeMap {
  int32_t pd_idx = -1;
  int32_t qd_idx = -1;
  uint32_t raid_disks = 0;
  uint32_t ndata = 0;
  // How many data slots the Q syndrome spans: ndata, or raid_disks for the DDF layouts
  // (P's and Q's own positions count, with zero blocks in them).
  uint32_t syndrome_width = 0;
  std::array<uint16_t, kMaxStripeDisks> data_disk{};  // by data index
  std::array<DiskRole, kMaxStripeDisks> role{};       // by member
  std::array<uint16_t, kMaxStripeDisks> data_index{}; // by member; kNoSlot for P and Q
  // By member: the exponent of the generator g multiplying this member's block in Q
  // (raid6 data members only; kNoSlot otherwise). Equals the data index only in the
  // symmetric layouts; the kernel enumerates members starting just after Q.
  std::array<uint16_t, kMaxStripeDisks> q_slot{};
};

// What a member sector holds.
struct SectorRole {
  DiskRole role = DiskRole::data;
  uint32_t data_index = 0;
  uint64_t row = 0;
  uint64_t array_sector = 0;  // data only
  bool valid = false;         // false: past the used part of the member
};

class Raid456Geometry {
 public:
  [[nodiscard]] static Result<Raid456Geometry> create(const GeometryParams& p);

  [[nodiscard]] int level() const { return level_; }
  [[nodiscard]] uint32_t layout() const { return layout_; }
  [[nodiscard]] ParityAlgorithm algorithm() const { return algo_; }
  [[nodiscard]] uint32_t chunk_sectors() const { return 1u << chunk_shift_; }
  [[nodiscard]] uint32_t raid_disks() const { return raid_disks_; }
  [[nodiscard]] uint32_t parity_disks() const { return level_ == kLevelRaid6 ? 2 : 1; }
  [[nodiscard]] uint32_t data_disks() const { return raid_disks_ - parity_disks(); }
  [[nodiscard]] bool ddf() const;
  // Member sectors in use (the member size rounded down to the chunk) and chunk rows.
  [[nodiscard]] uint64_t component_sectors() const { return rows_ << chunk_shift_; }
  [[nodiscard]] uint64_t rows() const { return rows_; }
  [[nodiscard]] uint64_t array_sectors() const { return rows_ * data_disks() << chunk_shift_; }
  [[nodiscard]] uint32_t max_missing() const { return parity_disks(); }
  [[nodiscard]] bool survives(std::span<const uint32_t> missing) const;

  [[nodiscard]] ChunkPlace compute_sector(uint64_t array_sector) const;
  [[nodiscard]] StripeMap stripe(uint64_t row) const;
  [[nodiscard]] SectorRole locate(DevAddr a) const;

 private:
  struct Parity {
    int32_t pd = -1;
    int32_t qd = -1;
  };
  [[nodiscard]] Parity parity_of(uint64_t row) const;
  [[nodiscard]] uint32_t data_to_disk(Parity par, uint32_t data_index) const;
  [[nodiscard]] uint32_t disk_to_data(Parity par, uint32_t disk) const;

  int level_ = kLevelRaid5;
  uint32_t layout_ = 0;
  ParityAlgorithm algo_ = ParityAlgorithm::left_symmetric;
  uint32_t raid_disks_ = 0;
  uint32_t chunk_shift_ = 0;
  uint64_t rows_ = 0;
};

}  // namespace umd::layout
