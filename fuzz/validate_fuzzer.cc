// The collector's checks on what a sensor publishes: up to three requests of
// one stream, each any bytes that parse as a PublishRequest, against a peer
// whose certificate names one node. Accepted requests must then store and
// deduplicate (the resend filter's fingerprint and bookkeeping).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "collector/resend_filter.h"
#include "collector/validate.h"
#include "vigil/v1/collector.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  vigil::collector::StreamState state;
  if (input.ConsumeBool()) state.certificate_names = {"node-a"};
  const vigil::collector::BatchLimits limits{.max_events = 64, .max_identity_bytes = 253};
  vigil::collector::ResendFilter filter({.per_sensor = 4, .max_sensors = 4});
  uint64_t next_index = 1;
  for (int i = 0; i < 3 && input.remaining_bytes() > 0; ++i) {
    vigil::v1::PublishRequest request;
    if (!request.ParseFromString(input.ConsumeRandomLengthString(1 << 16))) continue;
    if (!vigil::collector::ValidateRequest(request, limits, state).ok()) continue;
    // The input also says which stored copies a failed sync covered.
    (void)filter.StoreOnce(
        request, [&]() -> absl::StatusOr<uint64_t> { return next_index++; },
        [&](uint64_t) { return input.ConsumeBool(); });
  }
  return 0;
}
