// The fixture of the running-array tests: arrays created in a temporary directory,
// assembled behind FaultyMembers, and synchronous helpers for I/O and inspection.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <chrono>
#include <random>
#include <thread>

#include "array/array.h"
#include "array/array_reader.h"
#include "block/block_wait.h"
#include "assemble/create.h"
#include "io/fault_member.h"
#include "io/file_member.h"
#include "io/uring_queue.h"
#include "util/aligned_buffer.h"

namespace umd::engine::testing {

namespace fs = std::filesystem;

class ArrayFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("umd-array-test-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> make_array(const std::string& level, unsigned n, uint64_t mib = 8,
                                      const std::string& metadata = "1.2") {
    std::vector<std::string> paths;
    for (unsigned i = 0; i < n; i++) {
      paths.push_back((dir_ / ("d" + std::to_string(i) + ".img")).string());
    }
    for (auto& p : paths) {
      FILE* f = fopen(p.c_str(), "w");
      fclose(f);
      fs::resize_file(p, mib << 20);
    }
    CreateSpec spec;
    spec.array_name = "t";
    spec.level = level;
    spec.raid_devices = n;
    if (level != "1") spec.chunk_bytes = 64 * 1024;
    spec.assume_clean = true;
    spec.metadata = metadata;
    spec.members = paths;
    auto r = create_array(spec);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return paths;
  }

  // Members opened as the daemon would, each behind a FaultyMember the test keeps.
  std::unique_ptr<Array> assemble_faulty(const std::vector<std::string>& paths, std::vector<io::FaultyMember*>* out,
                                         AssembleOptions opts = {}) {
    std::vector<std::unique_ptr<io::Member>> devs;
    for (auto& p : paths) {
      io::OpenOptions oo;
      oo.direct = false;
      auto dev = io::open_file_member(p, oo);
      EXPECT_TRUE(dev.is_ok());
      auto fm = std::make_unique<io::FaultyMember>(std::move(dev).value());
      out->push_back(fm.get());
      devs.push_back(std::move(fm));
    }
    auto a = Array::assemble_members("t", std::move(devs), opts);
    EXPECT_TRUE(a.is_ok()) << a.status().message();
    return a.is_ok() ? std::move(a).value() : nullptr;
  }

  // Members on an io_uring (the ring's reaper thread completes them), each behind a
  // FaultyMember in asynchronous pass-through, so injected faults arrive on the ring's
  // thread as real ones do. The ring is the fixture's and outlives the array.
  std::unique_ptr<Array> assemble_on_ring(const std::vector<std::string>& paths, std::vector<io::FaultyMember*>* out,
                                          AssembleOptions opts = {}) {
    io::UringQueue::Options ro;
    ro.reaper_thread = true;
    auto ring = io::UringQueue::create(ro);
    EXPECT_TRUE(ring.is_ok()) << ring.status().message();
    if (!ring.is_ok()) return nullptr;
    ring_ = std::move(ring).value();
    std::vector<std::unique_ptr<io::Member>> devs;
    for (auto& p : paths) {
      io::OpenOptions oo;
      oo.ring = ring_.get();
      auto dev = io::open_file_member(p, oo);
      EXPECT_TRUE(dev.is_ok());
      auto fm = std::make_unique<io::FaultyMember>(std::move(dev).value());
      EXPECT_TRUE(fm->set_write_cache(false).is_ok());
      EXPECT_TRUE(fm->set_async(true).is_ok());
      out->push_back(fm.get());
      devs.push_back(std::move(fm));
    }
    auto a = Array::assemble_members("t", std::move(devs), opts);
    EXPECT_TRUE(a.is_ok()) << a.status().message();
    return a.is_ok() ? std::move(a).value() : nullptr;
  }

  // An attribute's value, or the error's message (so a failed read shows in an assertion).
  static std::string attr_of(const Array& a, const std::string& name) {
    auto r = a.attr(name);
    return r.is_ok() ? *r : r.status().message();
  }

  // Polls a condition until it holds or `limit` passes (waiting for an event that has no
  // hook of its own, with a generous bound).
  template <class Pred>
  static bool wait_until(Pred p, std::chrono::seconds limit = std::chrono::seconds(60)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!p()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  static Status io(BlockTarget& t, BlockOp op, uint64_t off, uint64_t len, uint8_t* buf, bool fua = false) {
    return submit_and_wait(t, op, off, len, buf, fua);
  }

  static std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    std::mt19937 g(seed);
    for (auto& b : v) b = uint8_t(g());
    return v;
  }

  static MemberInfo info_of(const std::string& path) {
    auto pm = open_and_probe(path, false);
    EXPECT_TRUE(pm.is_ok()) << pm.status().message();
    return pm->info;
  }

  std::vector<uint8_t> dump(const std::vector<std::string>& paths, uint64_t off, uint64_t len) {
    auto r = open_array_read_only(paths, GatherOptions{});
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    std::vector<uint8_t> out(len);
    EXPECT_TRUE(r->personality->read(off / 512, len / 512, out.data()).is_ok());
    return out;
  }

  fs::path dir_;
  std::unique_ptr<io::UringQueue> ring_;  // assemble_on_ring's; declared before any array a test keeps
};

}  // namespace umd::engine::testing
