// A power switch for the members of an array under test: counts member writes and, at
// the chosen one, cuts the power of every member at once (each a FaultyMember with its
// write cache on): from then on nothing reaches them, and what they did not flush is gone
// once the test calls power_cut() on each. Shared by the reshape and takeover tests.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "io/fault_member.h"
#include "io/file_member.h"
#include "io/member.h"

namespace umd::engine::testing {

struct PowerSwitch {
  std::vector<io::FaultyMember*> members;
  std::atomic<uint64_t> writes{0};
  uint64_t cut_at = ~0ull;
  uint64_t only_offset = ~0ull;  // if set, only writes at this member offset count (a superblock's)
  std::atomic<bool> cut{false};
};

class CountingMember final : public io::MemberWrapper {
 public:
  CountingMember(std::unique_ptr<io::Member> m, PowerSwitch* ps) : MemberWrapper(std::move(m)), ps_(ps) {}
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua) override {
    count(offset);
    return MemberWrapper::write(offset, buf, fua);
  }
  void submit(io::IoRequest& req) override {
    if (req.op == io::IoOp::write) count(req.offset);
    MemberWrapper::submit(req);
  }

 private:
  void count(uint64_t offset) {
    if (ps_->only_offset != ~0ull && offset != ps_->only_offset) return;
    if (ps_->writes.fetch_add(1) + 1 == ps_->cut_at) {
      for (io::FaultyMember* m : ps_->members) m->vanish();
      ps_->cut.store(true);
    }
  }
  PowerSwitch* ps_;
};

// The image file at `path` as a member on the switch: opened buffered, behind a
// FaultyMember with its write cache on, its writes counted by `ps`.
inline Result<std::unique_ptr<io::Member>> switched_file_member(const std::string& path, PowerSwitch* ps) {
  io::OpenOptions oo;
  oo.direct = false;
  UMD_ASSIGN_OR_RETURN(auto dev, io::open_file_member(path, oo));
  auto fm = std::make_unique<io::FaultyMember>(std::move(dev));
  UMD_TRY(fm->set_write_cache(true));
  ps->members.push_back(fm.get());
  return std::unique_ptr<io::Member>(std::make_unique<CountingMember>(std::move(fm), ps));
}

}  // namespace umd::engine::testing
