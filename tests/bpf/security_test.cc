// Security syscall family on the real kernel: each watched syscall is made
// for real by a forked child, and its event is checked field by field, the
// syscall's result included.
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/families.h"
#include "selftest/check.h"
#include "selftest/clone_args.h"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr uint32_t kNobody = 65534;

using selftest::CloneArgs;

// Runs `body` in a forked child, which exits with its return value.
pid_t ForkChild(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  if (pid < 0) ADD_FAILURE() << "fork: " << strerror(errno);
  return pid;
}

// The exit code of a child that exited normally; -1 (and a failure) otherwise.
int ExitCodeOf(pid_t pid) {
  const int status = WaitExit(pid);
  if (!WIFEXITED(status)) {
    ADD_FAILURE() << "child " << pid << ": " << SensorProcess::DescribeStatus(status);
    return -1;
  }
  return WEXITSTATUS(status);
}

// A child that waits in pause() until killed; ready once it returns.
pid_t SleepingChild() {
  int ready[2];
  if (pipe(ready) != 0) return -1;
  const pid_t pid = ForkChild([&] {
    close(ready[0]);
    (void)!write(ready[1], "x", 1);
    for (;;) pause();
    return 0;
  });
  close(ready[1]);
  char c;
  (void)!read(ready[0], &c, 1);
  close(ready[0]);
  return pid;
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  WaitExit(pid);
}

uint64_t InodeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) ADD_FAILURE() << "stat " << path << ": " << strerror(errno);
  return st.st_ino;
}

auto KindOf(v1::EventKind kind, pid_t pid) {
  return
      [kind, pid](const v1::Event& e) { return e.kind() == kind && e.process().pid() == static_cast<uint32_t>(pid); };
}

// The call succeeded with `result`.
void ExpectSuccess(const v1::SyscallResult& call, const std::string& name, int64_t result) {
  EXPECT_EQ(call.name(), name);
  ASSERT_TRUE(call.has_result()) << "result 0 must be present, not defaulted";
  EXPECT_EQ(call.result(), result);
  EXPECT_EQ(call.error(), "");
  EXPECT_FALSE(call.read_error());
}

void ExpectFailure(const v1::SyscallResult& call, const std::string& name, int err) {
  EXPECT_EQ(call.name(), name);
  EXPECT_EQ(call.result(), -err);
  EXPECT_EQ(call.error(), strerrorname_np(err));
}

class SecurityTest : public SharedSensorSuite<SecurityTest> {
 public:  // the hooks are called from the base
  // This host's kernel has no module support: module loads are only seen
  // through the fallback (a kernel with modules uses its tracepoints anyway).
  static std::vector<std::string> SensorFlags() { return {"--module_syscall_fallback"}; }

 protected:
  // The one event of `kind` from `pid` (waiting for it); fails the test if
  // there is none or more than one.
  static std::optional<v1::Event> OnlyEvent(v1::EventKind kind, pid_t pid) {
    auto e = sensor().WaitFor(KindOf(kind, pid));
    if (!e) {
      ADD_FAILURE() << "no " << v1::EventKind_Name(kind) << " event from pid " << pid;
      return std::nullopt;
    }
    EXPECT_THAT(sensor().FindAll(KindOf(kind, pid)), SizeIs(1)) << v1::EventKind_Name(kind) << " from pid " << pid;
    return e;
  }
};

