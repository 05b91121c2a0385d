#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "vigil/v1/event.pb.h"

namespace vigil::collector {

// The two streams of the DCR in deploy/azure/, each routed to its table.
enum class RowStream {
  kEvents,  // Custom-VigilEvents_CL -> VigilEvents_CL: every kind but alerts
  kAlerts,  // Custom-VigilAlerts_CL -> VigilAlerts_CL
};

// Alerts go only to the alerts stream: they are the table analytics rules
// query, and their triggering events (in the events stream) are one join away
// through TriggerEventIds, so a copy in the events table would only be billed
// twice.
RowStream StreamOf(const v1::Event& event);

// Appends the row of `event` for its stream (StreamOf) as JSON text: one
// object whose columns are named as in deploy/azure/ (the stream declarations
// of the DCR and the VigilEvents_CL / VigilAlerts_CL tables). `cluster` is the
// name of the cluster the collector serves (events do not carry it).
//   events: flat columns, the kind-specific payload as one dynamic column;
//   alerts: the rule, its severity and MITRE ids, the process with its
//           parent, and the workload, as flat columns that Sentinel analytics
//           rules map to entities.
// Bytes that are not UTF-8 become U+FFFD rather than failing the batch.
void AppendRow(const v1::Event& event, absl::string_view cluster, std::string& out);

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
