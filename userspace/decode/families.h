#pragma once

// One decoder per probe family, each in its own file (process.cc, ...). The
// common header has been checked and decoded into `out` already; a family
// decodes the rest of its kinds' records.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "decode/decoder.h"
#include "vigil/v1/event.pb.h"

namespace vigil::decode {

absl::Status DecodeProcess(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions& options,
                           v1::Event& out);
// Name of one of the family's kinds, or nullptr when the kind is not its own.
const char* ProcessKindName(uint16_t kind);

absl::Status DecodeSecurity(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions& options,
                            v1::Event& out);
const char* SecurityKindName(uint16_t kind);
absl::Status DecodeNetwork(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions& options,
                           v1::Event& out);
const char* NetworkKindName(uint16_t kind);
absl::Status DecodeFile(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions& options, v1::Event& out);
const char* FileKindName(uint16_t kind);

}  // namespace vigil::decode
