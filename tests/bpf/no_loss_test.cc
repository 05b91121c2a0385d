// No silent loss: every exec the kernel sees is either in the output or
// counted as dropped, exactly. 10,000 back-to-back execs of /bin/true, with
// the default ring buffer (nothing may be lost) and with the smallest one
// (losses must happen and must be accounted for to the event).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

constexpr int kExecs = 10000;

// Runs `total` execs of `/bin/true <tag>` (posix_spawn + waitpid each, one
// after another) split over `threads` threads. Returns how many ran.
int RunTrueWorkload(int total, int threads, const std::string& tag) {
  std::atomic<int> next{0};
  std::atomic<int> ok{0};
  auto worker = [&] {
    while (next.fetch_add(1) < total) {
      const pid_t pid = Spawn({"/bin/true", tag});
      if (WaitExit(pid) == 0) ok.fetch_add(1);
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  return ok.load();
}

struct Tally {
  uint64_t all_execs = 0;   // exec events in the output, any process
  uint64_t true_execs = 0;  // the workload's exec events
  uint64_t true_exits = 0;  // exits of the processes those execs are about
};

Tally Count(SensorProcess& sensor, const std::string& tag) {
  Tally t;
  std::set<std::string> ids;
  for (const v1::Event& e : sensor.Events()) {
    if (!IsExec(e)) continue;
    ++t.all_execs;
    const v1::Process& p = e.process();
    if (e.exec().filename() == "/bin/true" && p.ppid() == static_cast<uint32_t>(getpid()) && p.argv_size() == 2 &&
        p.argv(1) == tag) {
      ++t.true_execs;
      ids.insert(p.exec_id());
    }
  }
  for (const v1::Event& e : sensor.Events()) {
    if (IsExit(e) && ids.count(e.process().exec_id()) > 0) ++t.true_exits;
  }
  EXPECT_EQ(ids.size(), t.true_execs) << "exec ids are unique per process";
  return t;
}

void Print(const std::string& name, const Tally& t, const v1::Event& health, absl::Duration workload,
           absl::Duration total) {
  std::cout << "[" << name << "] workload " << kExecs << " execs in " << workload << ", test " << total << "\n"
            << "  output: exec events (all) " << t.all_execs << ", /bin/true exec events " << t.true_execs
            << ", their exit events " << t.true_exits << "\n";
  for (const v1::KindCounters& k : health.health().kinds()) {
    std::cout << "  " << k.kind() << ": sent " << k.sent() << ", dropped_ringbuf " << k.dropped_ringbuf()
              << ", dropped_scratch " << k.dropped_scratch() << ", read_errors " << k.read_errors() << ", received "
              << k.received() << ", dropped_queue " << k.dropped_queue() << "\n";
  }
  std::cout << "  decode_errors " << health.health().decode_errors() << std::endl;
}

TEST(NoLoss, TenThousandExecsDefaultRingBuffer) {
  RequireBpfOrSkip();
  const absl::Time start = absl::Now();
  SensorProcess sensor;
  ASSERT_OK(sensor.Start());

  const std::string tag = "noloss-default-" + Nonce();
  const absl::Time t0 = absl::Now();
  ASSERT_EQ(RunTrueWorkload(kExecs, 1, tag), kExecs);
  const absl::Duration workload = absl::Now() - t0;

  const int status = sensor.Stop(absl::Minutes(3));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SensorProcess::DescribeStatus(status) << "\n"
                                                             << sensor.Stderr();
  auto health = sensor.FinalHealth();
  ASSERT_TRUE(health.has_value()) << "no final health event";
  const Tally t = Count(sensor, tag);
  Print("default ring buffer", t, *health, workload, absl::Now() - start);

  const v1::KindCounters exec = KindCountersOf(*health, "exec");
  EXPECT_EQ(t.true_execs, static_cast<uint64_t>(kExecs));
  EXPECT_EQ(exec.dropped_ringbuf() + exec.dropped_scratch() + exec.dropped_queue() + health->health().decode_errors(),
            0u);
  EXPECT_EQ(exec.sent(), exec.received());
  EXPECT_EQ(t.all_execs, exec.received());
  // And the exits of all of them.
  EXPECT_EQ(t.true_exits, static_cast<uint64_t>(kExecs));
}

// The ring buffer at its minimum, 4096 bytes: room for about ten
// fork+exec+exit triples (~370 bytes each). Losses must be counted, to the
// event.
//
// Making losses happen reliably: on this 2-CPU machine the size alone is not
// enough. Every record wakes the sensor's reader, which empties the buffer in
// microseconds: one spawning thread gave 0 drops in 10,000 execs, two
// spawning threads gave 0 or 1 (measured). A smaller --queue_capacity only
// makes queue drops, never kernel ones, since the reader never blocks on the
// queue. So the sensor is also frozen (SIGSTOP) for 200 ms of every second,
// as a sensor starved of CPU on a busy node would be: with nobody reading,
// 4 KiB is full after a dozen spawns and the rest of each window is dropped
// in the kernel, whatever the scheduler does. Two spawning threads keep both
// CPUs busy and halve the run time.
TEST(NoLoss, TenThousandExecsTinyRingBufferAccountsForEveryLoss) {
  RequireBpfOrSkip();
  const absl::Time start = absl::Now();
  SensorProcess sensor({"--ring_buffer_bytes=4096"});
  ASSERT_OK(sensor.Start(absl::Seconds(20)));

  const std::string tag = "noloss-tiny-" + Nonce();
  std::atomic<bool> done{false};
  std::thread staller([&] {
    const pid_t pid = sensor.pid();
    while (!done.load()) {
      absl::SleepFor(absl::Milliseconds(800));
      kill(pid, SIGSTOP);
      absl::SleepFor(absl::Milliseconds(200));
      kill(pid, SIGCONT);
    }
  });
  const absl::Time t0 = absl::Now();
  const int ran = RunTrueWorkload(kExecs, 2, tag);
  const absl::Duration workload = absl::Now() - t0;
  done = true;
  staller.join();
  ASSERT_EQ(ran, kExecs);

  const int status = sensor.Stop(absl::Minutes(3));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SensorProcess::DescribeStatus(status) << "\n"
                                                             << sensor.Stderr();
  auto health = sensor.FinalHealth();
  ASSERT_TRUE(health.has_value()) << "no final health event";
  const Tally t = Count(sensor, tag);
  Print("4096-byte ring buffer", t, *health, workload, absl::Now() - start);

  const v1::KindCounters exec = KindCountersOf(*health, "exec");
  const uint64_t decode_errors = health->health().decode_errors();
  const uint64_t lost = exec.dropped_ringbuf() + exec.dropped_scratch() + exec.dropped_queue() + decode_errors;
  // The accounting identity, exactly, over the whole run.
  EXPECT_EQ(exec.sent(), exec.received()) << "after the drain every record written was read";
  EXPECT_EQ(t.all_execs, exec.received() - exec.dropped_queue() - decode_errors)
      << "every exec received and not dropped is in the output";
  // The workload: whatever is missing is counted (the counters also cover
  // other processes' execs, hence >=).
  EXPECT_LE(t.true_execs, static_cast<uint64_t>(kExecs));
  EXPECT_GE(t.true_execs + lost, static_cast<uint64_t>(kExecs))
      << (kExecs - t.true_execs) << " execs missing, only " << lost << " counted as lost";
  // And the loss path really ran.
  EXPECT_GT(exec.dropped_ringbuf(), 0u) << "no ring buffer drops: this run did not test the loss accounting";
}

}  // namespace
}  // namespace vigil::testing
