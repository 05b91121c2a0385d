#pragma once

#include <memory>
#include <vector>

#include "loader/probe_set.h"
#include "metrics/registry.h"
#include "pipeline/stage.h"
#include "vigil/v1/event.pb.h"

namespace vigil {

// Mirrors the health event's counters and the probes' states into `registry`
// (called on every scrape), so /metrics and the health event never disagree.
void ExportSensorMetrics(const v1::SensorHealth& health, const std::vector<ProbeState>& probes,
                         metrics::Registry& registry);

// A sink that observes, per event, how long after the kernel saw it the
// event left the pipeline: vigil_event_latency_seconds.
std::unique_ptr<Sink> MakeLatencySink(metrics::Registry& registry);

}  // namespace vigil
