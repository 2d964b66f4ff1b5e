#include "daemon/fault_hooks.h"

#include <cerrno>
#include <filesystem>
#include <limits>

#include "io/member_spec.h"
#include "io/request_check.h"

namespace umd::daemon {

std::string normal_path(const std::string& p) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(p, ec);
  return ec ? p : abs.lexically_normal().string();
}

Status SharedMember::cut(io::IoOp op, uint64_t offset, uint64_t length) const {
  return Status::from_errno(ENXIO, io::describe_io(name(), op, offset, length) + " [power cut]");
}

Result<std::unique_ptr<io::Member>> FaultHooks::open(const std::string& path, bool read_only) {
  io::OpenOptions oo;
  oo.read_only = read_only;
  oo.direct = true;
  oo.exclusive = true;
  std::lock_guard lk(mu_);
  prune_locked();  // a member removed earlier lets go of its file first
  UMD_ASSIGN_OR_RETURN(auto dev, io::open_member(path, oo));
  auto fm = std::make_shared<io::FaultyMember>(std::move(dev));
  UMD_TRY(fm->set_write_cache(write_cache_));
  pending_.push_back({normal_path(path), fm});
  return std::unique_ptr<io::Member>(new SharedMember(fm, gate_));
}

void FaultHooks::commit() {
  std::lock_guard lk(mu_);
  for (Hook& h : pending_) hooks_.push_back(std::move(h));
  pending_.clear();
}

void FaultHooks::abandon() {
  std::lock_guard lk(mu_);
  pending_.clear();
}

void FaultHooks::prune_locked() {
  std::erase_if(hooks_, [](const Hook& h) { return h.member.use_count() == 1; });
}

Status FaultHooks::inject(const std::string& path, const std::string& action) {
  std::lock_guard lk(mu_);
  prune_locked();
  io::FaultyMember* fm = nullptr;
  for (const Hook& h : hooks_) {
    if (h.path == path) fm = h.member.get();
  }
  if (fm == nullptr) return Status(Err::not_found, "fault: " + path + " is not a member");
  constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();
  if (action == "vanish") {
    fm->vanish();
  } else if (action == "reappear") {
    fm->reappear();
  } else if (action == "fail-writes") {
    fm->fail_writes(0, kAll);
  } else if (action == "fail-reads") {
    fm->fail_reads(0, kAll);
  } else if (action == "clear") {
    fm->clear_faults();
  } else if (action == "power-cut") {
    power_cut_locked();
  } else {
    return Status(Err::invalid, "fault: unknown action \"" + action +
                                    "\" (vanish, reappear, fail-writes, fail-reads, clear, power-cut)");
  }
  return Status::ok();
}

// The order matters (fault_hooks.h, POWER CUT): the gate for all members at once, then
// every member vanishes, and only then is any member's cache dropped.
void FaultHooks::power_cut_locked() {
  gate_->store(true);
  for (const auto* list : {&hooks_, &pending_}) {
    for (const Hook& h : *list) h.member->vanish();
  }
  for (const auto* list : {&hooks_, &pending_}) {
    for (const Hook& h : *list) h.member->power_cut();
  }
}

}  // namespace umd::daemon
