// Process family on the real kernel: exec, exit and fork events, field by
// field, as the vigil-sensor binary writes them.
#include <bpf/bpf.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::SizeIs;

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(ts));
}

uint64_t BootTicksNow() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec)) / 10'000'000ull;
}

// The "<start ticks>" part of "<node>:<start ticks>:<pid>".
uint64_t TicksOfExecId(const std::string& exec_id) {
  std::vector<std::string> parts = absl::StrSplit(exec_id, ':');
  uint64_t ticks = 0;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &ticks)) ADD_FAILURE() << "malformed exec_id " << exec_id;
  return ticks;
}

std::string ReadLink(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string SelfComm() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

pid_t GetTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// {"/bin/echo", "arg000", ..., "arg<n-1>"}
std::vector<std::string> EchoWithArgs(int n) {
  std::vector<std::string> argv = {"/bin/echo"};
  for (int i = 0; i < n; ++i) argv.push_back(absl::StrFormat("arg%03d", i));
  return argv;
}

std::vector<std::string> Argv(const v1::Event& e) { return {e.process().argv().begin(), e.process().argv().end()}; }

auto ExecOf(pid_t pid, const std::string& filename) {
  return [pid, filename](const v1::Event& e) {
    return IsExec(e) && e.process().pid() == static_cast<uint32_t>(pid) && e.exec().filename() == filename;
  };
}
auto ExitOf(pid_t pid) {
  return [pid](const v1::Event& e) { return IsExit(e) && e.process().pid() == static_cast<uint32_t>(pid); };
}
auto ForkOf(pid_t pid) {
  return [pid](const v1::Event& e) { return IsFork(e) && e.process().pid() == static_cast<uint32_t>(pid); };
}

// ---------------------------------------------------------------------------
// One sensor, default settings, for all the simple cases.

// Over the whole suite nothing was lost: a few hundred events fit the default
// 8 MiB ring buffer many times over.
class ProcessTest : public SharedSensorSuite<ProcessTest> {};

TEST_F(ProcessTest, ShExecsEchoWithExactArgvAndLineage) {
  const std::string self_exec_id = SelfExecId();
  const uint64_t self_cgroup = SelfCgroupId();
  ASSERT_NE(self_cgroup, 0u) << "cannot find this process's cgroup v2 directory";
  const std::string cwd = std::filesystem::current_path();
  const uint64_t ticks_before = BootTicksNow();
  const absl::Time before = absl::Now();

  const pid_t pid = Spawn("/bin/sh", {"sh", "-c", "exec /bin/echo a b c"});
  ASSERT_GT(pid, 0);
  const int status = WaitExit(pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SensorProcess::DescribeStatus(status);
  const uint64_t ticks_after = BootTicksNow();

  ASSERT_TRUE(sensor().WaitFor(ExecOf(pid, "/bin/echo")).has_value()) << "no exec event for /bin/echo, pid " << pid;
  std::vector<v1::Event> execs = sensor().FindAll(
      [&](const v1::Event& e) { return IsExec(e) && e.process().pid() == static_cast<uint32_t>(pid); });
  ASSERT_THAT(execs, SizeIs(2)) << "expected exactly the exec of sh, then of echo";
  const v1::Event& sh = execs[0];
  const v1::Event& echo = execs[1];

  // The exec of echo.
  EXPECT_EQ(echo.kind(), v1::EVENT_KIND_EXEC);
  EXPECT_FALSE(echo.id().empty());
  EXPECT_EQ(echo.node(), kTestNode);
  EXPECT_EQ(echo.exec().filename(), "/bin/echo");
  EXPECT_EQ(echo.exec().argc(), 4u);
  EXPECT_FALSE(echo.exec().filename_truncated());
  const v1::Process& p = echo.process();
  EXPECT_EQ(p.pid(), static_cast<uint32_t>(pid));
  EXPECT_EQ(p.tid(), static_cast<uint32_t>(pid));
  EXPECT_EQ(p.ppid(), static_cast<uint32_t>(getpid()));
  EXPECT_THAT(Argv(echo), ElementsAre("/bin/echo", "a", "b", "c"));
  EXPECT_FALSE(p.argv_truncated());
  EXPECT_EQ(p.exe(), "/bin/echo");
  EXPECT_EQ(p.comm(), "echo");
  EXPECT_EQ(p.cwd(), cwd) << "cwd survives exec; the child inherited the test's";
  ASSERT_TRUE(p.has_uid() && p.has_euid() && p.has_gid() && p.has_egid()) << "uid 0 must be present, not defaulted";
  EXPECT_EQ(p.uid(), 0u);
  EXPECT_EQ(p.euid(), 0u);
  EXPECT_EQ(p.gid(), 0u);
  EXPECT_EQ(p.egid(), 0u);
  // Identity: "<node>:<start ticks>:<pid>", started during this test.
  EXPECT_TRUE(absl::StartsWith(p.exec_id(), absl::StrCat(kTestNode, ":"))) << p.exec_id();
  EXPECT_TRUE(absl::EndsWith(p.exec_id(), absl::StrCat(":", pid))) << p.exec_id();
  const uint64_t ticks = TicksOfExecId(p.exec_id());
  EXPECT_GE(ticks, ticks_before);
  EXPECT_LE(ticks, ticks_after);
  EXPECT_EQ(p.parent_exec_id(), self_exec_id);
  ASSERT_TRUE(p.has_start_time());
  EXPECT_LT(absl::AbsDuration(ToTime(p.start_time()) - before), absl::Seconds(5))
      << "start_time " << ToTime(p.start_time()) << ", spawned at " << before;
  EXPECT_LE(ToTime(p.start_time()), ToTime(echo.time()));
  EXPECT_LT(absl::AbsDuration(ToTime(echo.time()) - before), absl::Seconds(5));
  EXPECT_EQ(echo.workload().cgroup_id(), self_cgroup);
  ASSERT_FALSE(echo.ancestors().empty());
  EXPECT_EQ(echo.ancestors(0).exec_id(), self_exec_id);
  EXPECT_EQ(echo.ancestors(0).pid(), static_cast<uint32_t>(getpid()));
  EXPECT_THAT(std::vector<std::string>(echo.ancestors(0).argv().begin(), echo.ancestors(0).argv().end()),
              ElementsAreArray(CmdlineOf(getpid())));

  // The exec of sh before it: the same process, the same exec_id.
  EXPECT_EQ(sh.exec().filename(), "/bin/sh");
  EXPECT_EQ(sh.exec().argc(), 3u);
  EXPECT_THAT(Argv(sh), ElementsAre("sh", "-c", "exec /bin/echo a b c"));
  EXPECT_FALSE(sh.process().argv_truncated());
  EXPECT_EQ(sh.process().comm(), "sh");
  EXPECT_EQ(sh.process().ppid(), static_cast<uint32_t>(getpid()));
  EXPECT_EQ(sh.process().exec_id(), p.exec_id());
  EXPECT_EQ(sh.process().parent_exec_id(), self_exec_id);
  EXPECT_EQ(sh.workload().cgroup_id(), self_cgroup);
  ASSERT_FALSE(sh.ancestors().empty());
  EXPECT_EQ(sh.ancestors(0).exec_id(), self_exec_id);
}

TEST_F(ProcessTest, ExitCodeSeven) {
  const pid_t pid = Spawn("/bin/sh", {"/bin/sh", "-c", "exit 7"});
  ASSERT_GT(pid, 0);
  const int status = WaitExit(pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << SensorProcess::DescribeStatus(status);

  auto exit = sensor().WaitFor(ExitOf(pid));
  ASSERT_TRUE(exit.has_value()) << "no exit event for pid " << pid;
  ASSERT_TRUE(exit->exit().has_exit_code());
  EXPECT_EQ(exit->exit().exit_code(), 7u);
  EXPECT_FALSE(exit->exit().has_signal());
  EXPECT_FALSE(exit->exit().core_dumped());
  EXPECT_EQ(exit->process().ppid(), static_cast<uint32_t>(getpid()));
  EXPECT_EQ(exit->process().parent_exec_id(), SelfExecId());
  EXPECT_EQ(exit->process().comm(), "sh");
  // The exit is about the process that exec'd sh: same identity, and its
  // image (exe, argv) comes from that exec.
  auto exec = sensor().WaitFor(ExecOf(pid, "/bin/sh"), absl::ZeroDuration());
  ASSERT_TRUE(exec.has_value());
  EXPECT_EQ(exit->process().exec_id(), exec->process().exec_id());
  EXPECT_EQ(exit->process().exe(), "/bin/sh");
  EXPECT_THAT(Argv(*exit), ElementsAre("/bin/sh", "-c", "exit 7"));
  EXPECT_THAT(sensor().FindAll(ExitOf(pid)), SizeIs(1)) << "one exit event per process";
}

TEST_F(ProcessTest, KilledBySigkill) {
  const pid_t pid = Spawn("/bin/sleep", {"sleep", "100"});
  ASSERT_GT(pid, 0);
  // Kill it only once it runs sleep.
  ASSERT_TRUE(sensor().WaitFor(ExecOf(pid, "/bin/sleep")).has_value());
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  const int status = WaitExit(pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << SensorProcess::DescribeStatus(status);

  auto exit = sensor().WaitFor(ExitOf(pid));
  ASSERT_TRUE(exit.has_value()) << "no exit event for pid " << pid;
  ASSERT_TRUE(exit->exit().has_signal());
  EXPECT_EQ(exit->exit().signal(), 9u);
  EXPECT_FALSE(exit->exit().has_exit_code()) << "killed, not exited: " << exit->exit().ShortDebugString();
  EXPECT_FALSE(exit->exit().core_dumped());
  EXPECT_EQ(exit->process().comm(), "sleep");
  EXPECT_THAT(Argv(*exit), ElementsAre("sleep", "100"));
}

TEST_F(ProcessTest, ForkOfTheTestProcess) {
  const std::string self_exec_id = SelfExecId();
  int gate[2];
  ASSERT_EQ(pipe2(gate, O_CLOEXEC), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Wait for the parent to have read our /proc entry, then leave.
    char c;
    close(gate[1]);
    (void)!read(gate[0], &c, 1);
    _exit(0);
  }
  close(gate[0]);
  const std::string child_exec_id = ExecIdOf(child);
  close(gate[1]);
  const int status = WaitExit(child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  auto fork_event = sensor().WaitFor(ForkOf(child));
  ASSERT_TRUE(fork_event.has_value()) << "no fork event for child " << child;
  const v1::Process& p = fork_event->process();
  EXPECT_EQ(p.pid(), static_cast<uint32_t>(child));
  EXPECT_EQ(p.tid(), static_cast<uint32_t>(child));
  EXPECT_EQ(p.ppid(), static_cast<uint32_t>(getpid()));
  EXPECT_EQ(p.exec_id(), child_exec_id) << "same identity as /proc/<pid>/stat gives";
  EXPECT_EQ(p.parent_exec_id(), self_exec_id);
  EXPECT_EQ(fork_event->fork().parent_tid(), static_cast<uint32_t>(GetTid()));
  EXPECT_EQ(p.comm(), SelfComm());
  // Until it execs, the child runs its parent's image.
  EXPECT_EQ(p.exe(), ReadLink("/proc/self/exe"));
  EXPECT_THAT(Argv(*fork_event), ElementsAreArray(CmdlineOf(getpid())));
  ASSERT_TRUE(p.has_uid());
  EXPECT_EQ(p.uid(), 0u);
  EXPECT_EQ(fork_event->workload().cgroup_id(), SelfCgroupId());

  auto exit = sensor().WaitFor(ExitOf(child));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->process().exec_id(), child_exec_id);
  ASSERT_TRUE(exit->exit().has_exit_code());
  EXPECT_EQ(exit->exit().exit_code(), 0u);
  EXPECT_EQ(exit->process().exe(), ReadLink("/proc/self/exe"));
}

TEST_F(ProcessTest, ThreadIsNotAProcess) {
  std::atomic<pid_t> tid{0};
  std::thread thread([&] { tid = GetTid(); });
  thread.join();
  ASSERT_NE(tid.load(), 0);
  ASSERT_NE(tid.load(), getpid());

  // A process started after the thread: once its events are out, the
  // thread's would be too (one ring buffer, read in order).
  const std::string tag = "after-thread-" + Nonce();
  const pid_t marker = Spawn({"/bin/true", tag});
  ASSERT_EQ(WaitExit(marker), 0);
  ASSERT_TRUE(sensor().WaitFor(ExitOf(marker)).has_value());
  EXPECT_TRUE(sensor().WaitFor(ForkOf(marker), absl::ZeroDuration()).has_value())
      << "fork events do flow (else the check below proves nothing)";

  auto about_thread = [&](const v1::Event& e) {
    return e.process().pid() == static_cast<uint32_t>(tid.load()) ||
           e.process().tid() == static_cast<uint32_t>(tid.load());
  };
  EXPECT_THAT(sensor().FindAll([&](const v1::Event& e) { return IsFork(e) && about_thread(e); }), IsEmpty())
      << "thread " << tid << " was reported as a new process";
  // Nor did the thread's exit look like this process exiting.
  EXPECT_THAT(sensor().FindAll([&](const v1::Event& e) {
    return IsExit(e) && (about_thread(e) || e.process().pid() == static_cast<uint32_t>(getpid()));
  }),
              IsEmpty());
}

// A process whose threads all die together (exit_group) is one exit event,
// whichever thread leaves last. Run a few times: threads race to the end.
TEST_F(ProcessTest, MultiThreadedProcessExitsOnce) {
  constexpr int kProcesses = 10;
  constexpr int kThreads = 8;
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    int ready[2];
    ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Only raw threads and syscalls here: the parent is multi-threaded.
      for (int t = 0; t < kThreads; ++t) {
        pthread_t th;
        pthread_create(
            &th, nullptr,
            [](void*) -> void* {
              for (;;) pause();
            },
            nullptr);
      }
      (void)!write(ready[1], "r", 1);
      syscall(SYS_exit_group, 3);
    }
    close(ready[1]);
    char c;
    (void)!read(ready[0], &c, 1);
    close(ready[0]);
    children.push_back(child);
  }
  for (pid_t child : children) {
    const int status = WaitExit(child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << SensorProcess::DescribeStatus(status);
  }
  for (pid_t child : children) {
    ASSERT_TRUE(sensor().WaitFor(ExitOf(child)).has_value()) << "no exit event for " << child;
  }
  // Let duplicates, if any, arrive.
  const pid_t marker = Spawn({"/bin/true", "after-threads-" + Nonce()});
  ASSERT_EQ(WaitExit(marker), 0);
  ASSERT_TRUE(sensor().WaitFor(ExitOf(marker)).has_value());
  for (pid_t child : children) {
    std::vector<v1::Event> exits = sensor().FindAll(ExitOf(child));
    EXPECT_THAT(exits, SizeIs(1)) << "child " << child;
    for (const v1::Event& e : exits) {
      ASSERT_TRUE(e.exit().has_exit_code());
      EXPECT_EQ(e.exit().exit_code(), 3u);
      EXPECT_EQ(e.process().exec_id(), exits[0].process().exec_id());
    }
    // Its threads were not processes.
    EXPECT_THAT(sensor().FindAll(ForkOf(child)), SizeIs(1));
  }
}

// The exit claims (vigil_exited, process.bpf.c) for the given processes in
// every such map on the host (the sensor holds it through its programs, not
// a descriptor): key {leader start time, tgid, padding}.
std::vector<pid_t> ExitClaimsOf(const std::vector<pid_t>& pids) {
  struct ExitKey {
    uint64_t start_time;
    uint32_t tgid;
    uint32_t pad;
  };
  std::vector<pid_t> found;
  int maps = 0;
  for (uint32_t id = 0; bpf_map_get_next_id(id, &id) == 0;) {
    const int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && std::string(info.name) == "vigil_exited") {
      ++maps;
      ExitKey key{}, next{};
      const void* prev = nullptr;
      while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        for (pid_t pid : pids) {
          if (next.tgid == static_cast<uint32_t>(pid)) found.push_back(pid);
        }
        key = next;
        prev = &key;
      }
    }
    close(fd);
  }
  if (maps == 0) ADD_FAILURE() << "no map named vigil_exited on this host";
  return found;
}

// The kernel's exit claims do not outlive the exits: with no other thread
// left to race, the last thread of a process deletes its claim or makes
// none. Otherwise the map (an LRU of 4,096) fills, and every exit on a busy
// node pays an eviction.
TEST_F(ProcessTest, ExitsLeaveNoClaimBehind) {
  std::vector<pid_t> children;
  for (int i = 0; i < 20; ++i) children.push_back(Spawn({"/bin/true", "claim-" + Nonce()}));
  // A leader that leaves before its last thread: a zombie until that
  // thread, the process's last, exits.
  for (int i = 0; i < 5; ++i) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Only raw threads and syscalls here: the parent is multi-threaded.
      pthread_t th;
      pthread_create(
          &th, nullptr,
          [](void*) -> void* {
            for (int waited = 0; waited < 5000; ++waited) {
              char stat[256] = {};
              const int fd = open("/proc/self/stat", O_RDONLY);
              const ssize_t n = fd >= 0 ? read(fd, stat, sizeof(stat) - 1) : -1;
              if (fd >= 0) close(fd);
              const char* state = n > 0 ? strrchr(stat, ')') : nullptr;
              if (state != nullptr && state[1] == ' ' && state[2] == 'Z') break;
              usleep(1000);
            }
            syscall(SYS_exit, 0);
            return nullptr;
          },
          nullptr);
      syscall(SYS_exit, 4);
    }
    children.push_back(child);
  }
  for (pid_t child : children) {
    ASSERT_GT(child, 0);
    ASSERT_NE(WaitExit(child), -1);
  }
  for (pid_t child : children) {
    ASSERT_TRUE(sensor().WaitFor(ExitOf(child)).has_value()) << "no exit event for " << child;
  }
  EXPECT_THAT(ExitClaimsOf(children), IsEmpty()) << "claims left behind for these processes";
  for (pid_t child : children) EXPECT_THAT(sensor().FindAll(ExitOf(child)), SizeIs(1)) << "child " << child;
}

