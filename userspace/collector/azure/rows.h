#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "nlohmann/json.hpp"
#include "vigil/v1/event.pb.h"

namespace vigil::collector {

// One Log Analytics row per event: flat columns named as in
// deploy/azure/ (the stream declaration of the DCR and the VigilEvents_CL
// table), the kind-specific payload as one dynamic column.
nlohmann::json EventToRow(const v1::Event& event);

// The row as JSON text. Bytes that are not UTF-8 become U+FFFD rather than
// failing the whole batch.
std::string SerializeRow(const nlohmann::json& row);

// "exec", "exit", ... : the EventKind name without its prefix, lower case.
std::string KindName(v1::EventKind kind);

// Half-open range [begin, end) of rows.
struct RowRange {
  size_t begin;
  size_t end;
  size_t size() const { return end - begin; }
};

// Packs serialized rows, in order, into the fewest consecutive ranges whose
// JSON array body ("[" rows joined by "," "]") is at most `max_bytes`. A row
// that alone exceeds it is returned in `oversized` (as its index) instead.
std::vector<RowRange> PackRows(absl::Span<const std::string> rows, size_t max_bytes, std::vector<size_t>& oversized);

// The JSON array body of rows[range].
std::string JsonArrayBody(absl::Span<const std::string> rows, RowRange range);

}  // namespace vigil::collector
