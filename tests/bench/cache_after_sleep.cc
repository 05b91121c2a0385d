// How much of a sleeping thread's working set this machine's caches keep.
// The sensor sleeps between batches (its batch interval, 30 ms) and pays
// for every cache line it touches again after the sleep. This touches one
// line in each of 512 pages (2 MiB apart from nothing else), after sleeps
// of 0.1 to 100 ms, and prints the median time per line against the same
// lines touched again at once. Not a test:
//   ninja -C build bench_cache_after_sleep && build/tests/bench/bench_cache_after_sleep
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kPages = 512;
constexpr size_t kStride = 2 * 4096;  // one line in every other page
constexpr int kRounds = 40;

// Nanoseconds per line to read one line of each page; the lines sit at
// different offsets so that they do not share cache sets.
double TouchAll(const volatile char* base) {
  const auto start = Clock::now();
  long sum = 0;
  for (size_t i = 0; i < kPages; ++i) sum += base[i * kStride + (i % 64) * 64];
  const auto end = Clock::now();
  if (sum == -1) std::puts("");  // keeps the reads
  return std::chrono::duration<double, std::nano>(end - start).count() / kPages;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  const size_t len = kPages * kStride;
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  auto* base = static_cast<char*>(m);
  std::memset(base, 1, len);
  std::printf("%10s %22s %22s\n", "sleep_us", "ns/line after sleep", "ns/line again at once");
  for (int sleep_us : {100, 1000, 5000, 10000, 30000, 100000}) {
    std::vector<double> cold, warm;
    for (int r = 0; r < kRounds; ++r) {
      usleep(sleep_us);
      cold.push_back(TouchAll(base));
      warm.push_back(TouchAll(base));
    }
    std::printf("%10d %22.1f %22.1f\n", sleep_us, Median(cold), Median(warm));
  }
  munmap(m, len);
  return 0;
}