TEST_F(ProcessTest, TwoHundredArgsFitTheDefaultLimits) {
  const std::vector<std::string> argv = EchoWithArgs(200);
  const pid_t pid = Spawn(argv);
  ASSERT_EQ(WaitExit(pid), 0);
  auto exec = sensor().WaitFor(ExecOf(pid, "/bin/echo"));
  ASSERT_TRUE(exec.has_value());
  EXPECT_THAT(Argv(*exec), ElementsAreArray(argv));
  EXPECT_FALSE(exec->process().argv_truncated());
  EXPECT_EQ(exec->exec().argc(), 201u);
}

// The default byte limit (8192): a longer argv is an exact prefix of 8192
// bytes, flagged.
TEST_F(ProcessTest, DefaultByteLimitGivesAnExactPrefix) {
  std::vector<std::string> argv = {"/bin/echo"};
  for (int i = 0; i < 40; ++i) argv.push_back(std::string(499, static_cast<char>('a' + i % 26)));  // 20,010 bytes
  const pid_t pid = Spawn(argv);
  ASSERT_EQ(WaitExit(pid), 0);
  auto exec = sensor().WaitFor(ExecOf(pid, "/bin/echo"));
  ASSERT_TRUE(exec.has_value());
  const std::vector<std::string> got = Argv(*exec);
  ASSERT_FALSE(got.empty());
  for (size_t i = 0; i + 1 < got.size(); ++i) EXPECT_EQ(got[i], argv[i]) << "argv[" << i << "]";
  EXPECT_TRUE(absl::StartsWith(argv[got.size() - 1], got.back()));
  const size_t kept = absl::StrJoin(got, std::string(1, '\0')).size();
  EXPECT_GE(kept, 8191u);
  EXPECT_LE(kept, 8192u);
  EXPECT_TRUE(exec->process().argv_truncated());
  EXPECT_EQ(exec->exec().argc(), 41u);
}

