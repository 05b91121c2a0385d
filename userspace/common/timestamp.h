#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace vigil {

// `t` into `ts` in place, split as protobuf's TimeUtil splits nanoseconds
// (nanos in [0, 1e9), also before 1970), without building a Timestamp to
// assign: the decoder sets two per event.
inline void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  constexpr int64_t kNanosPerSecond = 1'000'000'000;
  const int64_t ns = absl::ToUnixNanos(t);
  int64_t seconds = ns / kNanosPerSecond;
  int64_t nanos = ns % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    --seconds;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(nanos));
}

}  // namespace vigil
