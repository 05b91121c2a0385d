#include "selftest/event_hub.h"

#include <gtest/gtest.h>

#include <thread>

namespace vigil::selftest {
namespace {

v1::Event ExecOfPid(uint32_t pid) {
  v1::Event e;
  e.set_kind(v1::EVENT_KIND_EXEC);
  e.mutable_process()->set_pid(pid);
  return e;
}

auto PidIs(uint32_t pid) {
  return [pid](const v1::Event& e) { return e.process().pid() == pid; };
}

TEST(EventHub, FindsAnEventThatArrivedBeforeTheWait) {
  EventHub hub;
  hub.Push(ExecOfPid(1));
  hub.Push(ExecOfPid(2));
  auto e = hub.WaitFor(PidIs(2), absl::ZeroDuration());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->process().pid(), 2u);
}

TEST(EventHub, ResetForgetsEarlierEvents) {
  EventHub hub;
  hub.Push(ExecOfPid(1));
  hub.Reset();
  EXPECT_FALSE(hub.WaitFor(PidIs(1), absl::Milliseconds(10)).has_value());
}

TEST(EventHub, WaitsForALaterEvent) {
  EventHub hub;
  std::thread pusher([&] {
    absl::SleepFor(absl::Milliseconds(50));
    hub.Push(ExecOfPid(3));
    absl::SleepFor(absl::Milliseconds(50));
    hub.Push(ExecOfPid(4));
  });
  auto e = hub.WaitFor(PidIs(4), absl::Seconds(10));
  pusher.join();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->process().pid(), 4u);
}

TEST(EventHub, TimesOutWithoutAMatch) {
  EventHub hub;
  hub.Push(ExecOfPid(1));
  const absl::Time start = absl::Now();
  EXPECT_FALSE(hub.WaitFor(PidIs(9), absl::Milliseconds(100)).has_value());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
}

TEST(EventHub, KeepsTheNewestEventsWhenFull) {
  EventHub hub(/*capacity=*/2);
  for (uint32_t pid = 1; pid <= 5; ++pid) hub.Push(ExecOfPid(pid));
  EXPECT_FALSE(hub.WaitFor(PidIs(3), absl::ZeroDuration()).has_value());
  EXPECT_TRUE(hub.WaitFor(PidIs(4), absl::ZeroDuration()).has_value());
  EXPECT_TRUE(hub.WaitFor(PidIs(5), absl::ZeroDuration()).has_value());
}

}  // namespace
}  // namespace vigil::selftest
