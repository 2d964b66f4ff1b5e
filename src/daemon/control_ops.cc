#include "daemon/control_ops.h"

#include <algorithm>
#include <iterator>

#include "array/array.h"

namespace umd::daemon {
namespace {

// request[key] as a string: "" when absent; false when present but not a string.
bool string_field(const json& request, const char* key, std::string* out) {
  out->clear();
  auto it = request.find(key);
  if (it == request.end()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

json attr_op(ServedArray& array, const json& request) {
  std::string name, value;
  if (!string_field(request, "attr", &name)) return error_response("attr: \"attr\" must be a string");
  if (!string_field(request, "value", &value)) return error_response("attr: \"value\" must be a string");
  if (!request.contains("attr")) return ok_response({{"names", array.attr_names()}});
  if (name.empty()) return error_response("attr: empty attribute name");
  if (request.contains("value")) {
    Status s = array.set_attr(name, value);
    if (!s.is_ok()) return error_response(s.message());
    return ok_response();
  }
  auto v = array.attr(name);
  if (!v.is_ok()) return error_response(v.status().message());
  return ok_response({{"value", *v}});
}

json manage_op(ServedArray& array, const json& request) {
  std::string action, member, with;
  if (!string_field(request, "action", &action) || !string_field(request, "member", &member) ||
      !string_field(request, "with", &with)) {
    return error_response("manage: \"action\", \"member\" and \"with\" must be strings");
  }
  static const char* const kActions[] = {"fail", "remove", "add", "re-add", "replace"};
  if (std::find(std::begin(kActions), std::end(kActions), action) == std::end(kActions)) {
    return error_response("manage: unknown action \"" + action + "\" (fail, remove, add, re-add, replace)");
  }
  if (member.empty()) return error_response("manage: --" + action + " needs a member");
  if (!with.empty() && action != "replace") return error_response("manage: \"with\" goes only with replace");
  Status s = array.manage(action, member, with);
  if (!s.is_ok()) return error_response(s.message());
  return ok_response();
}

json action_op(ServedArray& array, const json& request) {
  std::string action;
  if (!string_field(request, "action", &action)) return error_response("action: \"action\" must be a string");
  if (std::find(std::begin(engine::kSyncActions), std::end(engine::kSyncActions), action) ==
      std::end(engine::kSyncActions)) {
    return error_response("action: unknown sync action \"" + action +
                          "\" (check, repair, resync, recover, idle, frozen)");
  }
  Status s = array.set_attr("sync_action", action);
  if (!s.is_ok()) return error_response(s.message());
  return ok_response();
}

json grow_op(ServedArray& array, const json& request) {
  if (request.contains("bitmap")) {
    std::string bitmap;
    if (!string_field(request, "bitmap", &bitmap) || bitmap.empty()) {
      return error_response("grow: \"bitmap\" must be none, internal or a file path");
    }
    Status s = array.set_bitmap(bitmap);
    if (!s.is_ok()) return error_response(s.message());
    return ok_response();
  }
  if (request.contains("size_kib") || request.contains("array_size_kib")) {
    // --size / --array-size: a count of KiB, or "max"
    for (const char* key : {"size_kib", "array_size_kib"}) {
      if (!request.contains(key)) continue;
      const json& v = request[key];
      std::optional<uint64_t> kib;
      if (v.is_number_unsigned()) kib = v.get<uint64_t>();
      else if (!(v.is_string() && v.get<std::string>() == "max")) {
        return error_response(std::string("grow: \"") + key + "\" must be a count of KiB or \"max\"");
      }
      Status s = array.resize(key == std::string("size_kib"), kib);
      if (!s.is_ok()) return error_response(s.message());
    }
    return ok_response();
  }
  ServedArray::Shape shape;
  if (request.contains("raid_devices")) {
    if (!request["raid_devices"].is_number_unsigned()) return error_response("grow: \"raid_devices\" must be a count");
    shape.raid_devices = request["raid_devices"].get<unsigned>();
  }
  if (request.contains("chunk_kib")) {
    if (!request["chunk_kib"].is_number_unsigned()) return error_response("grow: \"chunk_kib\" must be a size in KiB");
    shape.chunk_kib = request["chunk_kib"].get<uint64_t>();
  }
  if (request.contains("layout")) {
    std::string layout;
    if (!string_field(request, "layout", &layout)) return error_response("grow: \"layout\" must be a string");
    shape.layout = layout;
  }
  if (request.contains("level")) {
    std::string level;
    if (!string_field(request, "level", &level)) return error_response("grow: \"level\" must be a string");
    shape.level = level;
  }
  if (request.contains("force")) {
    if (!request["force"].is_boolean()) return error_response("grow: \"force\" must be true or false");
    shape.force = request["force"].get<bool>();
  }
  if (request.contains("backup_file")) {
    std::string f;
    if (!string_field(request, "backup_file", &f) || f.empty() || f.front() != '/') {
      return error_response("grow: \"backup_file\" must be an absolute path");
    }
    shape.backup_file = f;
  }
  if (!shape.raid_devices && !shape.chunk_kib && !shape.layout && !shape.level) {
    return error_response("grow: give \"bitmap\", or one of \"raid_devices\", \"chunk_kib\", \"layout\", \"level\"");
  }
  Status s = array.reshape(shape);
  if (!s.is_ok()) return error_response(s.message());
  return ok_response();
}

}  // namespace

std::optional<json> handle_array_op(ServedArray& array, const std::string& op, const json& request) {
  if (op == "attr") return attr_op(array, request);
  if (op == "manage") return manage_op(array, request);
  if (op == "action") return action_op(array, request);
  if (op == "grow") return grow_op(array, request);
  return std::nullopt;
}

}  // namespace umd::daemon
