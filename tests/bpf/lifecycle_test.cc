// The sensor's lifecycle as an operator sees it: refusing to start, with a
// clear reason and a non-zero exit, when it cannot work; and on SIGTERM
// detaching its probes, flushing everything and exiting 0.
#include <bpf/bpf.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr uid_t kNobody = 65534;

bool ExitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

// A start-up failure: the sensor exited by itself, non-zero, not by a signal,
// and not because the harness could not exec it (126/127).
void ExpectStartupFailure(int status, const std::string& err) {
  ASSERT_NE(status, -1) << "sensor still running after 20 s; stderr:\n" << err;
  EXPECT_TRUE(WIFEXITED(status)) << SensorProcess::DescribeStatus(status);
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(WEXITSTATUS(status), 126) << err;
  EXPECT_NE(WEXITSTATUS(status), 127) << err;
}

size_t Occurrences(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

struct BpfIds {
  std::set<uint32_t> links;
  std::set<uint32_t> progs;
};

// The BPF links and programs a process holds, from /proc/<pid>/fdinfo.
BpfIds BpfIdsOf(pid_t pid) {
  BpfIds ids;
  const std::string dir = absl::StrCat("/proc/", pid, "/fdinfo");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ids;
  while (dirent* ent = readdir(d)) {
    if (ent->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + ent->d_name);
    std::string line;
    while (std::getline(in, line)) {
      absl::string_view v(line);
      uint32_t id;
      if (absl::ConsumePrefix(&v, "link_id:") && absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &id)) {
        ids.links.insert(id);
      } else if (absl::ConsumePrefix(&v, "prog_id:") && absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &id)) {
        ids.progs.insert(id);
      }
    }
  }
  closedir(d);
  return ids;
}

