#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "vigil/v1/collector.pb.h"

namespace vigil::collector {

struct BatchLimits {
  size_t max_events = 10000;  // per batch; the byte size is capped by gRPC's max receive size
};

// What one Publish stream has sent so far.
struct StreamState {
  bool identified = false;
  uint64_t last_sequence = 0;
};

// InvalidArgument naming what is wrong with `request`, the next request of a
// stream in `state`; on OK `state` is advanced. A sensor that sends an
// invalid batch gets this status for its stream alone.
absl::Status ValidateRequest(const v1::PublishRequest& request, const BatchLimits& limits, StreamState& state);

}  // namespace vigil::collector
