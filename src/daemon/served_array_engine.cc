// The daemon's array: engine::Array, read-write, with its control plane.
#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>

#include "daemon/fault_hooks.h"
#include "daemon/served_array.h"
#include "array/array.h"
#include "assemble/member_set.h"
#include "io/member.h"
#include "layout/layout_names.h"
#include "overseer/reshape_overseer.h"
#include "util/numbers.h"

namespace umd::daemon {
namespace {

constexpr uint64_t kNone = ~0ull;

// ~0 (md's "none") as null.
nlohmann::json sectors_or_null(uint64_t v) { return v == kNone ? nlohmann::json(nullptr) : nlohmann::json(v); }

nlohmann::json detail_json(const engine::ArrayDetail& d, bool read_only) {
  nlohmann::json members = nlohmann::json::array();
  for (const engine::MemberDetail& m : d.members) {
    auto [maj, min] = device_numbers(m.path);
    members.push_back({{"path", m.path}, {"name", m.name}, {"slot", m.slot}, {"state", m.state},
                       {"events", m.events}, {"major", maj}, {"minor", min},
                       {"recovery_offset", sectors_or_null(m.recovery_offset)}});
  }
  int layout_number = -1;
  if (!d.layout.empty()) {
    auto n = layout::parse_layout(d.level, d.layout);
    if (n.is_ok()) layout_number = int(*n);
  }
  nlohmann::json reshape;  // null: none recorded
  if (d.reshape) {
    reshape = {{"moving", d.reshape->moving}, {"position", d.reshape->position}, {"end", d.reshape->end}, {"backwards", d.reshape->backwards},
               {"percent", d.reshape->percent()}, {"delta_disks", d.reshape->delta_disks},
               {"new_level", d.reshape->new_level}, {"new_layout", d.reshape->new_layout},
               {"new_chunk_kib", d.reshape->new_chunk_kib}};
  }
  return {{"name", d.name}, {"set_name", d.set_name}, {"uuid", d.uuid}, {"version", d.version}, {"level", d.level},
          {"raid_level", layout::level_name(d.level)}, {"layout", d.layout}, {"layout_number", layout_number},
          {"chunk_kib", d.chunk_kib}, {"raid_disks", d.raid_disks}, {"array_sectors", d.array_sectors},
          {"component_sectors", d.component_sectors}, {"state", d.state}, {"degraded", d.degraded},
          {"failed", d.failed}, {"events", d.events}, {"read_only", read_only},
          {"sync_action", d.sync_action}, {"sync_pos", d.sync_pos}, {"sync_done", d.sync_done}, {"sync_end", d.sync_end},
          {"sync_speed_kibs", d.sync_speed_kibs}, {"mismatch_cnt", d.mismatch_cnt},
          {"resync_offset", sectors_or_null(d.resync_offset)}, {"reshape", reshape}, {"members", members}};
}

class EngineArray final : public ServedArray {
 public:
  EngineArray(std::unique_ptr<engine::Array> a, std::unique_ptr<FaultHooks> hooks)
      : a_(std::move(a)), hooks_(std::move(hooks)) {}
  ~EngineArray() override { stop_overseer(); }
  engine::BlockTarget& target() override { return *a_; }
  Status stop() override {
    stop_overseer();  // before the array: the backup stays for the restart
    return a_->stop();
  }
  nlohmann::json detail() const override { return detail_json(a_->detail(), a_->read_only()); }
  std::vector<std::string> warnings() const override { return a_->warnings(); }
  std::vector<std::string> attr_names() const override { return a_->attr_names(); }
  Result<std::string> attr(const std::string& name) const override { return a_->attr(name); }
  Status set_attr(const std::string& name, const std::string& value) override { return a_->set_attr(name, value); }
  Status manage(const std::string& op, const std::string& member, const std::string& with) override;
  Status set_bitmap(const std::string& kind) override { return a_->set_bitmap(kind); }
  Status reshape(const Shape& shape) override;
  Status resize(bool component, std::optional<uint64_t> kib) override {
    std::optional<uint64_t> sectors;
    if (kib) {
      if (*kib == 0 || *kib > (~0ull >> 11)) return Status(Err::invalid, fmt::format("{}K is not a size", *kib));
      sectors = *kib * 2;
    }
    return component ? a_->set_component_size(sectors) : a_->set_array_size(sectors);
  }
  Status inject_fault(const nlohmann::json& member, const std::string& action) override;
  // An in-place reshape that needs one gets an overseer with the backup file (at --grow,
  // or at assembly after the file was restored): overseer/reshape_overseer.h.
  Status start_overseer(const std::string& backup_file, bool restart);

