// A containerd of the test's own for the e2e suites (scripts/lib/containerd-sandbox.sh):
// its root, state and socket live in a temp dir, so nothing it does collides with a
// containerd the machine may run, or with other tests'.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "sensor_harness.h"

namespace vigil::testing {

// Why the e2e tests cannot run here, "" when they can.
std::string E2eUnavailableReason();

#define RequireE2eOrSkip()                                                                  \
  do {                                                                                      \
    if (const std::string why_ = ::vigil::testing::E2eUnavailableReason(); !why_.empty()) { \
      if (::vigil::testing::InCi()) {                                                       \
        FAIL() << "CI=true but the e2e tests cannot run: " << why_;                         \
      } else {                                                                              \
        GTEST_SKIP() << "e2e tests need root, kernel BTF and containerd: " << why_;         \
      }                                                                                     \
    }                                                                                       \
  } while (0)

// /bin/sh -c `cmd`; the raw wait status.
int Shell(const std::string& cmd);

class Containerd {
 public:
  explicit Containerd(std::string dir) : dir_(std::move(dir)) {}
  ~Containerd() { Stop(); }

  std::string socket() const { return dir_ + "/containerd.sock"; }
  bool running() const { return pid_ > 0; }

  // With its CRI plugin (the CRI client is checked against it).
  absl::Status Start();
  void Stop();
  // ctr against this containerd, in the k8s.io namespace (the CRI's).
  int Ctr(const std::string& args) const;

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace vigil::testing
