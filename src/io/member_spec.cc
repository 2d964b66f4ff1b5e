#include "io/member_spec.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>

#include "io/file_member.h"
#include "io/overlay_member.h"
#include "util/aligned_buffer.h"

namespace umd::io {
namespace {

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string numbers_of(const PartitionTable& t) {
  std::string s;
  for (const Partition& p : t.partitions) s += (s.empty() ? "" : ", ") + std::to_string(p.number);
  return s.empty() ? "none" : s;
}

}  // namespace

std::string MemberSpec::text() const { return partition ? fmt::format("{}:p{}", path, partition) : path; }

Result<MemberSpec> parse_member_spec(const std::string& spec) {
  const size_t colon = spec.rfind(":p");
  if (colon == std::string::npos || colon == 0 || colon + 2 >= spec.size()) return MemberSpec{spec, 0};
  const std::string digits = spec.substr(colon + 2);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 4) return MemberSpec{spec, 0};
  const std::string path = spec.substr(0, colon);
  if (exists(spec) && !exists(path)) return MemberSpec{spec, 0};
  const unsigned long n = std::stoul(digits);
  if (n == 0 || n > kMaxPartitions) {
    return Result<MemberSpec>(Err::invalid, fmt::format("{}: partition numbers run from 1 to {}", spec, kMaxPartitions));
  }
  return MemberSpec{path, uint32_t(n)};
}

Result<PartitionTable> read_partition_table(Member& whole) {
  // Reads go through aligned bounce buffers: a direct member needs aligned offsets and
  // lengths, and the codec asks for single sectors.
  const uint32_t bs = whole.block_size();
  ReadAt read = [&whole, bs](uint64_t offset, std::span<uint8_t> buf) -> Status {
    const uint64_t first = offset / bs * bs;
    const uint64_t end = (offset + buf.size() + bs - 1) / bs * bs;
    if (end > whole.size()) {
      return Status(Err::no_space, fmt::format("read at byte {} ({} bytes) beyond the end ({} bytes)", offset,
                                               buf.size(), whole.size()));
    }
    AlignedBuffer tmp(end - first);
    UMD_TRY(whole.read(first, tmp.span()));
    std::copy_n(tmp.data() + (offset - first), buf.size(), buf.data());
    return Status::ok();
  };
  auto t = decode_partition_table(read, whole.size());
  if (!t.is_ok()) return t.status().with_context(whole.name() + ": partition table");
  return t;
}

namespace {

Result<std::unique_ptr<Member>> open_plain(const std::string& spec_text, const OpenOptions& opts);

}  // namespace

Result<std::unique_ptr<Member>> open_member(const std::string& spec_text, const OpenOptions& opts) {
  if (opts.overlay_dir.empty()) return open_plain(spec_text, opts);
  OpenOptions base_opts = opts;
  base_opts.read_only = true;  // the image is never written
  base_opts.overlay_dir.clear();
  base_opts.ring = nullptr;    // the overlay does synchronous I/O
  UMD_ASSIGN_OR_RETURN(auto base, open_plain(spec_text, base_opts));
  std::error_code ec;
  auto abs = std::filesystem::absolute(spec_text, ec);
  const std::string origin = ec ? spec_text : abs.lexically_normal().string();
  UMD_ASSIGN_OR_RETURN(auto ov, OverlayMember::open(std::move(base), opts.overlay_dir, origin, opts.read_only));
  return std::unique_ptr<Member>(std::move(ov));
}

namespace {

Result<std::unique_ptr<Member>> open_plain(const std::string& spec_text, const OpenOptions& opts) {
  UMD_ASSIGN_OR_RETURN(MemberSpec spec, parse_member_spec(spec_text));
  if (spec.partition == 0) return open_file_member(spec.path, opts);
  OpenOptions whole_opts = opts;
  whole_opts.exclusive = false;  // the window's bytes are locked below, not the file
  for (int attempt = 0;; attempt++) {
    UMD_ASSIGN_OR_RETURN(auto fm, FileMember::open(spec.path, whole_opts));
    UMD_ASSIGN_OR_RETURN(PartitionTable t, read_partition_table(*fm));
    const std::string name = spec.text();
    if (t.scheme == PartitionScheme::none) {
      return Result<std::unique_ptr<Member>>(Err::not_found, fmt::format("{}: {} has no partition table", name, spec.path));
    }
    const Partition* p = t.find(spec.partition);
    if (p == nullptr) {
      return Result<std::unique_ptr<Member>>(
          Err::not_found, fmt::format("{}: no partition {} (the {} holds {})", name, spec.partition,
                                      t.scheme == PartitionScheme::gpt ? "GPT" : "MBR", numbers_of(t)));
    }
    if (p->container) {
      return Result<std::unique_ptr<Member>>(
          Err::invalid, fmt::format("{}: partition {} is an extended partition (a container of logical ones)", name,
                                    spec.partition));
    }
    Status s = fm->restrict_to(p->start_byte, p->size_bytes, name, opts.exclusive);
    // A partition not aligned to the file system's direct-I/O blocks: open it buffered.
    if (s.code() == Err::invalid && whole_opts.direct && attempt == 0) {
      whole_opts.direct = false;
      continue;
    }
    UMD_TRY(s);
    return std::unique_ptr<Member>(std::move(fm));
  }
}

}  // namespace

Result<std::vector<std::string>> partition_specs(const std::string& path) {
  OpenOptions oo;
  oo.read_only = true;
  oo.direct = false;
  UMD_ASSIGN_OR_RETURN(auto whole, open_file_member(path, oo));
  UMD_ASSIGN_OR_RETURN(PartitionTable t, read_partition_table(*whole));
  std::vector<std::string> out;
  for (const Partition& p : t.partitions) {
    if (!p.container) out.push_back(MemberSpec{path, p.number}.text());
  }
  return out;
}

}  // namespace umd::io