// The longest filename execve takes (PATH_MAX - 1 characters, here made of
// redundant slashes) arrives whole and is not flagged truncated.
TEST_F(ProcessTest, LongestFilenameIsNotTruncated) {
  const std::string filename = std::string(4095 - std::string("bin/echo").size(), '/') + "bin/echo";
  ASSERT_EQ(filename.size(), 4095u);
  const pid_t pid = Spawn(filename, {"echo", "long-filename"});
  ASSERT_GT(pid, 0);
  ASSERT_EQ(WaitExit(pid), 0);
  auto exec = sensor().WaitFor(ExecOf(pid, filename));
  ASSERT_TRUE(exec.has_value()) << "no exec event with the 4095-character filename";
  EXPECT_FALSE(exec->exec().filename_truncated());
  EXPECT_EQ(exec->exec().filename().size(), 4095u);
  EXPECT_THAT(Argv(*exec), ElementsAre("echo", "long-filename"));
}

// Empty arguments, one at the end too, keep their places.
TEST_F(ProcessTest, EmptyArguments) {
  const std::vector<std::string> argv = {"/bin/echo", "", "x", ""};
  const pid_t pid = Spawn(argv);
  ASSERT_EQ(WaitExit(pid), 0);
  auto exec = sensor().WaitFor(ExecOf(pid, "/bin/echo"));
  ASSERT_TRUE(exec.has_value());
  EXPECT_THAT(Argv(*exec), ElementsAreArray(argv));
  EXPECT_FALSE(exec->process().argv_truncated());
  EXPECT_EQ(exec->exec().argc(), 4u);
}

