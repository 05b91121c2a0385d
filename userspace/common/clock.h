#pragma once

#include <time.h>

#include <functional>

#include "absl/time/time.h"

namespace vigil {

// What a component reads the time from: absl::Now in the sensor, a value a
// test moves by hand, or the time of the event being handled.
using Clock = std::function<absl::Time()>;

// The wall clock to the kernel's last tick (1 to 4 ms), read from the vDSO's
// data page without the TSC: the clock of the caches' deadlines, which are
// checked on every event and are milliseconds to seconds apart.
inline absl::Time CoarseNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return absl::TimeFromTimespec(ts);
}

}  // namespace vigil
