// Helpers shared by the engine tests: md superblocks built with the format codecs and
// placed on RAM members where each metadata version puts them.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "block/block_wait.h"
#include "personality/personality.h"
#include "assemble/superblock_probe.h"
#include "format/superblock0.h"
#include "format/superblock1.h"
#include "io/fault_member.h"
#include "io/memory_member.h"

namespace umd::engine::testing {

inline std::array<uint8_t, 16> uuid_of(uint8_t seed) {
  std::array<uint8_t, 16> u{};
  for (size_t i = 0; i < u.size(); i++) u[i] = uint8_t(seed * 17 + i * 3 + 1);
  return u;
}

// A 1.x superblock of member `dev_number` (slot == dev_number) of a `raid_disks` array,
// placed for `minor` on a member of `dev_sectors`.
inline Superblock1 make_sb1(int minor, uint64_t dev_sectors, int level, uint32_t raid_disks, uint32_t dev_number,
                            uint64_t events = 10, uint8_t uuid_seed = 1) {
  Superblock1 sb;
  sb.set_uuid = uuid_of(uuid_seed);
  sb.set_name_str("host:test");
  sb.level = level;
  sb.layout = level == 5 || level == 6 ? 2 : (level == 10 ? 0x102 : 0);
  sb.chunksize = level == 1 ? 0 : 8;
  sb.raid_disks = raid_disks;
  sb.super_offset = superblock1_offset_sectors(minor, dev_sectors);
  if (minor == 0) {
    sb.data_offset = 0;
    sb.data_size = sb.super_offset - 8;
  } else {
    sb.data_offset = 64;
    sb.data_size = dev_sectors - 64;
  }
  sb.size = sb.data_size / 8 * 8;
  sb.dev_number = dev_number;
  sb.device_uuid = uuid_of(uint8_t(100 + dev_number));
  sb.events = events;
  sb.resync_offset = kMaxSector;
  sb.max_dev = 128;
  sb.dev_roles.assign(128, kRoleSpare);
  for (uint32_t i = 0; i < raid_disks; i++) sb.dev_roles[i] = uint16_t(i);
  return sb;
}

inline std::unique_ptr<io::MemoryMember> member_with(const std::string& name, uint64_t dev_sectors,
                                                     const std::vector<uint8_t>& image, uint64_t at_sector) {
  auto m = io::make_memory_member(name, dev_sectors * 512);
  EXPECT_LE(at_sector * 512 + image.size(), m->size());
  std::memcpy(m->raw().data() + at_sector * 512, image.data(), image.size());
  return m;
}

inline std::unique_ptr<io::MemoryMember> member_with_sb1(const std::string& name, uint64_t dev_sectors,
                                                         const Superblock1& sb) {
  return member_with(name, dev_sectors, encode_superblock1(sb), sb.super_offset);
}

// A 0.90 superblock for member `number` of a `raid_disks` array, every member in sync.
inline Superblock0 make_sb0(uint64_t dev_sectors, int level, uint32_t raid_disks, uint32_t number,
                            uint64_t events = 10) {
  Superblock0 sb;
  sb.set_uuid0 = 0x11223344;
  sb.set_uuid1 = 0x55667788;
  sb.set_uuid2 = 0x99aabbcc;
  sb.set_uuid3 = 0xddeeff00;
  sb.level = level;
  sb.layout = level == 5 ? 2 : 0;
  sb.chunk_size = level == 1 ? 0 : 4096;
  sb.raid_disks = raid_disks;
  sb.nr_disks = raid_disks;
  sb.size = uint32_t(superblock0_offset_sectors(dev_sectors) / 2 / 4 * 4);
  sb.state = kSb0StateClean;
  sb.events = events;
  sb.cp_events = events;
  for (uint32_t i = 0; i < raid_disks; i++) {
    sb.disks[i] = DiskDescriptor0{i, 8, 16 * i, i, kDiskActive | kDiskSync};
  }
  sb.this_disk = sb.disks[number];
  return sb;
}

inline std::unique_ptr<io::MemoryMember> member_with_sb0(const std::string& name, uint64_t dev_sectors,
                                                         const Superblock0& sb) {
  return member_with(name, dev_sectors, encode_superblock0(sb), superblock0_offset_sectors(dev_sectors));
}

// Probes a member that must hold a valid superblock.
inline ProbedMember probed(std::unique_ptr<io::Member> m) {
  auto r = probe_member(std::move(m));
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return std::move(r).value();
}

// A member borrowed from elsewhere (a test's MemoryMember), so a FaultyMember can sit in
// front of it while the test still inspects the raw bytes.
class BorrowedMember final : public io::Member {
 public:
  explicit BorrowedMember(io::Member* m) : m_(m) {}
  const std::string& name() const override { return m_->name(); }
  uint64_t size() const override { return m_->size(); }
  uint32_t block_size() const override { return m_->block_size(); }
  bool read_only() const override { return m_->read_only(); }
  Status read(uint64_t off, std::span<uint8_t> b) override { return m_->read(off, b); }
  Status write(uint64_t off, std::span<const uint8_t> b, bool fua) override { return m_->write(off, b, fua); }
  Status flush() override { return m_->flush(); }
  Status discard(uint64_t off, uint64_t len) override { return m_->discard(off, len); }
  void submit(io::IoRequest& req) override { m_->submit(req); }

 private:
  io::Member* m_;
};

// A PersonalityHost that records member failures.
class TestHost final : public PersonalityHost {
 public:
  explicit TestHost(uint32_t slots) : failed_(slots), calls_(slots) {}
  void member_failed(uint32_t slot, const Status& why) override {
    if (failed_.at(slot).exchange(true, std::memory_order_acq_rel)) return;  // recorded once, as the array does
    calls_.at(slot).fetch_add(1);
    std::lock_guard lk(mu_);
    last_ = why;
  }
  bool slot_failed(uint32_t slot) const override { return failed_.at(slot).load(std::memory_order_acquire); }
  int calls(uint32_t slot) const { return calls_.at(slot).load(); }
  int total_calls() const {
    int n = 0;
    for (const auto& c : calls_) n += c.load();
    return n;
  }
  Status last() {
    std::lock_guard lk(mu_);
    return last_;
  }

 private:
  std::vector<std::atomic<bool>> failed_;
  std::vector<std::atomic<int>> calls_;
  std::mutex mu_;
  Status last_;
};

using engine::submit_and_wait;

}  // namespace umd::engine::testing
