#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vigil {

// Lets one message through per interval, and says how many it held back, so a
// repeated warning cannot flood the log. Thread-safe: a call site's `static`
// instance is shared by every thread that reaches it (collector streams,
// forwarder lanes, runtime watchers).
class RateLimit {
 public:
  explicit RateLimit(absl::Duration interval) : interval_(interval) {}

  // True when this occurrence should be logged; `suppressed` is then the
  // number held back since the last one.
  bool Allow(uint64_t& suppressed) {
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    if (now - last_ < interval_) {
      ++held_;
      return false;
    }
    last_ = now;
    suppressed = held_;
    held_ = 0;
    return true;
  }

 private:
  const absl::Duration interval_;
  absl::Mutex mu_;
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t held_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vigil
