// ReshapingPersonality: an array whose reshape is recorded but not moving (stopped or
// frozen half-way), served through both geometries at once, as the kernel serves an
// array whose reshape is frozen: each request is cut where the geometry changes
// (layout/geometry_view.h) and each piece goes to the personality of its geometry (the
// previous one over the members at data_offset, the new one at new_data_offset). Slots
// are the same in both: a member that fails fails in both.
//
// What it does not do (yet): move the reshape. There is no section in flight, so no piece
// ever waits; every sync op has nothing to do (md starts no resync or recovery while a
// reshape is pending), and attach() reaches only the geometries that have the slot.
#pragma once

#include <memory>

#include "layout/geometry_view.h"
#include "personality/personality.h"

namespace umd::engine {

class ReshapingPersonality final : public Personality {
 public:
  // previous: the geometry the reshape leaves (generation view.generation()); next: the
  // one it goes to. view: with position == safe (nothing in flight).
  ReshapingPersonality(std::unique_ptr<Personality> previous, std::unique_ptr<Personality> next,
                       layout::GeometryView view);

  // The geometry whose size clients see: the smaller (md's raid5_size/raid10_size).
  const layout::Geometry& geometry() const override;
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) override;
  void submit(BlockRequest& req) override;
  void quiesce() override;
  uint32_t block_size() const override;
  void attach(uint32_t slot, Slot s, uint64_t valid_below) override;
  void detach(uint32_t slot) override;
  uint64_t valid_below(uint32_t slot) const override;
  io::Member* slot_dev(uint32_t slot) const override;
  uint64_t skip_recovery(uint64_t pos, uint64_t to,
                         const std::function<uint64_t(uint64_t, uint64_t)>& recheck) override {
    (void)to, (void)recheck;
    return pos;
  }
  void sync_arm(bool on) override;

  const layout::GeometryView& view() const { return view_; }

 private:
  Personality& of(uint32_t generation) { return generation == view_.generation() ? *previous_ : *next_; }
  bool has_slot(const Personality& p, uint32_t slot) const { return slot < p.geometry().raid_disks(); }

  std::unique_ptr<Personality> previous_, next_;
  layout::GeometryView view_;
};

}  // namespace umd::engine
