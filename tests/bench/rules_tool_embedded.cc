// The rules tools below (benchmark, SigmaHQ compatibility) load rules from
// files only: they link no embedded ruleset.

#include "rules/embedded.h"

namespace vigil {

absl::Span<const EmbeddedFile> EmbeddedRuleFiles() { return {}; }
absl::Span<const EmbeddedFile> EmbeddedLists() { return {}; }

}  // namespace vigil
