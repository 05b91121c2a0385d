// Self-test checks of the process family: exec, fork, exit. Each starts its
// own child and matches events by that child's pid, so the rest of the
// system's activity does not matter.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>

#include "absl/cleanup/cleanup.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "selftest/check.h"
#include "selftest/exec_child.h"

extern char** environ;

namespace vigil::selftest {

namespace {

absl::Status Reap(pid_t pid, int* wait_status) {
  while (waitpid(pid, wait_status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(errno, absl::StrCat("waitpid ", pid));
  }
  return absl::OkStatus();
}

std::optional<v1::Event> WaitForKind(EventWaiter& events, v1::EventKind kind, pid_t pid) {
  return events.WaitFor([&](const v1::Event& e) { return e.kind() == kind && e.process().pid() == uint32_t(pid); },
                        kEventTimeout);
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

// Starts argv[0] with these arguments, not waiting for it.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid;
  if (int err = posix_spawn(&pid, argv[0].c_str(), nullptr, nullptr, cargv.data(), environ); err != 0) {
    return ErrnoStatus(err, absl::StrCat("spawn ", argv[0]));
  }
  return pid;
}

absl::Status CheckExec(EventWaiter& events) {
  // /bin/sh exists on every host and in the matrix's busybox VMs; the last
  // argument ($0 of the script) makes this exec's argv unique.
  const std::vector<std::string> argv = {
      "/bin/sh", "-c", "exit 0", absl::StrCat("vigil-selftest-", getpid(), "-", absl::ToUnixNanos(absl::Now()))};
  auto spawned = Spawn(argv);
  if (!spawned.ok()) return spawned.status();
  const pid_t pid = *spawned;
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

// Exec records stay whole while other tasks' execs and file writes run on the
// same CPUs: the probes build records in per-CPU buffers, and a kernel that
// preempts a probe mid-record must not let another task's probe write into
// it (vigil_hold_cpu() in vigil_common.bpf.h). Such a kernel also skips a
// probe's run while another task's run of it is preempted outside the held
// part; such an exec may be missing only if the kernel counted the skip.
absl::Status CheckExecsUnderLoad(EventWaiter& events) {
  const uint64_t missed_before = events.Missed();
  constexpr int kWriters = 2, kWrites = 2000, kBatches = 10, kBatch = 4;
  std::vector<pid_t> writers;
  std::vector<std::string> paths;
  absl::Cleanup stop_writers = [&] {
    for (pid_t w : writers) kill(w, SIGKILL);
    for (pid_t w : writers) {
      int ignored;
      (void)Reap(w, &ignored);
    }
    // A writer killed between its create and its unlink leaves its file.
    for (const std::string& path : paths) unlink(path.c_str());
  };
  for (int i = 0; i < kWriters; ++i) {
    const std::string& path = paths.emplace_back(absl::StrCat("/tmp/vigil-selftest-load-", getpid(), "-", i));
    pid_t w = fork();
    if (w < 0) return ErrnoStatus(errno, "fork");
    if (w == 0) {
      // A bounded number of reported writes, so that their events do not
      // push the execs' out of the hub on a slow (emulated) VM; then the
      // CPUs stay busy with no events at all.
      for (int n = 0; n < kWrites; ++n) {
        const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) close(fd);
        unlink(path.c_str());
      }
      for (volatile uint64_t spin = 0;; spin = spin + 1) {
      }
    }
    writers.push_back(w);
  }
  std::vector<std::pair<pid_t, std::vector<std::string>>> execs;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<pid_t> batch;
    for (int i = 0; i < kBatch; ++i) {
      std::vector<std::string> argv = {"/bin/sh", "-c", "exit 0",
                                       absl::StrCat("vigil-selftest-load-", getpid(), "-", b, "-", i)};
      auto pid = Spawn(argv);
      if (!pid.ok()) return pid.status();
      batch.push_back(*pid);
      execs.emplace_back(*pid, std::move(argv));
    }
    for (pid_t pid : batch) {
      int wait_status;
      if (absl::Status s = Reap(pid, &wait_status); !s.ok()) return s;
    }
  }
  std::move(stop_writers).Invoke();
  uint64_t missing = 0;
  std::string first_missing;
  for (const auto& [pid, argv] : execs) {
    auto e = WaitForKind(events, v1::EVENT_KIND_EXEC, pid);
    if (!e) {
      if (missing++ == 0) first_missing = absl::StrCat("pid ", pid, " ", Describe(argv));
      continue;
    }
    const v1::Process& p = e->process();
    std::vector<std::string> got(p.argv().begin(), p.argv().end());
    if (e->exec().argc() != argv.size() || p.argv_truncated() || got != argv || e->exec().filename() != argv[0]) {
      return absl::InternalError(absl::StrCat("under load, exec of ", Describe(argv), " arrived as argc ",
                                              e->exec().argc(), ", argv ", Describe(got), " (truncated ",
                                              p.argv_truncated(), "), filename \"", e->exec().filename(), "\""));
    }
  }
  if (const uint64_t missed = events.Missed() - missed_before; missing > missed) {
    return absl::NotFoundError(absl::StrCat("under load, no exec event for ", missing, " of ", execs.size(),
                                            " execs (the first: ", first_missing, "); the kernel counted ", missed,
                                            " skipped runs of the probe"));
  }
  return absl::OkStatus();
}

// The exec event of a child that RunExecChild ran.
absl::StatusOr<v1::Exec> ExecFactsOf(EventWaiter& events, const absl::StatusOr<pid_t>& pid, absl::string_view what) {
  if (!pid.ok()) return pid.status();
  auto e = WaitForKind(events, v1::EVENT_KIND_EXEC, *pid);
  if (!e) return absl::NotFoundError(absl::StrCat("no exec event for pid ", *pid, " (", what, ")"));
  return e->exec();
}

absl::Status FactsError(absl::string_view what, const v1::Exec& x) {
  return absl::InternalError(absl::StrCat(what, ": ", x.ShortDebugString()));
}

// fd 0 a TCP connection over loopback (a reverse shell's stdio), fd 1 a pipe, fd 2 /dev/null.
absl::Status CheckExecStdio(EventWaiter& events) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return ErrnoStatus(errno, "socket");
  absl::Cleanup close_listener = [&] { close(listener); };
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(server);
  if (bind(listener, reinterpret_cast<sockaddr*>(&server), sizeof(server)) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&server), &len) != 0) {
    return ErrnoStatus(errno, "listen on 127.0.0.1");
  }
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0) return ErrnoStatus(errno, "socket");
  absl::Cleanup close_client = [&] { close(client); };
  sockaddr_in local{};
  len = sizeof(local);
  if (connect(client, reinterpret_cast<sockaddr*>(&server), sizeof(server)) != 0 ||
      getsockname(client, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    return ErrnoStatus(errno, "connect to 127.0.0.1");
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  absl::Cleanup close_pipe = [&] {
    close(p[0]);
    close(p[1]);
  };
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return ErrnoStatus(errno, "open /dev/null");
  absl::Cleanup close_null = [&] { close(null); };

  ExecChild setup;
  setup.stdio = {client, p[1], null};
  auto x =
      ExecFactsOf(events, RunExecChild("/bin/sh", {"/bin/sh", "-c", "exit 0", "vigil-selftest-stdio"}, setup), "stdio");
  if (!x.ok()) return x.status();
  if (x->stdio_size() != 3) return FactsError("exec stdio: want fds 0, 1, 2", *x);
  const v1::StdioFd& s = x->stdio(0);
  if (s.type() != v1::FD_TYPE_SOCKET || s.family() != "ipv4" || s.protocol() != "tcp" ||
      s.local().ip() != "127.0.0.1" || s.local().port() != ntohs(local.sin_port) || s.remote().ip() != "127.0.0.1" ||
      s.remote().port() != ntohs(server.sin_port)) {
    return FactsError(absl::StrCat("exec fd 0: want a tcp socket 127.0.0.1:", ntohs(local.sin_port),
                                   " -> 127.0.0.1:", ntohs(server.sin_port)),
                      *x);
  }
  if (x->stdio(1).type() != v1::FD_TYPE_PIPE) return FactsError("exec fd 1: want a pipe", *x);
  if (x->stdio(2).type() != v1::FD_TYPE_DEVICE) return FactsError("exec fd 2: want a device (/dev/null)", *x);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::string data(std::istreambuf_iterator<char>(in), {});
  if (!in.good() && !in.eof()) return ErrnoStatus(errno, absl::StrCat("read ", path));
  return data;
}

absl::Status WriteAll(int fd, const std::string& data, absl::string_view what) {
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoStatus(errno, absl::StrCat("write ", what));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Fileless execution: /bin/sh's image run from a memfd, stdio all closed.
absl::Status CheckExecMemfd(EventWaiter& events) {
  auto image = ReadFile("/bin/sh");
  if (!image.ok()) return image.status();
  const int fd = static_cast<int>(syscall(SYS_memfd_create, "vigil-selftest", MFD_CLOEXEC));
  if (fd < 0) return ErrnoStatus(errno, "memfd_create");
  absl::Cleanup close_fd = [&] { close(fd); };
  if (absl::Status s = WriteAll(fd, *image, "memfd"); !s.ok()) return s;
  // Through /proc/self/fd, as in-memory loaders do: the kernel resolves the
  // link to the memfd itself. (fexecve() is the bpf tests' case.)
  const std::string path = absl::StrCat("/proc/self/fd/", fd);
  auto x =
      ExecFactsOf(events, RunExecChild(path, {"sh", "-c", "exit 0", "vigil-selftest-memfd"}, ExecChild{}), "memfd");
  if (!x.ok()) return x.status();
  if (!x->memfd() || x->deleted() || x->upper_layer() || x->setuid()) {
    return FactsError("exec of a memfd: want memfd only", *x);
  }
  for (const v1::StdioFd& s : x->stdio()) {
    if (s.type() != v1::FD_TYPE_CLOSED) return FactsError("exec with stdio closed: want every fd closed", *x);
  }
  return absl::OkStatus();
}

// A set-user-ID-root copy of /bin/true run by nobody (setuid), then the same
// file unlinked and run through its fd (deleted). /bin/true, not a shell: a
// set-user-ID-root shell, however briefly, would hand root to whoever runs it
// first. Only root and group nogroup can even reach the directory.
absl::Status CheckExecSetuidAndDeleted(EventWaiter& events) {
  constexpr uid_t kNobody = 65534;  // and gid nogroup
  auto image = ReadFile("/bin/true");
  if (!image.ok()) return image.status();
  const char* tmp = getenv("TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/vigil-selftest-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) return ErrnoStatus(errno, absl::StrCat("mkdtemp ", dir));
  const std::string path = dir + "/suid-true";
  absl::Cleanup remove_dir = [&] {
    unlink(path.c_str());
    rmdir(dir.c_str());
  };
  if (chown(dir.c_str(), 0, kNobody) != 0 || chmod(dir.c_str(), 0750) != 0) {
    return ErrnoStatus(errno, absl::StrCat("give ", dir, " to group ", kNobody));
  }
  {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (fd < 0) return ErrnoStatus(errno, absl::StrCat("create ", path));
    absl::Status s = WriteAll(fd, *image, path);
    close(fd);
    if (!s.ok()) return s;
  }
  // chmod after chown: chown clears the set-ID bits.
  if (chown(path.c_str(), 0, kNobody) != 0 || chmod(path.c_str(), 04750) != 0) {
    return ErrnoStatus(errno, absl::StrCat("make ", path, " set-user-ID root"));
  }
  ExecChild nobody;
  nobody.uid = kNobody;
  auto x = ExecFactsOf(events, RunExecChild(path, {"true", "vigil-selftest-setuid"}, nobody), "setuid");
  if (!x.ok()) return x.status();
  if (!x->setuid() || x->setgid() || x->file_caps() || x->deleted()) {
    return FactsError(absl::StrCat("set-user-ID root ", path, " run by uid ", kNobody, ": want setuid only"), *x);
  }

  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  absl::Cleanup close_fd = [&] { close(fd); };
  if (unlink(path.c_str()) != 0) return ErrnoStatus(errno, absl::StrCat("unlink ", path));
  x = ExecFactsOf(events,
                  RunExecChild(absl::StrCat("/proc/self/fd/", fd), {"true", "vigil-selftest-deleted"}, ExecChild{}),
                  "deleted");
  if (!x.ok()) return x.status();
  if (!x->deleted() || x->memfd() || x->setuid()) {
    return FactsError("unlinked file run by root from its fd: want deleted only", *x);
  }
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
      {"exec", CheckExec},           {"exec", CheckExecStdio},
      {"exec", CheckExecMemfd},      {"exec", CheckExecSetuidAndDeleted},
      {"exec", CheckExecsUnderLoad}, {"fork", CheckFork},
      {"exit", CheckExit},
  };
}

}  // namespace vigil::selftest