TEST_F(SecurityTest, UnshareThenSetnsIntoItFromAnotherChild) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t owner = ForkChild([&] {
    close(ready[0]);
    if (unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0) return 1;
    (void)!write(ready[1], "x", 1);
    for (;;) pause();
    return 0;
  });
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "the first child could not unshare";
  close(ready[0]);

  const std::string ns_path = absl::StrCat("/proc/", owner, "/ns/uts");
  const uint64_t ns_inode = InodeOf(ns_path);
  ASSERT_NE(ns_inode, InodeOf("/proc/self/ns/uts")) << "unshare made no new uts namespace";
  int fd = -1;
  const pid_t joiner = ForkChild([&] {
    fd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 100;
    return setns(fd, CLONE_NEWUTS) == 0 ? fd : 101;
  });
  const int fd_used = ExitCodeOf(joiner);
  const std::string owner_exec_id = ExecIdOf(owner);
  KillAndReap(owner);
  ASSERT_LT(fd_used, 100) << "open or setns failed in the second child";

  auto u = OnlyEvent(v1::EVENT_KIND_UNSHARE, owner);
  ASSERT_TRUE(u.has_value());
  ASSERT_TRUE(u->has_namespace_change());
  ExpectSuccess(u->namespace_change().call(), "unshare", 0);
  EXPECT_EQ(u->namespace_change().flags(), static_cast<uint64_t>(CLONE_NEWNS | CLONE_NEWUTS));
  EXPECT_THAT(u->namespace_change().namespaces(), UnorderedElementsAre("mnt", "uts"));
  EXPECT_EQ(u->process().ppid(), static_cast<uint32_t>(getpid()));
  EXPECT_EQ(u->process().exec_id(), owner_exec_id);

  auto s = OnlyEvent(v1::EVENT_KIND_SETNS, joiner);
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE(s->has_setns());
  ExpectSuccess(s->setns().call(), "setns", 0);
  EXPECT_EQ(s->setns().fd(), fd_used);
  EXPECT_EQ(s->setns().nstype(), static_cast<uint32_t>(CLONE_NEWUTS));
  EXPECT_EQ(s->setns().namespace_type(), "uts");
  EXPECT_EQ(s->setns().namespace_inode(), ns_inode);
}

TEST_F(SecurityTest, SetnsWithAnyTypeNamesTheFilesNamespaceAndFailureHasErrno) {
  // nstype 0 lets the file decide; a file that is no namespace is EINVAL.
  int fds[2] = {-1, -1};
  const pid_t pid = ForkChild([&] {
    fds[0] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fds[0] < 0 || fds[1] < 0 || setns(fds[0], 0) != 0) return 1;
    return setns(fds[1], 0) == -1 && errno == EINVAL ? 0 : 2;
  });
  ASSERT_EQ(ExitCodeOf(pid), 0);
  ASSERT_TRUE(sensor().WaitFor(
      [&](const v1::Event& e) { return KindOf(v1::EVENT_KIND_SETNS, pid)(e) && e.setns().call().result() < 0; }));
  std::vector<v1::Event> calls = sensor().FindAll(KindOf(v1::EVENT_KIND_SETNS, pid));
  ASSERT_THAT(calls, SizeIs(2));
  ExpectSuccess(calls[0].setns().call(), "setns", 0);
  EXPECT_EQ(calls[0].setns().nstype(), 0u);
  EXPECT_EQ(calls[0].setns().namespace_type(), "net");
  EXPECT_EQ(calls[0].setns().namespace_inode(), InodeOf("/proc/self/ns/net"));
  ExpectFailure(calls[1].setns().call(), "setns", EINVAL);
  EXPECT_EQ(calls[1].setns().namespace_type(), "");
  EXPECT_EQ(calls[1].setns().namespace_inode(), 0u);
}

