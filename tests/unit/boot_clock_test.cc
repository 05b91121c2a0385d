#include "common/boot_clock.h"

#include <gtest/gtest.h>

#include <limits>

#include "absl/time/clock.h"

namespace vigil {
namespace {

TEST(BootClock, NowBootNsIsWallClockNow) {
  BootClock clock;
  absl::Duration off = clock.ToWall(BootClock::NowBootNs()) - absl::Now();
  EXPECT_LT(absl::AbsDuration(off), absl::Seconds(1)) << off;
}

TEST(BootClock, StillRightAfterResync) {
  BootClock clock;
  clock.Resync();
  absl::Duration off = clock.ToWall(BootClock::NowBootNs()) - absl::Now();
  EXPECT_LT(absl::AbsDuration(off), absl::Seconds(1)) << off;
}

TEST(BootClock, KeepsDistancesBetweenStamps) {
  BootClock clock;
  const uint64_t t = BootClock::NowBootNs();
  EXPECT_EQ(clock.ToWall(t + 1'500'000'000) - clock.ToWall(t), absl::Milliseconds(1500));
}

// boot_ns comes from a record: any uint64 must map without signed overflow
// (undefined behaviour), and a later stamp never to an earlier time.
TEST(BootClock, LargeStampsDoNotWrapIntoThePast) {
  BootClock clock;
  const absl::Time now = clock.ToWall(BootClock::NowBootNs());
  EXPECT_GE(clock.ToWall(uint64_t{1} << 63), now);
  EXPECT_GE(clock.ToWall(std::numeric_limits<uint64_t>::max()), now);
}

TEST(BootClock, NowBootNsNeverGoesBack) {
  uint64_t last = BootClock::NowBootNs();
  EXPECT_GT(last, 0u);
  for (int i = 0; i < 1000; ++i) {
    uint64_t now = BootClock::NowBootNs();
    ASSERT_GE(now, last);
    last = now;
  }
}

}  // namespace
}  // namespace vigil
