#include "collector/azure/rows.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "sink/json_encoder.h"

namespace vigil::collector {
namespace {

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// One row, written column by column as JSON text, with no document tree in
// between. Strings are escaped as the event encoder escapes them, bytes that
// are not UTF-8 become U+FFFD.
class RowWriter {
 public:
  explicit RowWriter(std::string& out) : out_(out) { out_ += '{'; }
  ~RowWriter() { out_ += '}'; }

  void String(absl::string_view key, absl::string_view value) {
    Key(key);
    AppendJsonString(value, out_);
  }
  void Number(absl::string_view key, uint64_t value) {
    Key(key);
    absl::StrAppend(&out_, value);
  }
  void Bool(absl::string_view key, bool value) {
    Key(key);
    out_ += value ? "true" : "false";
  }
  // KQL datetimes have 100 ns ticks: seven fractional digits lose nothing.
  void Time(absl::string_view key, absl::Time t) {
    Key(key);
    out_ += '"';
    out_ += absl::FormatTime("%Y-%m-%d%ET%H:%M:%E7SZ", t, absl::UTCTimeZone());
    out_ += '"';
  }
  void Strings(absl::string_view key, const google::protobuf::RepeatedPtrField<std::string>& values) {
    Key(key);
    out_ += '[';
    for (int i = 0; i < values.size(); ++i) {
      if (i > 0) out_ += ',';
      AppendJsonString(values.Get(i), out_);
    }
    out_ += ']';
  }
  // Words joined by single spaces, as one string: a command line.
  void Joined(absl::string_view key, const google::protobuf::RepeatedPtrField<std::string>& words) {
    String(key, absl::StrJoin(words, " "));
  }
  // Each ancestor's exec id and executable, parent first.
  void Ancestors(const v1::Event& event) {
    Key("Ancestors");
    out_ += '[';
    for (int i = 0; i < event.ancestors_size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += "{\"ExecId\":";
      AppendJsonString(event.ancestors(i).exec_id(), out_);
      out_ += ",\"Exe\":";
      AppendJsonString(event.ancestors(i).exe(), out_);
      out_ += '}';
    }
    out_ += ']';
  }
  void Workload(const v1::Workload& w) {
    Bool("Host", w.host());
    String("ContainerId", w.container_id());
    String("ContainerName", w.container_name());
    String("Image", w.image());
    String("PodName", w.pod_name());
    String("PodNamespace", w.pod_namespace());
    String("PodUid", w.pod_uid());
  }
  // The set member of the payload oneof, in the protobuf JSON mapping, so a
  // new event family needs no change here.
  void Payload(const v1::Event& event) {
    static const auto* const oneof = v1::Event::descriptor()->FindOneofByName("payload");
    const auto* field = event.GetReflection()->GetOneofFieldDescriptor(event, oneof);
    if (field == nullptr) return;
    const google::protobuf::Message& payload = event.GetReflection()->GetMessage(event, field);
    String("PayloadType", field->name());
    Key("Payload");
    if (AppendJson(payload, out_)) return;
    std::string json;  // what the encoder leaves to protobuf's printer
    if (!google::protobuf::util::MessageToJsonString(payload, &json).ok()) json = "{}";
    out_ += json;
  }

 private:
  void Key(absl::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_.append(key.data(), key.size());
    out_ += "\":";
  }

  std::string& out_;
  bool first_ = true;
};

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

void AppendEventRow(const v1::Event& event, absl::string_view cluster, std::string& out) {
  const v1::Process& p = event.process();
  RowWriter row(out);
  row.Time("TimeGenerated", event.has_time() ? FromProto(event.time()) : absl::Now());
  row.String("EventId", event.id());
  row.String("Kind", KindName(event.kind()));
  row.String("Cluster", cluster);
  row.String("Node", event.node());
  row.Number("Pid", p.pid());
  row.Number("Tid", p.tid());
  row.Number("Ppid", p.ppid());
  // Unset ids stay out of the row (null in the table): uid 0 is root.
  if (p.has_uid()) row.Number("Uid", p.uid());
  if (p.has_gid()) row.Number("Gid", p.gid());
  if (p.has_euid()) row.Number("Euid", p.euid());
  if (p.has_egid()) row.Number("Egid", p.egid());
  row.String("Comm", p.comm());
  row.String("Exe", p.exe());
  row.Joined("CommandLine", p.argv());
  row.Strings("Argv", p.argv());
  row.Bool("ArgvTruncated", p.argv_truncated());
  row.String("Cwd", p.cwd());
  row.String("ExecId", p.exec_id());
  row.String("ParentExecId", p.parent_exec_id());
  if (p.has_start_time()) row.Time("ProcessStartTime", FromProto(p.start_time()));
  row.Ancestors(event);
  row.Number("CgroupId", event.workload().cgroup_id());
  row.Workload(event.workload());
  row.Payload(event);
}

void AppendAlertRow(const v1::Event& event, absl::string_view cluster, std::string& out) {
  const v1::Alert& a = event.alert();
  const v1::Process& p = event.process();
  RowWriter row(out);
  const absl::Time t = event.has_time() ? FromProto(event.time()) : absl::Now();
  row.Time("TimeGenerated", t);
  row.String("AlertId", event.id());
  row.String("Cluster", cluster);
  row.String("Node", event.node());
  row.String("RuleId", a.rule_id());
  row.String("RuleTitle", a.title());
  row.String("Severity", SeverityName(a.severity()));
  row.Strings("Tactics", a.tactics());
  row.Strings("Techniques", a.techniques());
  row.String("AlertType", a.alert_type());
  row.String("Description", a.description());
  row.Strings("TriggerEventIds", a.event_ids());
  // A single-event alert has no window of its own: it starts and ends at its
  // event, and stands for one match.
  const absl::Time first = a.has_first_time() ? FromProto(a.first_time()) : t;
  row.Time("FirstSeen", first);
  row.Time("LastSeen", a.has_last_time() ? FromProto(a.last_time()) : first);
  row.Number("Count", std::max<uint64_t>(a.count(), 1));
  row.Bool("Aggregated", a.aggregated());
  row.String("RuleFile", a.rule_file());
  row.Strings("FalsePositives", a.false_positives());
  row.Number("Pid", p.pid());
  if (p.has_uid()) row.Number("Uid", p.uid());
  if (p.has_euid()) row.Number("Euid", p.euid());
  row.String("Comm", p.comm());
  row.String("Exe", p.exe());
  row.Joined("CommandLine", p.argv());
  row.String("Cwd", p.cwd());
  row.String("ExecId", p.exec_id());
  if (p.has_start_time()) row.Time("ProcessStartTime", FromProto(p.start_time()));
  // Ancestors come parent first; the parent's argv is there when the process
  // cache knew it.
  const v1::Process* parent = event.ancestors().empty() ? nullptr : &event.ancestors(0);
  row.Number("ParentPid", p.ppid());
  row.String("ParentExe", parent != nullptr ? parent->exe() : "");
  row.String("ParentCommandLine", parent != nullptr ? absl::StrJoin(parent->argv(), " ") : "");
  row.String("ParentExecId", p.parent_exec_id());
  row.Ancestors(event);
  row.Workload(event.workload());
  row.String("ImageDigest", event.workload().image_digest());
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

void AppendRow(const v1::Event& event, absl::string_view cluster, std::string& out) {
  if (StreamOf(event) == RowStream::kAlerts) {
    AppendAlertRow(event, cluster, out);
  } else {
    AppendEventRow(event, cluster, out);
  }
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
