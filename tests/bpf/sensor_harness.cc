#include "sensor_harness.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"

extern char** environ;

#ifndef VIGIL_SENSOR_PATH
#error "VIGIL_SENSOR_PATH must name the vigil-sensor binary (set by tests/bpf/CMakeLists.txt)"
#endif

namespace vigil::testing {

namespace {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ErrnoText(const std::string& what) { return absl::StrCat(what, ": ", std::strerror(errno)); }

}  // namespace

std::string BpfUnavailableReason() {
  if (geteuid() != 0) return absl::StrCat("not running as root (euid ", geteuid(), ")");
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) return "no kernel BTF at /sys/kernel/btf/vmlinux";
  return "";
}

bool InCi() {
  const char* ci = std::getenv("CI");
  if (ci == nullptr) return false;
  const std::string v = absl::AsciiStrToLower(ci);
  return v == "true" || v == "1";
}

// ---- Running commands -------------------------------------------------

pid_t Spawn(const std::string& path, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd : {0, 1, 2}) {
    posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  pid_t pid = -1;
  int err = posix_spawn(&pid, path.c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    ADD_FAILURE() << "posix_spawn " << path << ": " << std::strerror(err);
    return -1;
  }
  return pid;
}

pid_t Spawn(const std::vector<std::string>& argv) { return Spawn(argv.at(0), argv); }

int WaitExit(pid_t pid) {
  if (pid <= 0) return -1;
  int status = 0;
  for (;;) {
    if (waitpid(pid, &status, 0) == pid) return status;
    if (errno != EINTR) {
      ADD_FAILURE() << ErrnoText(absl::StrCat("waitpid ", pid));
      return -1;
    }
  }
}

int Run(const std::vector<std::string>& argv) { return WaitExit(Spawn(argv)); }

// ---- Identity -------------------------------------------------------------

uint64_t StartTicks(pid_t pid) {
  const std::string stat = ReadWholeFile(absl::StrCat("/proc/", pid, "/stat"));
  // "pid (comm) state ppid ...": comm may hold spaces; fields start after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    ADD_FAILURE() << "/proc/" << pid << "/stat unreadable";
    return 0;
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(close + 1), ' ', absl::SkipEmpty());
  uint64_t ticks = 0;
  // fields[0] is field 3 (state): field 22 is fields[19].
  if (fields.size() < 20 || !absl::SimpleAtoi(fields[19], &ticks)) {
    ADD_FAILURE() << "/proc/" << pid << "/stat malformed: " << stat;
  }
  return ticks;
}

std::string ExecIdOf(pid_t pid) { return absl::StrCat(kTestNode, ":", StartTicks(pid), ":", pid); }

std::string SelfExecId() { return ExecIdOf(getpid()); }

std::string Cgroup2Mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "id parent major:minor root mount-point options [optional...] - fstype source super-options"
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::vector<std::string> after = absl::StrSplit(line.substr(dash + 3), ' ');
    if (after.empty() || after[0] != "cgroup2") continue;
    std::vector<std::string> before = absl::StrSplit(line.substr(0, dash), ' ');
    if (before.size() >= 5) return before[4];
  }
  return "";
}

uint64_t SelfCgroupId() {
  const std::string mount = Cgroup2Mount();
  if (mount.empty()) return 0;
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    const std::string path = line.substr(3);
    const std::string dir = path == "/" ? mount : mount + path;
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0) return 0;
    return st.st_ino;
  }
  return 0;
}

std::vector<std::string> CmdlineOf(pid_t pid) {
  std::string block = ReadWholeFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!block.empty() && block.back() == '\0') block.pop_back();
  if (block.empty()) return {};
  return absl::StrSplit(block, '\0');
}

std::string Nonce() {
  std::random_device rd;
  return absl::StrCat(absl::Hex(rd(), absl::kZeroPad8), absl::Hex(rd(), absl::kZeroPad8));
}

// ---- Sensor ---------------------------------------------------------------

SensorProcess::SensorProcess(std::vector<std::string> flags, bool harness_flags)
    : SensorProcess([&] {
        SensorOptions options;
        options.flags = std::move(flags);
        options.harness_flags = harness_flags;
        return options;
      }()) {}

