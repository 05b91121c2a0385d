// The sensor -> collector path end to end: the real vigil-sensor (real
// probes, as root) streams to the real vigil-collector over loopback, whose
// file forwarder writes JSON lines. Every event the sensor wrote to its own
// --output must arrive at the collector: at least once always, exactly once
// when nothing crashed.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "collector_harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

// How long the collector stays unreachable in CollectorUnreachable
// (VIGIL_E2E_OUTAGE_SECONDS; short by default so CI stays quick).
absl::Duration Outage() {
  int s = 60;  // "unreachable for a minute"
  if (const char* v = std::getenv("VIGIL_E2E_OUTAGE_SECONDS"); v != nullptr) (void)absl::SimpleAtoi(v, &s);
  return absl::Seconds(s);
}

class UplinkE2E : public ::testing::Test {
 protected:
  void SetUp() override { RequireBpfOrSkip(); }
  TempDir dir_;
};

TEST_F(UplinkE2E, EveryEventArrivesExactlyOnce) {
  CollectorProcess collector(dir_.path() + "/collector", {"--plaintext"});
  ASSERT_OK(collector.Start());
  SensorProcess sensor(UplinkFlags(collector, dir_.path() + "/spool"));
  ASSERT_OK(sensor.Start());
  const std::string tag = "vigil-e2e-" + Nonce();
  for (int i = 0; i < 200; ++i) vigil::testing::Run({"/bin/true", absl::StrCat(tag, "-", i)});
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();

  const Delivery d = WaitDelivered({&sensor}, collector);
  EXPECT_GE(d.expected, 600u);  // 200 x (fork, exec, exit) at least
  EXPECT_EQ(d.missing, 0u) << "first missing: " << d.first_missing << "\n" << collector.Log();
  EXPECT_EQ(d.duplicated, 0u);
  // The tagged execs themselves, with their argv intact.
  int tagged = 0;
  for (const v1::Event& e : collector.Events()) {
    if (IsExec(e) && e.process().argv_size() == 2 && e.process().argv(1).starts_with(tag)) ++tagged;
  }
  EXPECT_EQ(tagged, 200);
  // Nothing was lost on the way, and the sensor says so.
  auto health = sensor.FinalHealth();
  ASSERT_TRUE(health.has_value());
  EXPECT_TRUE(health->health().has_uplink());
  EXPECT_EQ(health->health().uplink().dropped_queue(), 0u);
  EXPECT_EQ(health->health().uplink().dropped_spool_cap(), 0u);
}

// Neither daemon reports its own bookkeeping (spool segments, the acked
// file, the collector's cursors and spool, their connections): each ack
// would be an event, shipped and acknowledged in turn, a loop that fills an
// idle node's stream. Another process touching Vigil's directories is
// reported: that is tampering.
TEST_F(UplinkE2E, NeitherDaemonReportsItsOwnBookkeeping) {
  const std::string collector_dir = dir_.path() + "/collector";
  CollectorProcess collector(collector_dir, {"--plaintext"});
  ASSERT_OK(collector.Start());
  const std::string spool = dir_.path() + "/spool";
  std::vector<std::string> flags = UplinkFlags(collector, spool);
  flags.push_back(std::string("--collector_exe=") + VIGIL_COLLECTOR_PATH);
  SensorProcess sensor(flags);
  ASSERT_OK(sensor.Start());
  const uint32_t daemons[] = {static_cast<uint32_t>(sensor.pid()), static_cast<uint32_t>(collector.pid())};
  {
    // Batches, acks and cursor writes for a while.
    Load load("vigil-quiet-" + Nonce(), absl::Milliseconds(20));
    absl::SleepFor(absl::Seconds(10));
  }
  const std::string tamper = "tamper-" + Nonce();
  ASSERT_EQ(vigil::testing::Run({"/bin/touch", spool + "/" + tamper, collector_dir + "/" + tamper}), 0);
  for (const std::string& dir : {spool, collector_dir}) {
    EXPECT_TRUE(sensor.WaitFor([&](const v1::Event& e) {
      return e.kind() == v1::EVENT_KIND_FILE_OPEN && e.file().path() == dir + "/" + tamper;
    })) << "touch of a file in "
        << dir << " not reported";
  }
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();

  std::map<std::string, int> own;  // "<daemon> <kind>" -> count
  for (const v1::Event& e : sensor.Events()) {
    if (e.process().pid() == daemons[0] || e.process().pid() == daemons[1])
      ++own[absl::StrCat(e.process().comm(), " ", v1::EventKind_Name(e.kind()))];
  }
  EXPECT_THAT(own, ::testing::IsEmpty()) << "events about the daemons' own calls, of " << sensor.Events().size();
}

