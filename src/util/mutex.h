// umd::Mutex and umd::MutexLock: std::mutex and a scoped lock, annotated for clang's
// thread-safety analysis (util/thread_annotations.h).
//
// Contract:
//  - Mutex is a std::mutex (same semantics, not recursive) that the analysis knows as a
//    capability; it meets BasicLockable/Lockable, so std::condition_variable_any can wait on it.
//  - MutexLock holds the mutex from construction to destruction. unlock()/lock() drop and retake
//    it inside the scope (the destructor unlocks only if held). It meets BasicLockable, so it is
//    the lock argument of std::condition_variable_any::wait(lock): the wait unlocks and relocks
//    through it, and the analysis treats the lock as held across the wait.
//  - Predicates passed to wait(lock, pred) are not analysed as holding the lock: write
//    `while (!cond) cv.wait(lock);` instead.
#pragma once

#include <mutex>

#include "util/thread_annotations.h"

namespace umd {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void lock() ACQUIRE() {
    mu_.lock();
    held_ = true;
  }
  void unlock() RELEASE() {
    held_ = false;
    mu_.unlock();
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

}  // namespace umd
