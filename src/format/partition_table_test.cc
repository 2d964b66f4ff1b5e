#include "format/partition_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "format/testdata_util.h"
#include "util/endian.h"

namespace umd {
namespace {

// A fixture made by testdata/make_partition_fixtures.sh: the image's non-zero sectors.
std::vector<uint8_t> load_image(const std::string& name) {
  const auto raw = testing::load_fixture("pt_" + name + ".sectors");
  EXPECT_GE(raw.size(), 16u);
  EXPECT_EQ(std::string(raw.begin(), raw.begin() + 8), "UMDSECT1");
  std::vector<uint8_t> img(get_le64(raw.data() + 8));
  for (size_t off = 16; off + 520 <= raw.size(); off += 520) {
    const uint64_t sector = get_le64(raw.data() + off);
    std::copy_n(raw.data() + off + 8, 512, img.data() + sector * 512);
  }
  return img;
}

nlohmann::json load_sfdisk(const std::string& name) {
  const auto raw = testing::load_fixture("pt_" + name + ".sfdisk.json");
  return nlohmann::json::parse(raw.begin(), raw.end())["partitiontable"];
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// What the codec finds equals what sfdisk says it wrote: numbers, extents, types.
void expect_matches_sfdisk(const std::string& name) {
  SCOPED_TRACE(name);
  const auto img = load_image(name);
  const auto sf = load_sfdisk(name);
  auto t = decode_partition_table(img);
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  EXPECT_EQ(scheme_name(t->scheme), std::string(sf["label"] == "dos" ? "mbr" : "gpt"));
  EXPECT_EQ(t->disk_id, lower(sf["id"]));
  ASSERT_EQ(t->partitions.size(), sf["partitions"].size());
  for (const auto& p : sf["partitions"]) {
    const std::string node = p["node"];
    const uint32_t number = uint32_t(std::stoul(node.substr(node.find(".img") + 4)));
    const Partition* got = t->find(number);
    ASSERT_NE(got, nullptr) << "partition " << number;
    EXPECT_EQ(got->start_byte, uint64_t(p["start"]) * 512) << number;
    EXPECT_EQ(got->size_bytes, uint64_t(p["size"]) * 512) << number;
    std::string type = p["type"];
    if (t->scheme == PartitionScheme::mbr) type = (type.size() == 1 ? "0x0" : "0x") + type;
    EXPECT_EQ(got->type, lower(type)) << number;
    if (p.contains("name")) {
      EXPECT_EQ(got->name, std::string(p["name"])) << number;
    }
  }
}

TEST(PartitionTable, MatchesSfdiskMbrWithLogicalPartitions) {
  expect_matches_sfdisk("mbr_logical");
  auto t = decode_partition_table(load_image("mbr_logical"));
  ASSERT_TRUE(t.is_ok());
  std::vector<uint32_t> numbers;
  for (const Partition& p : t->partitions) numbers.push_back(p.number);
  EXPECT_EQ(numbers, (std::vector<uint32_t>{1, 2, 3, 5, 6, 7}));  // slot 4 empty; logicals from 5
  EXPECT_TRUE(t->find(2)->container);
  EXPECT_FALSE(t->find(5)->container);
}

TEST(PartitionTable, MatchesSfdiskGpt) { expect_matches_sfdisk("gpt"); }

TEST(PartitionTable, GptNumbersAreEntryIndices) {
  expect_matches_sfdisk("gpt_gaps");
  auto t = decode_partition_table(load_image("gpt_gaps"));
  ASSERT_TRUE(t.is_ok());
  ASSERT_EQ(t->partitions.size(), 2u);
  EXPECT_EQ(t->partitions[0].number, 2u);
  EXPECT_EQ(t->partitions[1].number, 4u);
}

TEST(PartitionTable, GptWithoutBackupHeader) {
  auto img = load_image("gpt");
  std::fill(img.end() - 33 * 512, img.end(), 0);  // backup entries and header
  auto t = decode_partition_table(img);
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  EXPECT_EQ(t->partitions.size(), 3u);
}

TEST(PartitionTable, NoTable) {
  std::vector<uint8_t> img(1 << 20);
  auto t = decode_partition_table(img);
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->scheme, PartitionScheme::none);
  // A boot sector with 55 aa but boot flags that are no partition table's (a FAT VBR).
  img[510] = 0x55;
  img[511] = 0xaa;
  img[446] = 0x3c;
  img[446 + 4] = 0x83;
  img[446 + 12] = 1;
  t = decode_partition_table(img);
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->scheme, PartitionScheme::none);
}

// --- bad input: one error naming the problem -------------------------------------------

std::string error_of(const std::vector<uint8_t>& img) {
  auto t = decode_partition_table(img);
  EXPECT_FALSE(t.is_ok());
  if (t.is_ok()) return "";
  EXPECT_EQ(t.status().code(), Err::corrupt) << t.status().message();
  return t.status().message();
}

// Recomputes the primary GPT's entries CRC and header CRC after a test edited them.
void fix_gpt_crcs(std::vector<uint8_t>& img) {
  uint8_t* h = img.data() + 512;
  const uint64_t entries = get_le64(h + 72) * 512;
  const uint64_t n = uint64_t(get_le32(h + 80)) * get_le32(h + 84);
  put_le32(h + 88, crc32_of({img.data() + entries, n}));
  put_le32(h + 16, 0);
  put_le32(h + 16, crc32_of({h, get_le32(h + 12)}));
}

uint8_t* gpt_entry(std::vector<uint8_t>& img, int i) { return img.data() + get_le64(img.data() + 512 + 72) * 512 + 128 * i; }

TEST(PartitionTableBad, GptHeaderCrc) {
  auto img = load_image("gpt");
  img[512 + 56] ^= 1;  // disk GUID
  EXPECT_NE(error_of(img).find("GPT header: CRC32"), std::string::npos);
}

TEST(PartitionTableBad, GptEntriesCrc) {
  auto img = load_image("gpt");
  gpt_entry(img, 1)[60] ^= 1;  // a name byte
  EXPECT_NE(error_of(img).find("GPT entries: CRC32"), std::string::npos);
}

TEST(PartitionTableBad, GptOverlap) {
  auto img = load_image("gpt");
  put_le64(gpt_entry(img, 1) + 32, get_le64(gpt_entry(img, 0) + 40));  // 2 starts on 1's last LBA
  fix_gpt_crcs(img);
  const std::string e = error_of(img);
  EXPECT_NE(e.find("partitions 1 "), std::string::npos) << e;
  EXPECT_NE(e.find("and 2 "), std::string::npos) << e;
  EXPECT_NE(e.find("overlap"), std::string::npos) << e;
}

TEST(PartitionTableBad, GptPartitionPastTheEnd) {
  auto img = load_image("gpt");
  put_le64(gpt_entry(img, 2) + 40, img.size() / 512 + 100);
  fix_gpt_crcs(img);
  const std::string e = error_of(img);
  EXPECT_NE(e.find("partition 3 "), std::string::npos) << e;
  EXPECT_NE(e.find("runs past the end of the image"), std::string::npos) << e;
}

TEST(PartitionTableBad, GptEndsBeforeItStarts) {
  auto img = load_image("gpt");
  put_le64(gpt_entry(img, 0) + 40, get_le64(gpt_entry(img, 0) + 32) - 1);
  fix_gpt_crcs(img);
  EXPECT_NE(error_of(img).find("GPT partition 1: ends at LBA"), std::string::npos);
}

TEST(PartitionTableBad, ProtectiveMbrWithoutGpt) {
  auto img = load_image("gpt");
  std::fill_n(img.data() + 512, 512, 0);
  EXPECT_NE(error_of(img).find("protective MBR"), std::string::npos);
}

TEST(PartitionTableBad, MbrPartitionPastTheEndOfATruncatedImage) {
  auto img = load_image("mbr_logical");
  img.resize(24 << 20);  // cuts the extended partition (ends at 25 MiB) and partition 3
  const std::string e = error_of(img);
  EXPECT_NE(e.find("partition 2 "), std::string::npos) << e;
  EXPECT_NE(e.find("runs past the end of the image (25165824 bytes)"), std::string::npos) << e;
}

TEST(PartitionTableBad, MbrOverlap) {
  auto img = load_image("mbr_logical");
  put_le32(img.data() + 446 + 32 + 8, 4096);  // partition 3 starts inside partition 1
  const std::string e = error_of(img);
  EXPECT_NE(e.find("partitions 1 "), std::string::npos) << e;
  EXPECT_NE(e.find("and 3 "), std::string::npos) << e;
}

TEST(PartitionTableBad, LogicalPartitionPastItsContainer) {
  auto img = load_image("mbr_logical");
  const uint64_t ext = get_le32(img.data() + 446 + 16 + 8);
  put_le32(img.data() + ext * 512 + 446 + 12, 40000);  // partition 5's sector count
  const std::string e = error_of(img);
  EXPECT_NE(e.find("partition 5 "), std::string::npos) << e;
  EXPECT_NE(e.find("its extended partition 2"), std::string::npos) << e;
}

TEST(PartitionTableBad, EbrLoop) {
  auto img = load_image("mbr_logical");
  const uint64_t ext = get_le32(img.data() + 446 + 16 + 8);
  // Follow the chain to its last EBR and point that one back at the first.
  uint64_t ebr = ext;
  while (get_le32(img.data() + ebr * 512 + 446 + 16 + 12) != 0) ebr = ext + get_le32(img.data() + ebr * 512 + 446 + 16 + 8);
  uint8_t* link = img.data() + ebr * 512 + 446 + 16;
  link[4] = 0x05;
  put_le32(link + 8, 0);
  put_le32(link + 12, 2048);
  const std::string e = error_of(img);
  EXPECT_NE(e.find("the EBR chain loops back to sector " + std::to_string(ext)), std::string::npos) << e;
}

TEST(PartitionTableBad, TwoExtendedPartitions) {
  auto img = load_image("mbr_logical");
  img[446 + 32 + 4] = 0x0f;  // partition 3 becomes extended too
  EXPECT_NE(error_of(img).find("more than one extended partition"), std::string::npos);
}

TEST(PartitionTable, ReadErrorsPassThrough) {
  auto img = load_image("mbr_logical");
  ReadAt failing = [](uint64_t offset, std::span<uint8_t> buf) -> Status {
    if (offset == 0) {
      std::fill(buf.begin(), buf.end(), 0);
      buf[510] = 0x55;
      buf[511] = 0xaa;
      buf[446 + 4] = 0x05;  // one extended partition at sector 2048
      put_le32(buf.data() + 446 + 8, 2048);
      put_le32(buf.data() + 446 + 12, 2048);
      return Status::ok();
    }
    return Status(Err::io, "d.img: read at offset " + std::to_string(offset) + ": Input/output error");
  };
  auto t = decode_partition_table(failing, img.size());
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), Err::io);
  EXPECT_NE(t.status().message().find("reading the EBR at sector 2048"), std::string::npos) << t.status().message();
}

TEST(PartitionTable, GuidText) {
  const uint8_t raw[16] = {0x0f, 0x88, 0x9d, 0xa1, 0xfc, 0x05, 0x3b, 0x4d,
                           0xa0, 0x06, 0x74, 0x3f, 0x0f, 0x84, 0x91, 0x1e};
  EXPECT_EQ(gpt_guid_text(raw), "a19d880f-05fc-4d3b-a006-743f0f84911e");
}

}  // namespace
}  // namespace umd