SensorProcess::SensorProcess(SensorOptions options) : options_(std::move(options)), nonce_(Nonce()) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/vigil-bpf-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    ADD_FAILURE() << ErrnoText("mkdtemp " + templ);
    return;
  }
  dir_ = templ;
  // A sensor run as another user must still be able to write its output.
  chmod(dir_.c_str(), 0777);
  output_path_ = dir_ + "/events.jsonl";
  stderr_path_ = dir_ + "/stderr.log";
  api_socket_ = dir_ + "/api.sock";
}

SensorProcess::~SensorProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    Reap(0);
  }
  if (dir_.empty()) return;
  if (keep_files_ || ::testing::Test::HasFailure() || std::getenv("VIGIL_KEEP_TEST_FILES") != nullptr) {
    std::cout << "sensor output kept in " << dir_ << std::endl;
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

absl::Status SensorProcess::Start(absl::Duration ready_timeout) {
  if (absl::Status s = Launch(); !s.ok()) return s;
  return WaitReady(ready_timeout);
}

absl::Status SensorProcess::Launch() {
  if (dir_.empty()) return absl::InternalError("no temporary directory");
  if (pid_ > 0) return absl::FailedPreconditionError("sensor already running");

  std::vector<std::string> args = {VIGIL_SENSOR_PATH};
  if (options_.harness_flags) {
    args.push_back("--output=" + output_path_);
    args.push_back("--log_level=warn");
    args.push_back(absl::StrCat("--node_name=", kTestNode));
    // Private API socket and a free metrics port: sensors of concurrent tests
    // must not collide on the defaults.
    args.push_back("--api_socket=" + api_socket_);
    args.push_back("--metrics_address=127.0.0.1:0");
  }
  args.insert(args.end(), options_.flags.begin(), options_.flags.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Everything the child needs is opened before fork: after it, only
  // async-signal-safe calls.
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  const int err_fd = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  // Opened as root: the binary's directories need not be searchable by the
  // unprivileged user; fexecve needs only the file's own x bit.
  const int exe_fd = open(VIGIL_SENSOR_PATH, O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || err_fd < 0 || exe_fd < 0) {
    for (int fd : {null_fd, err_fd, exe_fd}) {
      if (fd >= 0) close(fd);
    }
    return absl::InternalError(ErrnoText("open files for the sensor (" + std::string(VIGIL_SENSOR_PATH) + ")"));
  }
  const bool drop = options_.run_as.has_value();
  const uid_t id = options_.run_as.value_or(0);

  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(ErrnoText("fork"));
  if (pid == 0) {
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(err_fd, 2);
    auto die = [](const char* msg) {
      const int e = errno;
      (void)!write(2, msg, strlen(msg));
      (void)!write(2, ": ", 2);
      const char* s = strerror(e);
      (void)!write(2, s, strlen(s));
      (void)!write(2, "\n", 1);
      _exit(126);
    };
    if (drop) {
      // Leaving uid 0 for a non-zero uid (without SECBIT_KEEP_CAPS) clears
      // the permitted and effective capability sets.
      if (setgroups(0, nullptr) != 0) die("harness: setgroups");
      if (setgid(id) != 0) die("harness: setgid");
      if (setuid(id) != 0) die("harness: setuid");
    }
    // Never outlive the test, even if it crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    fexecve(exe_fd, argv.data(), environ);
    die("harness: exec " VIGIL_SENSOR_PATH);
  }
  close(null_fd);
  close(err_fd);
  close(exe_fd);
  pid_ = pid;
  exit_status_ = -1;
  return absl::OkStatus();
}

absl::Status SensorProcess::WaitReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string prefix = absl::StrCat("vigil-ready-", nonce_, "-");
  for (int attempt = 0;; ++attempt) {
    if (pid_ <= 0 || Reap(WNOHANG) > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("sensor exited before it was ready (", DescribeStatus(exit_status_), "); stderr:\n", Stderr()));
    }
    const int status = Run({"/bin/true", absl::StrCat(prefix, attempt)});
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::InternalError(absl::StrCat("marker command failed: ", DescribeStatus(status)));
    }
    auto marker = WaitFor(
        [&](const v1::Event& e) {
          return IsExec(e) && e.process().argv_size() == 2 && absl::StartsWith(e.process().argv(1), prefix);
        },
        absl::Milliseconds(250));
    if (marker.has_value()) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("no marker exec event after ", absl::FormatDuration(timeout),
                                                      " and ", attempt + 1, " attempts; stderr:\n", Stderr()));
    }
  }
}