// Bytes that are not UTF-8 still give a valid JSON line (the harness fails
// on any line that does not parse) with the rest of the argument intact.
TEST_F(ProcessTest, NonUtf8Argument) {
  const pid_t pid = Spawn({"/bin/echo", "ok\xff\xfe-end"});
  ASSERT_EQ(WaitExit(pid), 0);
  auto exec = sensor().WaitFor(ExecOf(pid, "/bin/echo"));
  ASSERT_TRUE(exec.has_value());
  ASSERT_EQ(exec->process().argv_size(), 2);
  EXPECT_TRUE(absl::StartsWith(exec->process().argv(1), "ok")) << exec->process().argv(1);
  EXPECT_TRUE(absl::EndsWith(exec->process().argv(1), "-end")) << exec->process().argv(1);
}

// workload.cgroup_id is the cgroup v2 id of the process, not of the sensor
// or of the test: a child moved into its own cgroup before exec.
TEST_F(ProcessTest, CgroupIdOfAChildCgroup) {
  const std::string mount = Cgroup2Mount();
  ASSERT_FALSE(mount.empty()) << "no cgroup2 mount";
  const std::string dir = absl::StrCat(mount, "/vigil-bpf-test-", Nonce());
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir << ": " << strerror(errno);
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  const int procs = open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(procs, 0);
  const std::string tag = "in-cgroup-" + Nonce();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (write(procs, "0\n", 2) != 2) _exit(100);
    dup2(null_fd, 1);
    execl("/bin/echo", "/bin/echo", tag.c_str(), static_cast<char*>(nullptr));
    _exit(101);
  }
  close(procs);
  close(null_fd);
  const int status = WaitExit(child);
  EXPECT_EQ(rmdir(dir.c_str()), 0) << dir << ": " << strerror(errno);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SensorProcess::DescribeStatus(status);

  auto exec = sensor().WaitFor(ExecOf(child, "/bin/echo"));
  ASSERT_TRUE(exec.has_value());
  EXPECT_THAT(Argv(*exec), ElementsAre("/bin/echo", tag));
  EXPECT_EQ(exec->workload().cgroup_id(), st.st_ino) << dir;
  EXPECT_NE(exec->workload().cgroup_id(), SelfCgroupId());
}

