#include "cli/rules_check.h"

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "rules/sigma_detector.h"

namespace vigil::cli {

int RunRulesCheck(const std::vector<std::string>& paths, const std::string& lists_dir, FILE* out, FILE* err) {
  absl::StatusOr<size_t> rules = CheckRules(paths, lists_dir);
  if (!rules.ok()) {
    // Bare "file:line:column: reason", as compilers print it, for editors.
    absl::FPrintF(err, "%s\n", rules.status().message());
    return 1;
  }
  absl::FPrintF(out, "%d rules OK in %s\n", *rules, absl::StrJoin(paths, " "));
  return 0;
}

}  // namespace vigil::cli
