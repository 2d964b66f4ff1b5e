// linear and raid0: every array sector has exactly one home; nothing to reconstruct.
//
// ASYNC PROTOCOL
//  - A request is split at extent boundaries (chunk, zone or member end); each piece is
//    one member I/O on the client's buffer (write-zeroes: at most kZeroBytes per I/O from
//    the shared zero block; trim: a member discard). The request completes when every
//    piece has, with the first error.
//  - A piece on a missing or failed member fails with Err::io without being issued.
//  - A member write (or write-zeroes) failure fails the member (host->member_failed) and
//    the request with that Err::io: there is no redundancy. Read and discard errors only
//    fail the request.
#include <fmt/format.h>

#include "personality/personality_impl.h"

namespace umd::engine {
namespace {

layout::DevExtent map_striped(const layout::Geometry& geo, uint64_t sector) {
  return geo.visit([&](const auto& g) -> layout::DevExtent {
    using G = std::decay_t<decltype(g)>;
    if constexpr (std::is_same_v<G, layout::LinearGeometry> || std::is_same_v<G, layout::Raid0Geometry>) {
      return g.map(sector);
    } else {
      return {};
    }
  });
}

}  // namespace

Status StripedPersonality::read(uint64_t sector, uint64_t sectors, uint8_t* out) {
  UMD_TRY(check_range(sector, sectors));
  while (sectors > 0) {
    layout::DevExtent ext = map_striped(geo_, sector);
    if (ext.len == 0) return Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector));
    if (!usable(ext.at.disk)) return unusable_error(ext.at.disk);
    const Slot& s = slots_[ext.at.disk];
    const uint64_t n = std::min<uint64_t>(sectors, ext.len);
    UMD_TRY(s.read(ext.at.sector, n, out));
    out += n * 512;
    sector += n;
    sectors -= n;
  }
  return Status::ok();
}

void StripedPersonality::start(RequestState* rs) {
  BlockRequest& req = rs->req();
  const bool zeroes = req.op == BlockOp::write_zeroes;
  const io::IoOp op = req.op == BlockOp::read    ? io::IoOp::read
                      : req.op == BlockOp::trim ? io::IoOp::discard
                                                : io::IoOp::write;
  uint64_t sector = req.offset / 512;
  uint64_t sectors = req.length / 512;
  uint8_t* buf = req.buf;
  while (sectors > 0) {
    const layout::DevExtent ext = map_striped(geo_, sector);
    if (ext.len == 0) {
      rs->add();
      rs->finish(Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector)));
      return;
    }
    uint64_t n = std::min<uint64_t>(sectors, ext.len);
    if (zeroes) n = std::min<uint64_t>(n, kZeroBytes / 512);
    const uint32_t disk = ext.at.disk;
    rs->add();
    if (!usable(disk)) {
      rs->finish(unusable_error(disk));
    } else {
      uint8_t* src = op == io::IoOp::discard ? nullptr : zeroes ? const_cast<uint8_t*>(zero_block()) : buf;
      issue_io(member(disk), op, req.fua && op == io::IoOp::write, member_offset(disk, ext.at.sector), n * 512, src,
               [this, rs, disk, op](Status s) {
                 if (!s.is_ok() && op == io::IoOp::write && is_member_failure(s)) fail_slot(disk, s);
                 rs->finish(s);
               });
    }
    if (buf) buf += n * 512;
    sector += n;
    sectors -= n;
  }
}

}  // namespace umd::engine
