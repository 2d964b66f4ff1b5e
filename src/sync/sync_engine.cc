#include "sync/sync_engine.h"
#include "util/numbers.h"
#include "util/thread_name.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>

namespace umd::engine {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kStepSectors = 2048;  // 1 MiB of the sync space per step (rounded to the granule)
constexpr auto kPublishEvery = std::chrono::seconds(3);
constexpr auto kMarkWindow = std::chrono::seconds(3);

std::string trimmed(std::string v) {
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

uint64_t env_limit(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  const std::optional<uint64_t> x = v ? parse_u64(v) : std::nullopt;
  return x && *x > 0 ? *x : fallback;
}

}  // namespace

uint64_t system_speed_min() {
  static const uint64_t v = env_limit("UMD_SPEED_LIMIT_MIN", kSystemSpeedMin);
  return v;
}

uint64_t system_speed_max() {
  static const uint64_t v = env_limit("UMD_SPEED_LIMIT_MAX", kSystemSpeedMax);
  return v;
}

SyncEngine::SyncEngine(SyncHost& host) : host_(host) {}

SyncEngine::~SyncEngine() { stop(); }

void SyncEngine::start() {
  std::lock_guard l(mu_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] {
    name_this_thread("md-sync");
    loop();
  });
}

void SyncEngine::stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void SyncEngine::kick() {
  std::lock_guard l(mu_);
  kicked_ = true;
  cv_.notify_all();
}

void SyncEngine::interrupt() {
  std::lock_guard l(mu_);
  if (running_) interrupt_ = true;
  kicked_ = true;
  cv_.notify_all();
}

void SyncEngine::loop() {
  std::unique_lock l(mu_);
  thread_id_.store(std::this_thread::get_id());
  kicked_ = true;
  while (!stopping_) {
    if (!kicked_ && !requested_) {
      // Idle now: wait_idle() callers that saw the kick this thread just consumed wake too.
      deciding_ = false;
      cv_.notify_all();
      cv_.wait(l, [&] { return stopping_ || kicked_ || requested_; });
      continue;
    }
    kicked_ = false;
    deciding_ = true;  // until it runs or waits again: waiters must not see it idle
    interrupt_ = false;
    std::optional<SyncHost::Need> need;
    if (!frozen_) {
      if (requested_) {
        need = SyncHost::Need{*requested_, sync_min_};
        starting_ = requested_;  // sync_action says it until it runs
        requested_.reset();
      } else {
        l.unlock();
        need = host_.needed();
        l.lock();
      }
    }
    if (!need || frozen_ || stopping_) {
      starting_.reset();
      continue;
    }
    const uint64_t end = host_.sync_personality().sync_sectors(need->op);
    if (end == 0) {
      starting_.reset();
      continue;
    }
    const bool ok = run(need->op, need->from, end, l);
    if (ok) kicked_ = true;  // something else may be needed now
  }
  deciding_ = false;
  cv_.notify_all();
}