TEST_F(SecurityTest, CloneAndClone3IntoNewNamespacesButNotPlainForks) {
  int children[2] = {0, 0};
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t pid = ForkChild([&] {
    close(pipefd[0]);
    // A plain fork first: clone without namespace flags is not reported.
    pid_t plain = fork();
    if (plain == 0) _exit(0);
    waitpid(plain, nullptr, 0);
    long c1 = syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, 0, nullptr, nullptr, 0);
    if (c1 == 0) _exit(0);
    CloneArgs args{};
    args.flags = CLONE_NEWIPC | CLONE_NEWNET;
    args.exit_signal = SIGCHLD;
    long c2 = syscall(SYS_clone3, &args, sizeof(args));
    if (c2 == 0) _exit(0);
    if (c1 < 0 || c2 < 0) return 1;
    children[0] = static_cast<int>(c1);
    children[1] = static_cast<int>(c2);
    (void)!write(pipefd[1], children, sizeof(children));
    waitpid(static_cast<pid_t>(c1), nullptr, 0);
    waitpid(static_cast<pid_t>(c2), nullptr, 0);
    return 0;
  });
  close(pipefd[1]);
  ASSERT_EQ(read(pipefd[0], children, sizeof(children)), static_cast<ssize_t>(sizeof(children)));
  close(pipefd[0]);
  ASSERT_EQ(ExitCodeOf(pid), 0);

  ASSERT_TRUE(sensor().WaitFor([&](const v1::Event& e) {
    return KindOf(v1::EVENT_KIND_CLONE_NS, pid)(e) && e.namespace_change().call().name() == "clone3";
  }));
  std::vector<v1::Event> clones = sensor().FindAll(KindOf(v1::EVENT_KIND_CLONE_NS, pid));
  ASSERT_THAT(clones, SizeIs(2)) << "the plain fork must not be reported";
  const v1::NamespaceChange& c1 = clones[0].namespace_change();
  ExpectSuccess(c1.call(), "clone", children[0]);
  EXPECT_EQ(c1.flags(), static_cast<uint64_t>(CLONE_NEWUTS | SIGCHLD));
  EXPECT_THAT(c1.namespaces(), ElementsAre("uts")) << "SIGCHLD in clone's low byte is no CLONE_NEWTIME";
  const v1::NamespaceChange& c2 = clones[1].namespace_change();
  ExpectSuccess(c2.call(), "clone3", children[1]);
  EXPECT_EQ(c2.flags(), static_cast<uint64_t>(CLONE_NEWIPC | CLONE_NEWNET));
  EXPECT_THAT(c2.namespaces(), UnorderedElementsAre("ipc", "net"));
  EXPECT_EQ(clones[1].process().pid(), static_cast<uint32_t>(pid)) << "the parent makes the call";
}

TEST_F(SecurityTest, PtraceSeizeAndAttachOfASleepingChild) {
  const pid_t target = SleepingChild();
  ASSERT_GT(target, 0);
  const pid_t tracer = ForkChild([&] {
    if (ptrace(PTRACE_SEIZE, target, nullptr, nullptr) != 0) return 1;
    // Already traced by us: a second attach fails with EPERM.
    return ptrace(PTRACE_ATTACH, target, nullptr, nullptr) == -1 && errno == EPERM ? 0 : 2;
  });
  const int code = ExitCodeOf(tracer);
  KillAndReap(target);
  ASSERT_EQ(code, 0);

  ASSERT_TRUE(sensor().WaitFor([&](const v1::Event& e) {
    return KindOf(v1::EVENT_KIND_PTRACE, tracer)(e) && e.ptrace().request_name() == "PTRACE_ATTACH";
  }));
  std::vector<v1::Event> calls = sensor().FindAll(KindOf(v1::EVENT_KIND_PTRACE, tracer));
  ASSERT_THAT(calls, SizeIs(2));
  ExpectSuccess(calls[0].ptrace().call(), "ptrace", 0);
  EXPECT_EQ(calls[0].ptrace().request(), PTRACE_SEIZE);
  EXPECT_EQ(calls[0].ptrace().request_name(), "PTRACE_SEIZE");
  EXPECT_EQ(calls[0].ptrace().target_pid(), static_cast<uint32_t>(target));
  ExpectFailure(calls[1].ptrace().call(), "ptrace", EPERM);
  EXPECT_EQ(calls[1].ptrace().request(), PTRACE_ATTACH);
  EXPECT_EQ(calls[1].ptrace().target_pid(), static_cast<uint32_t>(target));
}

