#include "selftest/exec_child.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

extern char** environ;

namespace vigil::selftest {

absl::StatusOr<pid_t> RunExecChild(const std::string& path, const std::vector<std::string>& argv,
                                   const ExecChild& setup) {
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return ErrnoStatus(errno, "fork");
  if (pid == 0) {
    // Only async-signal-safe calls from here: the parent may have threads.
    // Every source moves above 2 first, so a dup2 cannot overwrite one still
    // needed; the copies are close-on-exec.
    int moved[3];
    for (int i = 0; i < 3; ++i) moved[i] = setup.stdio[i] >= 0 ? fcntl(setup.stdio[i], F_DUPFD_CLOEXEC, 10) : -1;
    for (int i = 0; i < 3; ++i) {
      if (moved[i] >= 0) {
        if (dup2(moved[i], i) < 0) _exit(120);
      } else {
        close(i);
      }
    }
    // Raw syscalls: glibc's setuid() would try to signal the parent's threads.
    if (setup.uid != 0 && (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setgid, setup.uid) != 0 ||
                           syscall(SYS_setuid, setup.uid) != 0)) {
      _exit(121);
    }
    if (setup.exec_fd >= 0) {
      fexecve(setup.exec_fd, cargv.data(), environ);
    } else {
      execve(path.c_str(), cargv.data(), environ);
    }
    _exit(122);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(errno, absl::StrCat("waitpid ", pid));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const char* why = "";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 121) why = " (could not drop to the uid)";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 122) why = " (exec failed)";
    return absl::FailedPreconditionError(
        absl::StrCat(path, " [", absl::StrJoin(argv, ", "), "] did not run: wait status ", status, why));
  }
  return pid;
}

}  // namespace vigil::selftest
