#include "cli/format.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace vigil::cli {

namespace {

constexpr absl::string_view kKindPrefix = "EVENT_KIND_";

const char* KindColor(v1::EventKind kind) {
  switch (kind) {
    case v1::EVENT_KIND_EXEC:
      return "\033[32m";  // green
    case v1::EVENT_KIND_EXIT:
      return "\033[90m";  // grey
    case v1::EVENT_KIND_FORK:
      return "\033[36m";  // cyan
    case v1::EVENT_KIND_ALERT:
      return "\033[1;31m";  // bold red
    case v1::EVENT_KIND_SENSOR_HEALTH:
      return "\033[33m";  // yellow
    default:
      return "\033[34m";  // blue: network, file, security kinds
  }
}

std::string Where(const v1::Workload& w) {
  if (!w.pod_name().empty()) return absl::StrCat(w.pod_namespace(), "/", w.pod_name());
  if (!w.container_name().empty()) return w.container_name();
  if (!w.container_id().empty()) return w.container_id().substr(0, 12);
  return "host";
}

// What the event says beyond who and where. Kinds this code does not know
// print their payload in protobuf text format, so they show up unchanged.
std::string Detail(const v1::Event& e) {
  switch (e.payload_case()) {
    case v1::Event::kExec:
      return absl::StrCat(absl::StrJoin(e.process().argv(), " "), e.process().argv_truncated() ? " …" : "");
    case v1::Event::kExit:
      if (e.exit().has_signal()) {
        return absl::StrCat("signal ", e.exit().signal(), e.exit().core_dumped() ? " (core dumped)" : "");
      }
      return absl::StrCat("exit ", e.exit().exit_code());
    case v1::Event::kFork:
      return absl::StrCat("from ", e.process().ppid());
    case v1::Event::kAlert: {
      const v1::Alert& a = e.alert();
      std::string line = absl::StrCat(SeverityName(a.severity()), " ", a.title());
      if (!a.techniques().empty()) absl::StrAppend(&line, " [", absl::StrJoin(a.techniques(), ","), "]");
      absl::StrAppend(&line, " rule=", a.rule_id());
      if (a.aggregated() || a.count() > 1) absl::StrAppend(&line, " count=", a.count());
      return line;
    }
    case v1::Event::kHealth: {
      uint64_t received = 0, dropped = 0;
      for (const auto& k : e.health().kinds()) {
        received += k.received();
        dropped += k.dropped_ringbuf() + k.dropped_scratch() + k.dropped_queue();
      }
      return absl::StrCat("received ", received, " dropped ", dropped, " queue ", e.health().queue_depth(),
                          e.health().final() ? " (final)" : "");
    }
    default:
      break;
  }
  const google::protobuf::OneofDescriptor* oneof = v1::Event::descriptor()->FindOneofByName("payload");
  const google::protobuf::FieldDescriptor* field = e.GetReflection()->GetOneofFieldDescriptor(e, oneof);
  if (field == nullptr || field->type() != google::protobuf::FieldDescriptor::TYPE_MESSAGE) return "";
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  std::string text;
  printer.PrintToString(e.GetReflection()->GetMessage(e, field), &text);
  return std::string(absl::StripTrailingAsciiWhitespace(text));
}

}  // namespace

std::string SeverityName(v1::Severity severity) {
  const std::string& full = v1::Severity_Name(severity);
  if (full.empty()) return absl::StrCat(static_cast<int>(severity));
  return std::string(absl::StripPrefix(full, "SEVERITY_"));
}

absl::StatusOr<v1::EventKind> ParseKind(const std::string& name) {
  const std::string upper = absl::AsciiStrToUpper(name);
  const google::protobuf::EnumDescriptor* d = v1::EventKind_descriptor();
  for (int i = 0; i < d->value_count(); ++i) {
    const std::string& full = d->value(i)->name();
    if (d->value(i)->number() == 0) continue;
    if (full == upper || absl::StripPrefix(full, kKindPrefix) == upper) {
      return static_cast<v1::EventKind>(d->value(i)->number());
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown event kind '", name, "' (known: ", absl::StrJoin(KindShortNames(), ", "), ")"));
}

std::string KindShortName(v1::EventKind kind) {
  const std::string& full = v1::EventKind_Name(kind);
  if (full.empty()) return absl::StrCat(static_cast<int>(kind));
  return absl::AsciiStrToLower(absl::StripPrefix(full, kKindPrefix));
}

std::vector<std::string> KindShortNames() {
  std::vector<std::string> out;
  const google::protobuf::EnumDescriptor* d = v1::EventKind_descriptor();
  for (int i = 0; i < d->value_count(); ++i) {
    if (d->value(i)->number() != 0) out.push_back(KindShortName(static_cast<v1::EventKind>(d->value(i)->number())));
  }
  return out;
}

std::string FormatCompact(const v1::Event& e, bool color) {
  const absl::Time t = absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(e.time()));
  const std::string time = absl::FormatTime("%H:%M:%E3S", t, absl::LocalTimeZone());
  std::string kind = KindShortName(e.kind());
  const std::string line = absl::StrFormat("%-7s %7u %-15s %-20s ", kind, e.process().pid(),
                                           e.process().comm().substr(0, 15), Where(e.workload()).substr(0, 20));
  if (!color) return absl::StrCat(time, " ", line, Detail(e));
  return absl::StrCat("\033[2m", time, "\033[0m ", KindColor(e.kind()), line, "\033[0m", Detail(e));
}

std::string FormatJson(const v1::Event& e) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(e, &out);
  return out;
}

}  // namespace vigil::cli
