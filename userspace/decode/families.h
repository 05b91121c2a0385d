#pragma once

// One decoder per probe family, each in its own file (process.cc, ...). The
// common header has been checked and decoded into `out` already, and the kind
// is one the ABI declares in the family's range; a family decodes the rest.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "decode/decoder.h"
#include "vigil/v1/event.pb.h"

namespace vigil::decode {

absl::Status DecodeProcess(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions& options,
                           v1::Event& out);

absl::Status DecodeSecurity(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions& options,
                            v1::Event& out);
absl::Status DecodeNetwork(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions& options,
                           v1::Event& out);
absl::Status DecodeFile(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions& options, v1::Event& out);

}  // namespace vigil::decode
