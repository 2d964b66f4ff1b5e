#include "block/memory_target.h"

#include <cstring>

namespace umd::nbd {

using engine::BlockOp;
using engine::BlockRequest;

MemoryTarget::MemoryTarget(uint64_t size, MemoryTargetOptions opts)
    : opts_(opts), read_only_(opts.read_only), data_(size / opts.block_size * opts.block_size) {
  completer_ = std::thread([this] { run_completer(); });
}

MemoryTarget::~MemoryTarget() {
  hold(false);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  completer_.join();
}

void MemoryTarget::inject_error(BlockOp op, Err code, uint64_t offset, uint64_t length,
                                uint32_t count) {
  std::lock_guard lock(mu_);
  rules_.push_back({op, code, offset, length, count});
}

void MemoryTarget::clear_errors() {
  std::lock_guard lock(mu_);
  rules_.clear();
}

void MemoryTarget::hold(bool on) {
  std::deque<BlockRequest*> release;
  {
    std::lock_guard lock(mu_);
    holding_ = on;
    if (!on) release.swap(held_);
  }
  for (BlockRequest* r : release) finish(*r);
}

size_t MemoryTarget::held() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

void MemoryTarget::submit(BlockRequest& req) {
  counts_[size_t(req.op)].fetch_add(1);
  if (req.fua) fua_.fetch_add(1);
  {
    std::lock_guard lock(mu_);
    if (holding_) {
      held_.push_back(&req);
      return;
    }
    if (opts_.max_delay_us > 0) {
      auto delay = std::chrono::microseconds(rng_() % (opts_.max_delay_us + 1));
      pending_.push({std::chrono::steady_clock::now() + delay, seq_++, &req});
      cv_.notify_one();
      return;
    }
  }
  finish(req);
}

Status MemoryTarget::check(const BlockRequest& req) {
  {
    std::lock_guard lock(mu_);
    for (auto it = rules_.begin(); it != rules_.end(); ++it) {
      bool overlaps = it->length == 0 || (req.offset < it->offset + it->length &&
                                          it->offset < req.offset + req.length);
      if (it->op != req.op || !overlaps) continue;
      Err code = it->code;
      if (it->remaining > 0 && --it->remaining == 0) rules_.erase(it);
      return Status(code, "injected error");
    }
  }
  if (req.op == BlockOp::flush) return Status::ok();
  if (req.offset % opts_.block_size || req.length % opts_.block_size) {
    return Status(Err::invalid, "request not aligned to the block size");
  }
  if (req.offset > data_.size() || req.length > data_.size() - req.offset) {
    return Status(Err::no_space, "request past the end of the memory target");
  }
  if (req.op != BlockOp::read && read_only_.load()) {
    return Status(Err::invalid, "memory target is read-only");
  }
  return Status::ok();
}

Status MemoryTarget::execute(BlockRequest& req) {
  UMD_TRY(check(req));
  switch (req.op) {
    case BlockOp::read: {
      std::shared_lock lock(data_mu_);
      std::memcpy(req.buf, data_.data() + req.offset, req.length);
      break;
    }
    case BlockOp::write: {
      std::unique_lock lock(data_mu_);
      std::memcpy(data_.data() + req.offset, req.buf, req.length);
      break;
    }
    case BlockOp::trim:
    case BlockOp::write_zeroes: {
      std::unique_lock lock(data_mu_);
      std::memset(data_.data() + req.offset, 0, req.length);
      break;
    }
    case BlockOp::flush:
      break;
  }
  return Status::ok();
}

void MemoryTarget::finish(BlockRequest& req) {
  Status s = execute(req);
  req.done(std::move(s));  // `req` may be freed inside
}

void MemoryTarget::run_completer() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (pending_.empty()) {
      if (stop_) return;
      cv_.wait(lock);
      continue;
    }
    auto due = pending_.top().due;
    if (!stop_ && std::chrono::steady_clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    BlockRequest* req = pending_.top().req;
    pending_.pop();
    lock.unlock();
    finish(*req);
    lock.lock();
  }
}

}  // namespace umd::nbd
