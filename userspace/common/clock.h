#pragma once

#include <functional>

#include "absl/time/time.h"

namespace vigil {

// What a component reads the time from: absl::Now in the sensor, a value a
// test moves by hand, or the time of the event being handled.
using Clock = std::function<absl::Time()>;

}  // namespace vigil
