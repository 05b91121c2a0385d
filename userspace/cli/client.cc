#include "cli/client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "api/server.h"
#include "cli/format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "vigil/v1/sensor_api.grpc.pb.h"

namespace vigil::cli {

namespace {

std::unique_ptr<v1::SensorApi::Stub> Connect(const std::string& socket) {
  return v1::SensorApi::NewStub(
      grpc::CreateChannel(absl::StrCat("unix:", UnixSocketPath(socket)), grpc::InsecureChannelCredentials()));
}

void Print(FILE* f, const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), f);
  std::fputc('\n', f);
  std::fflush(f);
}

}  // namespace

int RunTail(const TailOptions& options, FILE* out, FILE* err) {
  v1::TailRequest request;
  *request.mutable_filter() = options.filter;
  request.set_queue_capacity(options.queue_capacity);
  uint64_t printed = 0;
  bool said_waiting = false;
  for (;;) {
    auto stub = Connect(options.socket);
    grpc::ClientContext ctx;
    // Waits for the socket to appear instead of failing at once: a sensor
    // being restarted comes back within seconds.
    ctx.set_wait_for_ready(options.reconnect);
    auto reader = stub->Tail(&ctx, request);
    v1::TailResponse response;
    bool connected = false;
    uint64_t dropped_seen = 0;
    while (reader->Read(&response)) {
      if (!connected) {
        connected = true;
        said_waiting = false;
        absl::FPrintF(err, "vigilctl: tailing %s (filter: %s)\n", options.socket,
                      options.filter.ByteSizeLong() == 0 ? "none" : options.filter.ShortDebugString());
        std::fflush(err);
      }
      if (response.dropped() > dropped_seen) {
        absl::FPrintF(err,
                      "vigilctl: %d events dropped: this tail did not keep up (the sensor and its other outputs "
                      "are not affected)\n",
                      response.dropped() - dropped_seen);
        std::fflush(err);
        dropped_seen = response.dropped();
      }
      if (!response.has_event()) continue;
      Print(out, options.output == Output::kJson ? FormatJson(response.event())
                                                 : FormatCompact(response.event(), options.color));
      if (options.count > 0 && ++printed >= options.count) {
        ctx.TryCancel();
        reader->Finish();
        return 0;
      }
    }
    const grpc::Status status = reader->Finish();
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      absl::FPrintF(err, "vigilctl: %s\n", status.error_message());
      return 2;
    }
    if (!options.reconnect) {
      absl::FPrintF(err, "vigilctl: stream from %s ended: %s\n", options.socket,
                    status.ok() ? "sensor stopped" : status.error_message());
      return 1;
    }
    if (!said_waiting) {
      absl::FPrintF(err, "vigilctl: %s; waiting for the sensor on %s\n",
                    connected ? "sensor stopped" : status.error_message(), options.socket);
      std::fflush(err);
      said_waiting = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

namespace {

std::string Ago(const google::protobuf::Timestamp& ts) {
  const absl::Time t = absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(ts));
  return absl::StrCat(absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", t, absl::LocalTimeZone()), " (up ",
                      absl::FormatDuration(absl::Trunc(absl::Now() - t, absl::Seconds(1))), ")");
}

void PrintStatusText(const v1::StatusResponse& r, FILE* out) {
  absl::FPrintF(out, "Vigil sensor %s on node %s: %s\n", r.version(), r.node(), r.ready() ? "ready" : "NOT READY");
  absl::FPrintF(out, "  %-10s %s\n  %-10s %s\n  %-10s %s\n", "kernel", r.kernel(), "BTF", r.btf(), "started",
                Ago(r.started()));
  absl::FPrintF(out, "  %-10s %s\n", "metrics",
                r.metrics_address().empty() ? "off" : absl::StrCat("http://", r.metrics_address(), "/metrics"));

  absl::FPrintF(out, "\nPROBES\n  %-10s %-12s %-11s %-12s %8s %s\n", "FAMILY", "PROBE", "HOOK", "STATE", "MISSED",
                "NOTES");
  for (const v1::ProbeStatus& p : r.probes()) {
    const std::string line =
        absl::StrFormat("  %-10s %-12s %-11s %-12s %8d %s", p.family(), p.name(), p.hook().empty() ? "-" : p.hook(),
                        p.attached() ? "attached" : (p.hook().empty() ? "unavailable" : "not attached"), p.missed(),
                        absl::StrJoin(p.notes(), "; "));
    absl::FPrintF(out, "%s\n", absl::StripTrailingAsciiWhitespace(line));
  }

  const v1::SensorHealth& c = r.counters();
  absl::FPrintF(out, "\nEVENTS\n  %-16s %12s %12s %14s %14s %12s %12s\n", "KIND", "SENT", "RECEIVED", "DROP-RINGBUF",
                "DROP-SCRATCH", "DROP-QUEUE", "READ-ERRORS");
  for (const v1::KindCounters& k : c.kinds()) {
    absl::FPrintF(out, "  %-16s %12d %12d %14d %14d %12d %12d\n", k.kind(), k.sent(), k.received(), k.dropped_ringbuf(),
                  k.dropped_scratch(), k.dropped_queue(), k.read_errors());
  }
  absl::FPrintF(out, "  decode errors %d, pipeline queue depth %d, process cache %d entries (%d evicted)\n",
                c.decode_errors(), c.queue_depth(), c.process_cache_size(), c.process_cache_evictions());

  absl::FPrintF(out, "\nTAIL SUBSCRIBERS\n");
  if (r.subscribers().empty()) absl::FPrintF(out, "  none\n");
  for (const v1::SubscriberStatus& s : r.subscribers()) {
    absl::FPrintF(out, "  queue %d/%d, sent %d, dropped %d, filter: %s\n", s.queue_depth(), s.queue_capacity(),
                  s.sent(), s.dropped(), s.filter());
  }

  absl::FPrintF(out, "\nCOMPONENTS\n");
  if (r.components().empty()) absl::FPrintF(out, "  none reported\n");
  for (const v1::ComponentStatus& comp : r.components()) {
    std::vector<std::pair<std::string, std::string>> details(comp.details().begin(), comp.details().end());
    std::sort(details.begin(), details.end());
    absl::FPrintF(out, "  %-28s %-10s %s\n", comp.name(), comp.state(),
                  absl::StrJoin(details, " ", absl::PairFormatter("=")));
  }
}

void PrintRulesTable(const v1::ListRulesResponse& r, FILE* out) {
  absl::FPrintF(out, "%d rules, loaded %s; reloads %d, failed reloads %d\n", r.rules_size(),
                r.has_loaded() ? Ago(r.loaded()) : "never", r.reloads(), r.reload_failures());
  if (!r.last_error().empty()) absl::FPrintF(out, "LAST RELOAD FAILED (the rules below stay): %s\n", r.last_error());
  for (const std::string& s : r.sources()) absl::FPrintF(out, "  source %s\n", s);
  absl::FPrintF(out, "\n%-8s %-36s %11s %8s %7s %9s  %-20s %s\n", "SEVERITY", "ID", "EVALUATED", "MATCHES", "ALERTS",
                "EVAL-MS", "TECHNIQUES", "TITLE");
  for (const v1::RuleStatus& rule : r.rules()) {
    absl::FPrintF(out, "%-8s %-36s %11d %8d %7d %9.1f  %-20s %s%s\n", SeverityName(rule.severity()), rule.id(),
                  rule.evaluations(), rule.matches(), rule.alerts(), static_cast<double>(rule.eval_nanos()) / 1e6,
                  rule.techniques().empty() ? "-" : absl::StrJoin(rule.techniques(), ","), rule.title(),
                  rule.correlation() ? " (correlation)" : "");
  }
}

}  // namespace

int RunRulesList(const StatusOptions& options, FILE* out, FILE* err) {
  auto stub = Connect(options.socket);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListRulesResponse response;
  const grpc::Status status = stub->ListRules(&ctx, v1::ListRulesRequest(), &response);
  if (!status.ok()) {
    absl::FPrintF(err, "vigilctl: %s: %s\n", options.socket, status.error_message());
    return 1;
  }
  if (options.output == Output::kJson) {
    std::string json;
    google::protobuf::util::JsonPrintOptions json_options;
    json_options.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(response, &json, json_options);
    Print(out, json);
  } else {
    PrintRulesTable(response, out);
  }
  return 0;
}

int RunStatus(const StatusOptions& options, FILE* out, FILE* err) {
  auto stub = Connect(options.socket);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::StatusResponse response;
  const grpc::Status status = stub->Status(&ctx, v1::StatusRequest(), &response);
  if (!status.ok()) {
    absl::FPrintF(err, "vigilctl: no sensor answering on %s: %s\n", options.socket, status.error_message());
    return 1;
  }
  if (options.output == Output::kJson) {
    std::string json;
    // Zero counters are printed: a script reading drops must see 0, not nothing.
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(response, &json, options);
    Print(out, json);
  } else {
    PrintStatusText(response, out);
  }
  return 0;
}

}  // namespace vigil::cli
