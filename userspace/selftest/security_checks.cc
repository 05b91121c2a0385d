// Self-test checks of the security syscall family: one per watched syscall,
// for the probe of its entry and again for that of its exit
// ("<name>_exit"), since the event only arrives when both work.
//
// The sensor does not report its own calls, so every syscall is made by a
// forked child. The sensor has threads: between fork() and _exit() a child
// makes system calls only (no allocation, no locks).
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "selftest/check.h"
#include "selftest/clone_args.h"

namespace vigil::selftest {

namespace {

constexpr uint32_t kNobody = 65534;

long Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

// Forks a child that runs `body` and exits; returns its pid and the result
// of its call (the return value, or -errno). The result comes through a pipe,
// not the 8-bit exit code: in the sensor's own process (--self_test) a new fd
// is numbered in the hundreds.
absl::StatusOr<std::pair<pid_t, int64_t>> RunChild(const std::function<long()>& body) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe");
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    return ErrnoStatus(err, "fork");
  }
  if (pid == 0) {
    const long ret = body();
    const int64_t result = ret >= 0 ? ret : -errno;
    _exit(write(fds[1], &result, sizeof(result)) == sizeof(result) ? 0 : 1);
  }
  close(fds[1]);
  int64_t result = 0;
  const ssize_t n = read(fds[0], &result, sizeof(result));
  close(fds[0]);
  const long status = Reap(pid);
  if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || n != sizeof(result)) {
    return absl::InternalError(absl::StrCat("child ", pid, " did not report its result"));
  }
  return std::pair{pid, result};
}

// A child that waits in pause() to be signalled or traced; killed and
// reaped when this goes out of scope.
class Target {
 public:
  Target() : pid_(fork()) {
    if (pid_ == 0) {
      for (;;) pause();
    }
  }
  ~Target() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Reap(pid_);
    }
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

// A directory for mount checks, removed when this goes out of scope.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vigil-selftest-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const v1::SyscallResult* CallOf(const v1::Event& e) {
  switch (e.payload_case()) {
    case v1::Event::kPtrace:
      return &e.ptrace().call();
    case v1::Event::kSetns:
      return &e.setns().call();
    case v1::Event::kNamespaceChange:
      return &e.namespace_change().call();
    case v1::Event::kMount:
      return &e.mount().call();
    case v1::Event::kUmount:
      return &e.umount().call();
    case v1::Event::kModuleLoad:
      return &e.module_load().call();
    case v1::Event::kBpfProgLoad:
      return &e.bpf_prog_load().call();
    case v1::Event::kMemfdCreate:
      return &e.memfd_create().call();
    case v1::Event::kCredentialsChange:
      return &e.credentials_change().call();
    case v1::Event::kKill:
      return &e.kill().call();
    default:
      return nullptr;
  }
}

// What `fields` says is wrong with an event's payload; empty when right.
using FieldCheck = std::function<std::string(const v1::Event&)>;

// Runs `body` in a child, then waits for its `syscall` event of `kind` with
// the result the child saw (only its sign unless `exact_result`) and the
// payload `fields` accepts.
absl::Status Expect(EventWaiter& waiter, v1::EventKind kind, const std::string& syscall,
                    const std::function<long()>& body, const FieldCheck& fields, bool exact_result = true) {
  auto child = RunChild(body);
  if (!child.ok()) return child.status();
  const auto [pid, result] = *child;
  std::string mismatch;
  auto event = waiter.WaitFor(
      [&, pid = pid, result = result](const v1::Event& e) {  // clang 14 cannot capture bindings
        const v1::SyscallResult* call = CallOf(e);
        if (e.kind() != kind || e.process().pid() != static_cast<uint32_t>(pid) || call == nullptr ||
            call->name() != syscall) {
          return false;
        }
        if (exact_result ? call->result() != result : (call->result() < 0) != (result < 0)) {
          mismatch = absl::StrCat("result ", call->result(), ", the call returned ", result);
        } else {
          mismatch = fields(e);
        }
        return mismatch.empty();
      },
      kEventTimeout);
  if (event) return absl::OkStatus();
  if (!mismatch.empty()) return absl::InternalError(absl::StrCat(syscall, " event of pid ", pid, ": ", mismatch));
  return absl::NotFoundError(absl::StrCat("no ", v1::EventKind_Name(kind), " event for ", syscall, " of pid ", pid,
                                          " within ", absl::FormatDuration(kEventTimeout)));
}

