#pragma once

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vigil {

// A file compiled into the binary: the repo's default rules (rules/*.yml)
// and value lists (rules/lists/*.txt).
struct EmbeddedFile {
  absl::string_view name;  // rules: "rules/<file>.yml"; lists: the list's name ("threat_intel_domains")
  absl::string_view text;
};

// Defined by the .cc that the build generates from the repo's rules/
// (target vigil_rules_embedded); every binary that links vigil_rules links
// exactly one definition of each. Unit tests define their own.
absl::Span<const EmbeddedFile> EmbeddedRuleFiles();
absl::Span<const EmbeddedFile> EmbeddedLists();

}  // namespace vigil