const std::vector<v1::Event>& SensorProcess::Events() {
  const int fd = open(output_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return events_;  // not created yet
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = pread(fd, buf, sizeof(buf), read_offset_);
    if (n <= 0) break;
    read_offset_ += n;
    partial_.append(buf, static_cast<size_t>(n));
  }
  close(fd);

  google::protobuf::util::JsonParseOptions strict;  // unknown fields are errors
  size_t start = 0;
  for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    const absl::string_view line(partial_.data() + start, nl - start);
    v1::Event event;
    auto status = google::protobuf::util::JsonStringToMessage(std::string(line), &event, strict);
    if (!status.ok()) {
      ADD_FAILURE() << "line " << events_.size() + 1 << " of " << output_path_
                    << " is not the JSON mapping of vigil.v1.Event: " << status.ToString() << "\n"
                    << line.substr(0, 400);
      continue;
    }
    events_.push_back(std::move(event));
  }
  partial_.erase(0, start);
  return events_;
}

std::optional<v1::Event> SensorProcess::WaitFor(const std::function<bool(const v1::Event&)>& pred,
                                                absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t next = 0;
  for (;;) {
    const std::vector<v1::Event>& events = Events();
    for (; next < events.size(); ++next) {
      if (pred(events[next])) return events[next];
    }
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::vector<v1::Event> SensorProcess::FindAll(const std::function<bool(const v1::Event&)>& pred) {
  std::vector<v1::Event> out;
  for (const v1::Event& e : Events()) {
    if (pred(e)) out.push_back(e);
  }
  return out;
}

int SensorProcess::Reap(int options) {
  if (pid_ <= 0) return -1;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, options);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    exit_status_ = status;
    pid_ = -1;
    return r;
  }
  return 0;
}

int SensorProcess::WaitExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (pid_ > 0) {
    if (Reap(WNOHANG) > 0) break;
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      Reap(0);
      Events();
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  Events();
  return exit_status_;
}

int SensorProcess::Stop(absl::Duration timeout) {
  if (pid_ <= 0) return exit_status_;
  kill(pid_, SIGTERM);
  const int status = WaitExit(timeout);
  if (status == -1) ADD_FAILURE() << "sensor did not exit within " << timeout << " of SIGTERM; killed";
  return status;
}

std::optional<v1::Event> SensorProcess::FinalHealth() {
  const std::vector<v1::Event>& events = Events();
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->kind() == v1::EVENT_KIND_SENSOR_HEALTH && it->health().final()) return *it;
  }
  return std::nullopt;
}

std::string SensorProcess::Stderr() const { return ReadWholeFile(stderr_path_); }

std::string SensorProcess::DescribeStatus(int status) {
  if (status == -1) return "not exited";
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

v1::KindCounters KindCountersOf(const v1::Event& health, const std::string& kind) {
  for (const v1::KindCounters& k : health.health().kinds()) {
    if (k.kind() == kind) return k;
  }
  v1::KindCounters none;
  none.set_kind(kind);
  return none;
}

bool IsExec(const v1::Event& e) { return e.kind() == v1::EVENT_KIND_EXEC && e.has_exec(); }
bool IsExit(const v1::Event& e) { return e.kind() == v1::EVENT_KIND_EXIT && e.has_exit(); }
bool IsFork(const v1::Event& e) { return e.kind() == v1::EVENT_KIND_FORK && e.has_fork(); }

std::optional<v1::Event> StopSharedSensor(SensorProcess& sensor) {
  const int status = sensor.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "shared sensor: " << SensorProcess::DescribeStatus(status) << "\n"
      << sensor.Stderr();
  std::optional<v1::Event> health = sensor.FinalHealth();
  EXPECT_TRUE(health.has_value()) << "no final health event";
  return health;
}

void ExpectNothingLost(const v1::Event& health) {
  for (const v1::KindCounters& k : health.health().kinds()) {
    EXPECT_EQ(k.dropped_ringbuf() + k.dropped_scratch() + k.dropped_queue(), 0u) << k.ShortDebugString();
    EXPECT_EQ(k.sent(), k.received()) << k.ShortDebugString();
  }
  EXPECT_EQ(health.health().decode_errors(), 0u);
}

}  // namespace vigil::testing
