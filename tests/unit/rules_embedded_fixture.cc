// The embedded ruleset of the rules tests: one rule and one value list,
// standing in for the generated definition that vigil-sensor links.

#include "rules/embedded.h"

namespace vigil {

absl::Span<const EmbeddedFile> EmbeddedRuleFiles() {
  static const EmbeddedFile kFiles[] = {{"rules/embedded_test.yml", R"(title: Embedded test rule
id: 00000000-0000-0000-0000-00000000e001
logsource: {category: process_creation, product: linux}
detection:
  sel: {Image|endswith: /embedded-test-tool}
  condition: sel
level: low
)"}};
  return kFiles;
}

absl::Span<const EmbeddedFile> EmbeddedLists() {
  static const EmbeddedFile kLists[] = {{"threat_intel_domains", "# test list\nevil.example\n\nbad.test\n"}};
  return kLists;
}

}  // namespace vigil