TEST_F(SecurityTest, MountTmpfsInAPrivateNamespaceThenUmount) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "vigil-mnt-", Nonce());
  ASSERT_TRUE(std::filesystem::create_directory(dir));
  const std::string source = absl::StrCat("vigil-", Nonce());
  const std::string missing = dir + "/no/such/dir";
  const pid_t pid = ForkChild([&] {
    if (unshare(CLONE_NEWNS) != 0) return 1;
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 2;
    if (mount(source.c_str(), dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") != 0) return 3;
    if (mount(source.c_str(), missing.c_str(), "tmpfs", 0, nullptr) != -1 || errno != ENOENT) return 4;
    return umount2(dir.c_str(), MNT_DETACH) == 0 ? 0 : 5;
  });
  const int code = ExitCodeOf(pid);
  std::filesystem::remove(dir);
  ASSERT_EQ(code, 0);

  auto um = OnlyEvent(v1::EVENT_KIND_UMOUNT, pid);
  ASSERT_TRUE(um.has_value());
  ASSERT_TRUE(um->has_umount());
  ExpectSuccess(um->umount().call(), "umount2", 0);
  EXPECT_EQ(um->umount().target(), dir);
  EXPECT_EQ(um->umount().flags(), static_cast<uint64_t>(MNT_DETACH));
  EXPECT_FALSE(um->umount().target_truncated());

  std::vector<v1::Event> mounts = sensor().FindAll(KindOf(v1::EVENT_KIND_MOUNT, pid));
  ASSERT_THAT(mounts, SizeIs(3));
  const v1::Mount& propagation = mounts[0].mount();
  ExpectSuccess(propagation.call(), "mount", 0);
  EXPECT_EQ(propagation.source(), "");
  EXPECT_EQ(propagation.target(), "/");
  EXPECT_EQ(propagation.fstype(), "");
  EXPECT_EQ(propagation.flags(), static_cast<uint64_t>(MS_REC | MS_PRIVATE));
  const v1::Mount& tmpfs = mounts[1].mount();
  ExpectSuccess(tmpfs.call(), "mount", 0);
  EXPECT_EQ(tmpfs.source(), source);
  EXPECT_EQ(tmpfs.target(), dir);
  EXPECT_EQ(tmpfs.fstype(), "tmpfs");
  EXPECT_EQ(tmpfs.flags(), static_cast<uint64_t>(MS_NOSUID | MS_NODEV));
  EXPECT_FALSE(tmpfs.source_truncated() || tmpfs.target_truncated() || tmpfs.fstype_truncated());
  const v1::Mount& failed = mounts[2].mount();
  ExpectFailure(failed.call(), "mount", ENOENT);
  EXPECT_EQ(failed.target(), missing);
}

TEST_F(SecurityTest, MountTargetLongerThanTheFieldIsMarkedTruncated) {
  const std::string target = "/" + std::string(2000, 'm');  // ENAMETOOLONG: a component is > 255 bytes
  const pid_t pid = ForkChild([&] { return mount("none", target.c_str(), "tmpfs", 0, nullptr) == -1 ? errno : 0; });
  const int err = ExitCodeOf(pid);
  ASSERT_NE(err, 0);
  auto m = OnlyEvent(v1::EVENT_KIND_MOUNT, pid);
  ASSERT_TRUE(m.has_value());
  ExpectFailure(m->mount().call(), "mount", err);
  EXPECT_TRUE(m->mount().target_truncated());
  EXPECT_EQ(m->mount().target(), target.substr(0, 1023));
  EXPECT_EQ(m->mount().source(), "none");
  EXPECT_FALSE(m->mount().source_truncated());
}

TEST_F(SecurityTest, MemfdCreate) {
  const std::string name = absl::StrCat("vigil-", Nonce());
  const pid_t pid = ForkChild([&] {
    const int fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
    return fd < 0 ? 255 : fd;
  });
  const int fd = ExitCodeOf(pid);
  ASSERT_NE(fd, 255);
  auto m = OnlyEvent(v1::EVENT_KIND_MEMFD_CREATE, pid);
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(m->has_memfd_create());
  ExpectSuccess(m->memfd_create().call(), "memfd_create", fd);
  EXPECT_EQ(m->memfd_create().name(), name);
  EXPECT_EQ(m->memfd_create().flags(), static_cast<uint32_t>(MFD_CLOEXEC | MFD_ALLOW_SEALING));
  EXPECT_FALSE(m->memfd_create().name_truncated());
}

// Loads "r0 = 0; exit" as a socket filter; exits with its fd, or 255.
int LoadSocketFilter() {
  bpf_insn insns[2] = {};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  insns[0].dst_reg = BPF_REG_0;
  insns[1].code = BPF_JMP | BPF_EXIT;
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insn_cnt = 2;
  attr.insns = reinterpret_cast<uintptr_t>(insns);
  attr.license = reinterpret_cast<uintptr_t>("GPL");
  strncpy(attr.prog_name, "vigil_sec_t", sizeof(attr.prog_name));
  const long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
  return fd < 0 ? 255 : static_cast<int>(fd);
}

TEST_F(SecurityTest, BpfSocketFilterLoad) {
  const pid_t pid = ForkChild(LoadSocketFilter);
  const int fd = ExitCodeOf(pid);
  ASSERT_NE(fd, 255);
  auto b = OnlyEvent(v1::EVENT_KIND_BPF_PROG_LOAD, pid);
  ASSERT_TRUE(b.has_value());
  ASSERT_TRUE(b->has_bpf_prog_load());
  const v1::BpfProgLoad& p = b->bpf_prog_load();
  ExpectSuccess(p.call(), "bpf", fd);
  EXPECT_EQ(p.prog_type(), static_cast<uint32_t>(BPF_PROG_TYPE_SOCKET_FILTER));
  EXPECT_EQ(p.prog_type_name(), "socket_filter");
  EXPECT_EQ(p.insn_count(), 2u);
  EXPECT_EQ(p.name(), "vigil_sec_t");
  EXPECT_EQ(p.expected_attach_type(), 0u);
  EXPECT_EQ(p.prog_flags(), 0u);
}

TEST_F(SecurityTest, ModuleLoadThatFailsIsReportedWithItsErrno) {
  // Not a module: every kernel refuses it (ENOEXEC or the like; ENOSYS
  // without module support), and the attempt must still be reported.
  const std::string path = absl::StrCat(::testing::TempDir(), "vigil-not-a-module-", Nonce(), ".ko");
  { std::ofstream(path) << "garbage, not an ELF module\n"; }
  const std::string params = "vigil_param=1";
  int fd_used = -1;
  const pid_t pid = ForkChild([&] {
    fd_used = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_used < 0) return 254;
    if (syscall(SYS_finit_module, fd_used, params.c_str(), 0) == 0) return 253;
    return errno;
  });
  const int err = ExitCodeOf(pid);
  std::filesystem::remove(path);
  ASSERT_LT(err, 250) << "could not open the file, or the kernel loaded it";

  auto m = OnlyEvent(v1::EVENT_KIND_MODULE_LOAD, pid);
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(m->has_module_load());
  const v1::ModuleLoad& x = m->module_load();
  ExpectFailure(x.call(), "finit_module", err);
  EXPECT_EQ(x.file_name(), std::filesystem::path(path).filename().string());
  EXPECT_EQ(x.params(), params);
  EXPECT_EQ(x.flags(), 0u);
  EXPECT_FALSE(x.params_truncated());

  // init_module with a garbage image.
  const std::string image(64, '\x7f');
  const pid_t pid2 =
      ForkChild([&] { return syscall(SYS_init_module, image.data(), image.size(), "") == 0 ? 253 : errno; });
  const int err2 = ExitCodeOf(pid2);
  auto m2 = OnlyEvent(v1::EVENT_KIND_MODULE_LOAD, pid2);
  ASSERT_TRUE(m2.has_value());
  ExpectFailure(m2->module_load().call(), "init_module", err2);
  EXPECT_EQ(m2->module_load().image_size(), image.size());
  EXPECT_FALSE(m2->module_load().has_fd());
}

