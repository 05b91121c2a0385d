#include "selftest/event_hub.h"

namespace vigil::selftest {

void EventHub::Push(const v1::Event& event) {
  absl::MutexLock lock(&mu_);
  if (events_.size() == capacity_) {
    events_.pop_front();
    ++dropped_;
  }
  events_.push_back(event);
}

void EventHub::Reset() {
  absl::MutexLock lock(&mu_);
  events_.clear();
  dropped_ = 0;
}

std::optional<v1::Event> EventHub::WaitFor(const std::function<bool(const v1::Event&)>& match, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  uint64_t seen = dropped_;  // events before this index (since Reset) are checked
  while (true) {
    for (uint64_t i = seen > dropped_ ? seen - dropped_ : 0; i < events_.size(); ++i) {
      if (match(events_[i])) return events_[i];
    }
    seen = dropped_ + events_.size();
    auto more = [this, seen] { return dropped_ + events_.size() > seen; };
    if (!mu_.AwaitWithDeadline(absl::Condition(&more), deadline)) return std::nullopt;
  }
}

}  // namespace vigil::selftest