// exe resolves a relative filename against the cwd the process has when it
// execs, which is not always its parent's: `cd /usr/bin && exec ./echo`. The
// cwd is the kernel's, physical like /proc/<pid>/cwd: /usr/bin, not /bin,
// which is a symlink to it on merged-/usr systems.
TEST_F(ProcessTest, RelativeExecAfterChdir) {
  const pid_t pid = Spawn("/bin/sh", {"sh", "-c", "cd /usr/bin && exec ./echo relative"});
  ASSERT_EQ(WaitExit(pid), 0);
  auto exec = sensor().WaitFor(ExecOf(pid, "./echo"));
  ASSERT_TRUE(exec.has_value());
  EXPECT_THAT(Argv(*exec), ElementsAre("./echo", "relative"));
  EXPECT_EQ(exec->process().cwd(), "/usr/bin");
  EXPECT_EQ(exec->process().exe(), "/usr/bin/echo");
}

// ---------------------------------------------------------------------------
// Argument limits: each needs its own sensor flags.

TEST(ProcessArgLimits, MaxArgsKeepsTheFirstHundred) {
  RequireBpfOrSkip();
  SensorProcess sensor({"--max_args=100"});
  ASSERT_OK(sensor.Start());

  const std::vector<std::string> argv = EchoWithArgs(200);  // argv[0] + 200
  const pid_t pid = Spawn(argv);
  ASSERT_EQ(WaitExit(pid), 0);
  auto exec = sensor.WaitFor(ExecOf(pid, "/bin/echo"));
  ASSERT_TRUE(exec.has_value());
  EXPECT_THAT(Argv(*exec), ElementsAreArray(argv.begin(), argv.begin() + 100));
  EXPECT_TRUE(exec->process().argv_truncated());
  EXPECT_EQ(exec->exec().argc(), 201u);

  // Exactly at the limit: complete, and not flagged.
  const std::vector<std::string> hundred = EchoWithArgs(99);
  const pid_t pid100 = Spawn(hundred);
  ASSERT_EQ(WaitExit(pid100), 0);
  auto at_limit = sensor.WaitFor(ExecOf(pid100, "/bin/echo"));
  ASSERT_TRUE(at_limit.has_value());
  EXPECT_THAT(Argv(*at_limit), ElementsAreArray(hundred));
  EXPECT_FALSE(at_limit->process().argv_truncated());
  EXPECT_EQ(at_limit->exec().argc(), 100u);

  // One past it.
  const std::vector<std::string> one_more = EchoWithArgs(100);
  const pid_t pid101 = Spawn(one_more);
  ASSERT_EQ(WaitExit(pid101), 0);
  auto past = sensor.WaitFor(ExecOf(pid101, "/bin/echo"));
  ASSERT_TRUE(past.has_value());
  EXPECT_THAT(Argv(*past), ElementsAreArray(one_more.begin(), one_more.begin() + 100));
  EXPECT_TRUE(past->process().argv_truncated());
  EXPECT_EQ(past->exec().argc(), 101u);

  const int status = sensor.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SensorProcess::DescribeStatus(status);
}

