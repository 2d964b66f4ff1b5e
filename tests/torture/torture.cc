// umd_torture: power cuts at random moments of random client writes, then the promise
// checked: nothing acknowledged as durable is lost.
//
// One run, for a level and a bitmap kind (none, internal, file, lockless):
//  1. An array made once by create_array (--assume-clean, zeroes), its members copied into
//     RAM (MemoryMember) behind FaultyMembers with a volatile write cache.
//  2. Client writes from a seeded RNG, up to 8 in flight, never two overlapping at once;
//     some with FUA, FLUSHes between them. Every sector written carries (write id,
//     sector) and filler derived from both, so a read says which write it holds.
//  3. At a random op, the power is cut as the daemon's fault hooks cut it
//     (daemon/fault_hooks.h): every member vanishes first (nothing more is acknowledged),
//     then each member's cache keeps a random subset of its unflushed blocks (a cache
//     written back in any order, a write torn at sector boundaries).
//  4. Sometimes (a second crash point) the array is reassembled and cut again while its
//     resync runs and new writes arrive.
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
// Usage: umd_torture [--levels 1,4,5,6,10] [--kinds none,internal,file,lockless]
//                    [--seconds S per level | --runs N per level and kind] [--seed X]
// Each failure prints its seed: `--seed X --runs 1 --levels L --kinds K` runs it again
// (the workload and the cut point are the seed's; thread timing is not).
// Exit status 0 when no sector was lost outside degraded parity runs and no check found
// a mismatch. --self-test makes the model take every acknowledged write as durable (a
// promise the array never made): then sectors must be found lost, and the exit status
// says whether the driver noticed (0 when it did), so the checker itself is tested.
#include <fmt/format.h>

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
#include <string>
#include <thread>
#include <vector>

#include "array/array.h"
#include "assemble/create.h"
#include "block/block_wait.h"
#include "io/fault_member.h"
#include "io/memory_member.h"
#include "layout/geometry.h"
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

struct Kind {
  std::string level;
  unsigned n;
  std::string bitmap;  // none | internal | file | lockless
};

// The array as create_array made it: member images, and the bitmap file's bytes.
struct Pristine {
  std::vector<std::vector<uint8_t>> members;
  std::vector<uint8_t> bitmap_file;
};

struct Totals {
  uint64_t runs = 0, crash_points = 0, writes_acked = 0, flushes_acked = 0, fua_acked = 0;
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
    degraded_ = rng_() % 8 == 0;
    int phases = rng_() % 4 == 0 ? 2 : 1;
    std::unique_ptr<engine::Array> a;
    for (int phase = 0; phase < phases; phase++) {
      if (!assemble(&a, phase > 0)) return false;
      if (!model_) model_ = std::make_unique<Model>(a->size_bytes() / kSector);
      if (phase == 0 && degraded_) {
        victim_ = unsigned(rng_() % kind_.n);  // create gives member i slot i
        Status s = a->fail_member(fmt::format("d{}.img", victim_));
        if (!s.is_ok()) return fail("failing a member: " + s.message());
      }
      workload(*a);
      cut(&a);
      totals_.crash_points++;
    }
    if (!assemble(&a, true)) return false;
    if (!a->sync_engine().wait_idle(120s)) return fail("the resync did not finish in 120 s");
    if (!degraded_) {
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
    if (degraded_) {
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
  bool fail(const std::string& why) {
    totals_.failures++;
    std::printf("FAIL raid%s bitmap=%s%s seed=%llu: %s\n", kind_.level.c_str(), kind_.bitmap.c_str(),
                degraded_ ? " (degraded)" : "", (unsigned long long)seed_, why.c_str());
    std::fflush(stdout);
    return false;
  }

  bool assemble(std::unique_ptr<engine::Array>* out, bool run_degraded) {
    if (kind_.bitmap == "file") write_file(dir_ / "bitmap", bitmap_file_);
    std::vector<std::unique_ptr<io::Member>> devs;
    faulty_.clear();
    for (size_t i = 0; i < images_.size(); i++) {
      auto m = io::make_memory_member(fmt::format("d{}.img", i), images_[i].size());
      std::memcpy(m->raw().data(), images_[i].data(), images_[i].size());
      auto fm = std::make_unique<io::FaultyMember>(std::move(m));
      faulty_.push_back(fm.get());
      devs.push_back(std::move(fm));
    }
    engine::AssembleOptions o;
    if (kind_.bitmap == "file") o.bitmap_file = (dir_ / "bitmap").string();
    o.run = run_degraded || degraded_;
    auto a = engine::Array::assemble_members("torture", std::move(devs), o);
    if (!a.is_ok()) return fail("assembly: " + a.status().message());
    *out = std::move(a).value();
    return true;
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
    {
      std::lock_guard g(mu_);
      cut_ = true;
    }
    for (auto* m : faulty_) m->vanish();
    const double keep = double(rng_() % 5) / 4;
    for (size_t i = 0; i < faulty_.size(); i++) {
      Status s = faulty_[i]->power_cut_partial(rng_(), keep);
      (void)s;  // the target is RAM: writing the kept blocks cannot fail
      auto& ram = static_cast<io::MemoryMember&>(faulty_[i]->target());
      std::memcpy(images_[i].data(), ram.raw().data(), images_[i].size());
    }
    if (kind_.bitmap == "file") {
      const std::string b = read_file(dir_ / "bitmap");
      bitmap_file_.assign(b.begin(), b.end());
    }
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
  std::vector<std::string> kinds = {"none", "internal", "file", "lockless"};
  double seconds = 0;
  uint64_t runs = 0, seed = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--self-test") {
      g_self_test = true;
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
    else {
      std::fprintf(stderr, "umd_torture: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (seconds == 0 && runs == 0) seconds = 5;
  std::printf("umd_torture: seed %llu, %s per level\n", (unsigned long long)seed,
              runs ? fmt::format("{} runs per kind", runs).c_str() : fmt::format("{} s", seconds).c_str());
  const fs::path dir = fs::temp_directory_path() / fmt::format("umd-torture-{}", ::getpid());
  Totals all;
  for (const std::string& level : levels) {
    Totals lt;
    std::vector<std::pair<Kind, Pristine>> made;
    for (const std::string& b : kinds) {
      Kind k{level, members_for(level), b};
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
      const uint64_t run_seed = seeds();
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