// Compares one field for a FieldCheck: "" when equal.
template <typename A, typename B>
std::string Same(const char* what, const A& got, const B& want) {
  if (got == want) return "";
  return absl::StrCat(what, " is ", got, ", expected ", want);
}

// The first non-empty of several comparisons.
std::string First(std::initializer_list<std::string> results) {
  for (const std::string& r : results) {
    if (!r.empty()) return r;
  }
  return "";
}

Check SetIdCheck(const char* name, uint32_t which, std::function<long()> body) {
  return {name, [name, which, body = std::move(body)](EventWaiter& w) {
            return Expect(w, v1::EVENT_KIND_SETID, name, body, [which](const v1::Event& e) {
              const v1::Ids& ids = e.credentials_change().new_ids();
              // which: 0 for the uid calls, 1 for the gid ones, 2 for setgroups.
              if (which == 0) return Same("new uid", ids.uid(), kNobody);
              if (which == 1) return Same("new gid", ids.gid(), kNobody);
              return Same("requested count",
                          e.credentials_change().requested_size() > 0 ? e.credentials_change().requested(0) : 1u, 0u);
            });
          }};
}

Check KillCheck(const char* name, std::function<long(pid_t)> send) {
  return {name, [name, send = std::move(send)](EventWaiter& w) {
            Target target;
            if (target.pid() < 0) return ErrnoStatus(errno, "fork");
            const pid_t t = target.pid();
            return Expect(
                w, v1::EVENT_KIND_KILL, name, [&] { return send(t); },
                [t, name](const v1::Event& e) {
                  const v1::Kill& k = e.kill();
                  const int32_t got = std::string(name) == "tkill" ? k.target_tid() : k.target_pid();
                  return First({Same("target", got, t), Same("signal", k.signal(), SIGTERM)});
                });
          }};
}

long LoadSocketFilter() {
  bpf_insn insns[2] = {};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
  insns[0].dst_reg = BPF_REG_0;
  insns[1].code = BPF_JMP | BPF_EXIT;
  bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insn_cnt = 2;
  attr.insns = reinterpret_cast<uintptr_t>(insns);
  attr.license = reinterpret_cast<uintptr_t>("GPL");
  std::memcpy(attr.prog_name, "vigil_selftest", sizeof("vigil_selftest"));
  return syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

// A private mount namespace (nothing leaks to the host), with a tmpfs at `dir`.
long MountTmpfs(const char* dir) {
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return -1;
  return mount("vigil-selftest", dir, "tmpfs", MS_NOSUID, "size=64k");
}

}  // namespace

