#include "containerd_harness.h"

#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vigil::testing {

std::string E2eUnavailableReason() {
  if (std::string why = BpfUnavailableReason(); !why.empty()) return why;
  for (const char* bin : {"/usr/bin/containerd", "/usr/bin/ctr", "/usr/sbin/runc", "/bin/busybox"}) {
    if (access(bin, X_OK) != 0) return absl::StrCat(bin, " is missing (scripts/install-deps.sh installs it)");
  }
  return "";
}

int Shell(const std::string& cmd) { return Run({"/bin/sh", "-c", cmd}); }

absl::Status Containerd::Start() {
  pid_ = Spawn({VIGIL_SOURCE_DIR "/scripts/lib/containerd-sandbox.sh", dir_, "--cri"});
  for (absl::Time deadline = absl::Now() + absl::Seconds(30); absl::Now() < deadline;) {
    if (Ctr("version >/dev/null 2>&1") == 0) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("containerd did not come up; see ", dir_, "/containerd.log"));
}

void Containerd::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  WaitExit(pid_);
  pid_ = -1;
}

int Containerd::Ctr(const std::string& args) const {
  return Shell(absl::StrCat("/usr/bin/ctr -a ", socket(), " -n k8s.io ", args));
}

}  // namespace vigil::testing
