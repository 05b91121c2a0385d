// Test harness for the bpf suites: runs the real vigil-sensor binary on the
// real kernel and reads back what it wrote. Every probe family's tests use it.
//
//   TEST(Exec, Something) {
//     RequireBpfOrSkip();
//     vigil::testing::SensorProcess sensor({"--max_args=100"});
//     ASSERT_OK(sensor.Start());
//     pid_t pid = vigil::testing::Spawn({"/bin/echo", "hi"});
//     ...
//     auto ev = sensor.WaitFor([&](const v1::Event& e) { return ...; });
//   }
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "vigil/v1/event.pb.h"

namespace vigil::testing {

// The node name every harness-started sensor is given (--node_name), so
// tests can compute exec ids themselves.
inline constexpr char kTestNode[] = "vigil-bpf-test";

// Why the bpf tests cannot run here ("" when they can): not root, or no
// kernel BTF at /sys/kernel/btf/vmlinux.
std::string BpfUnavailableReason();

// True when the environment variable CI is "true" (CI must never skip).
bool InCi();

// Use at the top of every test (or SetUp) that needs the real kernel. A
// macro, not a function: GTEST_SKIP and FAIL return from the test body.
// When BPF is unavailable it skips with the reason, except under CI=true,
// where it fails: a CI run that silently skipped the kernel tests would
// prove nothing.
#define RequireBpfOrSkip()                                                                                      \
  do {                                                                                                          \
    if (const std::string vigil_bpf_why_ = ::vigil::testing::BpfUnavailableReason(); !vigil_bpf_why_.empty()) { \
      if (::vigil::testing::InCi()) {                                                                           \
        FAIL() << "CI=true but the bpf tests cannot run: " << vigil_bpf_why_;                                   \
      } else {                                                                                                  \
        GTEST_SKIP() << "bpf tests need root and kernel BTF: " << vigil_bpf_why_;                               \
      }                                                                                                         \
    }                                                                                                           \
  } while (0)

#ifndef ASSERT_OK
#define ASSERT_OK(expr)                               \
  do {                                                \
    const ::absl::Status vigil_status_ = (expr);      \
    ASSERT_TRUE(vigil_status_.ok()) << vigil_status_; \
  } while (0)
#endif

// ---- Running commands -------------------------------------------------

// posix_spawn of `path` with `argv` (argv[0] included), stdin/stdout/stderr on
// /dev/null; returns the child's pid, or -1 with a test failure recorded.
pid_t Spawn(const std::string& path, const std::vector<std::string>& argv);
// Same with path = argv[0].
pid_t Spawn(const std::vector<std::string>& argv);
// waitpid() until the child is gone; returns the raw wait status (-1 on error).
int WaitExit(pid_t pid);
// Spawn + WaitExit.
int Run(const std::vector<std::string>& argv);

// ---- The test process's own identity -----------------------------------

// Field 22 of /proc/<pid>/stat: start time in clock ticks since boot.
uint64_t StartTicks(pid_t pid);
// "<kTestNode>:<start ticks>:<pid>", as the sensor computes it.
std::string ExecIdOf(pid_t pid);
std::string SelfExecId();
// The cgroup v2 id of this process: the inode number of its cgroup2 directory
// (the "0::" line of /proc/self/cgroup, under the cgroup2 mount found in
// /proc/self/mountinfo: /sys/fs/cgroup/unified on hybrid hosts, /sys/fs/cgroup
// on pure v2). 0 when it cannot be found.
uint64_t SelfCgroupId();
// Where cgroup2 is mounted ("" if nowhere).
std::string Cgroup2Mount();
// The argv of a running process from /proc/<pid>/cmdline.
std::vector<std::string> CmdlineOf(pid_t pid);
// A random lowercase hex string, for tagging commands.
std::string Nonce();

// ---- The sensor ---------------------------------------------------------

struct SensorOptions {
  std::vector<std::string> flags;  // besides the harness's own
  // Drop to this uid and gid (with no supplementary groups, hence no
  // capabilities) in the child before exec'ing the sensor.
  std::optional<uid_t> run_as;
  // Add --output, --log_level=warn and --node_name. Off only for tests of
  // the command line itself.
  bool harness_flags = true;
};

class SensorProcess {
 public:
  explicit SensorProcess(std::vector<std::string> flags = {}, bool harness_flags = true);
  explicit SensorProcess(SensorOptions options);
  ~SensorProcess();
  SensorProcess(const SensorProcess&) = delete;
  SensorProcess& operator=(const SensorProcess&) = delete;

  // Launch() then WaitReady().
  absl::Status Start(absl::Duration ready_timeout = absl::Seconds(20));
  // Forks and execs the sensor; does not wait for anything.
  absl::Status Launch();
  // Runs a marker command (/bin/true <unique arg>) again and again until its
  // exec event is in the output: then the probes are attached and events
  // flow end to end. Fails early if the sensor exits.
  absl::Status WaitReady(absl::Duration timeout = absl::Seconds(20));