std::vector<Check> SecurityChecks() {
  std::vector<Check> checks;
  checks.push_back({"ptrace", [](EventWaiter& w) {
                      Target target;
                      if (target.pid() < 0) return ErrnoStatus(errno, "fork");
                      const pid_t t = target.pid();
                      return Expect(
                          w, v1::EVENT_KIND_PTRACE, "ptrace", [t] { return ptrace(PTRACE_SEIZE, t, nullptr, nullptr); },
                          [t](const v1::Event& e) {
                            return First({Same("request", e.ptrace().request_name(), "PTRACE_SEIZE"),
                                          Same("target_pid", e.ptrace().target_pid(), static_cast<uint32_t>(t))});
                          });
                    }});
  checks.push_back({"setns", [](EventWaiter& w) {
                      return Expect(
                          w, v1::EVENT_KIND_SETNS, "setns",
                          [] {
                            const int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
                            return fd < 0 ? -1 : setns(fd, CLONE_NEWUTS);
                          },
                          [](const v1::Event& e) {
                            return First({Same("namespace_type", e.setns().namespace_type(), "uts"),
                                          Same("nstype", e.setns().nstype(), static_cast<uint32_t>(CLONE_NEWUTS))});
                          });
                    }});
  auto just_uts = [](const v1::Event& e) {
    const auto& ns = e.namespace_change().namespaces();
    return Same("namespaces", ns.size() == 1 ? ns[0] : absl::StrCat(ns.size(), " of them"), "uts");
  };
  checks.push_back({"unshare", [just_uts](EventWaiter& w) {
                      return Expect(
                          w, v1::EVENT_KIND_UNSHARE, "unshare", [] { return unshare(CLONE_NEWUTS); }, just_uts);
                    }});
  checks.push_back({"clone", [just_uts](EventWaiter& w) {
                      return Expect(
                          w, v1::EVENT_KIND_CLONE_NS, "clone",
                          [] {
                            const long pid = syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, 0, nullptr, nullptr, 0);
                            if (pid == 0) _exit(0);
                            if (pid > 0) Reap(static_cast<pid_t>(pid));
                            return pid;  // too big for the exit code: only its sign is compared
                          },
                          just_uts, /*exact_result=*/false);
                    }});
  checks.push_back({"clone3", [just_uts](EventWaiter& w) {
                      return Expect(
                          w, v1::EVENT_KIND_CLONE_NS, "clone3",
                          [] {
                            CloneArgs args{};
                            args.flags = CLONE_NEWUTS;
                            args.exit_signal = SIGCHLD;
                            const long pid = syscall(SYS_clone3, &args, sizeof(args));
                            if (pid == 0) _exit(0);
                            if (pid > 0) Reap(static_cast<pid_t>(pid));
                            return pid;
                          },
                          just_uts, /*exact_result=*/false);
                    }});
  checks.push_back({"mount", [](EventWaiter& w) {
                      TempDir dir;
                      if (dir.path().empty()) return ErrnoStatus(errno, "mkdtemp");
                      const std::string target = dir.path();
                      return Expect(
                          w, v1::EVENT_KIND_MOUNT, "mount", [&] { return MountTmpfs(target.c_str()); },
                          [target](const v1::Event& e) {
                            // The first mount() makes "/" private; the second is the one to check.
                            if (e.mount().target() == "/") return std::string("(the propagation change)");
                            return First({Same("source", e.mount().source(), "vigil-selftest"),
                                          Same("target", e.mount().target(), target),
                                          Same("fstype", e.mount().fstype(), "tmpfs")});
                          });
                    }});
  checks.push_back({"umount", [](EventWaiter& w) {
                      TempDir dir;
                      if (dir.path().empty()) return ErrnoStatus(errno, "mkdtemp");
                      const std::string target = dir.path();
                      return Expect(
                          w, v1::EVENT_KIND_UMOUNT, "umount2",
                          [&] { return MountTmpfs(target.c_str()) != 0 ? -1 : umount2(target.c_str(), 0); },
                          [target](const v1::Event& e) { return Same("target", e.umount().target(), target); });
                    }});
  // Module loads that must fail: garbage, and a file that is no module.
  checks.push_back(
      {"init_module", [](EventWaiter& w) {
         static const char kGarbage[16] = "not a module";
         return Expect(
             w, v1::EVENT_KIND_MODULE_LOAD, "init_module",
             [] { return syscall(SYS_init_module, kGarbage, sizeof(kGarbage), ""); },
             [](const v1::Event& e) {
               return First({Same("image_size", e.module_load().image_size(), sizeof(kGarbage)),
                             Same("outcome", std::string(e.module_load().call().result() < 0 ? "failure" : "success"),
                                  "failure")});
             });
       }});
  checks.push_back(
      {"finit_module", [](EventWaiter& w) {
         return Expect(
             w, v1::EVENT_KIND_MODULE_LOAD, "finit_module",
             [] {
               // In memory the process has written, as a loader builds its
               // params: where modules are compiled out the call fails before
               // the kernel reads them, and a probe cannot fault in a literal
               // on a page never touched (the read is then flagged, not made).
               char params[] = "vigil_selftest=1";
               const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
               return fd < 0 ? -1 : syscall(SYS_finit_module, fd, params, 0);
             },
             [](const v1::Event& e) {
               return First({Same("file_name", e.module_load().file_name(), "null"),
                             Same("params", e.module_load().params(), "vigil_selftest=1"),
                             Same("outcome", std::string(e.module_load().call().result() < 0 ? "failure" : "success"),
                                  "failure")});
             });
       }});
  checks.push_back({"bpf", [](EventWaiter& w) {
                      return Expect(w, v1::EVENT_KIND_BPF_PROG_LOAD, "bpf", LoadSocketFilter, [](const v1::Event& e) {
                        const v1::BpfProgLoad& b = e.bpf_prog_load();
                        return First({Same("prog_type_name", b.prog_type_name(), "socket_filter"),
                                      Same("insn_count", b.insn_count(), 2u),
                                      Same("name", b.name(), "vigil_selftest")});
                      });
                    }});
  checks.push_back({"memfd_create", [](EventWaiter& w) {
                      return Expect(
                          w, v1::EVENT_KIND_MEMFD_CREATE, "memfd_create",
                          [] { return memfd_create("vigil-selftest", MFD_CLOEXEC); },
                          [](const v1::Event& e) {
                            return First({Same("name", e.memfd_create().name(), "vigil-selftest"),
                                          Same("flags", e.memfd_create().flags(), static_cast<uint32_t>(MFD_CLOEXEC))});
                          });
                    }});
  checks.push_back(SetIdCheck("setuid", 0, [] { return syscall(SYS_setuid, kNobody); }));
  checks.push_back(SetIdCheck("setgid", 1, [] { return syscall(SYS_setgid, kNobody); }));
  checks.push_back(SetIdCheck("setreuid", 0, [] { return syscall(SYS_setreuid, kNobody, kNobody); }));
  checks.push_back(SetIdCheck("setregid", 1, [] { return syscall(SYS_setregid, kNobody, kNobody); }));
  checks.push_back(SetIdCheck("setresuid", 0, [] { return syscall(SYS_setresuid, kNobody, kNobody, kNobody); }));
  checks.push_back(SetIdCheck("setresgid", 1, [] { return syscall(SYS_setresgid, kNobody, kNobody, kNobody); }));
  checks.push_back(SetIdCheck("setgroups", 2, [] { return syscall(SYS_setgroups, 0, nullptr); }));
  checks.push_back({"capset", [](EventWaiter& w) {
                      return Expect(
                          w, v1::EVENT_KIND_CAPSET, "capset",
                          [] {
                            __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
                            __user_cap_data_struct data[2] = {};
                            if (syscall(SYS_capget, &hdr, data) != 0) return -1L;
                            data[0].effective &= ~(1u << CAP_NET_RAW);
                            return syscall(SYS_capset, &hdr, data);
                          },
                          [](const v1::Event& e) {
                            const uint64_t net_raw = uint64_t{1} << CAP_NET_RAW;
                            const v1::CredentialsChange& c = e.credentials_change();
                            return Same("new effective set", c.new_caps().effective(),
                                        c.old_caps().effective() & ~net_raw);
                          });
                    }});
  checks.push_back(KillCheck("kill", [](pid_t t) { return static_cast<long>(kill(t, SIGTERM)); }));
  checks.push_back(KillCheck("tgkill", [](pid_t t) { return syscall(SYS_tgkill, t, t, SIGTERM); }));
  checks.push_back(KillCheck("tkill", [](pid_t t) { return syscall(SYS_tkill, t, SIGTERM); }));
  // The same calls prove the exit probes: no event without them.
  const size_t entries = checks.size();
  for (size_t i = 0; i < entries; ++i) checks.push_back({checks[i].probe + "_exit", checks[i].run});
  return checks;
}

}  // namespace vigil::selftest
