#include "collector/azure/rows.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "sink/json_encoder.h"

namespace vigil::collector {
namespace {

// KQL datetimes have 100 ns ticks: seven fractional digits lose nothing.
std::string IsoTime(absl::Time t) { return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E7SZ", t, absl::UTCTimeZone()); }

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// The set member of the payload oneof, in the protobuf JSON mapping, so a
// new event family needs no change here.
void AddPayload(const v1::Event& event, nlohmann::json& row) {
  const auto* oneof = v1::Event::descriptor()->FindOneofByName("payload");
  const auto* field = event.GetReflection()->GetOneofFieldDescriptor(event, oneof);
  if (field == nullptr) return;
  const google::protobuf::Message& payload = event.GetReflection()->GetMessage(event, field);
  std::string json;
  if (!AppendJson(payload, json)) {
    google::protobuf::util::JsonPrintOptions options;
    if (!google::protobuf::util::MessageToJsonString(payload, &json, options).ok()) return;
  }
  row["PayloadType"] = field->name();
  row["Payload"] = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json Strings(const google::protobuf::RepeatedPtrField<std::string>& values) {
  return nlohmann::json(std::vector<std::string>(values.begin(), values.end()));
}

nlohmann::json AncestorsColumn(const v1::Event& event) {
  nlohmann::json ancestors = nlohmann::json::array();
  for (const v1::Process& a : event.ancestors()) ancestors.push_back({{"ExecId", a.exec_id()}, {"Exe", a.exe()}});
  return ancestors;
}

void AddWorkload(const v1::Workload& w, nlohmann::json& row) {
  row["Host"] = w.host();
  row["ContainerId"] = w.container_id();
  row["ContainerName"] = w.container_name();
  row["Image"] = w.image();
  row["PodName"] = w.pod_name();
  row["PodNamespace"] = w.pod_namespace();
  row["PodUid"] = w.pod_uid();
}

// Sentinel's severities are Informational, Low, Medium and High; Critical is
// kept (the analytics rules in deploy/azure fold it into High).
const char* SeverityName(v1::Severity severity) {
  switch (severity) {
    case v1::SEVERITY_INFORMATIONAL:
      return "Informational";
    case v1::SEVERITY_LOW:
      return "Low";
    case v1::SEVERITY_MEDIUM:
      return "Medium";
    case v1::SEVERITY_HIGH:
      return "High";
    case v1::SEVERITY_CRITICAL:
      return "Critical";
    default:
      return "Unspecified";
  }
}

}  // namespace

std::string KindName(v1::EventKind kind) {
  absl::string_view name = v1::EventKind_Name(kind);
  if (name.empty()) return std::to_string(static_cast<int>(kind));
  absl::ConsumePrefix(&name, "EVENT_KIND_");
  return absl::AsciiStrToLower(name);
}

RowStream StreamOf(const v1::Event& event) {
  return event.kind() == v1::EVENT_KIND_ALERT ? RowStream::kAlerts : RowStream::kEvents;
}

nlohmann::json EventToRow(const v1::Event& event, absl::string_view cluster) {
  const v1::Process& p = event.process();
  const v1::Workload& w = event.workload();
  nlohmann::json row = nlohmann::json::object();
  row["TimeGenerated"] = IsoTime(event.has_time() ? FromProto(event.time()) : absl::Now());
  row["EventId"] = event.id();
  row["Kind"] = KindName(event.kind());
  row["Cluster"] = cluster;
  row["Node"] = event.node();
  row["Pid"] = p.pid();
  row["Tid"] = p.tid();
  row["Ppid"] = p.ppid();
  // Unset ids stay out of the row (null in the table): uid 0 is root.
  if (p.has_uid()) row["Uid"] = p.uid();
  if (p.has_gid()) row["Gid"] = p.gid();
  if (p.has_euid()) row["Euid"] = p.euid();
  if (p.has_egid()) row["Egid"] = p.egid();
  row["Comm"] = p.comm();
  row["Exe"] = p.exe();
  row["CommandLine"] = absl::StrJoin(p.argv(), " ");
  row["Argv"] = nlohmann::json(std::vector<std::string>(p.argv().begin(), p.argv().end()));
  row["ArgvTruncated"] = p.argv_truncated();
  row["Cwd"] = p.cwd();
  row["ExecId"] = p.exec_id();
  row["ParentExecId"] = p.parent_exec_id();
  if (p.has_start_time()) row["ProcessStartTime"] = IsoTime(FromProto(p.start_time()));
  row["Ancestors"] = AncestorsColumn(event);
  row["CgroupId"] = w.cgroup_id();
  AddWorkload(w, row);
  AddPayload(event, row);
  return row;
}

nlohmann::json AlertToRow(const v1::Event& event, absl::string_view cluster) {
  const v1::Alert& a = event.alert();
  const v1::Process& p = event.process();
  nlohmann::json row = nlohmann::json::object();
  const absl::Time t = event.has_time() ? FromProto(event.time()) : absl::Now();
  row["TimeGenerated"] = IsoTime(t);
  row["AlertId"] = event.id();
  row["Cluster"] = cluster;
  row["Node"] = event.node();
  row["RuleId"] = a.rule_id();
  row["RuleTitle"] = a.title();
  row["Severity"] = SeverityName(a.severity());
  row["Tactics"] = Strings(a.tactics());
  row["Techniques"] = Strings(a.techniques());
  row["AlertType"] = a.alert_type();
  row["Description"] = a.description();
  row["TriggerEventIds"] = Strings(a.event_ids());
  // A single-event alert has no window of its own: it starts and ends at its
  // event, and stands for one match.
  const absl::Time first = a.has_first_time() ? FromProto(a.first_time()) : t;
  row["FirstSeen"] = IsoTime(first);
  row["LastSeen"] = IsoTime(a.has_last_time() ? FromProto(a.last_time()) : first);
  row["Count"] = std::max<uint64_t>(a.count(), 1);
  row["Aggregated"] = a.aggregated();
  row["RuleFile"] = a.rule_file();
  row["FalsePositives"] = Strings(a.false_positives());
  row["Pid"] = p.pid();
  if (p.has_uid()) row["Uid"] = p.uid();
  if (p.has_euid()) row["Euid"] = p.euid();
  row["Comm"] = p.comm();
  row["Exe"] = p.exe();
  row["CommandLine"] = absl::StrJoin(p.argv(), " ");
  row["Cwd"] = p.cwd();
  row["ExecId"] = p.exec_id();
  if (p.has_start_time()) row["ProcessStartTime"] = IsoTime(FromProto(p.start_time()));
  // Ancestors come parent first; the parent's argv is there when the process
  // cache knew it.
  const v1::Process* parent = event.ancestors().empty() ? nullptr : &event.ancestors(0);
  row["ParentPid"] = p.ppid();
  row["ParentExe"] = parent != nullptr ? parent->exe() : "";
  row["ParentCommandLine"] = parent != nullptr ? absl::StrJoin(parent->argv(), " ") : "";
  row["ParentExecId"] = p.parent_exec_id();
  row["Ancestors"] = AncestorsColumn(event);
  AddWorkload(event.workload(), row);
  row["ImageDigest"] = event.workload().image_digest();
  return row;
}

nlohmann::json RowFor(const v1::Event& event, absl::string_view cluster) {
  return StreamOf(event) == RowStream::kAlerts ? AlertToRow(event, cluster) : EventToRow(event, cluster);
}

std::string SerializeRow(const nlohmann::json& row) {
  return row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<RowRange> PackRows(absl::Span<const std::string> rows, size_t max_bytes, std::vector<size_t>& oversized) {
  std::vector<RowRange> ranges;
  size_t begin = 0;
  size_t bytes = 2;  // "[" and "]"
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].size() + 2 > max_bytes) {
      if (i > begin) ranges.push_back({begin, i});
      oversized.push_back(i);
      begin = i + 1;
      bytes = 2;
      continue;
    }
    size_t add = rows[i].size() + (i > begin ? 1 : 0);  // the separating ','
    if (bytes + add > max_bytes) {
      ranges.push_back({begin, i});
      begin = i;
      bytes = 2;
      add = rows[i].size();
    }
    bytes += add;
  }
  if (rows.size() > begin) ranges.push_back({begin, rows.size()});
  return ranges;
}

std::string JsonArrayBody(absl::Span<const std::string> rows, RowRange range) {
  std::string body = "[";
  body += absl::StrJoin(rows.subspan(range.begin, range.size()), ",");
  body += "]";
  return body;
}

}  // namespace vigil::collector
