// --attr NAME [ATTR [VALUE]]: md's attributes of a running array, as in
// /sys/block/mdX/md/. No ATTR: every attribute as "name=value" lines (--json: one
// object); ATTR: its value; ATTR VALUE: sets it (a value starting with '-' goes after
// "--": `umd --attr md0 dev-d1.img/state -- -blocked`).
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "daemon/control_protocol.h"
#include "daemon/runtime_dir.h"

namespace umd::cli {

using nlohmann::json;

namespace {

constexpr auto kTimeout = std::chrono::seconds(30);

int list_attrs(const Args& a) {
  auto names = daemon::control_call(a.array_name, {{"op", "attr"}}, kTimeout);
  if (!names.is_ok()) return fail_for(a.array_name, names.status());
  nlohmann::ordered_json values = nlohmann::ordered_json::object();  // in the list's order
  std::string text;
  Status first_error;
  for (const json& n : names->value("names", json::array())) {
    if (!n.is_string()) continue;
    const std::string name = n.get<std::string>();
    auto v = daemon::control_call(a.array_name, {{"op", "attr"}, {"attr", name}}, kTimeout);
    if (!v.is_ok()) {
      if (first_error.is_ok()) first_error = v.status();
      continue;
    }
    const std::string value = v->value("value", std::string());
    values[name] = value;
    text += name + "=" + value + "\n";
  }
  if (a.json) {
    std::printf("%s\n", values.dump(2).c_str());
  } else {
    std::fputs(text.c_str(), stdout);
  }
  if (!first_error.is_ok()) return fail_for(a.array_name, first_error);
  return 0;
}

}  // namespace

int cmd_attr(const Args& a) {
  Status name_ok = daemon::check_array_name(a.array_name);
  if (!name_ok.is_ok()) return usage_error(name_ok.message());
  if (a.members.size() > 2) {
    return usage_error("--attr NAME [ATTR [VALUE]]: unexpected \"" + a.members[2] + "\"");
  }
  if (int rc = check_assembled(a.array_name)) return rc;
  if (a.members.empty()) return list_attrs(a);
  const std::string& attr = a.members[0];
  if (a.members.size() == 2) {
    auto r = daemon::control_call(a.array_name, {{"op", "attr"}, {"attr", attr}, {"value", a.members[1]}}, kTimeout);
    if (!r.is_ok()) return fail_for(a.array_name, r.status());
    return 0;
  }
  auto r = daemon::control_call(a.array_name, {{"op", "attr"}, {"attr", attr}}, kTimeout);
  if (!r.is_ok()) return fail_for(a.array_name, r.status());
  const std::string value = r->value("value", std::string());
  if (a.json) {
    std::printf("%s\n", json({{"attr", attr}, {"value", value}}).dump(2).c_str());
  } else {
    std::printf("%s\n", value.c_str());
  }
  return 0;
}

}  // namespace umd::cli
