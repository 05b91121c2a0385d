#pragma once

// A child process set up for the exec facts (stdio, credentials, fexecve),
// shared by the self-test and the bpf tests that check those facts.

#include <sys/types.h>

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::selftest {

struct ExecChild {
  // Put on fds 0, 1 and 2 of the child; -1 leaves that fd closed.
  std::array<int, 3> stdio = {-1, -1, -1};
  // Not 0: the child drops to this uid and the same gid, with no
  // supplementary groups, before exec.
  uid_t uid = 0;
  // At least 0: the child runs this fd (fexecve) instead of `path`.
  int exec_fd = -1;
};

// Forks a child that sets itself up as `setup` says and execs `path` with
// `argv`, then waits for it. Returns its pid once it exited with status 0.
absl::StatusOr<pid_t> RunExecChild(const std::string& path, const std::vector<std::string>& argv,
                                   const ExecChild& setup);

}  // namespace vigil::selftest
