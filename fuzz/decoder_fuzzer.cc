// Ring-buffer records as the probes write them: the decoder must reject any
// malformed record without reading past it, and whatever it accepts must be
// an event the collector can parse back (valid UTF-8 in every string).
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/types/span.h"
#include "common/boot_clock.h"
#include "decode/decoder.h"
#include "vigil/v1/event.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vigil::BootClock clock;
  static const vigil::Decoder decoder({.node = "fuzz-node", .max_args = 16}, &clock);
  const auto record = absl::MakeConstSpan(data, size);
  (void)vigil::Decoder::PeekKind(record);
  vigil::v1::Event event;
  if (!decoder.Decode(record, event).ok()) return 0;
  std::string wire;
  if (!event.SerializeToString(&wire)) __builtin_trap();
  vigil::v1::Event parsed;
  if (!parsed.ParseFromString(wire)) __builtin_trap();  // the collector would drop it
  return 0;
}
