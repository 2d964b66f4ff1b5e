// Writing the array's state into every live member's superblock, as md's
// md_update_sb does: events go up by one on every update, `utime` is now, the
// active/clean state is recorded (1.x: resync_offset 0 while active, the resync point
// when clean; 0.90: the clean bit), and members that failed are marked faulty in every
// other member's role table. Each member keeps its own fields (data offset, device
// UUID, dev_number). Every live member at once gets a flush, the write, and a flush
// (md's REQ_PREFLUSH | REQ_FUA): what was written before is durable before the
// superblock that vouches for it, and the superblock is durable when this returns.
// A member a crash left one event behind first catches up with the freshest, so that no
// crash can leave a member two events behind another (CATCHING UP, superblock_writer.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "assemble/superblock_probe.h"
#include "util/status.h"

namespace umd::engine {

struct ArrayState {
  uint64_t events = 0;
  bool clean = true;                   // false while writes may be in flight
  uint64_t resync_offset = ~0ull;      // where a resync must resume (kMaxSector: in sync)
  // Role table entries to set in every superblock (1.x dev_roles), by dev_number:
  // a slot, MemberInfo::kSpare or MemberInfo::kFaulty. Entries not named keep their value.
  std::vector<std::pair<uint32_t, int>> roles;
  // A reshape under way: the position to record (md's reshape_position, array sectors).
  std::optional<uint64_t> reshape_position;
  // The reshape is done: each superblock takes the new geometry as its own, as md's
  // md_finish_reshape and super_1_sync leave it (finish_reshape_sb1 below).
  bool reshape_finished = false;
  // 0.90 superblocks: the kernel rewrites the whole descriptor table on every write
  // (super_90_sync), from every member the array holds, in this order; a member's number
  // is its slot once in sync, else the next free one from raid_disks up (so it changes when
  // a rebuilt member becomes in sync). Members no longer held are not listed.
  struct Member0 {
    int role = -1;         // a slot, or -1 (a spare)
    bool in_sync = false;  // with a slot: rebuilt (a member still recovering is a spare here)
    bool faulty = false;
  };
  std::vector<Member0> members0;
};

// The descriptor table as the kernel's super_90_sync rebuilds it from every member the
// array holds (members0, in that order; see ArrayState::members0), the five counts, and
// the own entry (this_disk) of member `self`. update_sb0 writes it on every 0.90
// superblock write; --create starts a new array with it.
void regenerate_table0(Superblock0& sb, const std::vector<ArrayState::Member0>& members0, int self);

// What a finished reshape leaves in a 1.x superblock: level, layout and chunk are the new
// ones; data_offset moves to the new offset and data_size grows or shrinks by what it
// moved (md_finish_reshape); the reshape feature bits are cleared. The new_* fields keep
// their values, as the kernel leaves them. raid_disks already counts the new geometry.
void finish_reshape_sb1(Superblock1& sb);

// The same for a 0.90 superblock (minor 91 while a reshape is recorded): level, layout
// and chunk take the new values and it is 0.90 again. super_90_sync writes the reshape
// words only with minor 91, so they go back to zero. raid_disks already counts the new
// geometry; 0.90 has no data offset to move.
void finish_reshape_sb0(Superblock0& sb);

// A member assembled one event behind the freshest (CATCHING UP below) missed the last
// superblock wave, which may have changed the array's story: md_finish_reshape's new
// geometry, a reshape's start, a new level, size or bitmap. The kernel's super_1_sync
// writes those fields from the array, not from each member's old superblock; umd keeps a
// superblock per member and updates it, so the member takes them from the freshest here,
// before anything is written. What only the member itself records (its offsets, its
// recovery and bad blocks, its device number and uuid, its events) stays its own. A
// member that missed the finish first finishes (its data offset moves as the others'
// did); one that missed the start takes the freshest's offset change.
void catch_up_sb1(Superblock1& behind, const Superblock1& fresh);
// The same for 0.90, whose superblock keeps nothing of the member's own but its number and
// the descriptor table, which every write rebuilds (regenerate_table0): the geometry, the
// reshape words and the bitmap bit come from the freshest.
void catch_up_sb0(Superblock0& behind, const Superblock0& fresh);

// One member to write, with what only its own superblock records.
struct SuperblockTarget {
  ProbedMember* member = nullptr;
  uint64_t recovery_offset = ~0ull;  // ~0: in sync; else member sectors rebuilt (feature bit set)
  bool replacement = false;          // the new member of a --replace
  int index0 = -1;                   // 0.90: this member's entry in ArrayState::members0
};

// Updates, writes and flushes the superblock of each target. Returns one Status per
// target, in order: a member whose write or flush failed is for the caller to fail (md
// fails a member whose superblock cannot be written).
std::vector<Status> write_superblocks(const std::vector<SuperblockTarget>& targets, const ArrayState& state);

// The same in three steps, for a caller that must not hold its lock across I/O:
// prepare (pure: the new superblock, its bytes and where they go), store (I/O on the
// members; nothing in memory changes), then the caller commits sb and info itself.
struct SuperblockUpdate {
  std::vector<uint8_t> bytes;
  uint64_t offset = 0;  // bytes
  std::variant<Superblock1, Superblock0> sb;
  MemberInfo info;
};
SuperblockUpdate prepare_superblock(const ProbedMember& m, const SuperblockTarget& t, const ArrayState& state);
std::vector<Status> store_superblocks(const std::vector<SuperblockTarget>& targets,
                                      const std::vector<SuperblockUpdate>& updates);

}  // namespace umd::engine
