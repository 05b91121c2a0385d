// Configuration of the daemons from a YAML file, the environment and the
// command line. Every absl flag a daemon's main.cc defines is also a key of
// its file and an environment variable; the values are applied to the flags
// themselves, so the code that reads absl::GetFlag does not know where a value
// came from. Precedence: built-in default < file < environment < command line.
//
// This is the one library that touches flags (STYLE: libraries never read
// flags): its job is to fill them, for main.cc to read.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {

struct ConfigSpec {
  // The binary's name, for messages and --help: vigil-sensor.
  std::string program;
  // One line about the binary, the head of --help.
  std::string description;
  // Read when it exists and no other file is named: /etc/vigil/sensor.yaml.
  std::string default_path;
  // VIGIL_SENSOR_: VIGIL_SENSOR_RING_BUFFER_BYTES sets ring-buffer-bytes,
  // VIGIL_SENSOR_CONFIG names the file.
  std::string env_prefix;
  // __FILE__ of the main.cc whose flags are the keys; flags that libraries
  // or absl itself define (--version, --helpfull) are not keys.
  std::string flags_file;
};

// Where a key's effective value comes from, in increasing precedence.
enum class ConfigSource { kDefault, kFile, kEnvironment, kCommandLine };

// The outcome of LoadConfig: the flags hold their effective values.
struct LoadedConfig {
  enum class Action { kRun, kHelp, kPrintConfig };
  Action action = Action::kRun;
  // The file read; empty when none.
  std::string file;
  struct Origin {
    ConfigSource source = ConfigSource::kDefault;
    // file:line, the variable's name or the flag as written.
    std::string where;
  };
  // Keys (kebab-case) whose value is not the built-in default.
  std::map<std::string, Origin> origins;
};

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> ProcessEnv(const std::string& name);

// The key of a flag: ring_buffer_bytes -> ring-buffer-bytes.
std::string FlagKey(absl::string_view flag_name);
// The environment variable of a key: VIGIL_SENSOR_RING_BUFFER_BYTES.
std::string KeyEnvVar(absl::string_view env_prefix, absl::string_view key);

// Reads argv (options --config=FILE, --print-config, --help, and every key as
// --kebab-case or --snake_case), the file and the environment, and sets the
// flags. Errors name the file:line:column, variable or flag and the key.
// absl's own flags (--version, --helpfull, --flagfile) go to
// absl::ParseCommandLine, which exits for --version and --helpfull.
// When the action is kHelp, nothing but argv was read.
absl::StatusOr<LoadedConfig> LoadConfig(int argc, char** argv, const ConfigSpec& spec,
                                        const EnvLookup& env = ProcessEnv);

// The effective configuration as YAML, a valid file for --config: every key
// with its help as a comment and where its value comes from. Values that are
// secrets are replaced by <redacted> (see IsSecretKey, RedactSecrets).
void PrintEffectiveConfig(const ConfigSpec& spec, const LoadedConfig& loaded, std::ostream& out);

// Usage: the options and every key, kebab-case, with type and default.
void PrintConfigHelp(const ConfigSpec& spec, std::ostream& out);

// A key whose value is itself a secret (not a path to one): its name ends in
// secret, password, token or credentials.
bool IsSecretKey(absl::string_view key);
// The value with the password of any URL's user information
// (scheme://user:password@host) replaced by <redacted>.
std::string RedactSecrets(absl::string_view value);

// What main() calls first: loads the configuration, prints help, the
// effective configuration or the error, and returns the exit code when the
// process is to exit now (0, or 2 for a configuration error).
std::optional<int> ConfigureFromArgs(int argc, char** argv, const ConfigSpec& spec);

}  // namespace vigil
