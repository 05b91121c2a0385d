#pragma once

// Sinks that turn the events leaving the pipeline into metrics.

#include <memory>

#include "metrics/registry.h"
#include "pipeline/stage.h"

namespace vigil {

// A sink that counts the alerts that leave the pipeline:
// vigil_alerts_total{rule,severity}.
std::unique_ptr<Sink> MakeAlertCounterSink(metrics::Registry& registry);

// A sink that observes, per event, how long after the kernel saw it the
// event left the pipeline: vigil_event_latency_seconds.
std::unique_ptr<Sink> MakeLatencySink(metrics::Registry& registry);

}  // namespace vigil
