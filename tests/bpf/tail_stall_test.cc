// A `tail` subscriber that stops reading for 30 s under load: the sensor's
// other outputs get every event and the pipeline drops nothing; only that
// subscriber loses events, and it is told how many.
#include <grpcpp/grpcpp.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"
#include "vigil/v1/sensor_api.grpc.pb.h"

namespace vigil::testing {
namespace {

constexpr int kQueue = 64;  // the stalled subscriber's queue, small so it overflows
constexpr absl::Duration kStall = absl::Seconds(30);

TEST(TailStall, StalledSubscriberLosesOnlyItsOwnEventsAndIsTold) {
  RequireBpfOrSkip();
  SensorProcess sensor({absl::StrCat("--api_queue_capacity=", kQueue)});
  ASSERT_OK(sensor.Start());

  auto stub =
      v1::SensorApi::NewStub(grpc::CreateChannel("unix:" + sensor.api_socket(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  auto stream = stub->Tail(&ctx, v1::TailRequest());  // no filter: every event
  v1::TailResponse response;
  ASSERT_TRUE(stream->Read(&response)) << "no subscription confirmation";
  ASSERT_FALSE(response.has_event());

  // The subscriber now reads nothing for kStall while the node is busy.
  const absl::Time stall_end = absl::Now() + kStall;
  const std::string tag = "stall-" + Nonce();
  std::set<pid_t> pids;
  while (absl::Now() < stall_end - absl::Seconds(5) && pids.size() < 3000) {
    const pid_t pid = Spawn({"/bin/true", tag});
    WaitExit(pid);
    pids.insert(pid);
  }
  absl::SleepFor(stall_end - absl::Now());
  std::cout << "spawned " << pids.size() << " processes during a " << kStall << " stall" << std::endl;
  ASSERT_GT(pids.size(), static_cast<size_t>(kQueue) * 4) << "too little load to overflow the subscriber's queue";

  // The other sink (the JSON-lines output) got every exec and exit.
  std::set<pid_t> execs, exits;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while ((execs.size() < pids.size() || exits.size() < pids.size()) && absl::Now() < deadline) {
    execs.clear();
    exits.clear();
    for (const v1::Event& e : sensor.Events()) {
      const pid_t pid = static_cast<pid_t>(e.process().pid());
      if (!pids.count(pid)) continue;
      if (IsExec(e) && e.process().argv_size() == 2 && e.process().argv(1) == tag) execs.insert(pid);
      if (IsExit(e)) exits.insert(pid);
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(execs.size(), pids.size());
  EXPECT_EQ(exits.size(), pids.size());

  // Reading again: the stream resumes and says how many this subscriber lost.
  uint64_t dropped = 0;
  size_t received = 0;
  const absl::Time read_deadline = absl::Now() + absl::Seconds(20);
  while (dropped == 0 && absl::Now() < read_deadline && stream->Read(&response)) {
    dropped = response.dropped();
    received += response.has_event();
  }
  std::cout << "stalled subscriber: " << received << " events read before the first drop report, " << dropped
            << " dropped" << std::endl;
  EXPECT_GT(dropped, 0u) << "the stalled subscriber was never told of its drops";

  v1::StatusResponse status;
  grpc::ClientContext status_ctx;
  ASSERT_TRUE(stub->Status(&status_ctx, v1::StatusRequest(), &status).ok());
  ASSERT_EQ(status.subscribers_size(), 1);
  EXPECT_GE(status.subscribers(0).dropped(), dropped);
  // The subscriber sees the whole node (other tests run too), so the bound
  // is everything the sensor took in, not this test's processes.
  uint64_t taken_in = 0;
  for (const v1::KindCounters& k : status.counters().kinds()) taken_in += k.received();
  EXPECT_LE(status.subscribers(0).dropped() + status.subscribers(0).sent(), taken_in + 10)
      << "it cannot have lost more than there was (health events aside)";
  EXPECT_EQ(status.subscribers(0).queue_capacity(), static_cast<uint64_t>(kQueue));
  ctx.TryCancel();

  ASSERT_EQ(sensor.Stop(), 0);
  auto health = sensor.FinalHealth();
  ASSERT_TRUE(health.has_value());
  for (const v1::KindCounters& k : health->health().kinds()) {
    EXPECT_EQ(k.dropped_queue(), 0u) << k.kind() << ": the pipeline queue dropped events";
    EXPECT_EQ(k.dropped_ringbuf(), 0u) << k.kind() << ": the kernel ring buffer overflowed";
  }
}

}  // namespace
}  // namespace vigil::testing
