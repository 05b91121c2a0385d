#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "vigil/v1/collector.pb.h"

namespace vigil::collector {

struct BatchLimits {
  size_t max_events = 10000;  // per batch; the byte size is capped by gRPC's max receive size
  // Each string of the sensor identity (node, cluster, instance id, ...).
  size_t max_identity_bytes = 253;  // a DNS name's longest
};

// What one Publish stream has sent so far.
struct StreamState {
  // The node names the peer's client certificate carries (its SAN DNS names,
  // else its subject CN). Empty on a plaintext listener: any name is taken.
  std::vector<std::string> certificate_names;
  bool identified = false;
  v1::SensorIdentity identity;  // of the first request; a stream never changes it
  uint64_t last_sequence = 0;
};

// The error naming what is wrong with `request`, the next request of a
// stream in `state` (InvalidArgument; PermissionDenied when the sensor claims
// a node its certificate does not name, another identity mid-stream, or
// events of another node). On OK `state` is advanced. A sensor that sends an
// invalid batch gets this status for its stream alone.
absl::Status ValidateRequest(const v1::PublishRequest& request, const BatchLimits& limits, StreamState& state);

}  // namespace vigil::collector
