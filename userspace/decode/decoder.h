#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/boot_clock.h"
#include "vigil/v1/event.pb.h"

namespace vigil {

struct DecoderOptions {
  std::string node;
  uint32_t max_args = 256;  // argv entries kept; beyond that argv_truncated is set
};

// Turns one raw ring-buffer record into a typed event. Every length inside a
// record is checked against the record's real size before it is used: a bad
// record is rejected with a status that names what is wrong, never read past
// its end. Stateless and thread-safe.
class Decoder {
 public:
  Decoder(DecoderOptions options, const BootClock* clock) : options_(std::move(options)), clock_(clock) {}

  // Fills `out` (cleared first, all but its ancestors) from `record`. No
  // record carries ancestors: they are the process cache's to set, and it
  // keeps those an exec shares with the last one decoded into `out`.
  absl::Status Decode(absl::Span<const uint8_t> record, v1::Event& out) const;

  // The kind in a record's header, for accounting before decoding; 0 when the
  // record is too short to have one.
  static uint16_t PeekKind(absl::Span<const uint8_t> record);

 private:
  DecoderOptions options_;
  const BootClock* clock_;
};

// Lower-case name of a kernel event kind ("exec"), or "kind_<n>".
std::string KindName(uint16_t kind);

}  // namespace vigil
