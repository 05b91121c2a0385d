#include "common/boot_clock.h"

#include <time.h>

namespace vigil {

namespace {
int64_t Ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

uint64_t BootClock::NowBootNs() { return static_cast<uint64_t>(Ns(CLOCK_BOOTTIME)); }

absl::Time BootClock::ToWall(uint64_t boot_ns) const {
  const int64_t boot = boot_ns > INT64_MAX ? INT64_MAX : static_cast<int64_t>(boot_ns);
  int64_t wall;
  if (__builtin_add_overflow(boot, offset_ns_.load(std::memory_order_relaxed), &wall)) wall = INT64_MAX;
  return absl::FromUnixNanos(wall);
}

void BootClock::Resync() {
  // Bracket the wall-clock read with two boot-clock reads to halve the error.
  int64_t b1 = Ns(CLOCK_BOOTTIME);
  int64_t wall = Ns(CLOCK_REALTIME);
  int64_t b2 = Ns(CLOCK_BOOTTIME);
  offset_ns_.store(wall - (b1 + (b2 - b1) / 2), std::memory_order_relaxed);
}

}  // namespace vigil
