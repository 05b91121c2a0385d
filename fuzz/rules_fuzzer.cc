// A user's Sigma rules file and exceptions file (vigil-sensor --rules,
// --rule-exceptions, and a reload when they change): the input is split into
// the two files and compiled without the embedded rules. A bad file must be
// refused with its place, never crash the sensor.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "rules/ruleset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vigil::fuzz::ScratchDir dir;
  static const std::string rules = dir.path() + "/rules.yml";
  static const std::string exceptions = dir.path() + "/exceptions.yml";
  FuzzedDataProvider input(data, size);
  vigil::fuzz::WriteFile(exceptions, input.ConsumeRandomLengthString(1 << 14));
  vigil::fuzz::WriteFile(rules, input.ConsumeRemainingBytesAsString());
  (void)vigil::rules::Compile({.rule_paths = {rules},
                               .embedded_rules = false,
                               .exceptions_file = exceptions,
                               .lists_dir = "",
                               .passwd_file = "/dev/null"});
  return 0;
}
