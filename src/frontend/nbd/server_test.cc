#include "frontend/nbd/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "block/memory_target.h"
#include "frontend/nbd/test_client.h"
#include "util/completion_batch.h"

namespace umd::nbd {
namespace {

using engine::BlockOp;
using testing::TestClient;
using namespace std::chrono_literals;

constexpr uint64_t kSize = 8 << 20;

std::string temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "umd-nbd-XXXXXX").string();
  char* d = ::mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return tmpl;
}

// Waits up to 10 s for `pred`.
template <class F>
bool eventually(F pred) {
  for (int i = 0; i < 1000; i++) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = uint8_t(seed + i * 7 + (i >> 9));
  return v;
}

class NbdServerTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_dir(); }
  void TearDown() override {
    server_.reset();
    target_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start(MemoryTargetOptions topts = {}, ServerOptions sopts = {}) {
    target_ = std::make_unique<MemoryTarget>(kSize, topts);
    sopts.export_name = "md0";
    sopts.unix_path = socket_path();
    server_ = std::make_unique<NbdServer>(*target_, sopts);
    ASSERT_TRUE(server_->start().is_ok());
  }
  std::string socket_path() const { return dir_ + "/nbd.sock"; }

  std::unique_ptr<TestClient> connect() {
    Result<int> fd = connect_unix(socket_path());
    EXPECT_TRUE(fd.is_ok()) << fd.status().message();
    return std::make_unique<TestClient>(fd.is_ok() ? *fd : -1);
  }
  // Connected, greeted and in transmission via GO.
  std::unique_ptr<TestClient> open() {
    auto c = connect();
    EXPECT_TRUE(c->greet().is_ok());
    auto e = c->go("");
    EXPECT_TRUE(e.is_ok()) << e.status().message();
    return c;
  }

  // Writes blocks[i] at 4 KiB block i with cookie cookie0 + i, every request sent before
  // any reply is read; returns the cookies in the order their (successful) replies came.
  static std::vector<uint64_t> write_pipelined(TestClient& c, const std::vector<std::vector<uint8_t>>& blocks,
                                               uint64_t cookie0) {
    std::vector<uint64_t> order;
    for (size_t i = 0; i < blocks.size(); i++) {
      if (!c.send_request(uint16_t(Cmd::write), cookie0 + i, uint64_t(i) * 4096, 4096, 0, blocks[i]).is_ok()) {
        ADD_FAILURE() << "sending write " << i;
        return order;
      }
    }
    for (size_t i = 0; i < blocks.size(); i++) {
      auto r = c.read_reply();
      if (!r.is_ok()) {
        ADD_FAILURE() << "reply " << i << ": " << r.status().message();
        return order;
      }
      EXPECT_EQ(r->error, 0u);
      order.push_back(r->cookie);
    }
    return order;
  }
  // Reads every 4 KiB block i the same way (cookie cookie0 + i) and checks each reply's bytes
  // against blocks[i].
  static void read_pipelined_and_check(TestClient& c, const std::vector<std::vector<uint8_t>>& blocks,
                                       uint64_t cookie0) {
    for (size_t i = 0; i < blocks.size(); i++) {
      ASSERT_TRUE(c.send_request(uint16_t(Cmd::read), cookie0 + i, uint64_t(i) * 4096, 4096).is_ok());
    }
    for (size_t i = 0; i < blocks.size(); i++) {
      auto r = c.read_reply();
      ASSERT_TRUE(r.is_ok());
      ASSERT_EQ(r->error, 0u);
      std::vector<uint8_t> got(4096);
      ASSERT_TRUE(c.read_data(got).is_ok());
      EXPECT_EQ(got, blocks[r->cookie - cookie0]) << r->cookie;
    }
  }

  std::string dir_;
  std::unique_ptr<MemoryTarget> target_;
  std::unique_ptr<NbdServer> server_;
};

TEST_F(NbdServerTest, GoReportsSizeFlagsAndBlockSizes) {
  start({.block_size = 512, .preferred_block_size = 4096});
  auto c = connect();
  ASSERT_TRUE(c->greet().is_ok());
  EXPECT_EQ(c->handshake_flags, kFlagFixedNewstyle | kFlagNoZeroes);
  auto e = c->go("md0", false, {kInfoBlockSize, kInfoName});
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->size, kSize);
  EXPECT_EQ(e->flags, kTxHasFlags | kTxSendFlush | kTxSendFua | kTxSendTrim | kTxSendWriteZeroes |
                          kTxCanMultiConn);
  EXPECT_EQ(e->min_block, 512u);
  EXPECT_EQ(e->preferred_block, 4096u);
  EXPECT_EQ(e->max_payload, 32u << 20);
  EXPECT_EQ(e->name, "md0");
  EXPECT_EQ(c->call(Cmd::flush, 0, 0), 0u);
}

