#include "sensor/sensor_metrics.h"

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
  for (const ProbeState& p : probes) {
    r.GetGauge("vigil_probe_attached", "1 when the probe is attached, by the hook it uses (none: unavailable).",
               {{"family", p.family}, {"probe", p.name}, {"hook", p.hook.empty() ? "none" : p.hook}})
        .Set(p.attached ? 1 : 0);
    if (!p.program_fds.empty()) {
      r.GetCounter("vigil_probe_missed_total",
                   "Runs of the probe the kernel skipped because one of its programs was already running on that "
                   "CPU: events lost before the probe saw them.",
                   {{"family", p.family}, {"probe", p.name}})
          .Set(p.missed);
    }
  }
}

void ExportStageMetrics(const std::vector<StageReport>& reports, metrics::Registry& r) {
  for (const StageReport& report : reports) {
    for (const StageReport::Value& v : report.values) {
      if (v.metric.empty()) continue;
      if (v.counter) {
        r.GetCounter(v.metric, v.help, v.labels).Set(v.value);
      } else {
        r.GetGauge(v.metric, v.help, v.labels).Set(v.value);
      }
    }
  }
}

void ExportDetectorMetrics(const DetectorStats& stats, metrics::Registry& r) {
  const v1::ListRulesResponse& rules = stats.rules;
  for (const v1::RuleStatus& rule : rules.rules()) {
    r.GetCounter("vigil_rule_eval_seconds_total",
                 "Time spent evaluating a rule since the rules were last loaded (a reload resets it).",
                 {{"rule", rule.id()}})
        .Set(static_cast<double>(rule.eval_nanos()) / 1e9);
  }
}

}  // namespace vigil