 private:
  Status add(const std::string& path, bool re_add);
  void stop_overseer() {
    std::unique_ptr<overseer::ReshapeOverseer> o;
    {
      std::lock_guard l(overseer_mu_);
      o = std::move(overseer_);
    }
    if (o) o->stop();
  }
  std::mutex overseer_mu_;
  std::unique_ptr<overseer::ReshapeOverseer> overseer_;  // guarded by overseer_mu_

  std::unique_ptr<engine::Array> a_;
  std::unique_ptr<FaultHooks> hooks_;  // null unless UMD_TEST_FAULTS=1 or =cache
  std::mutex add_mu_;                  // one add at a time (the hooks' pending member)
};

Status EngineArray::reshape(const Shape& shape) {
  engine::ReshapeRequest rq;
  if (shape.raid_devices) rq.raid_disks = *shape.raid_devices;
  if (shape.chunk_kib) {
    if (*shape.chunk_kib == 0 || *shape.chunk_kib > (1u << 21)) {
      return Status(Err::invalid, fmt::format("--chunk={}K is not a chunk size md takes", *shape.chunk_kib));
    }
    rq.chunk_sectors = uint32_t(*shape.chunk_kib * 2);
  }
  int level = a_->detail().level;
  if (shape.level) {
    UMD_ASSIGN_OR_RETURN(level, layout::parse_level(*shape.level));
    rq.level = level;
  }
  rq.force = shape.force;
  if (shape.layout && *shape.layout == "preserve") {
    rq.preserve_layout = true;  // mdadm's --layout=preserve: the layout that needs no restripe
  } else if (shape.layout) {
    UMD_ASSIGN_OR_RETURN(uint32_t l, layout::parse_layout(level, *shape.layout));
    rq.layout = l;
  }
  if (!shape.backup_file.empty()) {
    rq.in_place = true;
    // mdadm: "backup file must NOT be on the array being reshaped" -- nor one of its members.
    for (const engine::MemberDetail& m : a_->detail().members) {
      if (normal_path(m.path) == normal_path(shape.backup_file)) {
        return Status(Err::invalid, fmt::format("--backup-file={} is a member of the array being reshaped",
                                                shape.backup_file));
      }
    }
  }
  if (shape.backup_file.empty()) return a_->start_reshape(rq);
  // The file first (mdadm creates it O_EXCL before it changes anything): a name already
  // taken is refused with the array untouched.
  const int fd = ::open(shape.backup_file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::from_errno(errno, fmt::format("cannot create backup file {}", shape.backup_file));
  ::close(fd);
  Status s = a_->start_reshape(rq);
  if (!s.is_ok() || !a_->overseer_plan()) {  // refused, or nothing is rewritten in place
    ::unlink(shape.backup_file.c_str());
    return s;
  }
  return start_overseer(shape.backup_file, true);
}

Status EngineArray::start_overseer(const std::string& backup_file, bool restart) {
  std::optional<overseer::ReshapePlan> plan = a_->overseer_plan();
  if (!plan) return Status::ok();
  std::lock_guard l(overseer_mu_);
  if (overseer_) return Status(Err::busy, "a reshape overseer already runs for this array");
  UMD_ASSIGN_OR_RETURN(overseer_, overseer::ReshapeOverseer::start(*a_, *plan, backup_file, restart));
  return Status::ok();
}

Status EngineArray::manage(const std::string& op, const std::string& member, const std::string& with) {
  if (member.empty()) return Status(Err::invalid, "--" + op + " needs a member");
  if (op == "fail") return a_->fail_member(member);
  if (op == "remove") return a_->remove_member(member);
  if (op == "add" || op == "re-add") return add(member, op == "re-add");
  if (op == "replace") {
    // --with a new member: opened the way --add opens one (through the fault hooks in
    // test mode), then replaced onto.
    if (!with.empty() && hooks_) {
      bool known = false;
      for (const engine::MemberDetail& m : a_->detail().members) known |= m.path == normal_path(with);
      if (!known) UMD_TRY(add(with, false));
      return a_->replace_member(member, normal_path(with));
    }
    return a_->replace_member(member, with);
  }
  return Status(Err::invalid, "unknown manage action \"" + op + "\" (fail, remove, add, re-add, replace)");
}

Status EngineArray::add(const std::string& path, bool re_add) {
  if (!hooks_) return a_->add_member(path, re_add);
  std::lock_guard lk(add_mu_);
  auto dev = hooks_->open(path, a_->read_only());
  if (!dev.is_ok()) return dev.status();
  Status s = a_->add_member(std::move(*dev), normal_path(path), re_add);
  if (s.is_ok()) {
    hooks_->commit();
  } else {
    hooks_->abandon();
  }
  return s;
}

Status EngineArray::inject_fault(const nlohmann::json& member, const std::string& action) {
  if (!hooks_) return ServedArray::inject_fault(member, action);
  std::string path;
  const std::string text = member.is_string() ? member.get<std::string>() : "";
  const std::optional<uint64_t> slot_text = text.find_first_not_of("0123456789") == std::string::npos && text.size() < 10
                                                ? parse_u64(text)
                                                : std::nullopt;
  if (member.is_number_integer() || slot_text) {
    const int64_t slot = slot_text ? int64_t(*slot_text) : member.get<int64_t>();
    for (const engine::MemberDetail& m : a_->detail().members) {
      if (m.slot == slot) path = m.path;
    }
    if (path.empty()) return Status(Err::not_found, "fault: no member in slot " + std::to_string(slot));
  } else if (!text.empty()) {
    path = normal_path(text);
  } else {
    return Status(Err::invalid, "fault: \"member\" must be a path or a slot number");
  }
  UMD_TRY(hooks_->inject(path, action));
  // The machine lost power: no reply, no clean stop, no superblock, no fsync (every
  // member refuses all I/O now anyway, fault_hooks.h).
  if (action == "power-cut") std::_Exit(kPowerCutExitStatus);
  return Status::ok();
}

// UMD_TEST_FAULTS=1 or =cache: Array::assemble's member opening, each member behind a
// FaultyMember (=1: write cache off, so flush semantics are the file's own; =cache: on,
// for power cuts), synchronous I/O (no ring).
Result<std::unique_ptr<engine::Array>> assemble_with_faults(const std::string& name,
                                                            const std::vector<std::string>& paths,
                                                            const engine::AssembleOptions& ao, FaultHooks* hooks) {
  std::vector<std::unique_ptr<io::Member>> devs;
  for (const std::string& p : paths) {
    UMD_ASSIGN_OR_RETURN(auto dev, hooks->open(p, ao.read_only));
    devs.push_back(std::move(dev));
  }
  auto a = engine::Array::assemble_members(name, std::move(devs), ao);
  if (a.is_ok()) {
    hooks->commit();
  } else {
    hooks->abandon();
  }
  return a;
}

}  // namespace

Result<std::unique_ptr<ServedArray>> assemble_served_array(const std::string& name,
                                                           const std::vector<std::string>& paths,
                                                           const ServeArrayOptions& opts) {
  engine::AssembleOptions ao;
  ao.read_only = opts.read_only;
  ao.freeze_reshape = opts.freeze_reshape;
  ao.bitmap_file = opts.bitmap_file;
  ao.force = opts.force;
  ao.run = opts.run;
  ao.overlay_dir = opts.overlay_dir;
  ao.backup_file = opts.backup_file;
  const char* faults_env = std::getenv("UMD_TEST_FAULTS");
  const std::string faults_mode = faults_env != nullptr ? faults_env : "";
  const bool faults = faults_mode == "1" || faults_mode == "cache";
  std::unique_ptr<FaultHooks> hooks = faults ? std::make_unique<FaultHooks>(faults_mode == "cache") : nullptr;
  UMD_ASSIGN_OR_RETURN(std::unique_ptr<engine::Array> a, faults ? assemble_with_faults(name, paths, ao, hooks.get())
                                                                 : engine::Array::assemble(name, paths, ao));
  auto served = std::make_unique<EngineArray>(std::move(a), std::move(hooks));
  if (!opts.backup_file.empty() && !opts.read_only) {
    // The file's sections are restored (array_backup_restore.cc); an overseer takes the
    // reshape from there with the file made anew, as mdadm's Grow_continue does.
    UMD_TRY(served->start_overseer(opts.backup_file, true));
  }
  return std::unique_ptr<ServedArray>(std::move(served));
}

}  // namespace umd::daemon