bool LinkExists(uint32_t id) {
  int fd = bpf_link_get_fd_by_id(id);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

bool ProgExists(uint32_t id) {
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

// ---- Refusing to start ----------------------------------------------------

TEST(Lifecycle, WithoutCapabilitiesExitsNonZeroNamingThem) {
  RequireBpfOrSkip();  // root is needed to become another user
  SensorOptions options;
  options.run_as = kNobody;  // setgroups + setgid + setuid: no capabilities left
  SensorProcess sensor(options);
  ASSERT_OK(sensor.Launch());
  const int status = sensor.WaitExit(absl::Seconds(20));
  const std::string err = sensor.Stderr();
  ExpectStartupFailure(status, err);
  EXPECT_THAT(absl::AsciiStrToLower(err), HasSubstr("capabilit")) << err;
  EXPECT_THAT(err, HasSubstr("CAP_BPF")) << err;
  EXPECT_THAT(sensor.Events(), SizeIs(0));
}

TEST(Lifecycle, UnknownFlagExitsNonZeroNamingIt) {
  // Command-line errors come before anything privileged: no root needed.
  SensorProcess sensor({"--no_such_flag=1"});
  ASSERT_OK(sensor.Launch());
  const int status = sensor.WaitExit(absl::Seconds(20));
  const std::string err = sensor.Stderr();
  ExpectStartupFailure(status, err);
  EXPECT_THAT(err, HasSubstr("no_such_flag"));
}

TEST(Lifecycle, BadFlagValuesExitNonZeroNamingTheSetting) {
  struct Case {
    std::string flag;
    std::string mention;
  };
  for (const Case& c : std::vector<Case>{
           {"--ring_buffer_bytes=1000", "ring buffer size 1000"},  // not a power of two
           {"--ring_buffer_bytes=lots", "ring_buffer_bytes"},      // not a number
           {"--max_arg_bytes=0", "max argv bytes 0"},
           {"--max_arg_bytes=40000", "max argv bytes 40000"},
           {"--max_args=0", "max args"},
           {"--queue_capacity=0", "queue capacity"},
           {"--hooks=kprobe-only", "--hooks"},
           {"--log_level=loud", "--log-level"},
       }) {
    SCOPED_TRACE(c.flag);
    SensorProcess sensor({c.flag});
    ASSERT_OK(sensor.Launch());
    const int status = sensor.WaitExit(absl::Seconds(20));
    const std::string err = sensor.Stderr();
    ExpectStartupFailure(status, err);
    EXPECT_THAT(err, HasSubstr(c.mention));
  }
}

TEST(Lifecycle, MissingKernelBtfExitsNonZeroNamingThePath) {
  RequireBpfOrSkip();  // past the capability check, which comes first
  const std::string missing = "/nonexistent-vigil-test/vmlinux";
  SensorProcess sensor({"--kernel_btf=" + missing});
  ASSERT_OK(sensor.Launch());
  const int status = sensor.WaitExit(absl::Seconds(20));
  const std::string err = sensor.Stderr();
  ExpectStartupFailure(status, err);
  EXPECT_THAT(err, HasSubstr("BTF"));
  EXPECT_THAT(err, HasSubstr(missing));
  EXPECT_THAT(err, HasSubstr(strerror(ENOENT)));
}

// The message tells the operator how to fix it; the flag it names must be
// one the sensor accepts (absl flags take --kernel_btf, not --kernel-btf).
TEST(Lifecycle, MissingKernelBtfMessageNamesARealFlag) {
  RequireBpfOrSkip();
  SensorProcess sensor({"--kernel_btf=/nonexistent-vigil-test/vmlinux"});
  ASSERT_OK(sensor.Launch());
  const std::string err = (sensor.WaitExit(absl::Seconds(20)), sensor.Stderr());
  EXPECT_THAT(err, Not(HasSubstr("--kernel-btf"))) << "vigil-sensor rejects --kernel-btf as an unknown flag";
  EXPECT_THAT(err, HasSubstr("--kernel_btf"));
}

// "No such file or directory" once, not twice: errno text appended by both
// vigil::ErrnoStatus and absl::ErrnoToStatus.
TEST(Lifecycle, ErrnoTextIsNotRepeated) {
  RequireBpfOrSkip();
  SensorProcess sensor({"--kernel_btf=/nonexistent-vigil-test/vmlinux"});
  ASSERT_OK(sensor.Launch());
  const std::string err = (sensor.WaitExit(absl::Seconds(20)), sensor.Stderr());
  EXPECT_EQ(Occurrences(err, strerror(ENOENT)), 1u) << err;
}

TEST(Lifecycle, UnwritableOutputExitsNonZeroNamingIt) {
  RequireBpfOrSkip();
  const std::string output = "/nonexistent-vigil-test/events.jsonl";
  SensorProcess sensor({"--output=" + output, "--log_level=warn", absl::StrCat("--node_name=", kTestNode)},
                       /*harness_flags=*/false);
  ASSERT_OK(sensor.Launch());
  const int status = sensor.WaitExit(absl::Seconds(30));
  const std::string err = sensor.Stderr();
  ExpectStartupFailure(status, err);
  EXPECT_THAT(err, HasSubstr(output));
}

// Issue 15, defect 9: a spool directory that cannot be used (here a file is
// in its place) costs the uplink only: local events and the final health
// report go on, and health says the uplink is down.
TEST(Lifecycle, UnusableSpoolKeepsTheSensorRunningWithTheUplinkDown) {
  RequireBpfOrSkip();
  char tmpl[] = "/tmp/vigil-spool-file-XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  // Port 1 on loopback: nothing listens, and no collector is needed.
  SensorProcess sensor({"--collector=127.0.0.1:1", "--collector_plaintext", absl::StrCat("--spool_dir=", tmpl)});
  ASSERT_OK(sensor.Start());
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  unlink(tmpl);
  EXPECT_THAT(sensor.Stderr(), HasSubstr("no uplink to the collector"));
  const std::optional<v1::Event> health = sensor.FinalHealth();
  ASSERT_TRUE(health.has_value());
  ASSERT_TRUE(health->health().has_uplink());
  EXPECT_FALSE(health->health().uplink().connected());
}

// ---- Stopping -------------------------------------------------------------

void CheckCleanStop(int signal) {
  SensorProcess sensor;
  ASSERT_OK(sensor.Start());
  const BpfIds ids = BpfIdsOf(sensor.pid());
  ASSERT_GE(ids.links.size(), 3u) << "exec, fork and exit probes are attached through links";
  ASSERT_FALSE(ids.progs.empty());

  // Processes that ran to completion just before the signal: the kernel has
  // written their events, maybe not yet read by the sensor.
  constexpr int kBefore = 200;
  const std::string tag = "before-stop-" + Nonce();
  std::set<std::string> pids;
  for (int i = 0; i < kBefore; ++i) {
    const pid_t pid = Spawn({"/bin/true", tag});
    ASSERT_EQ(WaitExit(pid), 0);
    pids.insert(std::to_string(pid));
  }
  ASSERT_EQ(kill(sensor.pid(), signal), 0);
  const int status = sensor.WaitExit(absl::Seconds(60));
  const std::string err = sensor.Stderr();
  EXPECT_TRUE(ExitedWith(status, 0)) << SensorProcess::DescribeStatus(status) << "\n" << err;

  // Everything from before the signal is in the file.
  size_t execs = 0, exits = 0;
  std::set<std::string> exec_ids;
  for (const v1::Event& e : sensor.Events()) {
    if (IsExec(e) && e.process().argv_size() == 2 && e.process().argv(1) == tag) {
      ++execs;
      exec_ids.insert(e.process().exec_id());
    }
  }
  for (const v1::Event& e : sensor.Events()) {
    if (IsExit(e) && exec_ids.count(e.process().exec_id()) > 0) ++exits;
  }
  EXPECT_EQ(execs, static_cast<size_t>(kBefore));
  EXPECT_EQ(exits, static_cast<size_t>(kBefore));

  // The last line is the final health report, and it balances.
  ASSERT_FALSE(sensor.Events().empty());
  const v1::Event& last = sensor.Events().back();
  EXPECT_EQ(last.kind(), v1::EVENT_KIND_SENSOR_HEALTH);
  EXPECT_TRUE(last.health().final()) << last.ShortDebugString();
  EXPECT_EQ(last.node(), kTestNode);
  for (const v1::KindCounters& k : last.health().kinds()) {
    EXPECT_EQ(k.sent(), k.received()) << k.ShortDebugString();
    EXPECT_EQ(k.dropped_ringbuf() + k.dropped_scratch() + k.dropped_queue(), 0u) << k.ShortDebugString();
  }
  EXPECT_EQ(KindCountersOf(last, "exec").received(), sensor.FindAll(IsExec).size());

  // Probes detached, programs unloaded: the kernel objects the sensor held
  // are gone (looked up by id, so other sensors on the machine do not matter).
  for (uint32_t id : ids.links) EXPECT_FALSE(LinkExists(id)) << "bpf link " << id << " still exists";
  for (uint32_t id : ids.progs) EXPECT_FALSE(ProgExists(id)) << "bpf prog " << id << " still loaded";
}

TEST(Lifecycle, SigtermDetachesDrainsAndWritesFinalHealth) {
  RequireBpfOrSkip();
  CheckCleanStop(SIGTERM);
}

TEST(Lifecycle, SigintStopsTheSameWay) {
  RequireBpfOrSkip();
  CheckCleanStop(SIGINT);
}

}  // namespace
}  // namespace vigil::testing
