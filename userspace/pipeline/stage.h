#pragma once

#include "absl/status/status.h"
#include "common/stage_report.h"
#include "vigil/v1/event.pb.h"

namespace vigil {

// A pipeline stage that adds to an event in place: process lineage,
// container and pod, ... Runs on the pipeline thread only.
class Enricher : public ReportsHealth {
 public:
  virtual void Enrich(v1::Event& event) = 0;
  void Report(std::vector<StageReport>&) const override {}
};

// Where events leave the pipeline: a file, the uplink, local subscribers.
// Runs on the pipeline thread only; must not block for long.
class Sink : public ReportsHealth {
 public:
  virtual absl::Status Write(const v1::Event& event) = 0;
  // Called when the pipeline goes idle and at shutdown.
  virtual absl::Status Flush() = 0;
  void Report(std::vector<StageReport>&) const override {}
};

}  // namespace vigil
