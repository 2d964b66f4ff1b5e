#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/examine_report.h"
#include "assemble/superblock_probe.h"

namespace umd::cli {

int cmd_examine(const Args& a) {
  if (a.members.empty()) return usage_error("--examine needs at least one MEMBER");
  nlohmann::json all = nlohmann::json::array();
  std::string text;
  for (const std::string& path : a.members) {
    auto pm = engine::open_and_probe(path, false);
    if (!pm.is_ok()) return fail(pm.status());
    if (a.json) all.push_back(examine_json(*pm));
    else text += examine_text(*pm);
  }
  if (a.json) std::printf("%s\n", all.dump(2).c_str());
  else std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace umd::cli
