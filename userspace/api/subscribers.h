#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/filter.h"
#include "pipeline/stage.h"
#include "vigil/v1/sensor_api.pb.h"

namespace vigil {

// How much one subscriber may hold back: events, and their encoded bytes
// (an exec with a long argv and its ancestors can be tens of KiB).
struct QueueLimits {
  size_t events = 4096;
  size_t bytes = 16 << 20;
};

// One live `tail`: its filter and its own bounded queue. The pipeline pushes
// (never waits), the API thread serving the subscriber pops.
class Subscription {
 public:
  // `dropped_total` (may be null) counts drops of every subscription, for metrics.
  Subscription(EventFilter filter, QueueLimits limits, std::atomic<uint64_t>* dropped_total = nullptr)
      : filter_(std::move(filter)), limits_(limits), dropped_total_(dropped_total) {}

  using EventPtr = std::shared_ptr<const v1::Event>;

  bool Wants(const v1::Event& event) const { return filter_.Matches(event); }
  // Pipeline thread, for an event Wants() said yes to, `bytes` long encoded:
  // queued, or, when the queue is full, dropped and counted. Every subscriber
  // shares one copy.
  void Offer(const EventPtr& event, size_t bytes);
  // Waits up to `timeout` for events; moves out everything queued. `dropped`
  // is this subscriber's drop count so far.
  std::vector<EventPtr> Take(absl::Duration timeout, uint64_t& dropped);

  v1::SubscriberStatus Status() const;

 private:
  const EventFilter filter_;
  const QueueLimits limits_;
  std::atomic<uint64_t>* const dropped_total_;
  mutable absl::Mutex mu_;
  std::deque<EventPtr> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

// Every live subscription, fed by one Sink in the pipeline.
class SubscriberHub {
 public:
  std::shared_ptr<Subscription> Subscribe(EventFilter filter, QueueLimits limits);
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);
  std::vector<v1::SubscriberStatus> Status() const;
  // Events dropped by all subscribers, present and past.
  uint64_t dropped_total() const { return dropped_total_.load(std::memory_order_relaxed); }

  // The sink to put into the pipeline; it must not outlive the hub.
  std::unique_ptr<Sink> MakeSink();

 private:
  class HubSink;
  void Offer(const v1::Event& event);

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Subscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> subscribed_{0};  // subscriptions_.size(), read without mu_
  std::atomic<uint64_t> dropped_total_{0};
};

}  // namespace vigil
