#include "api/subscribers.h"

#include <algorithm>

namespace vigil {

void Subscription::Offer(const EventPtr& event, size_t bytes) {
  absl::MutexLock lock(&mu_);
  // An empty queue takes any one event, however large.
  if (queue_.size() >= limits_.events || (!queue_.empty() && queued_bytes_ + bytes > limits_.bytes)) {
    ++dropped_;
    if (dropped_total_ != nullptr) dropped_total_->fetch_add(1, std::memory_order_relaxed);
    return;
  }
  queue_.push_back(event);
  queued_bytes_ += bytes;
}

std::vector<Subscription::EventPtr> Subscription::Take(absl::Duration timeout, uint64_t& dropped) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty(); };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  std::vector<EventPtr> out(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  queued_bytes_ = 0;
  sent_ += out.size();
  dropped = dropped_;
  return out;
}

v1::SubscriberStatus Subscription::Status() const {
  v1::SubscriberStatus s;
  s.set_filter(filter_.Describe());
  s.set_queue_capacity(limits_.events);
  absl::MutexLock lock(&mu_);
  s.set_queue_depth(queue_.size());
  s.set_sent(sent_);
  s.set_dropped(dropped_);
  return s;
}

class SubscriberHub::HubSink : public Sink {
 public:
  explicit HubSink(SubscriberHub* hub) : hub_(hub) {}
  absl::Status Write(const v1::Event& event) override {
    hub_->Offer(event);
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  void Report(std::vector<StageReport>& out) const override {
    StageReport& r = out.emplace_back();
    r.name = "local-api";
    r.Gauge("subscribers", "vigil_tail_subscribers", "Live `vigilctl tail` subscribers.", hub_->Status().size());
    r.Counter("dropped", "vigil_tail_events_dropped_total",
              "Events `vigilctl tail` subscribers lost by not keeping up (no other output is affected).",
              hub_->dropped_total());
  }

 private:
  SubscriberHub* hub_;
};

std::unique_ptr<Sink> SubscriberHub::MakeSink() { return std::make_unique<HubSink>(this); }

std::shared_ptr<Subscription> SubscriberHub::Subscribe(EventFilter filter, QueueLimits limits) {
  limits.events = std::max<size_t>(limits.events, 1);
  auto s = std::make_shared<Subscription>(std::move(filter), limits, &dropped_total_);
  absl::MutexLock lock(&mu_);
  subscriptions_.push_back(s);
  subscribed_.store(subscriptions_.size(), std::memory_order_relaxed);
  return s;
}

void SubscriberHub::Unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  absl::MutexLock lock(&mu_);
  std::erase(subscriptions_, subscription);
  subscribed_.store(subscriptions_.size(), std::memory_order_relaxed);
}

std::vector<v1::SubscriberStatus> SubscriberHub::Status() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::SubscriberStatus> out;
  for (const auto& s : subscriptions_) out.push_back(s->Status());
  return out;
}

void SubscriberHub::Offer(const v1::Event& event) {
  // Nearly always nobody tails: no lock per event then. An event offered
  // while a tail subscribes may miss it, as it may when the lock is taken.
  if (subscribed_.load(std::memory_order_relaxed) == 0) return;
  // Held only while events are copied into queues: no I/O, no waiting on a
  // subscriber.
  absl::MutexLock lock(&mu_);
  // One copy of the event, made only when a subscriber wants it: the cost
  // to the pipeline does not grow with the number of tails.
  Subscription::EventPtr copy;
  size_t bytes = 0;
  for (const auto& s : subscriptions_) {
    if (!s->Wants(event)) continue;
    if (copy == nullptr) {
      copy = std::make_shared<const v1::Event>(event);
      bytes = copy->ByteSizeLong();
    }
    s->Offer(copy, bytes);
  }
}

}  // namespace vigil
