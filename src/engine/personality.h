// The personality interface: what each md level does with array I/O, apart from the
// generic core (member gathering, superblocks, serving). As in the kernel's
// md_personality, raid4, raid5 and raid6 are one implementation; so are linear and
// raid0 (striped), and raid1 and raid10 (mirrored).
//
// This first form carries the synchronous read path (used by --dump and, later, by
// recovery); write, sync_request, error handling and quiesce join it as they land.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "io/member.h"
#include "layout/geometry.h"
#include "util/status.h"

namespace umd::engine {

// One slot of the array as the personality sees it: the member holding it (nullptr when
// missing) and where its data starts.
struct Slot {
  io::Member* dev = nullptr;
  uint64_t data_offset = 0;  // sectors

  bool present() const { return dev != nullptr; }
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) const {
    return dev->read((data_offset + sector) * 512, {out, sectors * 512});
  }
};

class Personality {
 public:
  virtual ~Personality() = default;
  virtual const layout::Geometry& geometry() const = 0;
  uint64_t array_sectors() const { return geometry().array_sectors(); }
  // Reads `sectors` array sectors starting at `sector` into out, reconstructing what
  // missing members held from redundancy. Errors: Err::invalid past the end; Err::io
  // when a member fails and redundancy cannot cover it.
  virtual Status read(uint64_t sector, uint64_t sectors, uint8_t* out) = 0;
};

Result<std::unique_ptr<Personality>> make_personality(const layout::Geometry& geo, std::vector<Slot> slots);

}  // namespace umd::engine
