// The daemon's array: engine::Array, read-write.
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "daemon/served_array.h"
#include "engine/array.h"
#include "engine/member_set.h"
#include "io/fault_member.h"
#include "io/member.h"
#include "layout/layout_names.h"

namespace umd::daemon {
namespace {

nlohmann::json detail_json(const engine::ArrayDetail& d, bool read_only) {
  nlohmann::json members = nlohmann::json::array();
  for (const engine::MemberDetail& m : d.members) {
    auto [maj, min] = device_numbers(m.path);
    members.push_back({{"path", m.path}, {"slot", m.slot}, {"state", m.state}, {"events", m.events},
                       {"major", maj}, {"minor", min}});
  }
  int layout_number = -1;
  if (!d.layout.empty()) {
    auto n = layout::parse_layout(d.level, d.layout);
    if (n.is_ok()) layout_number = int(*n);
  }
  return {{"name", d.name}, {"uuid", d.uuid}, {"version", d.version}, {"level", d.level},
          {"raid_level", engine::level_name(d.level)}, {"layout", d.layout}, {"layout_number", layout_number},
          {"chunk_kib", d.chunk_kib}, {"raid_disks", d.raid_disks}, {"array_sectors", d.array_sectors},
          {"component_sectors", d.component_sectors}, {"state", d.state}, {"degraded", d.degraded},
          {"failed", d.failed}, {"events", d.events}, {"read_only", read_only}, {"members", members}};
}

// A member opened for fault injection: the array owns it, this is a view.
struct FaultHook {
  std::string path;
  io::FaultyMember* member;
};

std::string normal_path(const std::string& p) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(p, ec);
  return ec ? p : abs.lexically_normal().string();
}

class EngineArray final : public ServedArray {
 public:
  EngineArray(std::unique_ptr<engine::Array> a, std::vector<FaultHook> hooks, bool faults)
      : a_(std::move(a)), hooks_(std::move(hooks)), faults_(faults) {}
  engine::BlockTarget& target() override { return *a_; }
  Status stop() override { return a_->stop(); }
  nlohmann::json detail() const override { return detail_json(a_->detail(), a_->read_only()); }
  std::vector<std::string> warnings() const override { return a_->warnings(); }
  Status inject_fault(const nlohmann::json& member, const std::string& action) override;

 private:
  std::unique_ptr<engine::Array> a_;
  std::vector<FaultHook> hooks_;
  bool faults_ = false;
};

Status EngineArray::inject_fault(const nlohmann::json& member, const std::string& action) {
  if (!faults_) return ServedArray::inject_fault(member, action);
  std::string path;
  const std::string text = member.is_string() ? member.get<std::string>() : "";
  const bool slot_text = !text.empty() && text.size() < 10 && text.find_first_not_of("0123456789") == std::string::npos;
  if (member.is_number_integer() || slot_text) {
    const int64_t slot = slot_text ? std::stoll(text) : member.get<int64_t>();
    for (const engine::MemberDetail& m : a_->detail().members) {
      if (m.slot == slot) path = m.path;
    }
    if (path.empty()) return Status(Err::not_found, "fault: no member in slot " + std::to_string(slot));
  } else if (!text.empty()) {
    path = normal_path(text);
  } else {
    return Status(Err::invalid, "fault: \"member\" must be a path or a slot number");
  }
  io::FaultyMember* fm = nullptr;
  for (const FaultHook& h : hooks_) {
    if (h.path == path) fm = h.member;
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
  } else {
    return Status(Err::invalid, "fault: unknown action \"" + action +
                                    "\" (vanish, reappear, fail-writes, fail-reads, clear)");
  }
  return Status::ok();
}

// UMD_TEST_FAULTS=1: Array::assemble's member opening, each member behind a FaultyMember
// (write cache off, so flush semantics are the file's own), synchronous I/O (no ring).
Result<std::unique_ptr<engine::Array>> assemble_with_faults(const std::string& name,
                                                            const std::vector<std::string>& paths,
                                                            const engine::AssembleOptions& ao,
                                                            std::vector<FaultHook>* hooks) {
  std::vector<std::unique_ptr<io::Member>> devs;
  for (const std::string& p : paths) {
    io::OpenOptions oo;
    oo.read_only = ao.read_only;
    oo.direct = true;
    oo.exclusive = true;
    UMD_ASSIGN_OR_RETURN(auto dev, io::open_file_member(p, oo));
    auto fm = std::make_unique<io::FaultyMember>(std::move(dev));
    UMD_TRY(fm->set_write_cache(false));
    hooks->push_back({normal_path(p), fm.get()});
    devs.push_back(std::move(fm));
  }
  return engine::Array::assemble_members(name, std::move(devs), ao);
}

}  // namespace

Result<std::unique_ptr<ServedArray>> assemble_served_array(const std::string& name,
                                                           const std::vector<std::string>& paths,
                                                           const ServeArrayOptions& opts) {
  engine::AssembleOptions ao;
  ao.read_only = opts.read_only;
  ao.force = opts.force;
  ao.run = opts.run;
  const char* faults_env = std::getenv("UMD_TEST_FAULTS");
  const bool faults = faults_env != nullptr && std::string(faults_env) == "1";
  std::vector<FaultHook> hooks;
  UMD_ASSIGN_OR_RETURN(std::unique_ptr<engine::Array> a,
                       faults ? assemble_with_faults(name, paths, ao, &hooks) : engine::Array::assemble(name, paths, ao));
  return std::unique_ptr<ServedArray>(new EngineArray(std::move(a), std::move(hooks), faults));
}

}  // namespace umd::daemon
