// File filter settings: validation of the prefixes, and relative sensitive
// entries expanded under every home directory.
#include "loader/file_filter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "sensor/config.h"
#include "status_matchers.h"
#include "vigil_abi.h"

namespace vigil {
namespace {

using test::IsOk;
using test::StatusIs;
using ::testing::Contains;
using ::testing::UnorderedElementsAre;

SensorConfig Valid() {
  SensorConfig c;
  c.node_name = "node-a";
  return c;
}

TEST(FileFilterConfig, DefaultsAreValidAndIncludeTheDocumentedPaths) {
  EXPECT_THAT(Validate(Valid()), IsOk());
  const auto defaults = FileFilterConfig::DefaultSensitivePaths();
  for (const char* p : {"/etc/shadow", "/etc/sudoers", "/etc/sudoers.d/", "/etc/ld.so.preload",
                        "/var/run/secrets/kubernetes.io/serviceaccount/", "/run/secrets/kubernetes.io/serviceaccount/",
                        "/var/lib/kubelet/kubeconfig", "/etc/kubernetes/", "/root/.ssh/", "/etc/ssh/ssh_host_",
                        ".aws/credentials", ".azure/", ".config/gcloud/"}) {
    EXPECT_THAT(defaults, Contains(p));
  }
}

TEST(FileFilterConfig, RejectsRelativeIncludeAndExclude) {
  SensorConfig c = Valid();
  c.loader.file.include = {"srv/"};
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument, "\"srv/\" is not absolute"));
  c = Valid();
  c.loader.file.exclude = {"tmp"};
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument, "\"tmp\" is not absolute"));
}

TEST(FileFilterConfig, RejectsEmptyAndOverlongPrefixes) {
  SensorConfig c = Valid();
  c.loader.file.sensitive = {""};
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument, "must have 1 to 256 bytes"));
  c = Valid();
  c.loader.file.exclude = {"/" + std::string(VIGIL_PREFIX_MAX, 'a')};
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument, "must have 1 to 256 bytes"));
  c = Valid();
  c.loader.file.exclude = {"/" + std::string(VIGIL_PREFIX_MAX - 1, 'a')};
  EXPECT_THAT(Validate(c), IsOk());
}

TEST(ExpandHomePaths, RelativeEntriesGoUnderEveryHome) {
  char tmpl[] = "/tmp/vigil-home-test-XXXXXX";
  const std::string root = mkdtemp(tmpl);
  std::filesystem::create_directories(root + "/home/alice");
  std::filesystem::create_directories(root + "/svc");
  std::ofstream(root + "/passwd") << "root:x:0:0:root:/root:/bin/bash\n"
                                  << "svc:x:10:10::" << root << "/svc:/bin/false\n"
                                  << "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n"
                                  << "garbage line\n";
  EXPECT_THAT(ExpandHomePaths({"/etc/shadow", ".aws/credentials"}, root + "/passwd", root + "/home"),
              UnorderedElementsAre("/etc/shadow", "/root/.aws/credentials", root + "/home/alice/.aws/credentials",
                                   root + "/svc/.aws/credentials"));
  std::filesystem::remove_all(root);
}

// The defaults, relative entries under /root only (not this machine's homes).
std::vector<std::string> DefaultsUnderRoot() {
  return ExpandHomePaths(FileFilterConfig::DefaultSensitivePaths(), "/nonexistent", "/nonexistent");
}

// The file programs test a path's head against this before the trie: it
// must never clear a path that has a sensitive prefix.
TEST(SensitiveHeads, EveryPathUnderASensitivePrefixMayMatch) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> byte(1, 255), len(1, 40);
  for (int set = 0; set < 200; ++set) {
    std::vector<std::string> prefixes = DefaultsUnderRoot();
    for (int i = 0; i < 20; ++i) {
      std::string p = "/";
      for (int n = len(rng); n > 1; --n) p += static_cast<char>(byte(rng));
      prefixes.push_back(p);
    }
    const SensitiveHeads heads = SensitiveHeads::Of(prefixes);
    for (const std::string& p : prefixes) {
      EXPECT_TRUE(heads.MayMatch(p)) << p;
      EXPECT_TRUE(heads.MayMatch(p + "/a/longer/name")) << p;
    }
  }
}

TEST(SensitiveHeads, MostOtherPathsAreClearedWithoutTheTrie) {
  const SensitiveHeads heads = SensitiveHeads::Of(DefaultsUnderRoot());
  EXPECT_EQ(heads.len, std::string("/etc/shadow").size());  // the shortest default
  for (const char* p :
       {"/etc/hostname", "/etc/passwd", "/etc/resolv.conf", "/etc/nsswitch.conf", "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/proc/self/status", "/sys/fs/cgroup/cpu.max", "/var/log/syslog", "/tmp/x", "/etc", "/"}) {
    EXPECT_FALSE(heads.MayMatch(p)) << p;
  }
  // A head shared with a sensitive prefix goes on to the trie.
  EXPECT_TRUE(heads.MayMatch("/etc/shadow-"));
  EXPECT_TRUE(heads.MayMatch("/etc/ld.so.cache"));
}

TEST(SensitiveHeads, NoPrefixesClearEveryPathAndTheRootKeepsEvery) {
  EXPECT_FALSE(SensitiveHeads::Of({}).MayMatch("/etc/shadow"));
  const SensitiveHeads root = SensitiveHeads::Of({"/etc/shadow", "/"});
  EXPECT_EQ(root.len, 1u);
  EXPECT_TRUE(root.MayMatch("/etc/hostname"));
  EXPECT_TRUE(root.MayMatch("/"));
}

}  // namespace
}  // namespace vigil