TEST_F(SecurityTest, SetresuidDropThenFailedSetuidBackToRoot) {
  const pid_t pid = ForkChild([] {
    if (setresgid(kNobody, kNobody, kNobody) != 0) return 1;
    if (setresuid(kNobody, kNobody, kNobody) != 0) return 2;
    return setuid(0) == -1 && errno == EPERM ? 0 : 3;
  });
  ASSERT_EQ(ExitCodeOf(pid), 0);
  ASSERT_TRUE(sensor().WaitFor([&](const v1::Event& e) {
    return KindOf(v1::EVENT_KIND_SETID, pid)(e) && e.credentials_change().call().name() == "setuid";
  }));
  std::vector<v1::Event> calls = sensor().FindAll(KindOf(v1::EVENT_KIND_SETID, pid));
  ASSERT_THAT(calls, SizeIs(3));

  const v1::CredentialsChange& g = calls[0].credentials_change();
  ExpectSuccess(g.call(), "setresgid", 0);
  EXPECT_THAT(g.requested(), ElementsAre(kNobody, kNobody, kNobody));
  EXPECT_EQ(g.old_ids().gid(), 0u);
  EXPECT_EQ(g.old_ids().egid(), 0u);
  EXPECT_EQ(g.old_ids().sgid(), 0u);
  EXPECT_EQ(g.new_ids().gid(), kNobody);
  EXPECT_EQ(g.new_ids().egid(), kNobody);
  EXPECT_EQ(g.new_ids().sgid(), kNobody);
  EXPECT_EQ(g.new_ids().fsgid(), kNobody);
  EXPECT_EQ(g.new_ids().uid(), 0u);

  const v1::CredentialsChange& u = calls[1].credentials_change();
  ExpectSuccess(u.call(), "setresuid", 0);
  EXPECT_THAT(u.requested(), ElementsAre(kNobody, kNobody, kNobody));
  ASSERT_TRUE(u.old_ids().has_uid());
  EXPECT_EQ(u.old_ids().uid(), 0u);
  EXPECT_EQ(u.old_ids().euid(), 0u);
  EXPECT_EQ(u.old_ids().suid(), 0u);
  EXPECT_EQ(u.old_ids().fsuid(), 0u);
  EXPECT_EQ(u.new_ids().uid(), kNobody);
  EXPECT_EQ(u.new_ids().euid(), kNobody);
  EXPECT_EQ(u.new_ids().suid(), kNobody);
  EXPECT_EQ(u.new_ids().fsuid(), kNobody);
  // Leaving uid 0 for good clears the capabilities.
  EXPECT_NE(u.old_caps().effective(), 0u);
  EXPECT_NE(u.old_caps().permitted(), 0u);
  ASSERT_TRUE(u.new_caps().has_effective());
  EXPECT_EQ(u.new_caps().effective(), 0u);
  EXPECT_EQ(u.new_caps().permitted(), 0u);
  // The header's process is as the call left it.
  EXPECT_EQ(calls[1].process().uid(), kNobody);
  EXPECT_EQ(calls[1].process().euid(), kNobody);

  const v1::CredentialsChange& back = calls[2].credentials_change();
  ExpectFailure(back.call(), "setuid", EPERM);
  EXPECT_THAT(back.requested(), ElementsAre(0u));
  EXPECT_EQ(back.old_ids().uid(), kNobody);
  EXPECT_EQ(back.new_ids().uid(), kNobody);
}