TEST_F(NbdServerTest, OptionNegotiation) {
  start({.block_size = 4096, .preferred_block_size = 4096, .read_only = true, .trim = false});
  auto c = connect();
  ASSERT_TRUE(c->greet().is_ok());
  // LIST: one export, then ACK.
  ASSERT_TRUE(c->send_option(uint32_t(Opt::list)).is_ok());
  auto l = c->read_option_replies();
  ASSERT_TRUE(l.is_ok());
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].type, kRepServer);
  EXPECT_EQ(std::string((*l)[0].data.begin() + 4, (*l)[0].data.end()), "md0");
  EXPECT_EQ((*l)[1].type, kRepAck);
  // LIST with data is invalid.
  const uint8_t junk[] = {1, 2, 3};
  ASSERT_TRUE(c->send_option(uint32_t(Opt::list), junk).is_ok());
  EXPECT_EQ(c->read_option_reply()->type, kRepErrInvalid);
  // Unknown and refused options.
  for (uint32_t opt : {uint32_t(Opt::structured_reply), uint32_t(Opt::starttls),
                       uint32_t(Opt::set_meta_context), 4242u}) {
    ASSERT_TRUE(c->send_option(opt, junk).is_ok());
    auto r = c->read_option_reply();
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->type, kRepErrUnsup) << opt;
    EXPECT_EQ(r->option, opt);
  }
  // Malformed GO data.
  ASSERT_TRUE(c->send_option(uint32_t(Opt::go), junk).is_ok());
  EXPECT_EQ(c->read_option_reply()->type, kRepErrInvalid);
  // Oversized option data is skipped.
  std::vector<uint8_t> huge(kMaxOptionLength + 1);
  ASSERT_TRUE(c->send_option(uint32_t(Opt::info), huge).is_ok());
  EXPECT_EQ(c->read_option_reply()->type, kRepErrInvalid);
  // Unknown export.
  auto bad = c->go("nope", true);
  EXPECT_EQ(bad.status().message(), std::to_string(kRepErrUnknown));
  // INFO then GO with the real name.
  auto info = c->go("md0", true);
  ASSERT_TRUE(info.is_ok());
  EXPECT_TRUE(info->flags & kTxReadOnly);
  EXPECT_FALSE(info->flags & kTxSendTrim);
  EXPECT_EQ(info->min_block, 4096u);
  auto go = c->go("md0");
  ASSERT_TRUE(go.is_ok());
  EXPECT_EQ(go->size, kSize);
  std::vector<uint8_t> out;
  EXPECT_EQ(c->call(Cmd::read, 0, 4096, 0, {}, &out), 0u);
  EXPECT_EQ(out.size(), 4096u);
}

TEST_F(NbdServerTest, AbortAcksAndCloses) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->greet().is_ok());
  ASSERT_TRUE(c->send_option(uint32_t(Opt::abort)).is_ok());
  EXPECT_EQ(c->read_option_reply()->type, kRepAck);
  EXPECT_TRUE(c->closed_by_server());
}

TEST_F(NbdServerTest, ExportNameWithAndWithoutZeroes) {
  start();
  for (bool no_zeroes : {true, false}) {
    auto c = connect();
    ASSERT_TRUE(c->greet(kClientFixedNewstyle | (no_zeroes ? kClientNoZeroes : 0)).is_ok());
    const std::string name = "md0";
    ASSERT_TRUE(c->send_option(uint32_t(Opt::export_name),
                               std::span<const uint8_t>(
                                   reinterpret_cast<const uint8_t*>(name.data()), name.size()))
                    .is_ok());
    std::vector<uint8_t> r(no_zeroes ? 10 : 134);
    ASSERT_TRUE(c->read_data(r).is_ok());
    EXPECT_EQ(get_be64(r.data()), kSize);
    EXPECT_TRUE(get_be16(r.data() + 8) & kTxCanMultiConn);
    EXPECT_EQ(c->call(Cmd::flush, 0, 0), 0u);  // in transmission, nothing left over
  }
  // Unknown name: the server must hang up.
  auto c = connect();
  ASSERT_TRUE(c->greet().is_ok());
  const uint8_t name[] = {'x'};
  ASSERT_TRUE(c->send_option(uint32_t(Opt::export_name), name).is_ok());
  EXPECT_TRUE(c->closed_by_server());
}

TEST_F(NbdServerTest, UnknownClientFlagsAndBadOptionMagicHangUp) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->greet(0x10).is_ok());
  EXPECT_TRUE(c->closed_by_server());
  auto d = connect();
  ASSERT_TRUE(d->greet().is_ok());
  std::vector<uint8_t> bad(16, 0x55);
  ASSERT_TRUE(write_all(d->fd(), bad).is_ok());
  EXPECT_TRUE(d->closed_by_server());
  EXPECT_TRUE(eventually([&] { return server_->stats().connections_open == 0; }));
}