TEST(ProcessArgLimits, MaxArgBytesGivesAnExactPrefix) {
  RequireBpfOrSkip();
  constexpr size_t kLimit = 256;
  SensorProcess sensor({absl::StrCat("--max_arg_bytes=", kLimit)});
  ASSERT_OK(sensor.Start());

  const std::vector<std::string> argv = EchoWithArgs(200);
  const pid_t pid = Spawn(argv);
  ASSERT_EQ(WaitExit(pid), 0);
  auto exec = sensor.WaitFor(ExecOf(pid, "/bin/echo"));
  ASSERT_TRUE(exec.has_value());
  const std::vector<std::string> got = Argv(*exec);
  ASSERT_FALSE(got.empty());
  ASSERT_LE(got.size(), argv.size());
  // Every element but the last is exact; the last is a prefix of its argument.
  for (size_t i = 0; i + 1 < got.size(); ++i) EXPECT_EQ(got[i], argv[i]) << "argv[" << i << "]";
  EXPECT_TRUE(absl::StartsWith(argv[got.size() - 1], got.back()))
      << "last kept " << got.back() << " is not a prefix of " << argv[got.size() - 1];
  // All the bytes allowed were used: 256 bytes of "arg\0arg\0...".
  const size_t kept = absl::StrJoin(got, std::string(1, '\0')).size();
  EXPECT_GE(kept, kLimit - 1);
  EXPECT_LE(kept, kLimit);
  EXPECT_TRUE(exec->process().argv_truncated());
  EXPECT_EQ(exec->exec().argc(), 201u);

  // A block of exactly 256 bytes (NULs included) is complete and not flagged.
  const std::string long_arg(kLimit - sizeof("/bin/echo") - 1, 'x');
  const std::vector<std::string> exact = {"/bin/echo", long_arg};
  ASSERT_EQ(absl::StrJoin(exact, std::string(1, '\0')).size() + 1, kLimit);
  const pid_t pid_exact = Spawn(exact);
  ASSERT_EQ(WaitExit(pid_exact), 0);
  auto at_limit = sensor.WaitFor(ExecOf(pid_exact, "/bin/echo"));
  ASSERT_TRUE(at_limit.has_value());
  EXPECT_THAT(Argv(*at_limit), ElementsAreArray(exact));
  EXPECT_FALSE(at_limit->process().argv_truncated());

  const int status = sensor.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SensorProcess::DescribeStatus(status);
}

}  // namespace
}  // namespace vigil::testing