TEST_F(SecurityTest, CapsetDropsOneCapability) {
  const pid_t pid = ForkChild([] {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &hdr, data) != 0) return 1;
    data[0].effective &= ~(1u << CAP_NET_RAW);
    return syscall(SYS_capset, &hdr, data) == 0 ? 0 : 2;
  });
  ASSERT_EQ(ExitCodeOf(pid), 0);
  auto c = OnlyEvent(v1::EVENT_KIND_CAPSET, pid);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(c->has_credentials_change());
  const v1::CredentialsChange& x = c->credentials_change();
  ExpectSuccess(x.call(), "capset", 0);
  EXPECT_THAT(x.requested(), ElementsAre(0u, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3)));
  const uint64_t net_raw = uint64_t{1} << CAP_NET_RAW;
  EXPECT_EQ(x.old_caps().effective() & net_raw, net_raw);
  EXPECT_EQ(x.new_caps().effective(), x.old_caps().effective() & ~net_raw);
  EXPECT_EQ(x.new_caps().permitted(), x.old_caps().permitted());
  EXPECT_EQ(x.new_caps().inheritable(), x.old_caps().inheritable());
  EXPECT_EQ(x.new_ids().uid(), 0u);
  EXPECT_EQ(x.old_ids().uid(), 0u);
}

