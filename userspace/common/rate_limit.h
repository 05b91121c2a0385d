#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vigil {

// Lets one message through per interval, and says how many it held back, so a
// repeated warning cannot flood the log. Not thread-safe: one per call site.
class RateLimit {
 public:
  explicit RateLimit(absl::Duration interval) : interval_(interval) {}

  // True when this occurrence should be logged; `suppressed` is then the
  // number held back since the last one.
  bool Allow(uint64_t& suppressed) {
    absl::Time now = absl::Now();
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
  absl::Duration interval_;
  absl::Time last_ = absl::InfinitePast();
  uint64_t held_ = 0;
};

}  // namespace vigil
