// The container enricher on cgroups this test makes (root): the cgroup tree
// learns and forgets them, removed ones leave the cache after their grace, and
// a runtime that hangs holds up only its own containers. The read-only cases
// are unit tests (tests/unit/container_enricher_test).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "container/container_enricher.h"
#include "container/runtime_clients.h"
#include "sensor_harness.h"
#include "support/container_enricher_fixture.h"
#include "support/hanging_socket.h"

namespace vigil::test {
namespace {

// kernfs reports a removed cgroup only to its parent's watch. A removed
// cgroup's path is known for its grace: its events may be read after that.
TEST_F(ContainerEnricherTest, TreeLearnsAndForgetsCgroupsAsTheyComeAndGo) {
  RequireBpfOrSkip();  // making a cgroup needs root
  auto tree = CgroupTree::Open({.root = root_, .removed_grace = absl::Seconds(30), .now = clock()});
  ASSERT_TRUE(tree.ok()) << tree.status();
  const std::string rel = "/vigil-unit-" + std::to_string(getpid());
  ASSERT_EQ(mkdir((root_ + rel).c_str(), 0755), 0) << std::strerror(errno);
  ASSERT_EQ(mkdir((root_ + rel + "/child").c_str(), 0755), 0) << std::strerror(errno);
  const uint64_t id = CgroupIdOf(root_ + rel + "/child");
  (*tree)->ReadEvents([](uint64_t) {});
  auto found = (*tree)->Find(id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->path, rel + "/child");
  EXPECT_FALSE(found->removed);
  ASSERT_EQ(rmdir((root_ + rel + "/child").c_str()), 0);
  ASSERT_EQ(rmdir((root_ + rel).c_str()), 0);
  std::vector<uint64_t> removed;
  (*tree)->ReadEvents([&](uint64_t r) { removed.push_back(r); });
  EXPECT_THAT(removed, ::testing::Contains(id));
  Advance(absl::Seconds(30) - absl::Milliseconds(1));
  (*tree)->Rescan();  // a rescan cannot see removed cgroups, and keeps them
  (*tree)->ReadEvents([](uint64_t) {});
  found = (*tree)->Find(id);
  ASSERT_TRUE(found.has_value()) << "a removed cgroup is known within its grace";
  EXPECT_EQ(found->path, rel + "/child");
  EXPECT_TRUE(found->removed);
  Advance(absl::Milliseconds(1));
  (*tree)->ReadEvents([](uint64_t) {});
  EXPECT_EQ((*tree)->Find(id), std::nullopt);
  EXPECT_EQ((*tree)->removed(), 0u);
}

// Churn cannot make the removed cgroups' paths grow without bound.
TEST_F(ContainerEnricherTest, TreeRemembersAtMostItsBoundOfRemovedCgroups) {
  RequireBpfOrSkip();  // making a cgroup needs root
  auto tree = CgroupTree::Open({.root = root_, .max_removed = 2, .now = clock()});
  ASSERT_TRUE(tree.ok()) << tree.status();
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    const std::string dir = root_ + "/vigil-unit-bound-" + std::to_string(getpid()) + "-" + std::to_string(i);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
    (*tree)->ReadEvents([](uint64_t) {});
    ids.push_back(CgroupIdOf(dir));
    ASSERT_EQ(rmdir(dir.c_str()), 0);
    (*tree)->ReadEvents([](uint64_t) {});
  }
  EXPECT_EQ((*tree)->removed(), 2u);
  EXPECT_EQ((*tree)->Find(ids[0]), std::nullopt) << "the oldest removal goes first";
  EXPECT_TRUE((*tree)->Find(ids[1]).has_value());
  EXPECT_TRUE((*tree)->Find(ids[2]).has_value());
}

// A removed cgroup's entry serves late events for a grace period, then goes.
TEST_F(ContainerEnricherTest, RemovedCgroupLeavesTheCacheAfterItsGrace) {
  RequireBpfOrSkip();  // making a cgroup needs root
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
// removal read, before the sensor reads its first event (the reader wakes in
// 40 ms batches). The event still names its container. No removal comes after
// that, so the entry must expire all the same (churn left 14 of 1000 such
// entries behind before).
TEST_F(ContainerEnricherTest, CgroupGoneBeforeItsFirstEventStillNamesItsContainer) {
  RequireBpfOrSkip();  // making a cgroup needs root
  auto enricher = NewEnricher({.cgroup_root = root_, .removed_grace = absl::Seconds(30), .now = clock()});
  ASSERT_NE(enricher, nullptr);
  const uint64_t before = enricher->Stats().size;
  const std::string id = std::string(32, 'c') + std::to_string(getpid()) + std::string(32, 'd');
  const std::string cid = id.substr(id.size() - 64);
  const std::string slice = root_ + "/system.slice";
  const bool made_slice = mkdir(slice.c_str(), 0755) == 0;
  const std::string dir = slice + "/docker-" + cid + ".scope";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
  const uint64_t cgroup = CgroupIdOf(dir);
  enricher->Sync();  // the creation is read: runc makes the cgroup well before it execs
  ASSERT_EQ(rmdir(dir.c_str()), 0);
  if (made_slice) rmdir(slice.c_str());
  enricher->Sync();  // and the removal
  v1::Event e = EventIn(cgroup);
  enricher->WaitKey(e);
  enricher->Sync();  // and resolved the id, from the removed cgroup's path
  enricher->Enrich(e);
  EXPECT_FALSE(e.workload().host());
  EXPECT_EQ(e.workload().container_id(), cid);
  EXPECT_EQ(e.workload().runtime(), "docker");
  EXPECT_EQ(enricher->Stats().size, before + 1);
  Advance(absl::Seconds(30));
  enricher->Sync();
  EXPECT_EQ(enricher->Stats().size, before);
}

// Issue 11: a runtime that accepts and never answers holds up the events of
// its containers until their deadline, and nothing else: a host cgroup seen
// meanwhile is settled at once (the lookup runs on the fetcher thread).
TEST_F(ContainerEnricherTest, AHungRuntimeHoldsUpOnlyItsOwnContainers) {
  RequireBpfOrSkip();  // making a cgroup needs root
  char tmpl[] = "/tmp/vigil-unit-hang-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string tmp = tmpl;
  {
    HangingSocket docker(tmp + "/docker.sock");
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
}  // namespace vigil::test
