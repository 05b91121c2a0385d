#pragma once

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace vigil {

// Converts the kernel's CLOCK_BOOTTIME stamps to wall-clock time. The offset
// between the two clocks moves when NTP steps the wall clock, so the owner
// calls Resync() now and then.
class BootClock {
 public:
  BootClock() { Resync(); }

  void Resync();
  // Saturates: a stamp from a corrupt record must not wrap into the past.
  absl::Time ToWall(uint64_t boot_ns) const;
  static uint64_t NowBootNs();

 private:
  std::atomic<int64_t> offset_ns_{0};
};

}  // namespace vigil
