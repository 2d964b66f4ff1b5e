// The array ops of the control protocol ("attr", "manage", "action") on a fake array.
#include "daemon/control_ops.h"

#include <gtest/gtest.h>

#include <map>

#include "block/memory_target.h"

namespace umd::daemon {
namespace {

class AttrArray final : public ServedArray {
 public:
  AttrArray() : target_(1 << 20) {}
  engine::BlockTarget& target() override { return target_; }
  Status stop() override { return Status::ok(); }
  nlohmann::json detail() const override { return json::object(); }
  std::vector<std::string> warnings() const override { return {}; }
  std::vector<std::string> attr_names() const override {
    std::vector<std::string> out;
    for (auto& [k, v] : values) out.push_back(k);
    return out;
  }
  Result<std::string> attr(const std::string& name) const override {
    auto it = values.find(name);
    if (it == values.end()) return Result<std::string>(Err::not_found, "no attribute \"" + name + "\"");
    return it->second;
  }
  Status set_attr(const std::string& name, const std::string& value) override {
    if (name == "level") return Status(Err::unsupported, "level is read-only");
    if (!values.count(name)) return Status(Err::not_found, "no attribute \"" + name + "\"");
    values[name] = value;
    return Status::ok();
  }
  Status manage(const std::string& op, const std::string& member, const std::string& with) override {
    calls.push_back(op + " " + member + (with.empty() ? "" : " " + with));
    if (member == "/not/a/member") return Status(Err::not_found, member + " is not a member of md0");
    return Status::ok();
  }
  std::map<std::string, std::string> values = {{"array_state", "clean"}, {"level", "raid5"}, {"sync_action", "idle"}};
  std::vector<std::string> calls;

 private:
  nbd::MemoryTarget target_;
};

json call(ServedArray& a, const json& req) {
  auto r = handle_array_op(a, req.at("op").get<std::string>(), req);
  EXPECT_TRUE(r.has_value());
  return r.value_or(json());
}

TEST(ControlOps, OtherOpsAreNotHandledHere) {
  AttrArray a;
  EXPECT_FALSE(handle_array_op(a, "detail", {{"op", "detail"}}).has_value());
}

TEST(ControlOps, AttrListReadWrite) {
  AttrArray a;
  EXPECT_EQ(call(a, {{"op", "attr"}}), json({{"ok", true}, {"names", {"array_state", "level", "sync_action"}}}));
  EXPECT_EQ(call(a, {{"op", "attr"}, {"attr", "array_state"}}), json({{"ok", true}, {"value", "clean"}}));
  EXPECT_EQ(call(a, {{"op", "attr"}, {"attr", "sync_action"}, {"value", "check"}}), json({{"ok", true}}));
  EXPECT_EQ(a.values["sync_action"], "check");
  json r = call(a, {{"op", "attr"}, {"attr", "level"}, {"value", "raid6"}});
  EXPECT_EQ(r, json({{"ok", false}, {"error", "level is read-only"}}));
  r = call(a, {{"op", "attr"}, {"attr", "nope"}});
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("nope"), std::string::npos);
  EXPECT_EQ(call(a, {{"op", "attr"}, {"attr", 3}})["ok"], false);
  EXPECT_EQ(call(a, {{"op", "attr"}, {"attr", "level"}, {"value", 5}})["ok"], false);
  EXPECT_EQ(a.values["level"], "raid5");
}

TEST(ControlOps, Manage) {
  AttrArray a;
  EXPECT_EQ(call(a, {{"op", "manage"}, {"action", "fail"}, {"member", "/x/d1.img"}}), json({{"ok", true}}));
  EXPECT_EQ(call(a, {{"op", "manage"}, {"action", "replace"}, {"member", "/x/d1.img"}, {"with", "/x/d3.img"}}),
            json({{"ok", true}}));
  json r = call(a, {{"op", "manage"}, {"action", "remove"}, {"member", "/not/a/member"}});
  EXPECT_EQ(r, json({{"ok", false}, {"error", "/not/a/member is not a member of md0"}}));
  EXPECT_EQ(a.calls, (std::vector<std::string>{"fail /x/d1.img", "replace /x/d1.img /x/d3.img", "remove /not/a/member"}));
  // Refused before the array sees them.
  EXPECT_EQ(call(a, {{"op", "manage"}, {"action", "explode"}, {"member", "/x"}})["ok"], false);
  EXPECT_EQ(call(a, {{"op", "manage"}, {"action", "fail"}})["ok"], false);
  EXPECT_EQ(call(a, {{"op", "manage"}, {"action", "add"}, {"member", "/x"}, {"with", "/y"}})["ok"], false);
  EXPECT_EQ(a.calls.size(), 3u);
}

TEST(ControlOps, ActionSetsSyncAction) {
  AttrArray a;
  EXPECT_EQ(call(a, {{"op", "action"}, {"action", "repair"}}), json({{"ok", true}}));
  EXPECT_EQ(a.values["sync_action"], "repair");
  json r = call(a, {{"op", "action"}, {"action", "scrub"}});
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("scrub"), std::string::npos);
  EXPECT_EQ(a.values["sync_action"], "repair");
}

TEST(ControlOps, BaseServedArrayRefuses) {
  class Plain final : public ServedArray {
   public:
    Plain() : t_(4096) {}
    engine::BlockTarget& target() override { return t_; }
    Status stop() override { return Status::ok(); }
    nlohmann::json detail() const override { return json::object(); }
    std::vector<std::string> warnings() const override { return {}; }
    nbd::MemoryTarget t_;
  } p;
  EXPECT_EQ(call(p, {{"op", "attr"}}), json({{"ok", true}, {"names", json::array()}}));
  EXPECT_EQ(call(p, {{"op", "attr"}, {"attr", "level"}})["ok"], false);
  EXPECT_EQ(call(p, {{"op", "manage"}, {"action", "fail"}, {"member", "/x"}})["ok"], false);
}

}  // namespace
}  // namespace umd::daemon
