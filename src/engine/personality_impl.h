// The personality implementations (internal to the engine).
#pragma once

#include <fmt/format.h>

#include <cstring>

#include "engine/personality.h"
#include "util/aligned_buffer.h"

namespace umd::engine {

class PersonalityBase : public Personality {
 public:
  PersonalityBase(layout::Geometry geo, std::vector<Slot> slots) : geo_(std::move(geo)), slots_(std::move(slots)) {}
  const layout::Geometry& geometry() const override { return geo_; }

 protected:
  Status check_range(uint64_t sector, uint64_t sectors) const {
    if (sector > array_sectors() || sectors > array_sectors() - sector) {
      return Status(Err::invalid, fmt::format("read of {} sectors at {} is beyond the array's {} sectors", sectors,
                                              sector, array_sectors()));
    }
    return Status::ok();
  }
  static Status missing_error(uint32_t slot) {
    return Status(Err::io, fmt::format("slot {} is missing", slot));
  }

  layout::Geometry geo_;
  std::vector<Slot> slots_;
};

class StripedPersonality final : public PersonalityBase {
 public:
  using PersonalityBase::PersonalityBase;
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) override;
};

class MirroredPersonality final : public PersonalityBase {
 public:
  using PersonalityBase::PersonalityBase;
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) override;
};

class ParityPersonality final : public PersonalityBase {
 public:
  using PersonalityBase::PersonalityBase;
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) override;

 private:
  // `cause`: why the chunk's own member could not be read (missing, or its read error).
  Status reconstruct(const layout::Raid456Geometry& g, const layout::ChunkPlace& place, uint64_t n, uint8_t* out,
                     const Status& cause);
  AlignedBuffer scratch_;
};

}  // namespace umd::engine
