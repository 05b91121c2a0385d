#pragma once

#include <memory>
#include <vector>

#include "loader/probe_set.h"
#include "metrics/registry.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"
#include "rules/detector.h"
#include "vigil/v1/event.pb.h"

namespace vigil {

// Mirrors the health event's counters and the probes' states into `registry`
// (called on every scrape), so /metrics and the health event never disagree.
void ExportSensorMetrics(const v1::SensorHealth& health, const std::vector<ProbeState>& probes,
                         metrics::Registry& registry);

// The detector's rules and reloads: vigil_rules_loaded, vigil_rules_reloads_total,
// vigil_rules_reload_failures_total, vigil_rule_eval_seconds_total{rule}.
// Events parked for their container's metadata: vigil_pipeline_parked_events,
// vigil_pipeline_parked_bytes (now), vigil_pipeline_events_parked_total,
// vigil_pipeline_parked_sent_total{outcome}, vigil_pipeline_park_overflow_total.
void ExportParkMetrics(const PipelineCounters& counters, metrics::Registry& registry);

void ExportDetectorMetrics(const DetectorStats& stats, metrics::Registry& registry);

// A sink that counts the alerts that leave the pipeline:
// vigil_alerts_total{rule,severity}.
std::unique_ptr<Sink> MakeAlertCounterSink(metrics::Registry& registry);

// A sink that observes, per event, how long after the kernel saw it the
// event left the pipeline: vigil_event_latency_seconds.
std::unique_ptr<Sink> MakeLatencySink(metrics::Registry& registry);

}  // namespace vigil
