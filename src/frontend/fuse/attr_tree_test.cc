#include "frontend/fuse/attr_tree.h"

#include <gtest/gtest.h>

namespace umd::fusefs {
namespace {

const std::vector<std::string> kNames = {"array_state", "level", "dev-d1.img/state", "dev-d1.img/slot",
                                         "dev-d0.img/state", "bitmap/location", "sync_action"};

TEST(AttrTree, NodeKinds) {
  EXPECT_EQ(attr_node(kNames, ""), NodeKind::dir);
  EXPECT_EQ(attr_node(kNames, "array_state"), NodeKind::file);
  EXPECT_EQ(attr_node(kNames, "dev-d1.img"), NodeKind::dir);
  EXPECT_EQ(attr_node(kNames, "dev-d1.img/slot"), NodeKind::file);
  EXPECT_EQ(attr_node(kNames, "dev-d1"), NodeKind::none);  // a prefix, not a directory
  EXPECT_EQ(attr_node(kNames, "dev-d2.img"), NodeKind::none);
  EXPECT_EQ(attr_node(kNames, "array_state/x"), NodeKind::none);
  EXPECT_EQ(attr_node(kNames, "bitmap"), NodeKind::dir);
}

TEST(AttrTree, DirectoryEntriesAreUniqueAndSorted) {
  using E = std::pair<std::string, NodeKind>;
  EXPECT_EQ(attr_dir_entries(kNames, ""),
            (std::vector<E>{{"array_state", NodeKind::file}, {"bitmap", NodeKind::dir},
                            {"dev-d0.img", NodeKind::dir}, {"dev-d1.img", NodeKind::dir},
                            {"level", NodeKind::file}, {"sync_action", NodeKind::file}}));
  EXPECT_EQ(attr_dir_entries(kNames, "dev-d1.img"),
            (std::vector<E>{{"slot", NodeKind::file}, {"state", NodeKind::file}}));
  EXPECT_TRUE(attr_dir_entries(kNames, "nothing").empty());
  EXPECT_TRUE(attr_dir_entries({}, "").empty());
}

}  // namespace
}  // namespace umd::fusefs
