// umd_torture: power cuts at random moments of random client writes, then the promise
// checked: nothing acknowledged as durable is lost.
//
// One run, for a level and a kind: a bitmap (none, internal, file, lockless), or v090 / v090b
// (0.90 superblocks, without / with an internal bitmap; every reshape in place, overseen):
//  1. An array made once by create_array (--assume-clean, zeroes), its members copied into
//     RAM (MemoryMember) behind FaultyMembers with a volatile write cache.
//  2. Client writes from a seeded RNG, up to 8 in flight, never two overlapping at once;
//     some with FUA, FLUSHes between them. Every sector written carries (write id,
//     sector) and filler derived from both, so a read says which write it holds.
//  3. At a random op, the power is cut as the daemon's fault hooks cut it
//     (daemon/fault_hooks.h): every member goes dark at one instant (one switch for all,
//     PowerRail), so nothing more is acknowledged,
//     then each member's cache keeps a random subset of its unflushed blocks (a cache
//     written back in any order, a write torn at sector boundaries). One cut in five keeps
//     every block that reached a member: what a SIGKILL of the daemon leaves, since the
//     host's page cache outlives the process.
//     One run in four is a real SIGKILL instead: the images are written to files, a child
//     process assembles them over io_uring (file members, as the daemon does), starts the
//     activity and writes on; it reports each write it submits and each acknowledgement
//     it sees on a pipe, and the driver SIGKILLs it after a random number of reports.
//     What the pipe delivered is what the client saw; the files are what is left.
//  4. A run's activity, at random: writes only; or, under the writes, a recovery onto a
//     new member (after a --fail and --remove), a check, a repair, a --replace onto a
//     new spare, or a reshape (raid4/5/6, or raid10 without a bitmap; not with the
//     lockless bitmap): --grow by one member, or to a 128K chunk on the same members, the
//     data offset moving. The sync is held at a random sync_max until it gets there, then either
//     left held or let go, so the cut lands at any point of it.
//     One raid4/5/6 reshape in three rewrites in place instead (mdadm --grow
//     --backup-file): a ReshapeOverseer in the process (the daemon's, overseer/) saves
//     each section to a backup file in mdadm's format and moves sync_max itself, so the
//     run only waits for the random point to be published. At a cut the overseer stops
//     and the file stays as it is (it lives on another disk: the cut takes none of it);
//     every assembly after it gets the file, restores the saved sections
//     (--assemble --backup-file) and goes on under a new overseer.
//     Sometimes (a second crash point) the array is reassembled and cut again while its
//     resync (and the recovery or replace it resumes) runs and new writes arrive.
//     A member whose superblock the cut lost (a new member that had not written one yet)
//     is left out of the assembly and added back as a spare, as a user would.
//  5. Reassembled: the resync umd chooses runs to its end, `check` must find 0
//     mismatches, and every sector must hold its last durable value (written by a write
//     acknowledged before an acknowledged FLUSH was submitted, or by an acknowledged FUA
//     write) or a value written to it later. The model keeps, per sector, the write ids
//     it may hold.
// Degraded runs (one member failed before the writes) are counted apart: there md's
// raid4/5/6 write hole can lose sectors nobody wrote (a torn stripe rebuilt from stale
// parity; journal/PPL would close it), so their lost sectors are reported, not failed,
// as long as they are sectors of the failed member (rebuilt from parity); a sector lost
// on a member that is there is a failure. On raid1/10 a degraded run must lose nothing.
//
// Usage: umd_torture [--levels 1,4,5,6,10] [--kinds none,internal,file,lockless,v090,v090b]
//                    [--activities writes,recover,check,repair,replace,reshape] [--no-kill]
//                    [--seconds S per level | --runs N per level and kind] [--seed X]
// Each failure prints its run's seed: `--replay X --levels L --kinds K` runs it again
// (the workload and the cut point are the seed's; thread timing is not).
// Exit status 0 when no sector was lost outside degraded parity runs and no check found
// a mismatch. --self-test makes the model take every acknowledged write as durable (a
// promise the array never made): then sectors must be found lost, and the exit status
// says whether the driver noticed (0 when it did), so the checker itself is tested.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "array/array.h"
#include "assemble/create.h"
#include "assemble/superblock_probe.h"
#include "block/block_wait.h"
#include "io/fault_member.h"
#include "io/memory_member.h"
#include "io/uring_queue.h"
#include "layout/geometry.h"
#include "overseer/reshape_overseer.h"
#include "layout/layout_names.h"
#include "layout/raid456.h"
#include "util/aligned_buffer.h"

namespace umd::torture {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using engine::BlockOp;

constexpr uint64_t kMemberBytes = 4 << 20;
constexpr uint32_t kSector = 512;
constexpr int kMaxInflight = 8;

bool g_self_test = false;  // --self-test: see the top of the file

uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void fill_sector(uint8_t* p, uint32_t id, uint64_t sector) {
  std::memcpy(p, &id, 4);
  std::memcpy(p + 8, &sector, 8);
  for (uint32_t i = 16; i < kSector; i += 8) {
    const uint64_t v = mix(uint64_t(id) << 32 ^ sector ^ i);
    std::memcpy(p + i, &v, 8);
  }
  std::memset(p + 4, 0xa5, 4);
}

// The write id a sector holds: 0 for zeroes, ~0u for anything no write wrote.
uint32_t id_of_sector(const uint8_t* p, uint64_t sector) {
  static const std::vector<uint8_t> zero(kSector, 0);
  if (std::memcmp(p, zero.data(), kSector) == 0) return 0;
  uint32_t id;
  std::memcpy(&id, p, 4);
  uint8_t want[kSector];
  fill_sector(want, id, sector);
  return std::memcmp(p, want, kSector) == 0 ? id : ~0u;
}

// One switch for every member: a power cut takes them all at the same instant. Vanishing
// them one by one would let the array record the first ones' failure on the last ones
// (which md would then rightly refuse to assemble without --force).
class PowerRail final : public io::MemberWrapper {
 public:
  PowerRail(std::unique_ptr<io::Member> m, const std::atomic<bool>* off) : MemberWrapper(std::move(m)), off_(off) {}
  Status read(uint64_t offset, std::span<uint8_t> buf) override {
    return off_->load() ? dark() : MemberWrapper::read(offset, buf);
  }
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua) override {
    return off_->load() ? dark() : MemberWrapper::write(offset, buf, fua);
  }
  Status flush() override { return off_->load() ? dark() : MemberWrapper::flush(); }
  Status discard(uint64_t offset, uint64_t length) override {
    return off_->load() ? dark() : MemberWrapper::discard(offset, length);
  }
  void submit(io::IoRequest& req) override {
    if (off_->load()) {
      req.done(dark());
      return;
    }
    MemberWrapper::submit(req);
  }

