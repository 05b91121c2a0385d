#include "collector/azure/rows.h"

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

}  // namespace

std::string KindName(v1::EventKind kind) {
  absl::string_view name = v1::EventKind_Name(kind);
  if (name.empty()) return std::to_string(static_cast<int>(kind));
  absl::ConsumePrefix(&name, "EVENT_KIND_");
  return absl::AsciiStrToLower(name);
}

nlohmann::json EventToRow(const v1::Event& event) {
  const v1::Process& p = event.process();
  const v1::Workload& w = event.workload();
  nlohmann::json row = nlohmann::json::object();
  row["TimeGenerated"] = IsoTime(event.has_time() ? FromProto(event.time()) : absl::Now());
  row["EventId"] = event.id();
  row["Kind"] = KindName(event.kind());
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
  nlohmann::json ancestors = nlohmann::json::array();
  for (const v1::Process& a : event.ancestors()) ancestors.push_back({{"ExecId", a.exec_id()}, {"Exe", a.exe()}});
  row["Ancestors"] = std::move(ancestors);
  row["CgroupId"] = w.cgroup_id();
  row["Host"] = w.host();
  row["ContainerId"] = w.container_id();
  row["ContainerName"] = w.container_name();
  row["Image"] = w.image();
  row["PodName"] = w.pod_name();
  row["PodNamespace"] = w.pod_namespace();
  row["PodUid"] = w.pod_uid();
  AddPayload(event, row);
  return row;
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