TEST_F(NbdServerTest, EveryCommand) {
  start();
  auto c = open();
  auto w = pattern(64 * 1024, 3);
  EXPECT_EQ(c->call(Cmd::write, 4096, uint32_t(w.size()), 0, w), 0u);
  std::vector<uint8_t> r;
  EXPECT_EQ(c->call(Cmd::read, 4096, uint32_t(w.size()), 0, {}, &r), 0u);
  EXPECT_EQ(r, w);
  EXPECT_EQ(c->call(Cmd::write, 0, 4096, kCmdFlagFua, std::span(w).first(4096)), 0u);
  EXPECT_EQ(target_->fua_requests(), 1u);
  EXPECT_EQ(c->call(Cmd::flush, 0, 0, kCmdFlagFua), 0u);  // FUA on flush accepted, not passed
  EXPECT_EQ(target_->fua_requests(), 1u);
  EXPECT_EQ(c->call(Cmd::trim, 4096, 4096, kCmdFlagFua), 0u);
  EXPECT_EQ(c->call(Cmd::write_zeroes, 8192, 4096, kCmdFlagNoHole), 0u);
  EXPECT_EQ(target_->fua_requests(), 2u);
  EXPECT_EQ(c->call(Cmd::read, 4096, 3 * 4096, 0, {}, &r), 0u);
  EXPECT_EQ(std::count(r.begin(), r.begin() + 8192, 0), 8192);
  EXPECT_TRUE(std::equal(r.begin() + 8192, r.end(), w.begin() + 8192));
  EXPECT_EQ(target_->submitted(BlockOp::flush), 1u);
  EXPECT_EQ(target_->submitted(BlockOp::trim), 1u);
  EXPECT_EQ(target_->submitted(BlockOp::write_zeroes), 1u);
  // DISC: no reply, connection closed.
  ASSERT_TRUE(c->send_request(uint16_t(Cmd::disc), 99, 0, 0).is_ok());
  EXPECT_TRUE(c->closed_by_server());
  auto s = server_->stats();
  EXPECT_EQ(s.writes, 2u);
  EXPECT_EQ(s.reads, 2u);
  EXPECT_EQ(s.bytes_written, w.size() + 4096);
  EXPECT_EQ(s.bytes_read, w.size() + 3 * 4096);
  EXPECT_EQ(s.flushes, 1u);
  EXPECT_EQ(s.trims, 1u);
  EXPECT_EQ(s.write_zeroes, 1u);
  EXPECT_EQ(s.errors, 0u);
}

TEST_F(NbdServerTest, BadRequestsGetTheirErrorAndTheServerSurvives) {
  start({}, {.max_payload = 1 << 20});
  auto c = open();
  auto w = pattern(4096, 1);
  EXPECT_EQ(c->call(Cmd::read, 100, 512), kEinval);
  EXPECT_EQ(c->call(Cmd::write, 0, 100, 0, std::span(w).first(100)), kEinval);  // payload eaten
  EXPECT_EQ(c->call(Cmd::read, kSize, 512), kEinval);
  EXPECT_EQ(c->call(Cmd::trim, kSize - 512, 1024), kEinval);
  EXPECT_EQ(c->call(Cmd::write, kSize - 512, 1024, 0, std::span(w).first(1024)), kEnospc);
  EXPECT_EQ(c->call(Cmd::write_zeroes, kSize, 512), kEnospc);
  std::vector<uint8_t> big(2 << 20, 0xee);  // over max payload: payload still consumed
  EXPECT_EQ(c->call(Cmd::write, 0, uint32_t(big.size()), 0, big), kEinval);
  EXPECT_EQ(c->call(Cmd::read, 0, 2 << 20), kEinval);
  EXPECT_EQ(c->call(Cmd::cache, 0, 512), kEinval);
  EXPECT_EQ(c->call(Cmd::block_status, 0, 512), kEinval);
  EXPECT_EQ(c->call(static_cast<Cmd>(77), 0, 512), kEinval);
  EXPECT_EQ(c->call(Cmd::read, 0, 512, 1u << 12), kEinval);
  EXPECT_EQ(c->call(Cmd::read, 0, 512, kCmdFlagDf), kEinval);
  EXPECT_EQ(c->call(Cmd::flush, 512, 0), kEinval);
  EXPECT_EQ(c->call(Cmd::read, 0, 0), 0u);  // zero-length: a no-op
  EXPECT_EQ(c->call(Cmd::write, 0, 0), 0u);
  EXPECT_EQ(target_->submitted(BlockOp::read) + target_->submitted(BlockOp::write) +
                target_->submitted(BlockOp::flush) + target_->submitted(BlockOp::trim) +
                target_->submitted(BlockOp::write_zeroes),
            0u);  // nothing bad was forwarded
  std::vector<uint8_t> r;
  EXPECT_EQ(c->call(Cmd::write, 0, 4096, 0, w), 0u);
  EXPECT_EQ(c->call(Cmd::read, 0, 4096, 0, {}, &r), 0u);
  EXPECT_EQ(r, w);
  // The refused 2 MiB write left no trace past the one good block.
  EXPECT_EQ(std::count(target_->raw().begin() + 4096, target_->raw().begin() + (2 << 20), 0),
            (2 << 20) - 4096);
}

