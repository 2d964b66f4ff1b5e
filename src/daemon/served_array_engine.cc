// The daemon's array: engine::Array, read-write.
#include "daemon/served_array.h"
#include "engine/array.h"
#include "engine/member_set.h"
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
  // A slot without a working member makes the array degraded, whether the member failed
  // while running or was missing at assembly.
  bool degraded = d.degraded;
  for (uint32_t slot = 0; slot < d.raid_disks; slot++) {
    bool held = false;
    for (const engine::MemberDetail& m : d.members) held |= m.slot == int(slot) && m.state.find("faulty") == std::string::npos;
    degraded |= !held;
  }
  int layout_number = -1;
  if (!d.layout.empty()) {
    auto n = layout::parse_layout(d.level, d.layout);
    if (n.is_ok()) layout_number = int(*n);
  }
  return {{"name", d.name}, {"uuid", d.uuid}, {"version", d.version}, {"level", d.level},
          {"raid_level", engine::level_name(d.level)}, {"layout", d.layout}, {"layout_number", layout_number},
          {"chunk_kib", d.chunk_kib}, {"raid_disks", d.raid_disks}, {"array_sectors", d.array_sectors},
          {"component_sectors", d.component_sectors}, {"state", d.state}, {"degraded", degraded},
          {"failed", d.failed}, {"events", d.events}, {"read_only", read_only}, {"members", members}};
}

class EngineArray final : public ServedArray {
 public:
  explicit EngineArray(std::unique_ptr<engine::Array> a) : a_(std::move(a)) {}
  engine::BlockTarget& target() override { return *a_; }
  Status stop() override { return a_->stop(); }
  nlohmann::json detail() const override { return detail_json(a_->detail(), a_->read_only()); }
  std::vector<std::string> warnings() const override { return a_->warnings(); }

 private:
  std::unique_ptr<engine::Array> a_;
};

}  // namespace

Result<std::unique_ptr<ServedArray>> assemble_served_array(const std::string& name,
                                                           const std::vector<std::string>& paths,
                                                           const ServeArrayOptions& opts) {
  engine::AssembleOptions ao;
  ao.read_only = opts.read_only;
  ao.force = opts.force;
  ao.run = opts.run;
  UMD_ASSIGN_OR_RETURN(std::unique_ptr<engine::Array> a, engine::Array::assemble(name, paths, ao));
  return std::unique_ptr<ServedArray>(new EngineArray(std::move(a)));
}

}  // namespace umd::daemon
