#include "recovery/built_served_array.h"

#include <mutex>
#include <nlohmann/json.hpp>

#include "assemble/member_set.h"
#include "layout/layout_names.h"

namespace umd::recovery {
namespace {

class BuiltTarget final : public engine::BlockTarget {
 public:
  explicit BuiltTarget(engine::Personality& p) : p_(p) {}
  uint64_t size_bytes() const override { return p_.array_sectors() * 512; }
  uint32_t block_size() const override { return 512; }
  bool read_only() const override { return true; }
  bool supports_trim() const override { return false; }
  void submit(engine::BlockRequest& req) override {
    Status s;
    switch (req.op) {
      case engine::BlockOp::read: {
        std::lock_guard lk(mu_);  // the personality's synchronous read is not for many threads
        s = p_.read(req.offset / 512, req.length / 512, req.buf);
        break;
      }
      case engine::BlockOp::flush: break;  // nothing is ever written
      default: s = Status(Err::unsupported, "a --build array is read-only"); break;
    }
    req.done(std::move(s));
  }

 private:
  engine::Personality& p_;
  std::mutex mu_;
};

class BuiltServedArray final : public daemon::ServedArray {
 public:
  BuiltServedArray(std::string name, BuildSpec spec, BuiltArray built)
      : name_(std::move(name)), spec_(std::move(spec)), built_(std::move(built)), target_(*built_.personality) {}
  engine::BlockTarget& target() override { return target_; }
  Status stop() override { return Status::ok(); }
  nlohmann::json detail() const override {
    const layout::Geometry& g = built_.personality->geometry();
    nlohmann::json members = nlohmann::json::array();
    uint32_t missing = 0;
    for (size_t s = 0; s < spec_.members.size(); s++) {
      const bool gone = built_.devs[s] == nullptr;
      missing += gone;
      members.push_back({{"path", gone ? "" : spec_.members[s]}, {"name", gone ? "" : spec_.members[s]},
                         {"slot", int(s)}, {"state", gone ? "removed" : "active sync"}, {"events", 0},
                         {"major", 0}, {"minor", 0}, {"recovery_offset", nullptr}});
    }
    const int level = g.level();
    return {{"name", name_}, {"set_name", ""}, {"uuid", ""}, {"version", "none (--build)"}, {"level", level},
            {"raid_level", layout::level_name(level)}, {"layout", layout::layout_name(level, g.layout())},
            {"chunk_kib", g.chunk_sectors() / 2}, {"raid_disks", g.raid_disks()},
            {"array_sectors", g.array_sectors()}, {"component_sectors", 0},
            {"state", "clean"}, {"degraded", missing > 0}, {"failed", missing}, {"events", 0}, {"read_only", true},
            {"sync_action", "idle"}, {"members", members}};
  }
  std::vector<std::string> warnings() const override { return {}; }

 private:
  std::string name_;
  BuildSpec spec_;
  BuiltArray built_;
  BuiltTarget target_;
};

}  // namespace

Result<std::unique_ptr<daemon::ServedArray>> serve_built_array(const std::string& name, const BuildSpec& spec) {
  UMD_ASSIGN_OR_RETURN(BuiltArray built, build_array(spec));
  return std::unique_ptr<daemon::ServedArray>(new BuiltServedArray(name, spec, std::move(built)));
}

}  // namespace umd::recovery