TEST_F(NbdServerTest, ReadOnlyExport) {
  start({.read_only = true});
  auto c = open();
  auto w = pattern(512, 1);
  EXPECT_EQ(c->call(Cmd::write, 0, 512, 0, w), kEperm);
  EXPECT_EQ(c->call(Cmd::trim, 0, 512), kEperm);
  EXPECT_EQ(c->call(Cmd::write_zeroes, 0, 512), kEperm);
  EXPECT_EQ(c->call(Cmd::read, 0, 512), 0u);
  EXPECT_EQ(c->call(Cmd::flush, 0, 0), 0u);
  EXPECT_EQ(server_->stats().errors, 3u);
}

TEST_F(NbdServerTest, TargetErrorsMapToNbdErrors) {
  start();
  auto c = open();
  const std::pair<Err, uint32_t> cases[] = {
      {Err::io, kEio},          {Err::corrupt, kEio},         {Err::invalid, kEinval},
      {Err::no_space, kEnospc}, {Err::unsupported, kEnotsup}, {Err::retry, kEnomem}};
  for (auto [err, want] : cases) {
    target_->inject_error(BlockOp::read, err, 0, 0, 1);
    EXPECT_EQ(c->call(Cmd::read, 0, 4096), want) << err_name(err);
  }
  target_->inject_error(BlockOp::flush, Err::io, 0, 0, 1);
  EXPECT_EQ(c->call(Cmd::flush, 0, 0), kEio);
  target_->inject_error(BlockOp::write, Err::io, 0, 0, 1);
  auto w = pattern(4096, 9);
  EXPECT_EQ(c->call(Cmd::write, 0, 4096, 0, w), kEio);
  EXPECT_EQ(c->call(Cmd::read, 0, 4096), 0u);  // a failed read sent no payload
}

TEST_F(NbdServerTest, BadRequestMagicClosesOnlyThatConnection) {
  start();
  auto a = open();
  auto b = open();
  std::vector<uint8_t> junk(28, 0x42);
  ASSERT_TRUE(write_all(a->fd(), junk).is_ok());
  EXPECT_TRUE(a->closed_by_server());
  EXPECT_EQ(b->call(Cmd::read, 0, 512), 0u);
}

TEST_F(NbdServerTest, ManyInFlightRepliesOutOfOrder) {
  start({.max_delay_us = 3000});
  auto c = open();
  constexpr int kN = 200;
  // Distinct 4 KiB blocks: write all without waiting, then read all without waiting.
  std::vector<std::vector<uint8_t>> data;
  for (int i = 0; i < kN; i++) data.push_back(pattern(4096, uint8_t(i)));
  std::vector<uint64_t> order = write_pipelined(*c, data, 1000);
  std::set<uint64_t> uniq(order.begin(), order.end());
  EXPECT_EQ(uniq.size(), size_t(kN));
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
  read_pipelined_and_check(*c, data, 5000);
}