TEST_F(UplinkE2E, CollectorKilledMidStream) {
  CollectorProcess collector(dir_.path() + "/collector", {"--plaintext"});
  ASSERT_OK(collector.Start());
  const int port = collector.port();
  SensorProcess sensor(UplinkFlags(collector, dir_.path() + "/spool"));
  ASSERT_OK(sensor.Start());
  {
    Load load("vigil-e2e-kill-" + Nonce(), absl::Milliseconds(5));
    absl::SleepFor(absl::Seconds(3));
    collector.Stop(SIGKILL);
    absl::SleepFor(absl::Seconds(2));
    ASSERT_OK(collector.Start(port));
    absl::SleepFor(absl::Seconds(2));
    // The sensor reconnects and catches up while events keep coming.
    const Delivery caught_up = WaitDelivered({&sensor}, collector);
    EXPECT_EQ(caught_up.missing, 0u) << "of " << caught_up.expected << " before stopping the sensor";
  }
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  const Delivery d = WaitDelivered({&sensor}, collector);
  EXPECT_EQ(d.missing, 0u) << "of " << d.expected << ", first missing: " << d.first_missing << "\n" << collector.Log();
  std::cout << d.expected << " events, " << d.duplicated << " delivered twice (a crash may repeat a batch)\n";
}

TEST_F(UplinkE2E, SpooledEventsSurviveASensorRestart) {
  CollectorProcess collector(dir_.path() + "/collector", {"--plaintext"});
  ASSERT_OK(collector.Start());
  const int port = collector.port();
  collector.Stop(SIGTERM);  // the first sensor run never reaches it

  const std::string spool = dir_.path() + "/spool";
  SensorProcess first(UplinkFlags(collector, spool));
  ASSERT_OK(first.Start());
  for (int i = 0; i < 50; ++i) vigil::testing::Run({"/bin/true", "vigil-e2e-first-" + std::to_string(i)});
  ASSERT_EQ(first.Stop(), 0) << first.Stderr();
  auto health = first.FinalHealth();
  ASSERT_TRUE(health.has_value());
  EXPECT_GT(health->health().uplink().pending_batches(), 0u);

  ASSERT_OK(collector.Start(port));
  SensorProcess second(UplinkFlags(collector, spool));
  ASSERT_OK(second.Start());
  for (int i = 0; i < 50; ++i) vigil::testing::Run({"/bin/true", "vigil-e2e-second-" + std::to_string(i)});
  ASSERT_EQ(second.Stop(), 0) << second.Stderr();

  const Delivery d = WaitDelivered({&first, &second}, collector);
  EXPECT_EQ(d.missing, 0u) << "of " << d.expected << ", first missing: " << d.first_missing;
  EXPECT_EQ(d.duplicated, 0u);
  // Two sensor starts, two id prefixes: ids stay unique across restarts.
  std::set<std::string> prefixes;
  for (const v1::Event& e : collector.Events()) prefixes.insert(e.id().substr(0, e.id().find('-')));
  EXPECT_EQ(prefixes.size(), 2u);
}

TEST_F(UplinkE2E, CollectorUnreachableForAWhile) {
  CollectorProcess collector(dir_.path() + "/collector", {"--plaintext"});
  ASSERT_OK(collector.Start());
  const int port = collector.port();
  SensorProcess sensor(UplinkFlags(collector, dir_.path() + "/spool"));
  ASSERT_OK(sensor.Start());
  {
    Load load("vigil-e2e-outage-" + Nonce(), absl::Milliseconds(5));
    absl::SleepFor(absl::Seconds(2));
    collector.Stop(SIGTERM);
    absl::SleepFor(Outage());  // events keep coming: the sensor spools them
    ASSERT_OK(collector.Start(port));
    absl::SleepFor(absl::Seconds(2));
    const Delivery caught_up = WaitDelivered({&sensor}, collector);
    EXPECT_EQ(caught_up.missing, 0u) << "of " << caught_up.expected << " before stopping the sensor";
  }
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  const Delivery d = WaitDelivered({&sensor}, collector);
  EXPECT_GT(d.expected, 300u);
  EXPECT_EQ(d.missing, 0u) << "of " << d.expected << ", first missing: " << d.first_missing << "\n" << collector.Log();
  EXPECT_EQ(d.duplicated, 0u) << "a normal stop: exactly once";
  std::cout << d.expected << " events across a " << Outage() << " outage\n";
}

TEST_F(UplinkE2E, SpoolCapLossIsCountedInTheHealthEvent) {
  CollectorProcess collector(dir_.path() + "/collector", {"--plaintext"});
  ASSERT_OK(collector.Start());
  collector.Stop(SIGTERM);  // unreachable throughout: everything piles up in the spool
  std::vector<std::string> flags = UplinkFlags(collector, dir_.path() + "/spool");
  flags.push_back("--spool_max_bytes=65536");
  SensorProcess sensor(flags);
  ASSERT_OK(sensor.Start());
  for (int i = 0; i < 300; ++i) vigil::testing::Run({"/bin/true", "vigil-e2e-cap-" + std::to_string(i)});
  absl::SleepFor(absl::Milliseconds(500));  // a batch is cut at least every 200 ms
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  auto health = sensor.FinalHealth();
  ASSERT_TRUE(health.has_value());
  const v1::UplinkHealth& u = health->health().uplink();
  EXPECT_GT(u.dropped_spool_cap(), 0u);
  // The newest segment always stays; a segment holds at least one batch
  // (at most 1 MiB, UplinkOptions::batch_bytes, and its record header).
  EXPECT_LE(u.spool_bytes(), 65536u + (1u << 20) + 24u);
  EXPECT_FALSE(u.connected());
  EXPECT_THAT(sensor.Stderr(), ::testing::HasSubstr("oldest data deleted"));
}

}  // namespace
}  // namespace vigil::testing
