#include <fmt/format.h>

#include "cli/commands.h"
#include "assemble/zero_superblock.h"

namespace umd::cli {

int cmd_zero_superblock(const Args& a) {
  if (a.members.empty()) return usage_error("--zero-superblock needs at least one MEMBER");
  for (const std::string& path : a.members) {
    Status s = engine::zero_superblock(path);
    if (!s.is_ok()) return fail(s);
  }
  return 0;
}

}  // namespace umd::cli
