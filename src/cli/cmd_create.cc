#include <filesystem>
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "assemble/create.h"
#include "util/units.h"

namespace umd::cli {

int cmd_create(const Args& a) {
  engine::CreateSpec spec;
  spec.array_name = a.name.value_or(a.array_name);
  if (!a.level) return usage_error("--create needs --level");
  if (!a.raid_devices) return usage_error("--create needs --raid-devices");
  spec.level = *a.level;
  spec.raid_devices = *a.raid_devices;
  spec.spare_devices = a.spare_devices.value_or(0);
  if (a.chunk) {
    auto c = parse_size_kib_default(*a.chunk);
    if (!c.is_ok()) return usage_error("--chunk: " + c.status().message());
    spec.chunk_bytes = *c;
  }
  if (a.size) {
    auto s = parse_size_kib_default(*a.size);
    if (!s.is_ok()) return usage_error("--size: " + s.status().message());
    spec.size_bytes = *s;
  }
  spec.layout = a.layout;
  spec.metadata = a.metadata.value_or("1.2");
  spec.bitmap = a.bitmap.value_or("none");
  if (a.bitmap_chunk) {
    auto c = parse_size_kib_default(*a.bitmap_chunk);
    if (!c.is_ok()) return usage_error(c.status().with_context("--bitmap-chunk").message());
    spec.bitmap_chunk_bytes = *c;
  }
  if (spec.bitmap.find('/') != std::string::npos) {
    std::error_code ec;
    spec.bitmap = std::filesystem::absolute(spec.bitmap, ec).lexically_normal().string();
  }
  spec.assume_clean = a.assume_clean;
  spec.force = a.force;
  spec.members = a.members;
  if (spec.members.empty()) return usage_error("--create needs members");
  auto r = engine::create_array(spec);
  if (!r.is_ok()) return fail(r.status());
  if (a.json) {
    nlohmann::json j = {{"array_uuid", r->array_uuid},
                        {"array_sectors", r->array_sectors},
                        {"resync_pending", r->resync_pending}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::fprintf(stderr, "umd: array %s created: %s, uuid %s\n", a.array_name.c_str(),
                 human_size_sectors(r->array_sectors).c_str(), r->array_uuid.c_str());
    for (const auto& n : r->notes) std::fprintf(stderr, "umd: %s\n", n.c_str());
  }
  return 0;
}

}  // namespace umd::cli
