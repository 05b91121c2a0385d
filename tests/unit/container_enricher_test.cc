// The container enricher's cache on the machine's real cgroup2 tree (read
// only, no root needed): host marking, the bounded wait for unknown cgroups,
// and the LRU bound. Container cgroups and runtimes are covered end to end by
// tests/e2e/container_test with a real containerd.
#include "container/container_enricher.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "status_matchers.h"

namespace vigil {
namespace {

using test::IsOk;

std::string Cgroup2Root() {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  auto root = Cgroup2MountFromMountinfo(ss.str());
  return root.ok() ? *root : "";
}

uint64_t CgroupIdOf(const std::string& dir) {
  struct stat st {};
  return stat(dir.c_str(), &st) == 0 ? st.st_ino : 0;  // the kernfs id on 64-bit kernels
}

std::unique_ptr<ContainerEnricher> NewEnricher(ContainerEnricherOptions options) {
  auto e = ContainerEnricher::Create(std::move(options), {});
  EXPECT_THAT(e, IsOk());
  return e.ok() ? *std::move(e) : nullptr;
}

v1::Event EventIn(uint64_t cgroup_id) {
  v1::Event e;
  e.mutable_workload()->set_cgroup_id(cgroup_id);
  return e;
}

class ContainerEnricherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = Cgroup2Root();
    if (root_.empty()) GTEST_SKIP() << "cgroup2 is not mounted here";
  }
  // The enricher's clock, moved by hand: now_ is read from its threads.
  Clock clock() {
    return [this] {
      absl::MutexLock lock(&clock_mu_);
      return now_;
    };
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&clock_mu_);
    now_ += d;
  }
  std::string root_;
  absl::Mutex clock_mu_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

TEST_F(ContainerEnricherTest, RootCgroupIsHost) {
  auto enricher = NewEnricher({.cgroup_root = root_});
  ASSERT_NE(enricher, nullptr);
  v1::Event e = EventIn(CgroupIdOf(root_));
  enricher->Enrich(e);
  EXPECT_TRUE(e.workload().host());
  EXPECT_EQ(e.workload().container_id(), "");
  EXPECT_FALSE(e.workload().metadata_pending());
}

TEST_F(ContainerEnricherTest, UnknownCgroupWaitsOnceAndBoundedly) {
  auto enricher = NewEnricher({.cgroup_root = root_, .pending_wait = absl::Milliseconds(300)});
  ASSERT_NE(enricher, nullptr);
  const uint64_t unknown = 0x7fff'0000'0000'0001ULL;
  const absl::Time start = absl::Now();
  v1::Event first = EventIn(unknown);
  enricher->Enrich(first);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(300) + absl::Milliseconds(200));
  EXPECT_FALSE(first.workload().host()) << "an unknown cgroup is not known to be the host";
  const absl::Time again = absl::Now();
  v1::Event second = EventIn(unknown);
  enricher->Enrich(second);
  EXPECT_LT(absl::Now() - again, absl::Milliseconds(50)) << "a cgroup makes events wait once only";
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
  auto enricher = NewEnricher({.cgroup_root = root_, .max_cgroups = 16, .pending_wait = absl::ZeroDuration()});
  ASSERT_NE(enricher, nullptr);
  for (uint64_t id = 1; id <= 100; ++id) {
    v1::Event e = EventIn(0x7ffe'0000'0000'0000ULL + id);
    enricher->Enrich(e);
  }
  const ContainerCacheStats s = enricher->Stats();
  EXPECT_LE(s.size, 16u);
  EXPECT_EQ(s.evictions, 100u - s.size);
}

// kernfs reports a removed cgroup only to its parent's watch.
TEST_F(ContainerEnricherTest, TreeLearnsAndForgetsCgroupsAsTheyComeAndGo) {
  if (geteuid() != 0) GTEST_SKIP() << "making a cgroup needs root";
  auto tree = CgroupTree::Open(root_);
  ASSERT_THAT(tree, IsOk());
  const std::string rel = "/vigil-unit-" + std::to_string(getpid());
  ASSERT_EQ(mkdir((root_ + rel).c_str(), 0755), 0) << std::strerror(errno);
  ASSERT_EQ(mkdir((root_ + rel + "/child").c_str(), 0755), 0) << std::strerror(errno);
  const uint64_t id = CgroupIdOf(root_ + rel + "/child");
  (*tree)->ReadEvents([](uint64_t) {});
  EXPECT_EQ((*tree)->PathOf(id), rel + "/child");
  ASSERT_EQ(rmdir((root_ + rel + "/child").c_str()), 0);
  ASSERT_EQ(rmdir((root_ + rel).c_str()), 0);
  std::vector<uint64_t> removed;
  (*tree)->ReadEvents([&](uint64_t r) { removed.push_back(r); });
  EXPECT_THAT(removed, ::testing::Contains(id));
  EXPECT_EQ((*tree)->PathOf(id), std::nullopt);
}

// A removed cgroup's entry serves late events for a grace period, then goes.
TEST_F(ContainerEnricherTest, RemovedCgroupLeavesTheCacheAfterItsGrace) {
  if (geteuid() != 0) GTEST_SKIP() << "making a cgroup needs root";
  auto enricher = NewEnricher({.cgroup_root = root_, .removed_grace = absl::Seconds(30), .now = clock()});
  ASSERT_NE(enricher, nullptr);
  const std::string dir = root_ + "/vigil-unit-grace-" + std::to_string(getpid());
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
  const uint64_t id = CgroupIdOf(dir);
  v1::Event e = EventIn(id);
  enricher->Enrich(e);
  EXPECT_TRUE(e.workload().host()) << "a cgroup of no runtime's is the host's";
  const uint64_t with = enricher->Stats().size;
  ASSERT_EQ(rmdir(dir.c_str()), 0);
  enricher->Sync();  // the removal is read
  Advance(absl::Seconds(30) - absl::Milliseconds(1));
  v1::Event late = EventIn(id);
  enricher->Enrich(late);
  EXPECT_TRUE(late.workload().host()) << "late events of a removed cgroup keep its workload";
  EXPECT_EQ(enricher->Stats().size, with);
  Advance(absl::Milliseconds(1));
  enricher->Sync();  // the resolver's round sweeps the caches
  EXPECT_EQ(enricher->Stats().size, with - 1);
}

// A container that lives for one /bin/true: its cgroup is gone, and its
// removal read, before the sensor sees its first event. No removal comes
// after that, so the entry must expire all the same (churn left 14 of 1000
// such entries behind before).
TEST_F(ContainerEnricherTest, CgroupGoneBeforeItsFirstEventLeavesTheCacheToo) {
  if (geteuid() != 0) GTEST_SKIP() << "making a cgroup needs root";
  auto enricher = NewEnricher({.cgroup_root = root_, .removed_grace = absl::Seconds(30), .now = clock()});
  ASSERT_NE(enricher, nullptr);
  const uint64_t before = enricher->Stats().size;
  const std::string dir = root_ + "/vigil-unit-gone-" + std::to_string(getpid());
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
  const uint64_t id = CgroupIdOf(dir);
  ASSERT_EQ(rmdir(dir.c_str()), 0);
  enricher->Sync();  // the enricher has read the creation and the removal
  v1::Event e = EventIn(id);
  enricher->Enrich(e);
  enricher->Sync();  // and resolved the id: no such cgroup
  EXPECT_EQ(enricher->Stats().size, before + 1);
  Advance(absl::Seconds(30));
  enricher->Sync();
  EXPECT_EQ(enricher->Stats().size, before);
}

}  // namespace
}  // namespace vigil
