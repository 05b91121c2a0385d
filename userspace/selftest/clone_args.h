#pragma once

#include <cstdint>

namespace vigil::selftest {

// struct clone_args of <linux/sched.h> (5.3+), version 0, for clone3(); that
// header clashes with glibc's <sched.h>.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
};

}  // namespace vigil::selftest