TEST_F(NbdServerTest, BackPressureLimitsInflight) {
  start({}, {.max_inflight_per_connection = 4});
  target_->hold(true);
  auto c = open();
  for (int i = 0; i < 10; i++) {
    ASSERT_TRUE(c->send_request(uint16_t(Cmd::read), i, 0, 512).is_ok());
  }
  EXPECT_TRUE(eventually([&] { return target_->held() == 4; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(target_->held(), 4u);  // the reader stopped at the limit
  target_->hold(false);
  for (int i = 0; i < 10; i++) {
    auto r = c->read_reply();
    ASSERT_TRUE(r.is_ok());
    std::vector<uint8_t> d(512);
    ASSERT_TRUE(c->read_data(d).is_ok());
  }
}

TEST_F(NbdServerTest, DisconnectMidRequest) {
  start();
  target_->hold(true);
  {
    auto c = open();
    auto w = pattern(65536, 5);
    for (int i = 0; i < 8; i++) {
      ASSERT_TRUE(c->send_request(uint16_t(Cmd::write), i, 0, 65536, 0, w).is_ok());
      ASSERT_TRUE(c->send_request(uint16_t(Cmd::read), 100 + i, 0, 65536).is_ok());
    }
    ASSERT_TRUE(eventually([&] { return target_->held() == 16; }));
  }  // client gone with 16 requests in flight
  EXPECT_TRUE(eventually([&] { return server_->stats().inflight == 16; }));
  target_->hold(false);  // completions arrive; replies are dropped
  EXPECT_TRUE(eventually([&] { return server_->stats().connections_open == 0; }));
  EXPECT_TRUE(eventually([&] { return server_->stats().inflight == 0; }));
  auto c = open();  // the server is still fine
  EXPECT_EQ(c->call(Cmd::read, 0, 512), 0u);
}

TEST_F(NbdServerTest, StopDrainsInflightThenCloses) {
  start();
  auto c = open();
  target_->hold(true);
  ASSERT_TRUE(c->send_request(uint16_t(Cmd::read), 7, 0, 4096).is_ok());
  ASSERT_TRUE(eventually([&] { return target_->held() == 1; }));
  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout);  // waiting for the read
  target_->hold(false);
  stopped.get();
  auto r = c->read_reply();
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->cookie, 7u);
  EXPECT_EQ(r->error, 0u);
  std::vector<uint8_t> d(4096);
  EXPECT_TRUE(c->read_data(d).is_ok());
  EXPECT_TRUE(c->closed_by_server());
  EXPECT_FALSE(std::filesystem::exists(socket_path()));
  EXPECT_FALSE(connect_unix(socket_path()).is_ok());
}

TEST_F(NbdServerTest, StopWithIdleAndHandshakingClients) {
  start();
  auto idle = open();
  auto greeting = connect();  // never sends its flags
  auto mid = connect();
  ASSERT_TRUE(mid->greet().is_ok());
  server_->stop();
  EXPECT_TRUE(idle->closed_by_server());
  EXPECT_TRUE(mid->closed_by_server());
  server_->stop();  // idempotent
}

TEST_F(NbdServerTest, MultiConnFlushCoversWritesCompletedElsewhere) {
  start({.max_delay_us = 500});
  auto a = open();
  auto b = open();
  auto w = pattern(4096, 77);
  EXPECT_EQ(a->call(Cmd::write, 12288, 4096, 0, w), 0u);
  EXPECT_EQ(b->call(Cmd::flush, 0, 0), 0u);
  std::vector<uint8_t> r;
  EXPECT_EQ(b->call(Cmd::read, 12288, 4096, 0, {}, &r), 0u);
  EXPECT_EQ(r, w);
}

TEST_F(NbdServerTest, ConcurrentClientsStress) {
  start({.max_delay_us = 200});
  constexpr int kConns = 4, kOps = 300;
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int t = 0; t < kConns; t++) {
    ts.emplace_back([&, t] {
      auto c = open();
      std::mt19937 rng(t);
      const uint64_t base = uint64_t(t) * (kSize / kConns);
      std::map<uint64_t, std::vector<uint8_t>> written;
      for (int i = 0; i < kOps; i++) {
        uint64_t off = base + (rng() % 256) * 4096;
        if (rng() % 2) {
          auto w = pattern(4096, uint8_t(rng()));
          if (c->call(Cmd::write, off, 4096, rng() % 4 == 0 ? kCmdFlagFua : 0, w) != 0) failures++;
          written[off] = w;
        } else if (written.count(off)) {
          std::vector<uint8_t> r;
          if (c->call(Cmd::read, off, 4096, 0, {}, &r) != 0 || r != written[off]) failures++;
        } else if (c->call(Cmd::flush, 0, 0) != 0) {
          failures++;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// A target that completes requests at even 4 KiB blocks inline in submit() and the others
// on its own thread: the reader's replies and the writer's go out on one socket at once.
// even_inline false: every request goes to the thread. batches: the thread completes what
// has queued up inside one CompletionBatch, as the io_uring reaper does.
struct SplitOptions {
  bool even_inline = true;
  bool batches = false;
};
class SplitTarget final : public engine::BlockTarget {
 public:
  explicit SplitTarget(engine::BlockTarget& inner, SplitOptions o = {})
      : inner_(inner), o_(o), worker_([this] { run(); }) {}
  ~SplitTarget() override {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    worker_.join();
  }
  uint64_t size_bytes() const override { return inner_.size_bytes(); }
  uint32_t block_size() const override { return inner_.block_size(); }
  bool read_only() const override { return inner_.read_only(); }
  void submit(engine::BlockRequest& req) override {
    if (o_.even_inline && (req.offset / 4096) % 2 == 0) {
      inner_.submit(req);
      return;
    }
    {
      std::lock_guard l(mu_);
      queue_.push_back(&req);
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::deque<engine::BlockRequest*> take;
      take.swap(queue_);
      l.unlock();
      {
        std::optional<CompletionBatch> batch;
        if (o_.batches) batch.emplace();
        for (engine::BlockRequest* r : take) inner_.submit(*r);  // inline: done runs here
      }
      l.lock();
    }
  }
  engine::BlockTarget& inner_;
  const SplitOptions o_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<engine::BlockRequest*> queue_;
  bool stop_ = false;
  std::thread worker_;
};

// Requests the target completes inside submit() are answered by the reader itself
// (connection.h): every reply here, with the data intact and each cookie once.
TEST_F(NbdServerTest, InlineCompletionsAreAnsweredByTheReader) {
  start();  // MemoryTarget without delay: inline
  auto c = open();
  constexpr int kN = 200;
  std::vector<std::vector<uint8_t>> data;
  for (int i = 0; i < kN; i++) data.push_back(pattern(4096, uint8_t(i * 3)));
  std::vector<uint64_t> order = write_pipelined(*c, data, 0);
  EXPECT_EQ(std::set<uint64_t>(order.begin(), order.end()).size(), size_t(kN));
  // 3.2 KB of replies: none through the writer. (The counts follow the sends that answered.)
  EXPECT_TRUE(eventually([&] { return server_->stats().replies_by_reader == uint64_t(kN); }))
      << server_->stats().replies_by_reader;
  EXPECT_EQ(server_->stats().reader_handoffs, 0u);
  read_pipelined_and_check(*c, data, 1000);
  EXPECT_TRUE(eventually([&] { return server_->stats().inflight == 0; }));
}

// 8 MiB of READ replies (64 x 128 KiB, cookies cookie0...) for a client that reads none
// until it has sent every request, until `handoffs` (a ServerStats counter) shows that a
// non-blocking send handed the rest to the writer; then every reply must arrive whole, and
// the connection go on.
void unread_replies_arrive_whole(NbdServer& server, TestClient& c, uint64_t ServerStats::*handoffs, uint8_t seed,
                                 uint64_t cookie0) {
  constexpr uint32_t kLen = 128 * 1024;
  constexpr int kN = 64;
  std::vector<uint8_t> all = pattern(kSize, seed);
  for (uint64_t off = 0; off < kSize; off += kLen) {
    ASSERT_EQ(c.call(Cmd::write, off, kLen, 0, std::span(all).subspan(off, kLen)), 0u);
  }
  for (int i = 0; i < kN; i++) {
    ASSERT_TRUE(c.send_request(uint16_t(Cmd::read), cookie0 + i, uint64_t(i) * kLen, kLen).is_ok());
  }
  ASSERT_TRUE(eventually([&] { return server.stats().*handoffs > 0; }));
  std::set<uint64_t> seen;
  for (int i = 0; i < kN; i++) {
    auto r = c.read_reply();
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->error, 0u);
    std::vector<uint8_t> got(kLen);
    ASSERT_TRUE(c.read_data(got).is_ok());
    const uint64_t off = (r->cookie - cookie0) * kLen;
    ASSERT_TRUE(std::equal(got.begin(), got.end(), all.begin() + off)) << r->cookie;
    seen.insert(r->cookie);
  }
  EXPECT_EQ(seen.size(), size_t(kN));
  // The connection goes on with the write side back with whoever completes.
  std::vector<uint8_t> r;
  EXPECT_EQ(c.call(Cmd::read, 4096, 4096, 0, {}, &r), 0u);
  EXPECT_TRUE(std::equal(r.begin(), r.end(), all.begin() + 4096));
}

// 8 MiB of READ replies for a client that reads none until it has sent every request: the
// reader's non-blocking send fills the socket, hands the rest to the writer and reads on.
// Every reply then arrives whole.
TEST_F(NbdServerTest, InlineRepliesTheSocketCannotTakeAreFinishedByTheWriter) {
  start();
  auto c = open();
  unread_replies_arrive_whole(*server_, *c, &ServerStats::reader_handoffs, 0x5a, 77);
}

// Large WRITEs go through the submitter thread, small ones inline, interleaved and pipelined
// without waiting: every byte lands where its request said, and every request is answered.
TEST_F(NbdServerTest, LargeWritesPassedToTheSubmitterLandWithTheSmallOnes) {
  start();
  auto c = open();
  constexpr uint32_t kBig = 512 * 1024;
  std::vector<uint8_t> want(kSize, 0);
  std::mt19937 rng(11);
  int sent = 0;
  for (int round = 0; round < 4; round++) {
    for (uint64_t off = 0; off < kSize; off += kBig) {
      std::vector<uint8_t> big = pattern(kBig, uint8_t(rng()));
      ASSERT_TRUE(c->send_request(uint16_t(Cmd::write), sent++, off, kBig, 0, big).is_ok());
      std::copy(big.begin(), big.end(), want.begin() + off);
      // A small write inside the large one just sent: it may land first, so it goes where
      // the next large write will not cover it again this round.
      const uint64_t small_off = off + (rng() % (kBig / 4096)) * 4096;
      std::vector<uint8_t> small = pattern(4096, uint8_t(rng()));
      ASSERT_TRUE(c->send_request(uint16_t(Cmd::write), sent++, small_off, 4096, 0, small).is_ok());
      // Wait for both before the overlap matters: read the two replies now.
      for (int k = 0; k < 2; k++) {
        auto r = c->read_reply();
        ASSERT_TRUE(r.is_ok());
        ASSERT_EQ(r->error, 0u);
      }
      // Whichever landed last wins for the small block; make the expectation exact by
      // rewriting it now that both are answered.
      ASSERT_EQ(c->call(Cmd::write, small_off, 4096, 0, small), 0u);
      std::copy(small.begin(), small.end(), want.begin() + small_off);
    }
  }
  // Pipelined: every large write of a pass sent before any reply is read.
  for (uint64_t off = 0; off < kSize; off += kBig) {
    std::vector<uint8_t> big = pattern(kBig, uint8_t(off >> 19));
    ASSERT_TRUE(c->send_request(uint16_t(Cmd::write), 9000 + off / kBig, off, kBig, 0, big).is_ok());
    std::copy(big.begin(), big.end(), want.begin() + off);
  }
  std::set<uint64_t> seen;
  for (uint64_t off = 0; off < kSize; off += kBig) {
    auto r = c->read_reply();
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->error, 0u);
    seen.insert(r->cookie);
  }
  EXPECT_EQ(seen.size(), size_t(kSize / kBig));
  for (uint64_t off = 0; off < kSize; off += kBig) {
    std::vector<uint8_t> got;
    ASSERT_EQ(c->call(Cmd::read, off, kBig, 0, {}, &got), 0u);
    ASSERT_TRUE(std::equal(got.begin(), got.end(), want.begin() + off)) << off;
  }
  EXPECT_EQ(server_->stats().writes_passed_on, uint64_t(4 * (kSize / kBig) + kSize / kBig));
}

// Serves the fixture's MemoryTarget through a SplitTarget with options `o` (the server is
// the fixture's; reset it before the SplitTarget goes).
std::unique_ptr<SplitTarget> serve_split(std::unique_ptr<MemoryTarget>& target, std::unique_ptr<NbdServer>& server,
                                         const std::string& path, SplitOptions o) {
  target = std::make_unique<MemoryTarget>(kSize, MemoryTargetOptions{});
  auto split = std::make_unique<SplitTarget>(*target, o);
  ServerOptions so;
  so.export_name = "md0";
  so.unix_path = path;
  server = std::make_unique<NbdServer>(*split, so);
  EXPECT_TRUE(server->start().is_ok());
  return split;
}

// Writes a pattern over the export, then 20 rounds of 48 pipelined READs of 4 KiB or 64 KiB
// at random blocks (odd and even: inline and threaded with a SplitTarget), every reply's
// bytes checked.
void mixed_reads_check(TestClient& c) {
  constexpr uint32_t kLen = 64 * 1024;
  std::vector<uint8_t> all = pattern(kSize, 0x11);
  for (uint64_t off = 0; off < kSize; off += kLen) {
    ASSERT_EQ(c.call(Cmd::write, off, kLen, 0, std::span(all).subspan(off, kLen)), 0u);
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 20; round++) {
    std::map<uint64_t, std::pair<uint64_t, uint32_t>> sent;  // cookie -> offset, length
    for (int i = 0; i < 48; i++) {
      const uint32_t len = (rng() % 2) ? 4096 : kLen;
      const uint64_t off = (rng() % (kSize / 4096)) * 4096;
      if (off + len > kSize) continue;
      const uint64_t cookie = uint64_t(round) * 1000 + i;
      ASSERT_TRUE(c.send_request(uint16_t(Cmd::read), cookie, off, len).is_ok());
      sent[cookie] = {off, len};
    }
    for (size_t i = 0; i < sent.size(); i++) {
      auto r = c.read_reply();
      ASSERT_TRUE(r.is_ok());
      ASSERT_EQ(r->error, 0u);
      ASSERT_EQ(sent.count(r->cookie), 1u) << r->cookie;
      auto [off, len] = sent[r->cookie];
      std::vector<uint8_t> got(len);
      ASSERT_TRUE(c.read_data(got).is_ok());
      ASSERT_TRUE(std::equal(got.begin(), got.end(), all.begin() + off)) << r->cookie;
    }
  }
}

// Replies from the reader and from an engine thread share the socket: none interleaves.
TEST_F(NbdServerTest, ReaderAndEngineThreadRepliesDoNotInterleave) {
  auto split = serve_split(target_, server_, socket_path(), {});
  auto c = open();
  mixed_reads_check(*c);
  ASSERT_TRUE(eventually([&] { return server_->stats().inflight == 0; }));
  const ServerStats st = server_->stats();
  EXPECT_GT(st.replies_by_reader, 0u);
  EXPECT_LT(st.replies_by_reader, st.reads + st.writes);  // the worker's went through the writer
  EXPECT_EQ(st.replies_in_batches, 0u);
  server_.reset();  // before `split` goes
}

// Requests completed in a batch (util/completion_batch.h, as the io_uring reaper runs them)
// are answered by the completing thread at the batch's end: every reply arrives, none is
// left waiting for a writer nobody woke, and the batches sent them (the writer takes over
// only when a batch's send cannot go whole: many small sends can fill a unix socket's
// buffer while this client is still sending, so the exact split is the scheduler's).
TEST_F(NbdServerTest, BatchCompletionsAreAnsweredAtTheBatchsEnd) {
  auto split = serve_split(target_, server_, socket_path(), {.even_inline = false, .batches = true});
  auto c = open();
  constexpr int kN = 200;
  std::vector<std::vector<uint8_t>> data;
  for (int i = 0; i < kN; i++) data.push_back(pattern(4096, uint8_t(i * 5)));
  for (int round = 0; round < 3; round++) {
    std::vector<uint64_t> order = write_pipelined(*c, data, 0);
    EXPECT_EQ(std::set<uint64_t>(order.begin(), order.end()).size(), size_t(kN));
    read_pipelined_and_check(*c, data, 1000);
  }
  EXPECT_TRUE(eventually([&] { return server_->stats().inflight == 0; }));
  const ServerStats st = server_->stats();
  EXPECT_EQ(st.replies_by_reader, 0u);
  EXPECT_GT(st.replies_in_batches, 0u);
  EXPECT_EQ(st.reads + st.writes, uint64_t(6 * kN));
  server_.reset();
}

// 8 MiB of READ replies completed in batches for a client that reads none until it has sent
// every request: the batch's send fills the socket and hands the rest to the writer.
TEST_F(NbdServerTest, BatchRepliesTheSocketCannotTakeAreFinishedByTheWriter) {
  auto split = serve_split(target_, server_, socket_path(), {.even_inline = false, .batches = true});
  auto c = open();
  unread_replies_arrive_whole(*server_, *c, &ServerStats::batch_handoffs, 0x6b, 500);
  server_.reset();
}

// Replies from the reader and from batches on another thread share the socket: none
// interleaves. (Which of the reader, the batch's thread and the writer sends a reply is the
// scheduler's: a batch that ends while another sender owns the socket leaves its replies
// to it.)
TEST_F(NbdServerTest, ReaderAndBatchRepliesDoNotInterleave) {
  auto split = serve_split(target_, server_, socket_path(), {.even_inline = true, .batches = true});
  auto c = open();
  mixed_reads_check(*c);
  ASSERT_TRUE(eventually([&] { return server_->stats().inflight == 0; }));
  EXPECT_GT(server_->stats().replies_by_reader, 0u);
  server_.reset();
}

TEST_F(NbdServerTest, MaxConnectionsRefusesExtra) {
  start({}, {.max_connections = 2});
  auto a = open();
  auto b = open();
  auto c = connect();
  EXPECT_TRUE(c->closed_by_server());
  EXPECT_EQ(server_->stats().connections_refused, 1u);
  b.reset();
  EXPECT_TRUE(eventually([&] { return server_->stats().connections_open == 1; }));
  auto d = open();
  EXPECT_EQ(d->call(Cmd::read, 0, 512), 0u);
}

TEST_F(NbdServerTest, AdoptedSocketpair) {
  start();
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_TRUE(server_->adopt(sv[0]).is_ok());
  TestClient c(sv[1]);
  ASSERT_TRUE(c.greet().is_ok());
  ASSERT_TRUE(c.go("md0").is_ok());
  EXPECT_EQ(c.call(Cmd::read, 0, 4096), 0u);
}

TEST(NbdServer, TcpEphemeralPortAndStopWhileBlocked) {
  MemoryTarget target(1 << 20);
  NbdServer server(target, {.export_name = "t", .tcp = true, .tcp_port = 0});
  ASSERT_TRUE(server.start().is_ok());
  ASSERT_NE(server.tcp_port(), 0);
  Result<int> fd = connect_tcp("127.0.0.1", server.tcp_port());
  ASSERT_TRUE(fd.is_ok());
  TestClient c(*fd);
  ASSERT_TRUE(c.greet().is_ok());
  ASSERT_TRUE(c.go("t").is_ok());
  EXPECT_EQ(c.call(Cmd::write, 0, 512, 0, pattern(512, 1)), 0u);
  server.stop();  // the reader is blocked in recv on a TCP socket
  EXPECT_TRUE(c.closed_by_server());
}

TEST(NbdServer, RejectsBadGeometryAndBusyPath) {
  MemoryTarget odd(1 << 20, {.block_size = 768});
  NbdServer s1(odd, {});
  EXPECT_EQ(s1.start().code(), Err::invalid);
  std::string dir = temp_dir();
  std::string file = dir + "/plain";
  {
    FILE* f = std::fopen(file.c_str(), "w");
    std::fclose(f);
  }
  MemoryTarget ok(1 << 20);
  NbdServer s2(ok, {.unix_path = file});
  EXPECT_EQ(s2.start().code(), Err::busy);
  EXPECT_TRUE(std::filesystem::exists(file));
  // A live server's socket is not stolen; a stale one is replaced.
  const std::string sock = dir + "/live.sock";
  NbdServer s3(ok, {.unix_path = sock});
  ASSERT_TRUE(s3.start().is_ok());
  NbdServer s4(ok, {.unix_path = sock});
  EXPECT_EQ(s4.start().code(), Err::busy);
  s3.stop();
  EXPECT_FALSE(std::filesystem::exists(sock));  // stop() removed it
  Result<int> stale = listen_unix(sock);        // leaves a socket file nobody accepts on
  ASSERT_TRUE(stale.is_ok());
  ::close(*stale);
  NbdServer s5(ok, {.unix_path = sock});
  EXPECT_TRUE(s5.start().is_ok());
  s5.stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace umd::nbd
