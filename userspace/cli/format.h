#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vigil/v1/event.pb.h"

namespace vigil::cli {

// "exec" -> EVENT_KIND_EXEC: the EventKind name without its prefix, any case
// (the full name works too). Kinds added to event.proto work without changes.
absl::StatusOr<v1::EventKind> ParseKind(const std::string& name);
// EVENT_KIND_SENSOR_HEALTH -> "sensor_health".
std::string KindShortName(v1::EventKind kind);
// Every short name, for --help and errors.
std::vector<std::string> KindShortNames();

// SEVERITY_HIGH -> "HIGH".
std::string SeverityName(v1::Severity severity);

// One aligned line, no newline:
//   08:25:03.609 exec    6552 echo         host            /bin/echo a b c
// An alert says its severity, rule title, techniques and rule id (and its
// count when it stands for several matches):
//   08:25:04.112 alert   6553 sh           prod/web-1      HIGH Reverse shell [T1059.004] rule=5f2c…
// ANSI colours by kind when `color`.
std::string FormatCompact(const v1::Event& event, bool color);
// The protobuf JSON mapping, one line.
std::string FormatJson(const v1::Event& event);

}  // namespace vigil::cli
