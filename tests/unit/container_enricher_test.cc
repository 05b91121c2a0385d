// The container enricher's cache on the machine's real cgroup2 tree (read
// only, no root needed): host marking, how long events wait (WaitKey,
// WaitUntil: the pipeline parks them meanwhile), and the LRU bound; as root,
// cgroups made here and a runtime that hangs. Container cgroups and runtimes are covered end to end by
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

#include "container/runtime_clients.h"
#include "status_matchers.h"
#include "support/fake_clock.h"
#include "support/hanging_socket.h"

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

std::unique_ptr<ContainerEnricher> NewEnricher(ContainerEnricherOptions options,
                                               std::vector<std::unique_ptr<RuntimeClient>> clients = {}) {
  auto e = ContainerEnricher::Create(std::move(options), std::move(clients));
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
  // The enricher's clock, moved by hand.
  Clock clock() { return clock_.clock(); }
  absl::Time Now() { return clock_.Now(); }
  void Advance(absl::Duration d) { clock_.Advance(d); }
  std::string root_;
  test::FakeClock clock_;
};

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
  enricher->WaitKey(e);
  enricher->Sync();
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
  enricher->WaitKey(e);
  enricher->Sync();  // and resolved the id: no such cgroup
  EXPECT_EQ(enricher->Stats().size, before + 1);
  Advance(absl::Seconds(30));
  enricher->Sync();
  EXPECT_EQ(enricher->Stats().size, before);
}

// Issue 11: a runtime that accepts and never answers holds up the events of
// its containers until their deadline, and nothing else: a host cgroup seen
// meanwhile is settled at once (the lookup runs on the fetcher thread).
TEST_F(ContainerEnricherTest, AHungRuntimeHoldsUpOnlyItsOwnContainers) {
  if (geteuid() != 0) GTEST_SKIP() << "making a cgroup needs root";
  char tmpl[] = "/tmp/vigil-unit-hang-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string tmp = tmpl;
  {
    test::HangingSocket docker(tmp + "/docker.sock");
    ASSERT_TRUE(docker.ok());
    std::vector<std::unique_ptr<RuntimeClient>> clients;
    clients.push_back(NewDockerClient(docker.path(), absl::Seconds(2)));
    auto enricher =
        NewEnricher({.cgroup_root = root_, .pending_wait = absl::Seconds(3), .now = clock()}, std::move(clients));
    ASSERT_NE(enricher, nullptr);

    const std::string id = std::string(32, 'a') + std::to_string(getpid()) + std::string(32, 'b');
    const std::string slice = root_ + "/system.slice";
    const bool made_slice = mkdir(slice.c_str(), 0755) == 0;
    const std::string dir = slice + "/docker-" + id.substr(id.size() - 64) + ".scope";
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
    const uint64_t container = CgroupIdOf(dir);

    v1::Event in_container = EventIn(container);
    ASSERT_EQ(enricher->WaitKey(in_container), container);
    const absl::Time deadline = Now() + absl::Seconds(3);
    enricher->Sync();  // resolved: a Docker container; the lookup is on its way
    v1::Event on_host = EventIn(CgroupIdOf(root_));
    enricher->WaitKey(on_host);
    enricher->Sync();
    EXPECT_EQ(enricher->WaitUntil(CgroupIdOf(root_)), absl::InfinitePast()) << "the host waits for no runtime";
    EXPECT_EQ(enricher->WaitUntil(container), deadline) << "the container waits for its runtime, until the deadline";

    Advance(absl::Seconds(3));
    // The pipeline sends it on now, without the metadata.
    enricher->Enrich(in_container);
    const v1::Workload& w = in_container.workload();
    EXPECT_EQ(w.container_id(), id.substr(id.size() - 64));
    EXPECT_EQ(w.runtime(), "docker");
    EXPECT_TRUE(w.metadata_pending());
    EXPECT_EQ(enricher->Stats().metadata_timeouts, 1u);
    enricher->Enrich(on_host);
    EXPECT_TRUE(on_host.workload().host());

    // The fetcher thread calls the runtime on its own time: give it until
    // well past its call timeout to connect before it is stopped.
    for (int i = 0; i < 100 && docker.accepted() < 1; ++i) absl::SleepFor(absl::Milliseconds(50));
    rmdir(dir.c_str());
    if (made_slice) rmdir(slice.c_str());
    enricher.reset();  // joins the fetcher, back from the lookup's timeout
    EXPECT_GE(docker.accepted(), 1) << "the lookup reached the hung runtime";
  }
  rmdir(tmp.c_str());
}

}  // namespace
}  // namespace vigil
