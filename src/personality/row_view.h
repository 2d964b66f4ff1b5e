// A chunk row of raid4/5/6 as the parity module sees it: each member's buffer at its
// syndrome slot (raid6; DDF layouts leave P's and Q's slots empty) or data index
// (raid4/5), P and Q, and which block (slot, kBlockP, kBlockQ) each member holds.
#pragma once

#include <cstdint>
#include <vector>

#include "layout/raid456.h"
#include "parity/parity.h"

namespace umd::engine {

struct RowView {
  std::vector<uint8_t*> slots;
  uint8_t* p = nullptr;
  uint8_t* q = nullptr;
  std::vector<int> block_of;  // by member
};

// buf(d): member d's buffer.
template <class Buf>
RowView row_view(const layout::StripeMap& map, uint32_t disks, Buf buf) {
  const bool has_q = map.qd_idx >= 0;
  RowView v;
  v.slots.assign(has_q ? map.syndrome_width : map.ndata, nullptr);
  v.block_of.resize(disks);
  for (uint32_t d = 0; d < disks; d++) {
    switch (map.role[d]) {
      case layout::DiskRole::p:
        v.p = buf(d);
        v.block_of[d] = parity::kBlockP;
        break;
      case layout::DiskRole::q:
        v.q = buf(d);
        v.block_of[d] = parity::kBlockQ;
        break;
      default: {
        const uint16_t s = has_q ? map.q_slot[d] : map.data_index[d];
        v.slots[s] = buf(d);
        v.block_of[d] = int(s);
        break;
      }
    }
  }
  return v;
}

}  // namespace umd::engine
