#include "sensor/sensor_metrics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"

namespace vigil {

void ExportSensorMetrics(const v1::SensorHealth& h, const std::vector<ProbeState>& probes, metrics::Registry& r) {
  for (const v1::KindCounters& k : h.kinds()) {
    r.GetCounter("vigil_kernel_events_total", "Events the probes wrote to the ring buffer.", {{"kind", k.kind()}})
        .Set(k.sent());
    r.GetCounter("vigil_events_received_total", "Events the sensor took from the ring buffer.", {{"kind", k.kind()}})
        .Set(k.received());
    r.GetCounter("vigil_kernel_read_errors_total", "Events sent with a field the probe could not read.",
                 {{"kind", k.kind()}})
        .Set(k.read_errors());
    const char* kDropHelp =
        "Events lost, by where: ringbuf (kernel ring buffer full), scratch (no kernel scratch "
        "buffer), queue (sensor queue full).";
    r.GetCounter("vigil_events_dropped_total", kDropHelp, {{"kind", k.kind()}, {"reason", "ringbuf"}})
        .Set(k.dropped_ringbuf());
    r.GetCounter("vigil_events_dropped_total", kDropHelp, {{"kind", k.kind()}, {"reason", "scratch"}})
        .Set(k.dropped_scratch());
    r.GetCounter("vigil_events_dropped_total", kDropHelp, {{"kind", k.kind()}, {"reason", "queue"}})
        .Set(k.dropped_queue());
  }
  r.GetCounter("vigil_decode_errors_total", "Records the decoder rejected.").Set(h.decode_errors());
  r.GetGauge("vigil_pipeline_queue_depth", "Records waiting between the ring buffer reader and the pipeline.")
      .Set(h.queue_depth());
  r.GetGauge("vigil_pipeline_queue_bytes", "Their raw bytes; the queue is bounded by them (and by count).")
      .Set(h.queue_bytes());
  if (h.has_uplink()) {
    const v1::UplinkHealth& u = h.uplink();
    r.GetGauge("vigil_uplink_queue_depth", "Events waiting for the uplink's spool.").Set(u.queue_depth());
    r.GetGauge("vigil_uplink_queue_bytes", "Their serialized bytes; the queue is bounded by them (and by count).")
        .Set(u.queue_bytes());
    r.GetCounter("vigil_uplink_events_dropped_total", "Events lost on the way to the collector, by reason.",
                 {{"reason", "queue"}})
        .Set(u.dropped_queue());
    r.GetCounter("vigil_uplink_events_dropped_total", "Events lost on the way to the collector, by reason.",
                 {{"reason", "oversized"}})
        .Set(u.dropped_oversized());
    r.GetCounter("vigil_uplink_split_batches_total", "Spooled batches too large to send, sent again in parts.")
        .Set(u.split_batches());
  }
  r.GetGauge("vigil_process_cache_entries", "Processes in the lineage cache.").Set(h.process_cache_size());
  r.GetCounter("vigil_process_cache_evictions_total", "Processes evicted from the full lineage cache.")
      .Set(h.process_cache_evictions());
  for (const ProbeState& p : probes) {
    r.GetGauge("vigil_probe_attached", "1 when the probe is attached, by the hook it uses (none: unavailable).",
               {{"family", p.family}, {"probe", p.name}, {"hook", p.hook.empty() ? "none" : p.hook}})
        .Set(p.attached ? 1 : 0);
  }
}

void ExportParkMetrics(const PipelineCounters& c, metrics::Registry& r) {
  r.GetGauge("vigil_pipeline_parked_events", "Events waiting for their container's metadata while others go on.")
      .Set(c.parked_events);
  r.GetGauge("vigil_pipeline_parked_bytes", "Their serialized bytes; the park is bounded by them (and by count).")
      .Set(c.parked_bytes);
  r.GetCounter("vigil_pipeline_events_parked_total", "Events that waited for their container's metadata.")
      .Set(c.parked);
  constexpr char kParkedHelp[] =
      "Parked events sent on, by outcome: released (with the metadata), expired (without it, at their deadline).";
  r.GetCounter("vigil_pipeline_parked_sent_total", kParkedHelp, {{"outcome", "released"}}).Set(c.released);
  r.GetCounter("vigil_pipeline_parked_sent_total", kParkedHelp, {{"outcome", "expired"}}).Set(c.expired);
  r.GetCounter("vigil_pipeline_park_overflow_total",
               "Events sent on without waiting for their container's metadata: the park was full.")
      .Set(c.park_overflow);
}

void ExportDetectorMetrics(const DetectorStats& stats, metrics::Registry& r) {
  const v1::ListRulesResponse& rules = stats.rules;
  r.GetGauge("vigil_rules_loaded", "Detection rules in force (correlations included).").Set(rules.rules_size());
  r.GetCounter("vigil_rules_reloads_total", "Successful reloads of the detection rules.").Set(rules.reloads());
  r.GetCounter("vigil_rules_reload_failures_total",
               "Reloads of the detection rules that failed (the rules in force stayed).")
      .Set(rules.reload_failures());
  for (const v1::RuleStatus& rule : rules.rules()) {
    r.GetCounter("vigil_rule_eval_seconds_total",
                 "Time spent evaluating a rule since the rules were last loaded (a reload resets it).",
                 {{"rule", rule.id()}})
        .Set(static_cast<double>(rule.eval_nanos()) / 1e9);
  }
}

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