 private:
  Status dark() const { return Status::from_errno(ENXIO, name() + ": the power is off"); }
  const std::atomic<bool>* off_;
};

struct Kind {
  std::string level;
  unsigned n;
  std::string bitmap;  // none | internal | file | lockless
  std::string metadata = "1.2";  // the kinds "v090", "v090b": 0.90 superblocks (b: an internal bitmap)
};

// The array as create_array made it: member images, and the bitmap file's bytes.
struct Pristine {
  std::vector<std::vector<uint8_t>> members;
  std::vector<uint8_t> bitmap_file;
};

// What runs beside the client writes when the power goes.
enum class Activity { writes, recover, check, repair, replace, reshape, resync, count };
const char* activity_name(Activity a) {
  static const char* names[] = {"writes", "recover", "check", "repair", "replace", "reshape", "resync"};
  return names[int(a)];
}

bool g_kill = true;  // --no-kill: power cuts only
std::vector<Activity> g_activities;  // --activities: only these (default: writes half the time, else one of the others)

struct Totals {
  uint64_t runs = 0, crash_points = 0, writes_acked = 0, flushes_acked = 0, fua_acked = 0;
  uint64_t cuts_by_activity[int(Activity::count)] = {};
  uint64_t kill_cuts = 0;  // cuts that kept every block (a SIGKILL's leftovers)
  uint64_t sigkills = 0;   // real SIGKILLs of a child process
  uint64_t in_place = 0;   // runs whose reshape rewrote in place, overseen
  uint64_t overseers_resumed = 0;  // assemblies that went on with such a reshape
  uint64_t sectors_lost = 0, mismatches = 0, failures = 0;
  uint64_t degraded_runs = 0, write_hole_sectors = 0, write_hole_runs = 0;
};

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_file(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

Result<Pristine> make_pristine(const Kind& k, const fs::path& dir) {
  std::vector<std::string> paths;
  for (unsigned i = 0; i < k.n; i++) {
    paths.push_back((dir / fmt::format("d{}.img", i)).string());
    { std::ofstream(paths.back(), std::ios::binary | std::ios::trunc); }
    fs::resize_file(paths.back(), kMemberBytes);
  }
  engine::CreateSpec spec;
  spec.array_name = "torture";
  spec.level = k.level;
  spec.raid_devices = k.n;
  if (k.level != "1") spec.chunk_bytes = 64 * 1024;
  spec.assume_clean = true;
  spec.metadata = k.metadata;
  spec.bitmap = k.bitmap == "file" ? (dir / "bitmap").string() : k.bitmap;
  if (k.bitmap == "internal" || k.bitmap == "file") spec.bitmap_chunk_bytes = 64 * 1024;
  spec.members = paths;
  auto r = engine::create_array(spec);
  if (!r.is_ok()) return r.status();
  Pristine p;
  for (const auto& path : paths) {
    const std::string b = read_file(path);
    p.members.emplace_back(b.begin(), b.end());
  }
  if (k.bitmap == "file") {
    const std::string b = read_file(dir / "bitmap");
    p.bitmap_file.assign(b.begin(), b.end());
  }
  return p;
}

// Per sector: the write ids it may hold now, oldest first (0: zeroes).
class Model {
 public:
  explicit Model(uint64_t sectors) : allowed_(sectors, std::vector<uint32_t>{0}) {}
  void submitted(uint32_t id, uint64_t sector, uint64_t count) {
    for (uint64_t s = sector; s < sector + count; s++) allowed_[s].push_back(id);
  }
  // `id` is durable on its sectors: what came before it there is gone for good.
  void durable(uint32_t id, uint64_t sector, uint64_t count) {
    for (uint64_t s = sector; s < sector + count; s++) {
      auto& v = allowed_[s];
      for (size_t i = 0; i < v.size(); i++) {
        if (v[i] == id) {
          v.erase(v.begin(), v.begin() + long(i));
          break;
        }
      }
    }
  }
  bool allows(uint64_t sector, uint32_t id) const {
    for (uint32_t a : allowed_[sector]) {
      if (a == id) return true;
    }
    return false;
  }
  // After a crash the sector holds one of them, unknown which: they all stay allowed.
  const std::vector<uint32_t>& allowed(uint64_t sector) const { return allowed_[sector]; }
  uint64_t sectors() const { return allowed_.size(); }

 private:
  std::vector<std::vector<uint32_t>> allowed_;
};

class Run {
 public:
  Run(const Kind& k, const Pristine& p, const fs::path& dir, uint64_t seed, Totals& t)
      : kind_(k), dir_(dir), rng_(seed), seed_(seed), totals_(t) {
    images_ = p.members;
    bitmap_file_ = p.bitmap_file;
  }

  // false: a failure (printed, with the seed).
  bool go() {
    const bool parity = kind_.level == "4" || kind_.level == "5" || kind_.level == "6";
    const uint64_t pick = rng_() % 10;
    activity_ = pick < 5 ? Activity::writes : Activity(1 + (pick - 5) % 5);
    if (!g_activities.empty()) activity_ = g_activities[pick % g_activities.size()];
    if (activity_ == Activity::reshape && !can_reshape()) activity_ = Activity::recover;
    degraded_ = activity_ == Activity::writes && rng_() % 4 == 0;
    int phases = rng_() % 4 == 0 ? 2 : 1;
    const bool kill = g_kill && rng_() % 4 == 0;
    if (kill) phases = 0;
    std::unique_ptr<engine::Array> a;
    struct OverseerFirst {  // the overseer speaks to `a`: it stops before `a` goes
      Run* r;
      ~OverseerFirst() { r->overseer_.reset(); }
    } overseer_first{this};
    fs::remove(backup_path());  // an earlier run's
    if (kill && !go_killed()) return false;
    if (kill) in_place_ = fs::exists(backup_path());  // the child chose it
    if (kill && in_place_) totals_.in_place++;
    for (int phase = 0; phase < phases; phase++) {
      if (!assemble(&a, phase > 0)) return false;
      if (!model_) model_ = std::make_unique<Model>(a->size_bytes() / kSector);
      if (phase == 0 && degraded_) {
        victim_ = unsigned(rng_() % kind_.n);  // create gives member i slot i
        Status s = a->fail_member(fmt::format("d{}.img", victim_));
        if (!s.is_ok()) return fail("failing a member: " + s.message());
      }
      if (phase == 0 && activity_ != Activity::writes && !start_activity(*a)) return false;
      workload(*a);
      cut(&a);
      totals_.crash_points++;
      totals_.cuts_by_activity[int(phase ? Activity::resync : activity_)]++;
    }
    if (!assemble(&a, true)) return false;
    if (!a->sync_engine().wait_idle(120s)) return fail("the resync did not finish in 120 s");
    if (!a->detail().degraded) {
      Status s = a->set_attr("sync_action", "check");
      if (!s.is_ok()) return fail("check: " + s.message());
      if (!a->sync_engine().wait_idle(120s)) return fail("the check did not finish in 120 s");
      auto mm = a->attr("mismatch_cnt");
      if (!mm.is_ok()) return fail("mismatch_cnt: " + mm.status().message());
      const uint64_t m = std::stoull(*mm);
      totals_.mismatches += m;
      if (m) return fail(fmt::format("check after the resync found {} mismatched sectors", m));
    }
    uint64_t on_victim = 0;
    const uint64_t lost = verify(*a, degraded_ && parity ? &on_victim : nullptr);
    if (degraded_) {  // degraded writes, or a recovery: the write hole is possible
      totals_.degraded_runs++;
      if (parity) {
        totals_.write_hole_sectors += on_victim;
        totals_.write_hole_runs += on_victim ? 1 : 0;
        totals_.sectors_lost += lost - on_victim;
        if (lost > on_victim)
          return fail(fmt::format("{} sectors lost on members that are there (and {} on the failed one)",
                                  lost - on_victim, on_victim));
        return true;
      }
    }
    totals_.sectors_lost += lost;
    if (lost) return fail(fmt::format("{} sectors lost", lost));
    return true;
  }

 private:
  // The run's story, printed with a failure: each assembly's members, the activity, cuts.
  void note_members(const char* when, engine::Array& a) {
    const engine::ArrayDetail d = a.detail();
    story_ += fmt::format("  {}: events {}, sync {} {}/{}{}\n", when, d.events, d.sync_action, d.sync_pos, d.sync_end,
                          d.reshape ? fmt::format(", reshape at {}", d.reshape->position) : std::string());
    for (const auto& m : d.members) {
      story_ += fmt::format("    {} slot {} {} events {} recovery_offset {}\n", m.name, m.slot, m.state, m.events,
                            m.recovery_offset == ~0ull ? std::string("-") : std::to_string(m.recovery_offset));
    }
  }

  bool fail(const std::string& why) {
    totals_.failures++;
    std::fputs(story_.c_str(), stdout);
    std::printf("FAIL raid%s kind=%s activity=%s%s seed=%llu: %s\n", kind_.level.c_str(),
                kind_.metadata != "0.90" ? kind_.bitmap.c_str() : kind_.bitmap == "none" ? "v090" : "v090b",
                activity_name(activity_), degraded_ ? " (degraded)" : "", (unsigned long long)seed_, why.c_str());
    std::fflush(stdout);
    return false;
  }

  // The SIGKILL child's report of what its client saw, one line each (see the top).
  void report(const std::string& line) {
    if (report_fd_ < 0) return;
    const std::string l = line + "\n";
    for (size_t at = 0; at < l.size();) {
      const ssize_t n = ::write(report_fd_, l.data() + at, l.size() - at);
      if (n <= 0) ::_exit(4);  // the driver is gone
      at += size_t(n);
    }
  }

  Result<std::unique_ptr<io::Member>> open_on_ring(const fs::path& path) {
    io::OpenOptions oo;
    oo.ring = ring_.get();
    return io::open_file_member(path.string(), oo);
  }

  // The child: the array over the files, on an io_uring, writing until it is killed.
  [[noreturn]] void child_main() {
    io::UringQueue::Options ro;
    ro.reaper_thread = true;
    auto ring = io::UringQueue::create(ro);
    if (!ring.is_ok()) {
      fail("io_uring: " + ring.status().message());
      ::_exit(3);
    }
    ring_ = std::move(ring).value();
    std::vector<std::unique_ptr<io::Member>> devs;
    for (size_t i = 0; i < images_.size(); i++) {
      auto m = open_on_ring(dir_ / fmt::format("d{}.img", i));
      if (!m.is_ok()) {
        fail("opening a member: " + m.status().message());
        ::_exit(3);
      }
      devs.push_back(std::move(m).value());
    }
    engine::AssembleOptions o;
    if (kind_.bitmap == "file") o.bitmap_file = (dir_ / "bitmap").string();
    auto r = engine::Array::assemble_members("torture", std::move(devs), o);
    if (!r.is_ok()) {
      fail("assembly: " + r.status().message());
      ::_exit(3);
    }
    std::unique_ptr<engine::Array> a = std::move(r).value();
    model_ = std::make_unique<Model>(a->size_bytes() / kSector);
    report(fmt::format("M {}", a->size_bytes() / kSector));
    if (degraded_) {
      victim_ = unsigned(rng_() % kind_.n);
      Status s = a->fail_member(fmt::format("d{}.img", victim_));
      if (!s.is_ok()) {
        fail("failing a member: " + s.message());
        ::_exit(3);
      }
      report(fmt::format("V {} 1", victim_));
    }
    if (activity_ != Activity::writes && !start_activity(*a)) ::_exit(3);
    for (;;) workload(*a);
  }

  // A real SIGKILL of a real process at a random moment; the images are what it left.
  bool go_killed() {
    for (size_t i = 0; i < images_.size(); i++) write_file(dir_ / fmt::format("d{}.img", i), images_[i]);
    for (size_t i = images_.size(); fs::exists(dir_ / fmt::format("d{}.img", i)); i++) {
      fs::remove(dir_ / fmt::format("d{}.img", i));  // an earlier run's new member
    }
    if (kind_.bitmap == "file") write_file(dir_ / "bitmap", bitmap_file_);
    const uint64_t kill_after = 1 + rng_() % 400;  // reports
    int fds[2];
    if (::pipe(fds) != 0) return fail("pipe failed");
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid < 0) return fail("fork failed");
    if (pid == 0) {
      ::close(fds[0]);
      report_fd_ = fds[1];
      child_main();
    }
    ::close(fds[1]);
    FILE* in = ::fdopen(fds[0], "r");
    char* line = nullptr;
    size_t cap = 0;
    uint64_t seen = 0;
    bool killed = false;
    story_ += fmt::format("  SIGKILL after {} reports\n", kill_after);
    while (::getline(&line, &cap, in) > 0) {
      std::istringstream f(line);
      std::string what;
      f >> what;
      if (what == "M") {
        uint64_t sectors;
        f >> sectors;
        model_ = std::make_unique<Model>(sectors);
      } else if (what == "V") {
        int d;
        f >> victim_ >> d;
        degraded_ = d != 0;
      } else if (what == "S") {
        uint32_t id;
        uint64_t sector, count;
        f >> id >> sector >> count;
        model_->submitted(id, sector, count);
        writes_[id] = {sector, count};
      } else if (what == "A") {
        uint32_t id;
        int fua;
        f >> id >> fua;
        totals_.writes_acked++;
        if (fua || g_self_test) {
          totals_.fua_acked += fua;
          model_->durable(id, writes_[id].first, writes_[id].second);
        }
      } else if (what == "F") {
        totals_.flushes_acked++;
        uint32_t id;
        while (f >> id) model_->durable(id, writes_[id].first, writes_[id].second);
      }
      if (++seen == kill_after) {
        ::kill(pid, SIGKILL);
        killed = true;
      }
    }
    std::free(line);
    std::fclose(in);
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!killed || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
      return fail(fmt::format("the child ended by itself (status {:#x}) after {} reports", st, seen));
    }
    if (!model_) return fail("the child was killed before it reported the array's size");
    images_.clear();
    for (size_t i = 0; fs::exists(dir_ / fmt::format("d{}.img", i)); i++) {
      const std::string b = read_file(dir_ / fmt::format("d{}.img", i));
      images_.emplace_back(b.begin(), b.end());
    }
    if (kind_.bitmap == "file") {
      const std::string b = read_file(dir_ / "bitmap");
      bitmap_file_.assign(b.begin(), b.end());
    }
    totals_.crash_points++;
    totals_.sigkills++;
    totals_.cuts_by_activity[int(activity_)]++;
    return true;
  }

  // A new member: zeroes, behind a FaultyMember like the others; image i.
  std::unique_ptr<io::Member> new_member(size_t i) {
    if (ring_) {  // the SIGKILL child: a file, on the ring
      const fs::path path = dir_ / fmt::format("d{}.img", i);
      write_file(path, std::vector<uint8_t>(kMemberBytes, 0));
      auto m = open_on_ring(path);
      if (!m.is_ok()) {
        fail("opening a new member: " + m.status().message());
        ::_exit(3);
      }
      return std::move(m).value();
    }
    if (i == images_.size()) images_.emplace_back(kMemberBytes, 0);
    std::fill(images_[i].begin(), images_[i].end(), 0);
    auto fm = std::make_unique<io::FaultyMember>(io::make_memory_member(fmt::format("d{}.img", i), kMemberBytes));
    if (i == faulty_.size()) faulty_.push_back(nullptr);
    faulty_[i] = fm.get();
    return std::make_unique<PowerRail>(std::move(fm), &power_off_);
  }

  // Starts the run's activity with the sync held at a random sync_max, waits until the
  // sync is there, and then lets it go on or keeps it held.
  bool start_activity(engine::Array& a) {
    const engine::ArrayDetail d = a.detail();
    // A reshape's sync positions are array sectors (its progress), as raid10's check's are.
    const bool array_positions = activity_ == Activity::reshape ||
                                 (kind_.level == "10" && (activity_ == Activity::check || activity_ == Activity::repair));
    const uint64_t end = array_positions ? d.array_sectors : d.component_sectors;
    uint64_t hold = rng_() % end / 128 * 128;
    // One reshape of raid4/5/6 in three rewrites in place, under an overseer with a backup
    // file (mdadm --grow --backup-file): the overseer moves sync_max, so the run does not
    // hold it; it waits for the same random point to be published instead.
    const bool parity = kind_.level == "4" || kind_.level == "5" || kind_.level == "6";
    in_place_ = activity_ == Activity::reshape && parity && (kind_.metadata == "0.90" || rng_() % 3 == 0);
    if (in_place_) {
      if (report_fd_ < 0) totals_.in_place++;  // the SIGKILL child's is counted by the driver
      story_ += "  in place, overseen, with a backup file\n";
    } else if (!a.set_attr("sync_max", std::to_string(hold)).is_ok()) {
      hold = hold / 1024 * 1024;
      Status s = a.set_attr("sync_max", std::to_string(hold));
      if (!s.is_ok()) return fail("sync_max: " + s.message());
    }
    const std::string victim = fmt::format("d{}.img", victim_ = unsigned(rng_() % kind_.n));
    Status s;
    switch (activity_) {
      case Activity::recover:
        degraded_ = true;  // until the rebuild is done: raid4/5/6's write hole is open
        s = a.fail_member(victim);
        if (s.is_ok()) s = a.remove_member(victim);
        if (s.is_ok()) s = a.add_member(new_member(victim_), victim, false);
        break;
      case Activity::check:
      case Activity::repair:
        s = a.set_attr("sync_action", activity_ == Activity::check ? "check" : "repair");
        break;
      case Activity::replace: {
        const size_t spare = images_.size();
        s = a.add_member(new_member(spare), fmt::format("d{}.img", spare), false);
        if (s.is_ok()) s = a.replace_member(victim, fmt::format("d{}.img", spare));
        break;
      }
      case Activity::reshape: {
        // mdadm --grow: one more member (a new spare takes the new slot), or, one run in
        // three, the chunk 64K -> 128K on the same members; the data offset moves.
        engine::ReshapeRequest rq;
        // (0.90: 63 chunks of data per member, which 128K does not divide, so there a raid5/6
        // changes its layout instead: the same disks, every section rewritten in place)
        const bool same_disks = rng_() % 3 == 0;
        if (same_disks && kind_.metadata != "0.90") {
          rq.chunk_sectors = 256;
          story_ += "  --grow --chunk=128K\n";
        } else if (same_disks && kind_.level != "4") {
          rq.layout = 1;
          story_ += "  --grow --layout=right-asymmetric\n";
        } else {
          const size_t spare = images_.size();
          s = a.add_member(new_member(spare), fmt::format("d{}.img", spare), false);
          rq.raid_disks = kind_.n + 1;
          story_ += fmt::format("  --grow --raid-devices={} onto d{}.img\n", kind_.n + 1, spare);
        }
        rq.in_place = in_place_;
        if (s.is_ok() && in_place_) {
          // The file first, as mdadm (and umd --grow) creates it before anything changes.
          write_file(backup_path(), {});
        }
        if (s.is_ok()) s = a.start_reshape(rq);
        if (s.is_ok() && in_place_) s = start_overseer(a);
        break;
      }
      default:
        break;
    }
    if (!s.is_ok()) return fail(fmt::format("starting {}: {}", activity_name(activity_), s.message()));
    const bool there = a.sync_engine().wait_published(hold, 30s);  // false: it ended (or never began) first
    if (in_place_) {
      story_ += fmt::format("  reshape in place, waited for {} ({})\n", hold, there ? "got there" : "ended first");
      if (!overseer_->status().is_ok()) return fail("the overseer: " + overseer_->status().message());
      return true;
    }
    story_ += fmt::format("  {} of {}, held at {} ({})\n", activity_name(activity_), victim, hold,
                          there ? "got there" : "ended first");
    report(fmt::format("V {} {}", victim_, degraded_ ? 1 : 0));
    if (rng_() % 2) {
      story_ += "  sync_max back to max\n";
      s = a.set_attr("sync_max", "max");
      if (!s.is_ok()) return fail("sync_max max: " + s.message());
    }
    return true;
  }

  // mdadm can reshape raid4/5/6 and raid10 (near) without a backup file when the data
  // offset moves; raid4/5/6 keep a classic bitmap (internal or in a file) through it.
  bool can_reshape() const {
    if (kind_.level == "1") return false;
    if (kind_.metadata == "0.90") return kind_.level != "10";  // in place only: raid4/5/6
    if (kind_.level == "10") return kind_.bitmap == "none";
    return kind_.bitmap != "lockless";
  }

  // Whether image i still holds a superblock (a cut can take a new member's first one).
  bool has_superblock(size_t i) { return probe_image(i).is_ok(); }
  Result<engine::ProbedMember> probe_image(size_t i) {
    auto m = io::make_memory_member(fmt::format("d{}.img", i), images_[i].size());
    std::memcpy(m->raw().data(), images_[i].data(), images_[i].size());
    return engine::probe_member(std::move(m));
  }

  bool assemble(std::unique_ptr<engine::Array>* out, bool run_degraded) {
    power_off_ = false;
    if (kind_.bitmap == "file") write_file(dir_ / "bitmap", bitmap_file_);
    std::vector<std::unique_ptr<io::Member>> devs;
    std::vector<size_t> blank;  // members without a superblock: added back as spares
    faulty_.assign(images_.size(), nullptr);
    for (size_t i = 0; i < images_.size(); i++) {
      if (!has_superblock(i)) {
        blank.push_back(i);
        continue;
      }
      auto m = io::make_memory_member(fmt::format("d{}.img", i), images_[i].size());
      std::memcpy(m->raw().data(), images_[i].data(), images_[i].size());
      auto fm = std::make_unique<io::FaultyMember>(std::move(m));
      faulty_[i] = fm.get();
      devs.push_back(std::make_unique<PowerRail>(std::move(fm), &power_off_));
    }
    engine::AssembleOptions o;
    if (kind_.bitmap == "file") o.bitmap_file = (dir_ / "bitmap").string();
    if (in_place_ && fs::exists(backup_path())) o.backup_file = backup_path().string();
    o.run = run_degraded || degraded_;
    auto a = engine::Array::assemble_members("torture", std::move(devs), o);
    if (!a.is_ok()) {
      for (size_t i = 0; i < images_.size(); i++) {
        auto pm = probe_image(i);
        if (!pm.is_ok()) continue;
        std::string roles;
        for (int r : pm->info.roles_of_dev_numbers) roles += fmt::format(" {}", r);
        story_ += fmt::format("    d{}.img: events {} role {} dev_number {} feature_map {:#x} roles{}\n", i,
                              pm->info.events, pm->info.role, pm->info.dev_number, pm->info.feature_map, roles);
      }
      return fail("assembly: " + a.status().message());
    }
    *out = std::move(a).value();
    for (size_t i : blank) story_ += fmt::format("  d{}.img has no superblock: added back as a spare\n", i);
    note_members("assembled", **out);
    for (size_t i : blank) {
      Status s = (*out)->add_member(new_member(i), fmt::format("d{}.img", i), false);
      if (!s.is_ok()) return fail(fmt::format("adding d{}.img back: {}", i, s.message()));
    }
    if (in_place_ && (*out)->overseer_plan()) {  // as umd --assemble --backup-file goes on
      story_ += "  the reshape goes on in place: a new overseer\n";
      totals_.overseers_resumed++;
      if (Status s = start_overseer(**out); !s.is_ok()) return fail("starting the overseer: " + s.message());
    }
    return true;
  }

  fs::path backup_path() const { return dir_ / "backup"; }

  // An overseer for the array's in-place reshape (none when it needs none), over the
  // backup file, as the daemon starts one (served_array_engine.cc).
  Status start_overseer(engine::Array& a) {
    overseer_.reset();
    std::optional<overseer::ReshapePlan> plan = a.overseer_plan();
    if (!plan) return Status::ok();
    auto o = overseer::ReshapeOverseer::start(a, *plan, backup_path().string(), true);
    if (!o.is_ok()) return o.status();
    overseer_ = std::move(o).value();
    return Status::ok();
  }

  struct Inflight {
    engine::BlockRequest req;
    AlignedBuffer buf;
    uint32_t id = 0;
    uint64_t sector = 0, count = 0;
    std::vector<uint32_t> covers;  // flush: the acknowledged writes it makes durable
    explicit Inflight(size_t n) : buf(n ? n : kSector) {}
  };

  // Random writes, FUA writes and flushes, up to kMaxInflight at once, none overlapping;
  // returns at the op chosen for the cut, with requests still in flight.
  void workload(engine::Array& a) {
    const uint64_t sectors = model_->sectors();
    const uint32_t bs = a.block_size() / kSector;
    const int ops = 1 + int(rng_() % 160);
    const int inflight_max = 1 + int(rng_() % kMaxInflight);
    const double fua_p = (rng_() % 4) * 0.08, flush_p = (rng_() % 4) * 0.06;
    const bool hot = rng_() % 2;  // writes crowd into the first 256 KiB (same stripes)
    const uint64_t span = hot ? std::min<uint64_t>(sectors, 512) : sectors;
    for (int i = 0; i < ops; i++) {
      std::unique_lock l(mu_);
      cv_.wait(l, [&] { return int(inflight_.size()) < inflight_max; });
      const double r = double(rng_() % 1000) / 1000;
      if (r < flush_p) {
        auto inf = std::make_shared<Inflight>(0);
        for (uint32_t id : acked_) inf->covers.push_back(id);
        inf->req.op = BlockOp::flush;
        submit(a, inf, l);
        continue;
      }
      uint64_t count = bs * (1 + rng_() % 32);
      count = std::min(count, span / bs * bs);
      uint64_t sector = (rng_() % ((span - count) / bs + 1)) * bs;
      if (overlaps(sector, count)) continue;  // the client never overlaps writes in flight
      auto inf = std::make_shared<Inflight>(count * kSector);
      inf->id = next_id_++;
      inf->sector = sector;
      inf->count = count;
      for (uint64_t s = 0; s < count; s++) fill_sector(inf->buf.data() + s * kSector, inf->id, sector + s);
      inf->req.op = BlockOp::write;
      inf->req.fua = double(rng_() % 1000) / 1000 < fua_p;
      inf->req.offset = sector * kSector;
      inf->req.length = count * kSector;
      inf->req.buf = inf->buf.data();
      model_->submitted(inf->id, sector, count);
      writes_[inf->id] = {sector, count};
      report(fmt::format("S {} {} {}", inf->id, sector, count));
      submit(a, inf, l);
    }
  }

  bool overlaps(uint64_t sector, uint64_t count) const {
    for (const auto& [p, inf] : inflight_) {
      if (inf->req.op == BlockOp::write && sector < inf->sector + inf->count && inf->sector < sector + count)
        return true;
    }
    return false;
  }

  void submit(engine::Array& a, std::shared_ptr<Inflight> inf, std::unique_lock<std::mutex>& l) {
    Inflight* p = inf.get();
    inflight_[p] = inf;
    p->req.done = [this, p](Status s) {
      std::lock_guard g(mu_);
      auto keep = inflight_[p];  // the request lives until done returns
      if (s.is_ok() && !cut_) completed(*p);
      inflight_.erase(p);
      retired_.push_back(std::move(keep));
      cv_.notify_all();
    };
    l.unlock();
    a.submit(p->req);
    l.lock();
  }

  // Under mu_: an acknowledgement the client saw before the cut.
  void completed(const Inflight& inf) {
    if (report_fd_ >= 0) {
      std::string line = inf.req.op == BlockOp::flush ? "F" : fmt::format("A {} {}", inf.id, inf.req.fua ? 1 : 0);
      if (inf.req.op == BlockOp::flush) {
        for (uint32_t id : inf.covers) line += fmt::format(" {}", id);
      }
      report(line);
    }
    if (inf.req.op == BlockOp::flush) {
      totals_.flushes_acked++;
      for (uint32_t id : inf.covers) {
        const auto& w = writes_[id];
        model_->durable(id, w.first, w.second);
        acked_.erase(id);
      }
      return;
    }
    totals_.writes_acked++;
    if (inf.req.fua) totals_.fua_acked++;
    if (inf.req.fua || g_self_test) {
      model_->durable(inf.id, inf.sector, inf.count);
    } else {
      acked_.insert(inf.id);
    }
  }

  // The power cut: members vanish (nothing more is acknowledged), each cache keeps a
  // random part of what it held, the array dies without a word, and the bitmap file
  // stays as it was at the cut.
  void cut(std::unique_ptr<engine::Array>* a) {
    note_members("at the cut", **a);
    {
      std::lock_guard g(mu_);
      cut_ = true;
    }
    power_off_ = true;
    for (auto* m : faulty_) {
      if (m) m->vanish();
    }
    const double keep = double(rng_() % 5) / 4;
    if (keep == 1) totals_.kill_cuts++;
    story_ += fmt::format("  power cut, caches keep {}\n", keep);
    for (size_t i = 0; i < faulty_.size(); i++) {
      if (!faulty_[i]) continue;  // left out of the assembly: its image is as it was
      Status s = faulty_[i]->power_cut_partial(rng_(), keep);
      (void)s;  // the target is RAM: writing the kept blocks cannot fail
      auto& ram = static_cast<io::MemoryMember&>(faulty_[i]->target());
      std::memcpy(images_[i].data(), ram.raw().data(), images_[i].size());
    }
    if (kind_.bitmap == "file") {
      const std::string b = read_file(dir_ / "bitmap");
      bitmap_file_.assign(b.begin(), b.end());
    }
    overseer_.reset();  // it leaves the file as it is, as a crash would
    a->reset();  // its stop fails on the vanished members and writes nothing
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return inflight_.empty(); });
    retired_.clear();
    acked_.clear();  // acknowledged but not flushed: no longer promised
    cut_ = false;
  }

  // The lost sectors; with on_victim, those of them that live on the failed member
  // (raid4/5/6: read back by reconstruction) are counted there too.
  uint64_t verify(engine::Array& a, uint64_t* on_victim) {
    const uint64_t sectors = model_->sectors();
    std::optional<layout::Geometry> geo;
    if (on_victim) {
      const engine::ArrayDetail d = a.detail();
      auto layout_number = layout::parse_layout(d.level, d.layout);
      auto g = layout::make_geometry({d.level, layout_number.is_ok() ? *layout_number : 0, d.chunk_kib * 2,
                                      d.raid_disks, {d.component_sectors}});
      if (g.is_ok()) geo = std::move(g).value();
    }
    constexpr uint64_t kStep = 1024;  // sectors per read
    AlignedBuffer buf(kStep * kSector);
    uint64_t lost = 0;
    for (uint64_t s = 0; s < sectors; s += kStep) {
      const uint64_t n = std::min(kStep, sectors - s);
      Status st = engine::submit_and_wait(a, BlockOp::read, s * kSector, n * kSector, buf.data(), false);
      if (!st.is_ok()) {
        fail(fmt::format("read at sector {}: {}", s, st.message()));
        return lost + n;
      }
      for (uint64_t i = 0; i < n; i++) {
        const uint32_t id = id_of_sector(buf.data() + i * kSector, s + i);
        if (model_->allows(s + i, id)) continue;
        if (geo && geo->as<layout::Raid456Geometry>()->compute_sector(s + i).disk == victim_) {
          ++*on_victim;
          lost++;
          continue;
        }
        if (lost++ < 3) {
          std::string allowed;
          for (uint32_t x : model_->allowed(s + i)) allowed += fmt::format(" {}", x);
          std::printf("  sector %llu holds write %s, allowed:%s\n", (unsigned long long)(s + i),
                      id == ~0u ? "(none: garbage)" : std::to_string(id).c_str(), allowed.c_str());
        }
      }
    }
    return lost;
  }

  const Kind& kind_;
  fs::path dir_;
  std::mt19937_64 rng_;
  uint64_t seed_;
  Totals& totals_;
  std::vector<std::vector<uint8_t>> images_;
  std::vector<uint8_t> bitmap_file_;
  std::vector<io::FaultyMember*> faulty_;
  std::unique_ptr<Model> model_;
  bool degraded_ = false;
  unsigned victim_ = 0;
  Activity activity_ = Activity::writes;
  std::string story_;
  std::atomic<bool> power_off_{false};     // every member's PowerRail
  int report_fd_ = -1;                     // the SIGKILL child's pipe to the driver
  std::unique_ptr<io::UringQueue> ring_;   // the SIGKILL child's ring
  bool in_place_ = false;                  // the reshape rewrites in place, overseen
  std::unique_ptr<overseer::ReshapeOverseer> overseer_;  // that reshape's, while an array runs

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Inflight*, std::shared_ptr<Inflight>> inflight_;
  std::vector<std::shared_ptr<Inflight>> retired_;
  std::set<uint32_t> acked_;                                   // acknowledged, not yet durable
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> writes_;  // id -> sector, count
  uint32_t next_id_ = 1;
  bool cut_ = false;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= s.size()) {
    const size_t comma = s.find(',', at);
    out.push_back(s.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

unsigned members_for(const std::string& level) {
  if (level == "1") return 2;
  if (level == "6") return 5;
  return 4;
}

int main_impl(int argc, char** argv) {
  std::vector<std::string> levels = {"1", "4", "5", "6", "10"};
  std::vector<std::string> kinds = {"none", "internal", "file", "lockless", "v090", "v090b"};
  double seconds = 0;
  uint64_t runs = 0, seed = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  std::optional<uint64_t> replay;  // one run, with this seed, per level and kind
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--self-test" || k == "--no-kill") {
      if (k == "--self-test") g_self_test = true;
      else g_kill = false;
      i--;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "umd_torture: %s needs a value\n", k.c_str());
      return 2;
    }
    const std::string v = argv[i + 1];
    if (k == "--levels") levels = split(v);
    else if (k == "--kinds") kinds = split(v);
    else if (k == "--seconds") seconds = std::stod(v);
    else if (k == "--runs") runs = std::stoull(v);
    else if (k == "--seed") seed = std::stoull(v);
    else if (k == "--replay") replay = std::stoull(v);
    else if (k == "--activities") {
      for (const std::string& name : split(v)) {
        int i = 0;
        while (i < int(Activity::resync) && name != activity_name(Activity(i))) i++;
        if (i == int(Activity::resync)) {
          std::fprintf(stderr, "umd_torture: unknown activity %s (writes, recover, check, repair, replace, reshape)\n",
                       name.c_str());
          return 2;
        }
        g_activities.push_back(Activity(i));
      }
    }
    else {
      std::fprintf(stderr, "umd_torture: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (replay) runs = 1;
  if (seconds == 0 && runs == 0) seconds = 5;
  std::printf("umd_torture: seed %llu, %s per level\n", (unsigned long long)seed,
              runs ? fmt::format("{} runs per kind", runs).c_str() : fmt::format("{} s", seconds).c_str());
  const fs::path dir = fs::temp_directory_path() / fmt::format("umd-torture-{}", ::getpid());
  Totals all;
  for (const std::string& level : levels) {
    Totals lt;
    std::vector<std::pair<Kind, Pristine>> made;
    for (const std::string& b : kinds) {
      const bool v090 = b == "v090" || b == "v090b";  // 0.90, without or with an internal bitmap
      Kind k{level, members_for(level), !v090 ? b : b == "v090b" ? "internal" : "none", v090 ? "0.90" : "1.2"};
      fs::remove_all(dir);
      fs::create_directories(dir);
      auto p = make_pristine(k, dir);
      if (!p.is_ok()) {
        std::printf("FAIL raid%s bitmap=%s: create: %s\n", level.c_str(), b.c_str(), p.status().message().c_str());
        lt.failures++;
        continue;
      }
      made.emplace_back(k, std::move(p).value());
    }
    const auto start = std::chrono::steady_clock::now();
    std::mt19937_64 seeds(seed ^ mix(std::stoull(level)));
    for (uint64_t r = 0; !made.empty(); r++) {
      if (runs ? r >= runs * made.size()
               : std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= seconds &&
                     r >= made.size())
        break;
      auto& [k, p] = made[r % made.size()];
      const uint64_t run_seed = replay ? *replay : seeds();
      Run run(k, p, dir, run_seed, lt);
      run.go();
      lt.runs++;
    }
    std::printf(
        "raid%-2s %6llu runs, %6llu crash points, %8llu writes acked (%llu FUA), %6llu flushes acked, "
        "sectors lost %llu, mismatches %llu, failures %llu; degraded runs %llu, write-hole sectors %llu in %llu runs\n",
        level.c_str(), (unsigned long long)lt.runs, (unsigned long long)lt.crash_points,
        (unsigned long long)lt.writes_acked, (unsigned long long)lt.fua_acked, (unsigned long long)lt.flushes_acked,
        (unsigned long long)lt.sectors_lost, (unsigned long long)lt.mismatches, (unsigned long long)lt.failures,
        (unsigned long long)lt.degraded_runs, (unsigned long long)lt.write_hole_sectors,
        (unsigned long long)lt.write_hole_runs);
    std::string by;
    for (int i = 0; i < int(Activity::count); i++) {
      by += fmt::format("{}{} {}", i ? ", " : "", activity_name(Activity(i)), lt.cuts_by_activity[i]);
    }
    std::printf("       crash points by activity: %s; real SIGKILLs %llu; power cuts that kept every block %llu\n",
                by.c_str(), (unsigned long long)lt.sigkills, (unsigned long long)lt.kill_cuts);
    if (lt.in_place) {
      std::printf("       reshapes in place (overseen, backup file): %llu runs, resumed by an overseer at %llu assemblies\n",
                  (unsigned long long)lt.in_place, (unsigned long long)lt.overseers_resumed);
    }
    std::fflush(stdout);
    all.failures += lt.failures;
    all.sectors_lost += lt.sectors_lost;
    all.mismatches += lt.mismatches;
  }
  fs::remove_all(dir);
  const bool bad = all.failures || all.sectors_lost || all.mismatches;
  if (g_self_test) {
    std::printf("self-test: %s\n", all.sectors_lost ? "the lies were caught" : "NOTHING CAUGHT: the checker is blind");
    return all.sectors_lost ? 0 : 1;
  }
  return bad ? 1 : 0;
}

}  // namespace
}  // namespace umd::torture

int main(int argc, char** argv) { return umd::torture::main_impl(argc, argv); }
