// Records the raw ring-buffer records Vigil's probes write on this host, as
// vigil-sensor loads them by default, for vigil_pipeline_bench's whole-path
// benchmarks on recorded records (VIGIL_BENCH_RECORDS). Needs root. Not a
// test; scripts/bench-pipeline.sh runs it under a workload.
//   bench_record OUT SECONDS
// OUT holds each record as a native-endian uint32 length, then its bytes.
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "loader/families.h"
#include "loader/probe_set.h"
#include "loader/ring_buffer.h"
#include "vigil_abi.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s OUT SECONDS\n", argv[0]);
    return 2;
  }
  std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
  if (!out) {
    std::perror(argv[1]);
    return 1;
  }
  const vigil::LoaderConfig config;  // the sensor's defaults
  auto probes = vigil::ProbeSet::Load(config, vigil::BuiltinFamilies(config));
  if (!probes.ok()) {
    std::fprintf(stderr, "loading the probes: %s\n", std::string(probes.status().message()).c_str());
    return 1;
  }
  size_t records = 0;
  size_t bytes = 0;
  auto ring = vigil::RingBuffer::Open((*probes)->ring_buffer_fd(), [&](absl::Span<const uint8_t> record) {
    const uint32_t size = record.size();
    out.write(reinterpret_cast<const char*>(&size), sizeof(size));
    out.write(reinterpret_cast<const char*>(record.data()), size);
    ++records;
    bytes += size;
  });
  if (!ring.ok()) {
    std::fprintf(stderr, "ring buffer: %s\n", std::string(ring.status().message()).c_str());
    return 1;
  }
  std::printf("recording for %s s\n", argv[2]);
  std::fflush(stdout);
  const absl::Time end = absl::Now() + absl::Seconds(std::atoi(argv[2]));
  while (absl::Now() < end) {
    if (auto n = (*ring)->Poll(absl::ToInt64Milliseconds(config.wakeup_interval)); !n.ok()) {
      std::fprintf(stderr, "poll: %s\n", std::string(n.status().message()).c_str());
      return 1;
    }
  }
  (*probes)->Detach();
  if (auto n = (*ring)->Drain(); !n.ok()) return 1;
  out.flush();
  if (!out) {
    std::perror(argv[1]);
    return 1;
  }
  // A recording with holes would replay processes without their forks.
  uint64_t lost = 0;
  if (auto counters = (*probes)->ReadCounters(); counters.ok()) {
    for (const auto& kind : *counters) lost += kind[VIGIL_CNT_DROP_RINGBUF] + kind[VIGIL_CNT_DROP_SCRATCH];
  }
  std::printf("%zu records, %zu bytes, %llu lost\n", records, bytes, static_cast<unsigned long long>(lost));
  return lost == 0 ? 0 : 1;
}
