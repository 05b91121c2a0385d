#pragma once

#include <memory>
#include <vector>

#include "loader/probe_set.h"
#include "metrics/registry.h"
#include "pipeline/stage.h"
#include "rules/detector.h"
#include "vigil/v1/event.pb.h"

namespace vigil {

// Mirrors the health event's counters and the probes' states into `registry`
// (called on every scrape), so /metrics and the health event never disagree.
void ExportSensorMetrics(const v1::SensorHealth& health, const std::vector<ProbeState>& probes,
                         metrics::Registry& registry);

// Every value the stages report under its metric name (those with one).
void ExportStageMetrics(const std::vector<StageReport>& reports, metrics::Registry& registry);

// Per rule: vigil_rule_eval_seconds_total{rule}.
void ExportDetectorMetrics(const DetectorStats& stats, metrics::Registry& registry);

}  // namespace vigil
