#include "sink/metrics_sinks.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"

namespace vigil {

namespace {

// SEVERITY_HIGH -> "high".
std::string SeverityLabel(v1::Severity s) {
  return absl::AsciiStrToLower(absl::StripPrefix(v1::Severity_Name(s), "SEVERITY_"));
}

class AlertCounterSink : public Sink {
 public:
  explicit AlertCounterSink(metrics::Registry* registry) : registry_(registry) {}
  absl::Status Write(const v1::Event& event) override {
    if (event.kind() != v1::EVENT_KIND_ALERT) return absl::OkStatus();
    registry_
        ->GetCounter("vigil_alerts_total",
                     "Alerts sent, by rule id and severity (a closing aggregated alert counts once more).",
                     {{"rule", event.alert().rule_id()}, {"severity", SeverityLabel(event.alert().severity())}})
        .Increment();
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  metrics::Registry* registry_;
};

class LatencySink : public Sink {
 public:
  explicit LatencySink(metrics::Histogram* latency) : latency_(latency) {}
  absl::Status Write(const v1::Event& event) override {
    if (!event.has_time()) return absl::OkStatus();
    const int64_t ns = google::protobuf::util::TimeUtil::TimestampToNanoseconds(event.time());
    latency_->Observe(static_cast<double>(absl::GetCurrentTimeNanos() - ns) / 1e9);
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  metrics::Histogram* latency_;
};

}  // namespace

std::unique_ptr<Sink> MakeAlertCounterSink(metrics::Registry& r) { return std::make_unique<AlertCounterSink>(&r); }

std::unique_ptr<Sink> MakeLatencySink(metrics::Registry& r) {
  return std::make_unique<LatencySink>(&r.GetHistogram(
      "vigil_event_latency_seconds", "From the kernel seeing an event to the event leaving the pipeline.",
      metrics::ExponentialBuckets(0.0001, 4, 10)));
}

}  // namespace vigil
