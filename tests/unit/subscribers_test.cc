// The local API's subscriber hub with the threads it has in the sensor: the
// pipeline thread offers events through the hub's sink while API threads
// take from their subscriptions, subscribe, unsubscribe and read status.
// Run under ThreadSanitizer by scripts/sanitize.sh, as well as here.
#include "api/subscribers.h"

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace vigil {
namespace {

constexpr uint64_t kEvents = 20000;

EventFilter AllEvents() {
  auto filter = EventFilter::Create(v1::TailFilter());
  EXPECT_TRUE(filter.ok()) << filter.status();
  return *std::move(filter);
}

// Takes until the pipeline is done and the queue is empty; the pids taken.
std::vector<uint32_t> Drain(Subscription& s, const std::atomic<bool>& done, uint64_t& dropped) {
  std::vector<uint32_t> pids;
  for (;;) {
    const bool last = done.load();
    for (const auto& e : s.Take(absl::Milliseconds(5), dropped)) pids.push_back(e->process().pid());
    if (last) {
      for (const auto& e : s.Take(absl::ZeroDuration(), dropped)) pids.push_back(e->process().pid());
      return pids;
    }
  }
}

// A subscriber with room gets every event, once, in order; one with a
// small queue that sleeps gets some, and each event it did not get is
// counted as dropped, in its status and in the hub's total. Meanwhile other
// tails come and go and status is read.
TEST(SubscriberHub, FastAndSlowSubscribersWhileTailsComeAndGo) {
  SubscriberHub hub;
  std::unique_ptr<Sink> sink = hub.MakeSink();
  // Room for every event: keeping up must not depend on the scheduler.
  auto fast = hub.Subscribe(AllEvents(), QueueLimits{.events = kEvents, .bytes = size_t{1} << 30});
  auto slow = hub.Subscribe(AllEvents(), QueueLimits{.events = 16, .bytes = 1 << 20});
  std::atomic<bool> done{false};

  std::thread pipeline([&] {
    v1::Event e;
    e.set_kind(v1::EVENT_KIND_EXEC);
    for (uint64_t i = 0; i < kEvents; ++i) {
      e.mutable_process()->set_pid(static_cast<uint32_t>(i));
      EXPECT_TRUE(sink->Write(e).ok());
    }
    done = true;
  });
  uint64_t fast_dropped = 0, slow_dropped = 0;
  std::vector<uint32_t> fast_pids, slow_pids;
  std::thread fast_reader([&] { fast_pids = Drain(*fast, done, fast_dropped); });
  std::thread slow_reader([&] {
    while (!done.load()) {
      uint64_t dropped = 0;
      for (const auto& e : slow->Take(absl::ZeroDuration(), dropped)) slow_pids.push_back(e->process().pid());
      absl::SleepFor(absl::Milliseconds(1));
    }
    for (const auto& e : slow->Take(absl::ZeroDuration(), slow_dropped)) slow_pids.push_back(e->process().pid());
  });
  std::thread churn([&] {
    uint64_t ignored = 0;
    while (!done.load()) {
      auto s = hub.Subscribe(AllEvents(), QueueLimits{.events = 4, .bytes = 1 << 20});
      s->Take(absl::Microseconds(200), ignored);
      hub.Unsubscribe(s);
      // No queue beyond the largest limit (the fast tail's may hold them all).
      for (const v1::SubscriberStatus& st : hub.Status()) EXPECT_LE(st.queue_depth(), kEvents);
    }
  });
  pipeline.join();
  fast_reader.join();
  slow_reader.join();
  churn.join();

  EXPECT_EQ(fast_dropped, 0u);
  ASSERT_EQ(fast_pids.size(), kEvents);
  for (uint64_t i = 0; i < kEvents; ++i) ASSERT_EQ(fast_pids[i], i) << "out of order or repeated";
  EXPECT_GT(slow_dropped, 0u) << "the slow subscriber kept up: the test did not test";
  EXPECT_EQ(slow_pids.size() + slow_dropped, kEvents);
  for (size_t i = 1; i < slow_pids.size(); ++i) ASSERT_LT(slow_pids[i - 1], slow_pids[i]);
  EXPECT_GE(hub.dropped_total(), slow_dropped);
  EXPECT_EQ(hub.Status().size(), 2u);  // every churned tail is gone
}

}  // namespace
}  // namespace vigil
