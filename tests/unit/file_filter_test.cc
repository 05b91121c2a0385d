// File filter settings: validation of the prefixes, and relative sensitive
// entries expanded under every home directory.
#include "loader/file_filter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
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

}  // namespace
}  // namespace vigil
