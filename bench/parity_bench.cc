// Parity throughput on md-sized work: one stripe row of 64 KiB chunks. Bytes processed
// count the data chunks read, so GB/s compares directly with memcpy of the same bytes.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "parity/parity.h"
#include "util/aligned_buffer.h"

namespace {

using namespace umd;
using namespace umd::parity;

constexpr size_t kChunk = 64 * 1024;

struct Row {
  std::vector<AlignedBuffer> data;
  AlignedBuffer p{kChunk}, q{kChunk};
  std::vector<uint8_t*> slots;
  explicit Row(size_t k) {
    std::mt19937_64 rng(k);
    for (size_t j = 0; j < k; ++j) {
      data.emplace_back(kChunk);
      for (size_t i = 0; i < kChunk; ++i) data[j].data()[i] = static_cast<uint8_t>(rng());
      slots.push_back(data[j].data());
    }
  }
  std::span<const uint8_t* const> cslots() const { return {slots.data(), slots.size()}; }
};

void set_bytes(benchmark::State& st, size_t k) {
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * k * kChunk));
}

void BM_memcpy(benchmark::State& st) {
  const size_t k = st.range(0);
  Row r(k);
  AlignedBuffer dst(k * kChunk);
  for (auto _ : st) {
    for (size_t j = 0; j < k; ++j) std::memcpy(dst.data() + j * kChunk, r.slots[j], kChunk);
    benchmark::DoNotOptimize(dst.data());
  }
  set_bytes(st, k);
}

void BM_gen_p(benchmark::State& st) {
  const size_t k = st.range(0);
  Row r(k);
  for (auto _ : st) {
    gen_p(r.cslots(), r.p.data(), kChunk);
    benchmark::DoNotOptimize(r.p.data());
  }
  set_bytes(st, k);
}

void BM_gen_pq(benchmark::State& st) {
  const size_t k = st.range(0);
  Row r(k);
  for (auto _ : st) {
    gen_pq(r.cslots(), r.p.data(), r.q.data(), kChunk);
    benchmark::DoNotOptimize(r.q.data());
  }
  set_bytes(st, k);
}

// ddf rows: two empty slots force the general dot-product path instead of pq_gen.
void BM_gen_pq_ddf(benchmark::State& st) {
  const size_t k = st.range(0);
  Row r(k);
  std::vector<const uint8_t*> slots = {nullptr};
  for (uint8_t* s : r.slots) slots.push_back(s);
  slots.push_back(nullptr);
  for (auto _ : st) {
    gen_pq(slots, r.p.data(), r.q.data(), kChunk);
    benchmark::DoNotOptimize(r.q.data());
  }
  set_bytes(st, k);
}

void BM_recover_2data(benchmark::State& st) {
  const size_t k = st.range(0);
  Row r(k);
  gen_pq(r.cslots(), r.p.data(), r.q.data(), kChunk);
  const std::vector<int> missing = {0, static_cast<int>(k) - 1};
  for (auto _ : st) {
    Status s = recover(r.slots, r.p.data(), r.q.data(), kChunk, missing);
    if (!s.is_ok()) st.SkipWithError(s.message().c_str());
    benchmark::DoNotOptimize(r.slots[0]);
  }
  set_bytes(st, k);  // k chunks read: k-2 survivors plus P and Q
}

void BM_recover_data_p(benchmark::State& st) {
  const size_t k = st.range(0);
  Row r(k);
  gen_pq(r.cslots(), r.p.data(), r.q.data(), kChunk);
  const std::vector<int> missing = {1, kBlockP};
  for (auto _ : st) {
    Status s = recover(r.slots, r.p.data(), r.q.data(), kChunk, missing);
    if (!s.is_ok()) st.SkipWithError(s.message().c_str());
    benchmark::DoNotOptimize(r.p.data());
  }
  set_bytes(st, k);
}

// Read-modify-write of one chunk: delta, P update, Q update.
void BM_rmw_one_chunk(benchmark::State& st) {
  Row r(2);
  AlignedBuffer delta(kChunk);
  for (auto _ : st) {
    std::memcpy(delta.data(), r.slots[0], kChunk);
    xor_into(delta.data(), r.slots[1], kChunk);
    xor_into(r.p.data(), delta.data(), kChunk);
    q_delta(3, delta.data(), r.q.data(), kChunk);
    benchmark::DoNotOptimize(r.q.data());
  }
  set_bytes(st, 1);
}

void BM_xor_into(benchmark::State& st) {
  Row r(2);
  for (auto _ : st) {
    xor_into(r.slots[0], r.slots[1], kChunk);
    benchmark::DoNotOptimize(r.slots[0]);
  }
  set_bytes(st, 1);
}

void BM_q_delta(benchmark::State& st) {
  Row r(2);
  for (auto _ : st) {
    q_delta(3, r.slots[0], r.q.data(), kChunk);
    benchmark::DoNotOptimize(r.q.data());
  }
  set_bytes(st, 1);
}

BENCHMARK(BM_memcpy)->Arg(4)->Arg(8);
BENCHMARK(BM_gen_p)->Arg(4)->Arg(8);
BENCHMARK(BM_gen_pq)->Arg(4)->Arg(8);
BENCHMARK(BM_gen_pq_ddf)->Arg(4)->Arg(8);
BENCHMARK(BM_recover_2data)->Arg(4)->Arg(8);
BENCHMARK(BM_recover_data_p)->Arg(4)->Arg(8);
BENCHMARK(BM_rmw_one_chunk);
BENCHMARK(BM_xor_into);
BENCHMARK(BM_q_delta);

}  // namespace

BENCHMARK_MAIN();
