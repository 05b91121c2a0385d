#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "process/process_view.h"
#include "rules/detector.h"

namespace vigil {

// Where the rules come from. Every file is Sigma YAML (docs/rules.md).
struct SigmaDetectorOptions {
  // Rule files and directories (every *.yml / *.yaml below, sorted). The
  // default ruleset is compiled into the binary (`embedded_rules`), so no
  // file is needed to start; these add to it.
  std::vector<std::string> rule_paths;
  bool embedded_rules = true;
  // The user's own exceptions, kept apart from the rules so that upgrades of
  // the default rules never overwrite them; empty or missing: none.
  std::string exceptions_file;
  // Value lists for Sigma `|expand` placeholders (`%threat_intel_domains%`):
  // <dir>/<name>.txt, one value per line, '#' comments. A file here replaces
  // the embedded default list of the same name.
  std::string lists_dir;
  // Identical alerts (same rule, same process, or same container for
  // container processes) within this window are folded into one; the window
  // closes with an `aggregated` alert carrying the final count when more
  // than one matched.
  absl::Duration aggregation_window = absl::Seconds(60);
  std::string node;  // node name set on alerts
};

// The Sigma rules engine as a pipeline stage (see rules/detector.h).
class SigmaDetector : public Detector {
 public:
  // Compiles every rule; a rule Vigil cannot honour fails the whole load
  // with "file:line:column: reason", never silently weakened. `processes`
  // (not owned, may be null) answers ancestor questions on any event kind.
  static absl::StatusOr<std::unique_ptr<SigmaDetector>> Create(SigmaDetectorOptions options,
                                                               const ProcessView* processes);

  // Re-reads every source; any thread. On success the new rules take effect
  // from the next event, atomically; on failure the rules in force stay,
  // and the error is returned and kept in Stats().rules.last_error.
  virtual absl::Status Reload() = 0;
};

// `vigilctl rules check`: compiles the given files and directories (without
// the embedded rules) as the sensor would; returns the number of rules, or
// the first error as "file:line:column: reason".
absl::StatusOr<size_t> CheckRules(const std::vector<std::string>& paths, const std::string& lists_dir = "");

}  // namespace vigil