  // Every event written so far, parsed from the output file (only the lines
  // added since the last call are read). A line that is not the protobuf JSON
  // mapping of vigil.v1.Event fails the test.
  const std::vector<v1::Event>& Events();
  // First event (oldest first) satisfying `pred`, polling the output until
  // `timeout`.
  std::optional<v1::Event> WaitFor(const std::function<bool(const v1::Event&)>& pred,
                                   absl::Duration timeout = absl::Seconds(10));
  std::vector<v1::Event> FindAll(const std::function<bool(const v1::Event&)>& pred);

  // SIGTERM, then wait for the exit (SIGKILL after `timeout`). Returns the
  // raw wait status, -1 if it was never running. Reads the rest of the output.
  int Stop(absl::Duration timeout = absl::Seconds(60));
  // Waits for the sensor to exit by itself; -1 on timeout (then it is killed).
  int WaitExit(absl::Duration timeout);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // The last health event with final=true.
  std::optional<v1::Event> FinalHealth();

  // The output and stderr files are removed at destruction unless the
  // current test has failed, this was called, or VIGIL_KEEP_TEST_FILES is set.
  void KeepFiles() { keep_files_ = true; }
  const std::string& output_path() const { return output_path_; }
  // The sensor's local API socket (--api_socket), in the test's directory.
  const std::string& api_socket() const { return api_socket_; }
  std::string Stderr() const;
  // Human-readable wait status ("exit 1", "signal 9").
  static std::string DescribeStatus(int status);

 private:
  int Reap(int options);

  SensorOptions options_;
  std::string dir_;
  std::string output_path_;
  std::string stderr_path_;
  std::string api_socket_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::string nonce_;
  bool keep_files_ = false;

  std::vector<v1::Event> events_;
  std::string partial_;  // an incomplete last line, until its newline arrives
  int64_t read_offset_ = 0;
};

// Counters of `kind` ("exec", "fork", "exit") in a health event; all zero when
// the kind is not listed.
v1::KindCounters KindCountersOf(const v1::Event& health, const std::string& kind);

// Matchers for events, by kind.
bool IsExec(const v1::Event& e);
bool IsExit(const v1::Event& e);
bool IsFork(const v1::Event& e);

// ---- One sensor for a whole suite ----------------------------------------

// Stops a suite's shared sensor, expecting a clean exit (with its stderr
// otherwise), and returns its final health event (a failure when missing).
std::optional<v1::Event> StopSharedSensor(SensorProcess& sensor);

// Over the whole suite nothing was lost: every kind's drop counters are zero,
// it sent all it received, and nothing failed to decode.
void ExpectNothingLost(const v1::Event& health);

// The fixture of a suite whose tests share one sensor (starting one per test
// would take seconds each). CRTP, so each suite has its own sensor:
//
//   class FooTest : public SharedSensorSuite<FooTest> {
//    public:  // the hooks are called from the base
//     static std::vector<std::string> SensorFlags() { return {"--foo"}; }
//     static void CheckFinalHealth(const v1::Event& health) { ... }
//   };
//
// Both hooks are optional: by default no extra flags, and ExpectNothingLost.
template <typename Suite>
class SharedSensorSuite : public ::testing::Test {
 protected:
  static std::vector<std::string> SensorFlags() { return {}; }
  static void CheckFinalHealth(const v1::Event& health) { ExpectNothingLost(health); }

  static void SetUpTestSuite() {
    if (!BpfUnavailableReason().empty()) return;  // each test skips (or fails under CI) in SetUp
    sensor_ = new SensorProcess(Suite::SensorFlags());
    start_ = new absl::Status(sensor_->Start());
  }

  static void TearDownTestSuite() {
    if (sensor_ != nullptr && start_->ok()) {
      if (const std::optional<v1::Event> health = StopSharedSensor(*sensor_)) Suite::CheckFinalHealth(*health);
    }
    delete sensor_;
    delete start_;
    sensor_ = nullptr;
    start_ = nullptr;
  }

  void SetUp() override {
    RequireBpfOrSkip();
    ASSERT_NE(sensor_, nullptr);
    ASSERT_TRUE(start_->ok()) << *start_;
  }

  void TearDown() override {
    if (HasFailure() && sensor_ != nullptr) sensor_->KeepFiles();
  }

  static SensorProcess& sensor() { return *sensor_; }

 private:
  // Raw pointers: a static with a destructor would run after gtest is gone.
  static inline SensorProcess* sensor_ = nullptr;
  static inline absl::Status* start_ = nullptr;
};

}  // namespace vigil::testing
