// The container enricher's cache on the machine's real cgroup2 tree (read
// only, no root needed): host marking, how long events wait (WaitKey,
// WaitUntil: the pipeline parks them meanwhile), and the LRU bound. Cgroups
// made by the test and a hung runtime: tests/bpf/container_cgroup_test (root).
// Container cgroups and runtimes end to end: tests/e2e/container_test, with a
// real containerd.
#include "container/container_enricher.h"

#include <gtest/gtest.h>

#include "support/container_enricher_fixture.h"

namespace vigil::test {
namespace {

TEST_F(ContainerEnricherTest, RootCgroupIsHost) {
  auto enricher = NewEnricher({.cgroup_root = root_});
  ASSERT_NE(enricher, nullptr);
  v1::Event e = EventIn(CgroupIdOf(root_));
  ASSERT_EQ(enricher->WaitKey(e), CgroupIdOf(root_));
  enricher->Sync();
  EXPECT_EQ(enricher->WaitUntil(CgroupIdOf(root_)), absl::InfinitePast()) << "the host's cgroup is settled at once";
  enricher->Enrich(e);
  EXPECT_TRUE(e.workload().host());
  EXPECT_EQ(e.workload().container_id(), "");
  EXPECT_FALSE(e.workload().metadata_pending());
}

TEST_F(ContainerEnricherTest, UnknownCgroupWaitsUntilResolvedAtMost) {
  auto enricher = NewEnricher({.cgroup_root = root_, .pending_wait = absl::Seconds(5), .now = clock()});
  ASSERT_NE(enricher, nullptr);
  const uint64_t unknown = 0x7fff'0000'0000'0001ULL;
  v1::Event first = EventIn(unknown);
  EXPECT_EQ(enricher->WaitKey(first), unknown);
  const absl::Time until = enricher->WaitUntil(unknown);
  EXPECT_TRUE(until == absl::InfinitePast() || until == Now() + absl::Seconds(5)) << until;
  enricher->Sync();
  EXPECT_EQ(enricher->WaitUntil(unknown), absl::InfinitePast()) << "no such cgroup: nothing more to wait for";
  enricher->Enrich(first);
  EXPECT_FALSE(first.workload().host()) << "an unknown cgroup is not known to be the host";
  EXPECT_FALSE(first.workload().metadata_pending());
}

TEST_F(ContainerEnricherTest, EventsWithoutWorkloadAreLeftAlone) {
  auto enricher = NewEnricher({.cgroup_root = root_});
  ASSERT_NE(enricher, nullptr);
  v1::Event health;
  health.mutable_health()->set_final(true);
  enricher->Enrich(health);
  EXPECT_FALSE(health.has_workload());
}

TEST_F(ContainerEnricherTest, CacheStaysWithinItsBound) {
  auto enricher = NewEnricher({.cgroup_root = root_, .max_cgroups = 16});
  ASSERT_NE(enricher, nullptr);
  for (uint64_t id = 1; id <= 100; ++id) {
    v1::Event e = EventIn(0x7ffe'0000'0000'0000ULL + id);
    enricher->Enrich(e);
  }
  const ContainerCacheStats s = enricher->Stats();
  EXPECT_LE(s.size, 16u);
  EXPECT_EQ(s.evictions, 100u - s.size);
}

}  // namespace
}  // namespace vigil::test
