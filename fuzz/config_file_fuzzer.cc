// A daemon's configuration file (--config, /etc/vigil/<daemon>.yaml): any
// bytes are refused with their place or applied to the flags. What is
// accepted must survive the round trip users make with it: --print-config
// writes a file that loads again to the same values (secrets aside, which it
// redacts).
#include <cstddef>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/time/time.h"
#include "common/config_file.h"
#include "fuzz_support.h"

// One key of every type a daemon's flags have.
ABSL_FLAG(uint32_t, ring_buffer_bytes, 4096, "an unsigned size");
ABSL_FLAG(int64_t, max_lag, -1, "a signed integer");
ABSL_FLAG(std::string, collector, "", "a string");
ABSL_FLAG(bool, detection, true, "a switch");
ABSL_FLAG(absl::Duration, exit_grace, absl::Seconds(30), "a duration");
ABSL_FLAG(std::vector<std::string>, disable, {}, "a list");
ABSL_FLAG(std::string, azure_client_secret, "", "a secret, redacted when printed");
ABSL_FLAG(double, sample_ratio, 1.0, "a value of another type");

namespace {

const vigil::ConfigSpec& Spec() {
  static const vigil::ConfigSpec spec{.program = "vigil-fuzz",
                                      .description = "config file fuzzer",
                                      .default_path = "",
                                      .env_prefix = "VIGIL_FUZZ_",
                                      .flags_file = __FILE__};
  return spec;
}

absl::StatusOr<vigil::LoadedConfig> LoadFile(const std::string& path) {
  std::string program = "vigil-fuzz";
  std::string config = "--config=" + path;
  char* argv[] = {program.data(), config.data()};
  return vigil::LoadConfig(2, argv, Spec(), [](const std::string&) { return std::nullopt; });
}

constexpr const char* kKeys[] = {"ring_buffer_bytes", "max_lag", "collector",           "detection",
                                 "exit_grace",        "disable", "azure_client_secret", "sample_ratio"};

absl::CommandLineFlag& Flag(const char* name) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr) __builtin_trap();
  return *flag;
}

// Back to the built-in defaults (absl::FlagSaver would too, but logs every
// flag it restores).
void ResetFlags() {
  std::string error;
  for (const char* name : kKeys) {
    if (!Flag(name).ParseFrom(Flag(name).DefaultValue(), &error)) __builtin_trap();
  }
}

// Key -> value, for keys whose value --print-config prints as is.
std::map<std::string, std::string> PrintedValues() {
  std::map<std::string, std::string> values;
  for (const char* name : kKeys) {
    const std::string key = vigil::FlagKey(name);
    const std::string value = Flag(name).CurrentValue();
    if (vigil::IsSecretKey(key) || vigil::RedactSecrets(value) != value) continue;
    values[key] = value;
  }
  return values;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vigil::fuzz::ScratchDir dir;
  static const std::string path = dir.path() + "/vigil.yaml";
  static const std::string printed = dir.path() + "/printed.yaml";
  ResetFlags();  // every input starts from the defaults
  vigil::fuzz::WriteFile(path, std::string(reinterpret_cast<const char*>(data), size));
  auto loaded = LoadFile(path);
  if (!loaded.ok()) return 0;
  const std::map<std::string, std::string> before = PrintedValues();
  std::ostringstream out;
  vigil::PrintEffectiveConfig(Spec(), *loaded, out);
  vigil::fuzz::WriteFile(printed, out.str());
  if (!LoadFile(printed).ok()) __builtin_trap();
  const std::map<std::string, std::string> after = PrintedValues();
  for (const auto& [key, value] : before) {
    auto it = after.find(key);
    if (it == after.end() || it->second != value) __builtin_trap();
  }
  return 0;
}
