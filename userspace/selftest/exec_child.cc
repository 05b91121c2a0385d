#include "selftest/exec_child.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
  // The child writes exec's errno here; a successful exec closes it empty.
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  const pid_t pid = fork();
  if (pid < 0) {
    const int fork_errno = errno;
    close(err_pipe[0]);
    close(err_pipe[1]);
    return ErrnoStatus(fork_errno, "fork");
  }
  if (pid == 0) {
    close(err_pipe[0]);
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
    const int exec_errno = errno;
    if (write(err_pipe[1], &exec_errno, sizeof(exec_errno)) < 0) _exit(123);
    _exit(122);
  }
  close(err_pipe[1]);
  int exec_errno = 0;
  ssize_t got;
  while ((got = read(err_pipe[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR) {
  }
  close(err_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(errno, absl::StrCat("waitpid ", pid));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const char* why = "";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 121) why = " (could not drop to the uid)";
    std::string exec_error;
    if (got == sizeof(exec_errno)) exec_error = absl::StrCat(" (exec failed: ", std::strerror(exec_errno), ")");
    return absl::FailedPreconditionError(
        absl::StrCat(path, " [", absl::StrJoin(argv, ", "), "] did not run: wait status ", status, why, exec_error));
  }
  return pid;
}

}  // namespace vigil::selftest
