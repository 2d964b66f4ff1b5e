// The md/ directory of a FUSE mount as a tree: md's attribute names are paths relative to
// md/ ("array_state", "dev-d1.img/state", "bitmap/location"), so every name is a file
// and every prefix before a '/' a directory. Pure functions of the current name list
// (attributes come and go: a member added makes dev-NAME/).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace umd::fusefs {

enum class NodeKind { none, dir, file };

// What rel (relative to md/, no leading or trailing '/'; "" is md/ itself) is.
NodeKind attr_node(const std::vector<std::string>& names, std::string_view rel);

// The entries of the directory rel (as attr_node), each once, sorted by name.
std::vector<std::pair<std::string, NodeKind>> attr_dir_entries(const std::vector<std::string>& names,
                                                                std::string_view rel);

}  // namespace umd::fusefs
