// Self-test checks of the process family: exec, fork, exit. Each starts its
// own child and matches events by that child's pid, so the rest of the
// system's activity does not matter.
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "selftest/check.h"

extern char** environ;

namespace vigil::selftest {

namespace {

// TCG-emulated VMs are slow; an event normally arrives in milliseconds.
constexpr absl::Duration kTimeout = absl::Seconds(20);

absl::Status Reap(pid_t pid, int* wait_status) {
  while (waitpid(pid, wait_status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(errno, absl::StrCat("waitpid ", pid));
  }
  return absl::OkStatus();
}

std::optional<v1::Event> WaitForKind(EventWaiter& events, v1::EventKind kind, pid_t pid) {
  return events.WaitFor([&](const v1::Event& e) { return e.kind() == kind && e.process().pid() == uint32_t(pid); },
                        kTimeout);
}

std::string Describe(const std::vector<std::string>& argv) { return absl::StrCat("[", absl::StrJoin(argv, ", "), "]"); }

// A child that exits at once with `code`. Only _exit() runs in the child: the
// sensor's other threads do not exist there.
absl::StatusOr<pid_t> ForkExiting(int code) {
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus(errno, "fork");
  if (pid == 0) _exit(code);
  return pid;
}

absl::Status CheckExec(EventWaiter& events) {
  // /bin/sh exists on every host and in the matrix's busybox VMs; the last
  // argument ($0 of the script) makes this exec's argv unique.
  const std::vector<std::string> argv = {
      "/bin/sh", "-c", "exit 0", absl::StrCat("vigil-selftest-", getpid(), "-", absl::ToUnixNanos(absl::Now()))};
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid;
  if (int err = posix_spawn(&pid, argv[0].c_str(), nullptr, nullptr, cargv.data(), environ); err != 0) {
    return ErrnoStatus(err, absl::StrCat("spawn ", argv[0]));
  }
  int wait_status;
  if (absl::Status s = Reap(pid, &wait_status); !s.ok()) return s;
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(Describe(argv), " did not run: wait status ", wait_status));
  }

  auto e = WaitForKind(events, v1::EVENT_KIND_EXEC, pid);
  if (!e) return absl::NotFoundError(absl::StrCat("no exec event for pid ", pid, " ", Describe(argv)));
  const v1::Process& p = e->process();
  std::vector<std::string> got(p.argv().begin(), p.argv().end());
  if (got != argv) return absl::InternalError(absl::StrCat("exec argv is ", Describe(got), ", want ", Describe(argv)));
  if (e->exec().filename() != argv[0]) {
    return absl::InternalError(absl::StrCat("exec filename is \"", e->exec().filename(), "\", want ", argv[0]));
  }
  if (p.exe() != argv[0]) return absl::InternalError(absl::StrCat("exec exe is \"", p.exe(), "\", want ", argv[0]));
  if (e->exec().argc() != argv.size() || p.argv_truncated()) {
    return absl::InternalError(
        absl::StrCat("exec argc is ", e->exec().argc(), " (truncated ", p.argv_truncated(), "), want ", argv.size()));
  }
  if (p.ppid() != uint32_t(getpid()))
    return absl::InternalError(absl::StrCat("exec ppid is ", p.ppid(), ", want ", getpid()));
  return absl::OkStatus();
}

absl::Status CheckFork(EventWaiter& events) {
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  auto pid = ForkExiting(0);
  if (!pid.ok()) return pid.status();
  int wait_status;
  if (absl::Status s = Reap(*pid, &wait_status); !s.ok()) return s;

  auto e = WaitForKind(events, v1::EVENT_KIND_FORK, *pid);
  if (!e) return absl::NotFoundError(absl::StrCat("no fork event for child pid ", *pid));
  if (e->process().ppid() != uint32_t(getpid())) {
    return absl::InternalError(absl::StrCat("fork ppid is ", e->process().ppid(), ", want ", getpid()));
  }
  if (e->fork().parent_tid() != uint32_t(tid)) {
    return absl::InternalError(absl::StrCat("fork parent_tid is ", e->fork().parent_tid(), ", want ", tid));
  }
  return absl::OkStatus();
}

absl::Status CheckExit(EventWaiter& events) {
  // An exit code ...
  auto coded = ForkExiting(7);
  if (!coded.ok()) return coded.status();
  int wait_status;
  if (absl::Status s = Reap(*coded, &wait_status); !s.ok()) return s;
  auto e = WaitForKind(events, v1::EVENT_KIND_EXIT, *coded);
  if (!e) return absl::NotFoundError(absl::StrCat("no exit event for pid ", *coded, " (_exit(7))"));
  if (!e->exit().has_exit_code() || e->exit().exit_code() != 7 || e->exit().has_signal()) {
    return absl::InternalError(absl::StrCat("exit of _exit(7): ", e->exit().ShortDebugString(), ", want exit_code: 7"));
  }

  // ... and a signal.
  pid_t killed = fork();
  if (killed < 0) return ErrnoStatus(errno, "fork");
  if (killed == 0) {
    for (;;) pause();
  }
  kill(killed, SIGKILL);
  if (absl::Status s = Reap(killed, &wait_status); !s.ok()) return s;
  e = WaitForKind(events, v1::EVENT_KIND_EXIT, killed);
  if (!e) return absl::NotFoundError(absl::StrCat("no exit event for pid ", killed, " (SIGKILL)"));
  if (!e->exit().has_signal() || e->exit().signal() != SIGKILL || e->exit().has_exit_code()) {
    return absl::InternalError(absl::StrCat("exit by SIGKILL: ", e->exit().ShortDebugString(), ", want signal: 9"));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Check> ProcessChecks() {
  return {
      {"exec", CheckExec},
      {"fork", CheckFork},
      {"exit", CheckExit},
  };
}

}  // namespace vigil::selftest
