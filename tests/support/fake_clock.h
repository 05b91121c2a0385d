// A clock the test moves by hand, for the components that take a Clock;
// safe to read from their threads.
#pragma once

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace vigil::test {

class FakeClock {
 public:
  Clock clock() {
    return [this] { return Now(); };
  }
  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

}  // namespace vigil::test
