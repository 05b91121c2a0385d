#include "common/exec_id.h"

#include <gtest/gtest.h>

#include <limits>

namespace vigil {
namespace {

TEST(ExecId, NodeTicksPid) {
  EXPECT_EQ(ExecId("node-a", 4242, 12345), "node-a:12345:4242");
  EXPECT_EQ(ExecId("", 1, 0), ":0:1");
  EXPECT_EQ(ExecId("n", std::numeric_limits<uint32_t>::max(), std::numeric_limits<uint64_t>::max()),
            "n:18446744073709551615:4294967295");
}

// Same unit as field 22 of /proc/<pid>/stat (USER_HZ = 100).
TEST(ExecId, StartTicksAreHundredthsOfASecond) {
  EXPECT_EQ(kNsPerTick, 10'000'000u);
  EXPECT_EQ(StartTicks(0), 0u);
  EXPECT_EQ(StartTicks(9'999'999), 0u);
  EXPECT_EQ(StartTicks(10'000'000), 1u);
  EXPECT_EQ(StartTicks(123'459'999'999), 12345u);
}

}  // namespace
}  // namespace vigil
