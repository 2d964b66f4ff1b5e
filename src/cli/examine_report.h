// What `umd --examine` says about one member, as text close to mdadm's and as JSON.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "assemble/superblock_probe.h"

namespace umd::cli {

nlohmann::json examine_json(const engine::ProbedMember& m);
std::string examine_text(const engine::ProbedMember& m);

}  // namespace umd::cli