bool SyncEngine::run(SyncOp op, uint64_t from, uint64_t end, std::unique_lock<std::mutex>& l) {
  Personality& p = host_.sync_personality();
  const uint64_t granule = p.sync_granule();
  const uint64_t step = (kStepSectors + granule - 1) / granule * granule;
  uint64_t pos = std::min(from / granule * granule, end);
  running_ = true;
  op_ = op;
  starting_.reset();
  const auto started = Clock::now();
  pos_ = published_ = pos;
  end_ = end;
  if (op != SyncOp::recover) {
    mismatches_ = 0;
    findings_.clear();
  }
  marks_.clear();
  marks_.emplace_back(Clock::now(), done_sectors_);
  last_publish_ = Clock::now();
  events_++;
  cv_.notify_all();
  l.unlock();
  p.sync_arm(true);
  l.lock();
  Status err;
  bool complete = false;
  // Where sync_max holds this run: a step that begins below it is done whole, as md's
  // reshape_request moves whole reshape sections past resync_max. sync_max was checked
  // against the granule when it was set, but the granule may have grown since (a reshape
  // started: whole rows of the new geometry): stopping inside one would leave a reshape
  // position off the section boundary, which md refuses and from which a resume would
  // move part of a section twice (reading old-geometry sectors a client has since
  // written in the new one).
  auto held_at = [&] {
    const uint64_t m = sync_max_ >= ~0ull - granule ? ~0ull : (sync_max_ + granule - 1) / granule * granule;
    return std::min(end, m);
  };
  while (true) {
    if (should_stop_locked()) break;
    if (pos >= end) {
      complete = true;
      break;
    }
    const uint64_t limit = held_at();
    if (pos >= limit) {
      if (published_ != pos) publish_locked(op, pos, l);
      const auto t0 = Clock::now();
      cv_.wait(l, [&] { return should_stop_locked() || held_at() > pos; });
      waited_ += Clock::now() - t0;
      marks_.clear();
      marks_.emplace_back(Clock::now(), done_sectors_);
      continue;
    }
    // A bitmap may say the next sectors need nothing (clean, or never written).
    {
      l.unlock();
      uint64_t skip = host_.sync_skip(op, pos, limit);
      uint64_t to = std::min(limit, (pos + skip) / granule * granule);
      if (to >= end) to = end;
      if (to > pos && (op == SyncOp::recover || op == SyncOp::replace)) {
        std::lock_guard step_lock(step_mu_);
        to = p.skip_recovery(pos, to, [&](uint64_t a, uint64_t b) {
          const uint64_t again = a + host_.sync_skip(op, a, b);
          return again >= end ? end : again / granule * granule;
        });
      }
      l.lock();
      if (to > pos) {
        skipped_sectors_ += to - pos;
        pos = pos_ = to;
        const uint64_t target = held_at();
        if (pos >= end || pos >= target || pos - published_ >= (target - published_) / 2) publish_locked(op, pos, l);
        continue;
      }
    }
    throttle(l);
    if (should_stop_locked()) break;
    uint64_t n = std::min(step, held_at() - pos);
    {
      l.unlock();
      const uint64_t run = host_.sync_run(op, pos, pos + n);
      l.lock();
      if (run < n) n = std::max(granule, (run + granule - 1) / granule * granule);
      n = std::min(n, held_at() - pos);
    }
    if (n == 0) continue;
    SyncReport rep;
    Status s;
    {
      l.unlock();
      std::unique_lock step(step_mu_);
      // sync_max may have come down while the step waited for its mutex (an overseer holds
      // the reshape before it has a backup): the step goes no further than it says now.
      l.lock();
      n = std::min(n, held_at() > pos ? held_at() - pos : 0);
      if (n == 0 || should_stop_locked()) continue;
      l.unlock();
      s = p.sync(op, pos, n, &rep);
    }
    l.lock();
    mismatches_ += rep.mismatch_sectors;
    read_aheads_ += rep.read_ahead;
    for (const SyncFinding& f : rep.findings) {
      if (findings_.size() < 1000) findings_.push_back(f);
    }
    if (!s.is_ok()) {
      err = s;
      break;
    }
    l.unlock();
    host_.sync_step_done(op, pos, pos + n);
    l.lock();
    pos += n;
    pos_ = pos;
    done_sectors_ += n;
    const auto now = Clock::now();
    marks_.emplace_back(now, done_sectors_);
    while (marks_.size() > 2 && now - marks_[1].first > kMarkWindow) marks_.pop_front();
    // Seed 000: publish half-way between the last published position and sync_max.
    const uint64_t target = held_at();
    if (pos >= end || pos >= target || pos - published_ >= (target - published_) / 2 ||
        now - last_publish_ >= kPublishEvery) {
      publish_locked(op, pos, l);
    }
  }
  l.unlock();
  p.sync_arm(false);
  host_.sync_finished(op, pos, complete, err);
  l.lock();
  running_ = false;
  last_run_ = Clock::now() - started;
  last_action_ = sync_op_name(op);
  pos_ = published_ = 0;
  events_++;
  cv_.notify_all();
  return err.is_ok();
}

// The checkpoint first, then sync_completed: as md's reshape_request writes the
// superblocks before it moves curr_resync_completed, what sync_completed says is on disk,
// so an overseer may forget its backup of everything below it.
void SyncEngine::publish_locked(SyncOp op, uint64_t pos, std::unique_lock<std::mutex>& l) {
  last_publish_ = Clock::now();
  l.unlock();
  const bool recorded = host_.sync_checkpoint(op, pos);
  l.lock();
  if (!recorded) return;  // an overseer must not forget what the superblocks do not say
  published_ = pos;
  publishes_++;
  events_++;
  cv_.notify_all();
}

uint64_t SyncEngine::wait_event(uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, timeout, [&] { return events_ != seen || stopping_; });
  return events_;
}

uint64_t SyncEngine::speed_locked() const {
  if (marks_.size() < 2) return 0;
  const auto& [t0, s0] = marks_.front();
  const auto& [t1, s1] = marks_.back();
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  if (secs <= 0) return 0;
  return uint64_t(double(s1 - s0) / 2 / secs);
}

