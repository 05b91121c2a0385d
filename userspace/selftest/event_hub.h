#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "pipeline/stage.h"
#include "selftest/check.h"

namespace vigil::selftest {

// The EventWaiter the self-test gives to checks: keeps the events since the
// last Reset() (at most `capacity`, oldest dropped first) for one waiter at a
// time.
class EventHub : public EventWaiter {
 public:
  explicit EventHub(size_t capacity = 1 << 16) : capacity_(capacity) {}

  // From the pipeline's sinks (one thread at a time).
  void Push(const v1::Event& event);
  // Forgets what arrived so far: a check starts here.
  void Reset();
  std::optional<v1::Event> WaitFor(const std::function<bool(const v1::Event&)>& match, absl::Duration timeout) override;
  // Where Missed() reads the probe under test's count.
  void SetMissed(std::function<uint64_t()> missed) { missed_ = std::move(missed); }
  uint64_t Missed() override { return missed_ ? missed_() : 0; }

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  std::deque<v1::Event> events_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;  // pushed out of events_ since Reset()
  std::function<uint64_t()> missed_;           // set between checks, read by the check's thread
};

// The Sink that feeds an EventHub from the sensor's pipeline.
class EventHubSink : public Sink {
 public:
  explicit EventHubSink(EventHub* hub) : hub_(hub) {}
  absl::Status Write(const v1::Event& event) override {
    hub_->Push(event);
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  EventHub* hub_;
};

}  // namespace vigil::selftest
