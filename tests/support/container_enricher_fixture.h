// What the container enricher's tests share: the machine's real cgroup2 tree,
// cgroup ids, an enricher on a clock the test moves, and events in a cgroup.
// tests/unit/container_enricher_test (read only, no root) and
// tests/bpf/container_cgroup_test (cgroups made by the test, as root).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "container/container_enricher.h"
#include "container/runtime_clients.h"
#include "support/fake_clock.h"

namespace vigil::test {

inline std::string Cgroup2Root() {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  auto root = Cgroup2MountFromMountinfo(ss.str());
  return root.ok() ? *root : "";
}

inline uint64_t CgroupIdOf(const std::string& dir) {
  struct stat st {};
  return stat(dir.c_str(), &st) == 0 ? st.st_ino : 0;  // the kernfs id on 64-bit kernels
}

inline std::unique_ptr<ContainerEnricher> NewEnricher(ContainerEnricherOptions options,
                                                      std::vector<std::unique_ptr<RuntimeClient>> clients = {}) {
  auto e = ContainerEnricher::Create(std::move(options), std::move(clients));
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *std::move(e) : nullptr;
}

inline v1::Event EventIn(uint64_t cgroup_id) {
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
  FakeClock clock_;
};

}  // namespace vigil::test