void SyncEngine::throttle(std::unique_lock<std::mutex>& l) {
  for (;;) {
    if (should_stop_locked()) return;
    const uint64_t max = speed_max_ ? speed_max_ : system_speed_max();
    const uint64_t min = speed_min_ ? speed_min_ : system_speed_min();
    // The speed as it would be now, without doing anything more.
    uint64_t speed = 0;
    if (!marks_.empty()) {
      const double secs = std::chrono::duration<double>(Clock::now() - marks_.front().first).count();
      if (secs > 0) speed = uint64_t(double(done_sectors_ - marks_.front().second) / 2 / secs);
    }
    if (speed > max) {
      cv_.wait_for(l, std::chrono::milliseconds(10));
      continue;
    }
    if (speed > min) {
      l.unlock();  // the host's lock comes before ours
      const bool busy = host_.client_busy();
      l.lock();
      if (busy) cv_.wait_for(l, std::chrono::milliseconds(1));
    }
    return;
  }
}

SyncEngine::Progress SyncEngine::progress() const {
  std::lock_guard l(mu_);
  Progress pr;
  pr.running = running_;
  pr.action = frozen_ ? "frozen" : running_ ? sync_op_name(op_) : "idle";
  if (running_) {
    pr.pos = published_;
    pr.done = pos_;
    pr.end = end_;
    pr.speed_kibs = speed_locked();
  }
  pr.mismatch_sectors = mismatches_;
  return pr;
}

std::vector<SyncFinding> SyncEngine::findings() const {
  std::lock_guard l(mu_);
  return findings_;
}

uint64_t SyncEngine::publishes() const {
  std::lock_guard l(mu_);
  return publishes_;
}

uint64_t SyncEngine::done_sectors() const {
  std::lock_guard l(mu_);
  return done_sectors_;
}

uint64_t SyncEngine::skipped_sectors() const {
  std::lock_guard l(mu_);
  return skipped_sectors_;
}

uint64_t SyncEngine::wait_ms() const {
  std::lock_guard l(mu_);
  return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(waited_).count());
}

bool SyncEngine::wait_idle(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    {
      std::unique_lock l(mu_);
      cv_.wait_until(l, deadline, [&] { return !running_ && !kicked_ && !requested_ && !deciding_; });
      if (running_ || kicked_ || requested_ || deciding_) return false;
    }
    // Nothing runs: but is something needed that the thread has not picked up yet?
    std::optional<SyncHost::Need> need = frozen_now() ? std::nullopt : host_.needed();
    if (!need || host_.sync_personality().sync_sectors(need->op) == 0) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool SyncEngine::wait_published(uint64_t pos, std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, timeout, [&] {
    return (running_ && published_ >= pos) || (!running_ && !kicked_ && !requested_ && !deciding_);
  });
  return running_ && published_ >= pos;
}

bool SyncEngine::frozen_now() const {
  std::lock_guard l(mu_);
  return frozen_;
}

Result<std::string> SyncEngine::attr(const std::string& name) const {
  // Before mu_: the host takes its own lock (no lock of the host's is held inside mu_).
  const bool counted = name == "sync_min" || name == "sync_max" || name == "sync_completed";
  const SyncHost::Shape shape = counted || name == "sync_action" ? host_.sync_shape() : SyncHost::Shape{};
  const uint64_t unit = counted ? shape.unit : 1;
  const bool reshape_pending = shape.reshape_pending;
  std::lock_guard l(mu_);
  if (name == "sync_action") {
    if (frozen_) return std::string("frozen");
    if (running_) return std::string(sync_op_name(op_));
    // Asked for and not yet taken up: what it will be, as md's action_show says from
    // MD_RECOVERY_NEEDED on (a requested check or repair; a recorded reshape).
    if (requested_) return std::string(sync_op_name(*requested_));
    if (starting_) return std::string(sync_op_name(*starting_));
    return std::string(reshape_pending && (kicked_ || deciding_) ? "reshape" : "idle");
  }
  if (name == "last_sync_action") return last_action_;
  if (name == "sync_min") return std::to_string(sync_min_ / unit);
  if (name == "sync_max") return sync_max_ == ~0ull ? std::string("max") : std::to_string(sync_max_ / unit);
  if (name == "sync_completed") {
    return running_ ? fmt::format("{} / {}", published_ / unit, end_ / unit) : std::string("none");
  }
  if (name == "sync_speed") return running_ ? std::to_string(speed_locked()) : std::string("none");
  if (name == "sync_speed_min") {
    return fmt::format("{} ({})", speed_min_ ? speed_min_ : system_speed_min(), speed_min_ ? "local" : "system");
  }
  if (name == "sync_speed_max") {
    return fmt::format("{} ({})", speed_max_ ? speed_max_ : system_speed_max(), speed_max_ ? "local" : "system");
  }
  if (name == "mismatch_cnt") return std::to_string(mismatches_);
  if (name == "umd/sync_stats") {
    return fmt::format("publishes {} waited_ms {} done_sectors {} skipped_sectors {} last_run_us {} read_ahead_steps {}",
                       publishes_, std::chrono::duration_cast<std::chrono::milliseconds>(waited_).count(),
                       done_sectors_, skipped_sectors_,
                       std::chrono::duration_cast<std::chrono::microseconds>(last_run_).count(), read_aheads_);
  }
  return Result<std::string>(Err::not_found, "no attribute " + name);
}