TEST_F(SecurityTest, KillAndTgkillOfAnotherChildButNotOfItself) {
  const pid_t victim = SleepingChild();
  ASSERT_GT(victim, 0);
  const pid_t killer = ForkChild([&] {
    signal(SIGUSR1, SIG_IGN);
    // Self-directed signals are no events: raise() is tgkill(self), and
    // signal 0 only probes for existence.
    if (raise(SIGUSR1) != 0 || kill(getpid(), SIGUSR1) != 0 || kill(victim, 0) != 0) return 1;
    if (syscall(SYS_tgkill, victim, victim, SIGCONT) != 0) return 2;
    if (kill(victim, SIGTERM) != 0) return 3;
    return 0;
  });
  ASSERT_EQ(ExitCodeOf(killer), 0);
  const int status = WaitExit(victim);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << SensorProcess::DescribeStatus(status);

  ASSERT_TRUE(sensor().WaitFor(
      [&](const v1::Event& e) { return KindOf(v1::EVENT_KIND_KILL, killer)(e) && e.kill().call().name() == "kill"; }));
  std::vector<v1::Event> kills = sensor().FindAll(KindOf(v1::EVENT_KIND_KILL, killer));
  ASSERT_THAT(kills, SizeIs(2)) << "only the signals to the other child";
  const v1::Kill& tg = kills[0].kill();
  ExpectSuccess(tg.call(), "tgkill", 0);
  EXPECT_EQ(tg.target_pid(), victim);
  EXPECT_EQ(tg.target_tid(), victim);
  EXPECT_EQ(tg.signal(), SIGCONT);
  EXPECT_EQ(tg.signal_name(), "SIGCONT");
  const v1::Kill& k = kills[1].kill();
  ExpectSuccess(k.call(), "kill", 0);
  EXPECT_EQ(k.target_pid(), victim);
  EXPECT_FALSE(k.has_target_tid());
  EXPECT_EQ(k.signal(), SIGTERM);
  EXPECT_EQ(k.signal_name(), "SIGTERM");
  EXPECT_EQ(kills[1].process().ppid(), static_cast<uint32_t>(getpid()));
}

TEST_F(SecurityTest, KillOfAProcessThatIsGoneHasEsrch) {
  const pid_t gone = ForkChild([] { return 0; });
  ASSERT_EQ(ExitCodeOf(gone), 0);
  const pid_t pid = ForkChild([&] { return kill(gone, SIGKILL) == -1 ? errno : 0; });
  ASSERT_EQ(ExitCodeOf(pid), ESRCH);
  auto k = OnlyEvent(v1::EVENT_KIND_KILL, pid);
  ASSERT_TRUE(k.has_value());
  ExpectFailure(k->kill().call(), "kill", ESRCH);
  EXPECT_EQ(k->kill().target_pid(), gone);
  EXPECT_EQ(k->kill().signal_name(), "SIGKILL");
}

TEST_F(SecurityTest, SensorsOwnCallsAreNotReported) {
  // It loads programs with bpf() (families after this one, fallbacks) and
  // reads maps all the time: none of it is an event.
  const uint32_t self = static_cast<uint32_t>(sensor().pid());
  // Positive control: the same call by another process is reported, so the
  // silence below is the sensor's exclusion, not a probe that sees nothing.
  const pid_t other = ForkChild(LoadSocketFilter);
  ASSERT_NE(ExitCodeOf(other), 255);
  ASSERT_TRUE(OnlyEvent(v1::EVENT_KIND_BPF_PROG_LOAD, other).has_value());
  EXPECT_THAT(sensor().FindAll([&](const v1::Event& e) {
    return e.kind() >= v1::EVENT_KIND_PTRACE && e.kind() <= v1::EVENT_KIND_KILL && e.process().pid() == self;
  }),
              IsEmpty());
}

// The checks `vigil-sensor --self-test` runs for this family, against the
// sensor here: each one must pass on this kernel.
class HarnessWaiter : public selftest::EventWaiter {
 public:
  explicit HarnessWaiter(SensorProcess& sensor) : sensor_(sensor) {}
  std::optional<v1::Event> WaitFor(const std::function<bool(const v1::Event&)>& match,
                                   absl::Duration timeout) override {
    return sensor_.WaitFor(match, timeout);
  }

 private:
  SensorProcess& sensor_;
};

TEST_F(SecurityTest, SelfTestChecksPass) {
  HarnessWaiter waiter(sensor());
  std::vector<std::string> probes;
  for (const selftest::Check& check : selftest::SecurityChecks()) {
    probes.push_back(check.probe);
    const absl::Status status = check.run(waiter);
    EXPECT_TRUE(status.ok()) << "check " << check.probe << ": " << status;
  }
  std::vector<std::string> family_probes;
  for (const ProbeSpec& probe : SecurityFamily(LoaderConfig{}).probes) family_probes.push_back(probe.name);
  EXPECT_THAT(probes, UnorderedElementsAreArray(family_probes)) << "one check per probe of the family";
}

}  // namespace
}  // namespace vigil::testing
