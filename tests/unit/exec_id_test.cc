#include "common/exec_id.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>

namespace vigil {
namespace {

TEST(ExecId, NodeTicksPid) {
  EXPECT_EQ(ExecId("node-a", 4242, 12345), "node-a:12345:4242");
  EXPECT_EQ(ExecId("", 1, 0), ":0:1");
  EXPECT_EQ(ExecId("n", std::numeric_limits<uint32_t>::max(), std::numeric_limits<uint64_t>::max()),
            "n:18446744073709551615:4294967295");
  const std::string long_node(300, 'n');  // longer than any node name Kubernetes allows
  EXPECT_EQ(ExecId(long_node, 2, 1), long_node + ":1:2");
  std::string reused = "an id that was here before, longer than the next";
  AssignExecId("n", 3, 4, reused);
  EXPECT_EQ(reused, "n:4:3");
}

// Same unit as field 22 of /proc/<pid>/stat (USER_HZ = 100).
TEST(ExecId, StartTicksAreHundredthsOfASecond) {
  EXPECT_EQ(kNsPerTick, 10'000'000u);
  EXPECT_EQ(StartTicks(0), 0u);
  EXPECT_EQ(StartTicks(9'999'999), 0u);
  EXPECT_EQ(StartTicks(10'000'000), 1u);
  EXPECT_EQ(StartTicks(123'459'999'999), 12345u);
}

TEST(ExecId, ParsesWhatItMakes) {
  uint32_t pid = 0;
  uint64_t ticks = 0;
  ASSERT_TRUE(ParseExecId("node-a:12345:4242", "node-a", pid, ticks));
  EXPECT_EQ(pid, 4242u);
  EXPECT_EQ(ticks, 12345u);
  // A node name may hold colons; only the last two separate the numbers.
  ASSERT_TRUE(ParseExecId(ExecId("a:b", 7, 0), "a:b", pid, ticks));
  EXPECT_EQ(pid, 7u);
  EXPECT_EQ(ticks, 0u);
  ASSERT_TRUE(ParseExecId("n:18446744073709551615:4294967295", "n", pid, ticks));
  EXPECT_EQ(pid, std::numeric_limits<uint32_t>::max());
  EXPECT_EQ(ticks, std::numeric_limits<uint64_t>::max());
}

// Anything ExecId would not make is refused, so a parsed id always formats
// back to the string it came from.
TEST(ExecId, RefusesWhatItWouldNotMake) {
  uint32_t pid = 0;
  uint64_t ticks = 0;
  for (const char* id : {"", "node-a", "node-a:1", "node-b:1:2", "node-a:1:2:3", "node-a::2",
                         "node-a:1:", "node-a:01:2", "node-a:1:02", "node-a:+1:2", "node-a: 1:2", "node-a:1:2 ",
                         "node-a:1:x", "node-a:1:4294967296", "node-a:18446744073709551616:1",
                         "node-a:99999999999999999999:1", "node-a:1:99999999999", "xnode-a:1:2", "node-a;1:2"}) {
    EXPECT_FALSE(ParseExecId(id, "node-a", pid, ticks)) << id;
  }
}

// Ids of every digit count, and every one-character edit of them: an id
// parses exactly when it is what ExecId makes of the numbers parsed.
TEST(ExecId, ParsesExactlyTheIdsItMakes) {
  std::mt19937_64 rng(22);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t ticks = rng() >> (rng() % 64);
    const auto pid = static_cast<uint32_t>(rng() >> (32 + rng() % 32));
    std::string id = ExecId("node-a", pid, ticks);
    uint32_t parsed_pid = 0;
    uint64_t parsed_ticks = 0;
    ASSERT_TRUE(ParseExecId(id, "node-a", parsed_pid, parsed_ticks)) << id;
    ASSERT_EQ(parsed_pid, pid);
    ASSERT_EQ(parsed_ticks, ticks);
    const size_t at = 7 + rng() % (id.size() - 7);
    switch (rng() % 3) {
      case 0:
        id[at] = "0123456789:x"[rng() % 12];
        break;
      case 1:
        id.insert(at, 1, "09:"[rng() % 3]);
        break;
      default:
        id.erase(at, 1);
        break;
    }
    if (ParseExecId(id, "node-a", parsed_pid, parsed_ticks)) {
      ASSERT_EQ(ExecId("node-a", parsed_pid, parsed_ticks), id);
    }
  }
}

}  // namespace
}  // namespace vigil