Status SyncEngine::set_attr(const std::string& name, const std::string& raw) {
  const std::string v = trimmed(raw);
  const SyncHost::Shape shape = host_.sync_shape();  // before mu_, as in attr()
  const uint64_t granule = shape.granule, unit = shape.unit;
  std::lock_guard l(mu_);
  if (name == "sync_action") {
    if (v == "idle") {
      if (running_) interrupt_ = true;
      frozen_ = false;
      kicked_ = true;
    } else if (v == "frozen") {
      if (running_) interrupt_ = true;
      frozen_ = true;
    } else if (v == "resync" || v == "recover" || v == "reshape") {
      frozen_ = false;
      kicked_ = true;
    } else if (v == "check" || v == "repair") {
      if (running_) {
        return Status(Err::busy, fmt::format("sync_action: cannot start {} while {} runs", v, sync_op_name(op_)));
      }
      if (shape.check_sectors == 0) {
        return Status(Err::invalid, fmt::format("sync_action: {} needs a level with redundancy", v));
      }
      frozen_ = false;
      requested_ = v == "check" ? SyncOp::check : SyncOp::repair;
    } else {
      return Status(Err::invalid, fmt::format("sync_action: unknown action \"{}\" (idle, frozen, resync, recover, "
                                              "check, repair)", v));
    }
    cv_.notify_all();
    return Status::ok();
  }
  if (name == "sync_min" || name == "sync_max") {
    const bool is_max = name == "sync_max";
    std::optional<uint64_t> x = is_max && v == "max" ? std::optional<uint64_t>(~0ull) : parse_u64(v);
    if (!x) return Status(Err::invalid, fmt::format("{}: \"{}\" is not a sector number{}", name, v, is_max ? " or max" : ""));
    if (*x != ~0ull && *x > (~0ull - granule) / unit) return Status(Err::invalid, fmt::format("{}: {} is too big", name, *x));
    if (*x != ~0ull && *x * unit % granule != 0) {
      return Status(Err::invalid, fmt::format("{}: {} is not a multiple of {} sectors (the chunk)", name, *x, granule / unit));
    }
    if (*x != ~0ull) *x *= unit;
    if (is_max) {
      if (*x < sync_min_) return Status(Err::invalid, fmt::format("sync_max: {} is below sync_min {}", *x / unit, sync_min_ / unit));
      if (running_ && *x < sync_max_ && *x < pos_) {
        return Status(Err::busy, fmt::format("sync_max: cannot move below the position {} while {} runs", pos_ / unit,
                                             sync_op_name(op_)));
      }
      sync_max_ = *x;
    } else {
      if (running_) return Status(Err::busy, fmt::format("sync_min: cannot change while {} runs", sync_op_name(op_)));
      if (*x > sync_max_) return Status(Err::invalid, fmt::format("sync_min: {} is above sync_max", *x / unit));
      sync_min_ = *x;
    }
    cv_.notify_all();
    return Status::ok();
  }
  if (name == "sync_speed_min" || name == "sync_speed_max") {
    std::optional<uint64_t> x = v == "system" ? std::optional<uint64_t>(0) : parse_u64(v);
    if (!x || *x > 0xffffffffull) return Status(Err::invalid, fmt::format("{}: \"{}\" is not KiB/s or system", name, v));
    (name == "sync_speed_min" ? speed_min_ : speed_max_) = uint32_t(*x);
    cv_.notify_all();
    return Status::ok();
  }
  if (name == "sync_completed" || name == "sync_speed" || name == "mismatch_cnt" || name == "last_sync_action" ||
      name == "umd/sync_stats") {
    return Status(Err::invalid, fmt::format("{} is read-only", name));
  }
  return Status(Err::not_found, "no attribute " + name);
}

}  // namespace umd::engine
