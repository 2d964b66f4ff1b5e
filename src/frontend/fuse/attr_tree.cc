#include "frontend/fuse/attr_tree.h"

#include <algorithm>
#include <map>

namespace umd::fusefs {

NodeKind attr_node(const std::vector<std::string>& names, std::string_view rel) {
  if (rel.empty()) return NodeKind::dir;
  for (const std::string& n : names) {
    if (n == rel) return NodeKind::file;
    if (n.size() > rel.size() && n.compare(0, rel.size(), rel) == 0 && n[rel.size()] == '/') return NodeKind::dir;
  }
  return NodeKind::none;
}

std::vector<std::pair<std::string, NodeKind>> attr_dir_entries(const std::vector<std::string>& names,
                                                                std::string_view rel) {
  std::map<std::string, NodeKind> out;
  const std::string prefix = rel.empty() ? "" : std::string(rel) + "/";
  for (const std::string& n : names) {
    if (n.size() <= prefix.size() || n.compare(0, prefix.size(), prefix) != 0) continue;
    std::string rest = n.substr(prefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos) {
      out.emplace(rest, NodeKind::file);
    } else if (slash > 0) {
      out[rest.substr(0, slash)] = NodeKind::dir;
    }
  }
  return {out.begin(), out.end()};
}

}  // namespace umd::fusefs
