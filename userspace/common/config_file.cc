#include "common/config_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/algorithm/container.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/utf8.h"

namespace vigil {
namespace {

constexpr char kRedacted[] = "<redacted>";
// absl's usage flags besides --help and --helpshort, which print our own help.
constexpr absl::string_view kAbslUsageFlags[] = {"helpfull",        "helppackage", "version",
                                                 "only_check_args", "helpon",      "helpmatch"};

// absl keeps a flag's file name without leading slashes (its default
// normalize_filename); compare the two that way.
absl::string_view WithoutLeadingSlashes(absl::string_view path) {
  while (absl::ConsumePrefix(&path, "/") || absl::ConsumePrefix(&path, "./")) {
  }
  return path;
}

// The flags that are keys, by flag name (snake_case), sorted.
std::map<std::string, absl::CommandLineFlag*> Keys(const ConfigSpec& spec) {
  std::map<std::string, absl::CommandLineFlag*> keys;
  const absl::string_view file = WithoutLeadingSlashes(spec.flags_file);
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (WithoutLeadingSlashes(flag->Filename()) == file) keys.emplace(std::string(name), flag);
  }
  return keys;
}

std::string FlagName(absl::string_view key) { return absl::StrReplaceAll(key, {{"-", "_"}}); }

bool IsList(const absl::CommandLineFlag& flag) { return flag.IsOfType<std::vector<std::string>>(); }

std::string TypeName(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "bool";
  if (flag.IsOfType<std::string>()) return "string";
  if (flag.IsOfType<absl::Duration>()) return "duration";
  if (IsList(flag)) return "list";
  if (flag.IsOfType<uint32_t>() || flag.IsOfType<uint64_t>()) return "unsigned";
  if (flag.IsOfType<int>() || flag.IsOfType<int64_t>()) return "integer";
  return "value";
}

absl::Status Apply(absl::CommandLineFlag& flag, absl::string_view value, absl::string_view where) {
  std::string error;
  if (flag.ParseFrom(value, &error)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": ", FlagKey(flag.Name()), ": bad value \"", value, "\": ", error));
}

std::string Position(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  return absl::StrCat(file, ":", mark.line + 1, ":", mark.column + 1);
}

// One setting from the command line, applied after the file and environment.
struct ArgSetting {
  absl::CommandLineFlag* flag;
  std::string value;
  std::string written;  // as the user wrote it, for messages
};

// --nodetection and --no-detection set detection to false, like absl's --noflag.
template <typename Ours>
absl::CommandLineFlag* NegatedBool(absl::string_view name, const Ours& ours) {
  if (!absl::ConsumePrefix(&name, "no")) return nullptr;
  absl::ConsumePrefix(&name, "_");
  absl::CommandLineFlag* flag = ours(std::string(name));
  return flag != nullptr && flag->IsOfType<bool>() ? flag : nullptr;
}

struct ParsedArgs {
  std::optional<std::string> config;
  bool print_config = false;
  bool help = false;
  std::vector<ArgSetting> settings;
  std::vector<std::string> passthrough;  // absl's own flags
};

absl::StatusOr<ParsedArgs> ParseArgs(int argc, char** argv, const std::map<std::string, absl::CommandLineFlag*>& keys) {
  ParsedArgs parsed;
  auto ours = [&](const std::string& name) -> absl::CommandLineFlag* {
    auto it = keys.find(name);
    return it == keys.end() ? nullptr : it->second;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\": options only"));
    }
    absl::string_view body = arg;
    if (!absl::ConsumePrefix(&body, "--")) absl::ConsumePrefix(&body, "-");
    const size_t eq = body.find('=');
    const std::string name = FlagName(body.substr(0, eq));
    std::optional<std::string> value;
    if (eq != absl::string_view::npos) value = std::string(body.substr(eq + 1));
    // The value of an option that takes one: after '=' or the next argument.
    auto take_value = [&]() -> absl::StatusOr<std::string> {
      if (value) return *value;
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(arg, ": missing value"));
      return std::string(argv[++i]);
    };
    if (name == "config") {
      auto v = take_value();
      if (!v.ok()) return v.status();
      parsed.config = *v;
    } else if (name == "print_config" || name == "help" || name == "helpshort") {
      if (value) return absl::InvalidArgumentError(absl::StrCat(arg, ": takes no value"));
      (name == "print_config" ? parsed.print_config : parsed.help) = true;
    } else if (absl::CommandLineFlag* flag = ours(name)) {
      std::string v;
      if (flag->IsOfType<bool>() && !value) {
        v = "true";
      } else {
        auto taken = take_value();
        if (!taken.ok()) return taken.status();
        v = *taken;
      }
      parsed.settings.push_back({flag, v, arg.substr(0, arg.find('='))});
    } else if (absl::CommandLineFlag* negated = NegatedBool(name, ours); negated != nullptr && !value) {
      parsed.settings.push_back({negated, "false", arg});
    } else if (absl::c_linear_search(kAbslUsageFlags, name)) {
      // Not in absl's registry: absl::ParseCommandLine knows them by name.
      parsed.passthrough.push_back(arg);
      if (!value && (name == "helpon" || name == "helpmatch") && i + 1 < argc) parsed.passthrough.push_back(argv[++i]);
    } else if (absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name); flag != nullptr) {
      // absl's own: --flagfile FILE, --fromenv...
      parsed.passthrough.push_back(arg);
      if (!value && !flag->IsOfType<bool>() && i + 1 < argc) parsed.passthrough.push_back(argv[++i]);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag ", arg.substr(0, arg.find('=')), " (--help lists them)"));
    }
  }
  return parsed;
}

// The file's keys, applied to the flags.
absl::Status ApplyFile(const std::string& path, const std::map<std::string, absl::CommandLineFlag*>& keys,
                       std::map<std::string, LoadedConfig::Origin>& origins) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(Position(path, e.mark), ": not valid YAML: ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();  // empty, or only comments
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Position(path, root.Mark()), ": the file must be a mapping of keys to values (key: value)"));
  }
  std::map<std::string, std::string> seen;  // flag name -> where
  for (const auto& entry : root) {
    const YAML::Node& k = entry.first;
    const YAML::Node& v = entry.second;
    const std::string where = Position(path, k.Mark());
    if (!k.IsScalar()) return absl::InvalidArgumentError(absl::StrCat(where, ": a key must be a plain name"));
    const std::string name = FlagName(k.Scalar());
    auto it = keys.find(name);
    if (it == keys.end()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key \"", k.Scalar(), "\""));
    }
    if (auto [prev, inserted] = seen.emplace(name, where); !inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": duplicate key \"", k.Scalar(), "\" (first at ", prev->second, ")"));
    }
    absl::CommandLineFlag& flag = *it->second;
    const std::string key = FlagKey(name);
    const std::string value_where = Position(path, v.Mark());
    std::string value;
    if (v.IsNull()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, ": no value (write \"\" for an empty one)"));
    } else if (v.IsScalar()) {
      value = v.Scalar();
    } else if (v.IsSequence() && IsList(flag)) {
      std::vector<std::string> items;
      for (const YAML::Node& item : v) {
        const std::string item_where = Position(path, item.Mark());
        if (!item.IsScalar() || absl::StrContains(item.Scalar(), ',')) {
          return absl::InvalidArgumentError(
              absl::StrCat(item_where, ": ", key, ": a list item is a plain value without commas"));
        }
        items.push_back(item.Scalar());
      }
      value = absl::StrJoin(items, ",");
    } else {
      return absl::InvalidArgumentError(absl::StrCat(value_where, ": ", key, ": takes a single ", TypeName(flag),
                                                     IsList(flag) ? " or a list" : ", not a list or mapping"));
    }
    // YAML is Unicode: yaml-cpp reads other bytes as they are but writes them
    // as U+FFFD, so --print-config would print a value that is not the one
    // in force. A path in another encoding goes on the command line.
    if (SanitizeUtf8(value) != value) {
      return absl::InvalidArgumentError(absl::StrCat(value_where, ": ", key, ": not UTF-8"));
    }
    if (absl::Status s = Apply(flag, value, value_where); !s.ok()) return s;
    origins[key] = {ConfigSource::kFile, absl::StrCat(path, ":", k.Mark().line + 1)};
  }
  return absl::OkStatus();
}

void Wrap(absl::string_view text, absl::string_view prefix, size_t width, std::ostream& out) {
  std::string line(prefix);
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (line.size() > prefix.size() && line.size() + 1 + word.size() > width) {
      out << line << "\n";
      line = std::string(prefix);
    }
    if (line.size() > prefix.size()) line += ' ';
    absl::StrAppend(&line, word);
  }
  if (line.size() > prefix.size()) out << line << "\n";
}

std::string Describe(const LoadedConfig::Origin& o) {
  switch (o.source) {
    case ConfigSource::kDefault:
      return "default";
    case ConfigSource::kFile:
      return absl::StrCat("file ", o.where);
    case ConfigSource::kEnvironment:
      return absl::StrCat("env ", o.where);
    case ConfigSource::kCommandLine:
      return absl::StrCat("flag ", o.where);
  }
  return "";
}

std::string YamlScalar(const std::string& value) {
  YAML::Emitter e;
  e << value;
  return e.c_str();
}

// A flow sequence from the emitter itself: an item such as "h[dns" is a valid
// plain scalar alone but not inside [...], where brackets and commas end it.
std::string YamlFlowList(const std::vector<std::string>& items) {
  YAML::Emitter e;
  e << YAML::Flow << YAML::BeginSeq;
  for (const std::string& item : items) e << item;
  e << YAML::EndSeq;
  return e.c_str();
}

}  // namespace

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::string FlagKey(absl::string_view flag_name) { return absl::StrReplaceAll(flag_name, {{"_", "-"}}); }

std::string KeyEnvVar(absl::string_view env_prefix, absl::string_view key) {
  return absl::StrCat(env_prefix, absl::AsciiStrToUpper(FlagName(key)));
}

absl::StatusOr<LoadedConfig> LoadConfig(int argc, char** argv, const ConfigSpec& spec, const EnvLookup& env) {
  const std::map<std::string, absl::CommandLineFlag*> keys = Keys(spec);
  auto args = ParseArgs(argc, argv, keys);
  if (!args.ok()) return args.status();

  // absl's own flags; exits for --version and --helpfull.
  std::vector<char*> rest = {argv[0]};
  for (std::string& a : args->passthrough) rest.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(rest.size()), rest.data());

  LoadedConfig loaded;
  if (args->help) {
    loaded.action = LoadedConfig::Action::kHelp;
    return loaded;
  }
  if (args->print_config) loaded.action = LoadedConfig::Action::kPrintConfig;

  // The file: named on the command line, else by the environment, else the
  // default when it exists. A file the user names must exist.
  const std::string config_var = absl::StrCat(spec.env_prefix, "CONFIG");
  if (args->config) {
    loaded.file = *args->config;
  } else if (std::optional<std::string> v = env(config_var)) {
    loaded.file = *v;
  } else if (std::error_code ec; std::filesystem::exists(spec.default_path, ec)) {
    loaded.file = spec.default_path;
  }
  if (!loaded.file.empty()) {
    if (absl::Status s = ApplyFile(loaded.file, keys, loaded.origins); !s.ok()) return s;
  }
  for (const auto& [name, flag] : keys) {
    const std::string key = FlagKey(name);
    const std::string var = KeyEnvVar(spec.env_prefix, key);
    if (std::optional<std::string> v = env(var)) {
      if (absl::Status s = Apply(*flag, *v, absl::StrCat("environment ", var)); !s.ok()) return s;
      loaded.origins[key] = {ConfigSource::kEnvironment, var};
    }
  }
  for (const ArgSetting& a : args->settings) {
    if (absl::Status s = Apply(*a.flag, a.value, a.written); !s.ok()) return s;
    loaded.origins[FlagKey(a.flag->Name())] = {ConfigSource::kCommandLine, a.written};
  }
  return loaded;
}

bool IsSecretKey(absl::string_view key) {
  for (absl::string_view suffix : {"secret", "password", "token", "credentials"}) {
    if (absl::EndsWith(key, suffix)) return true;
  }
  return false;
}

std::string RedactSecrets(absl::string_view value) {
  std::string out;
  while (true) {
    const size_t scheme = value.find("://");
    if (scheme == absl::string_view::npos) break;
    const size_t start = scheme + 3;
    const size_t end = std::min(value.find_first_of("/?#", start), value.size());
    const absl::string_view authority = value.substr(start, end - start);
    const size_t at = authority.rfind('@');
    const size_t colon = authority.substr(0, at == absl::string_view::npos ? 0 : at).find(':');
    if (at != absl::string_view::npos && colon != absl::string_view::npos) {
      absl::StrAppend(&out, value.substr(0, start + colon + 1), kRedacted, authority.substr(at));
    } else {
      absl::StrAppend(&out, value.substr(0, end));
    }
    value.remove_prefix(end);
  }
  absl::StrAppend(&out, value);
  return out;
}

void PrintEffectiveConfig(const ConfigSpec& spec, const LoadedConfig& loaded, std::ostream& out) {
  out << "# " << spec.program << " --print-config: the effective configuration, a valid file for --config.\n"
      << "# File: " << (loaded.file.empty() ? "none" : loaded.file) << "; each key's comment says where its value "
      << "comes from (default, file, env " << spec.env_prefix << "<KEY>, flag).\n";
  for (const auto& [name, flag] : Keys(spec)) {
    const std::string key = FlagKey(name);
    const std::string current = flag->CurrentValue();
    auto origin = loaded.origins.find(key);
    std::string comment = Describe(origin == loaded.origins.end() ? LoadedConfig::Origin{} : origin->second);
    std::string value;
    if (IsSecretKey(key) && !current.empty()) {
      value = kRedacted;
    } else if (IsList(*flag)) {
      // Empty items too ("a," is a list of two): the file must load back to
      // the same value. Only an empty value is the empty list.
      std::vector<std::string> items;
      if (!current.empty()) {
        for (absl::string_view item : absl::StrSplit(current, ',')) items.push_back(RedactSecrets(item));
      }
      value = YamlFlowList(items);
    } else {
      value = RedactSecrets(current);
    }
    if (value != current && !IsList(*flag)) absl::StrAppend(&comment, ", redacted");
    out << "\n";
    Wrap(flag->Help(), "# ", 100, out);
    out << key << ": " << (IsList(*flag) ? value : YamlScalar(value)) << "  # " << comment << "\n";
  }
}

void PrintConfigHelp(const ConfigSpec& spec, std::ostream& out) {
  out << spec.description << "\n\nUsage: " << spec.program << " [--config=FILE] [--KEY=VALUE]...\n\n"
      << "Every --KEY=VALUE below is also \"KEY: VALUE\" in the configuration file and the environment\n"
      << "variable " << spec.env_prefix << "<KEY> (upper case, - as _). Precedence: built-in default < file\n"
      << "< environment < command line. --snake_case spellings are accepted too.\n\n"
      << "  --config=FILE\n      the configuration file (default: $" << spec.env_prefix << "CONFIG, else "
      << spec.default_path << " when it exists)\n"
      << "  --print-config\n      print the effective configuration as YAML, secrets redacted, and exit\n"
      << "  --version\n      print the version, commit and ABI version and exit\n\n";
  for (const auto& [name, flag] : Keys(spec)) {
    std::string def = flag->DefaultValue();
    out << "  --" << FlagKey(name) << "=<" << TypeName(*flag) << ">  (default: " << (def.empty() ? "\"\"" : def)
        << ")\n";
    Wrap(flag->Help(), "      ", 100, out);
  }
}

std::optional<int> ConfigureFromArgs(int argc, char** argv, const ConfigSpec& spec) {
  auto loaded = LoadConfig(argc, argv, spec);
  if (!loaded.ok()) {
    std::cerr << spec.program << ": " << loaded.status().message() << "\n";
    return 2;
  }
  switch (loaded->action) {
    case LoadedConfig::Action::kHelp:
      PrintConfigHelp(spec, std::cout);
      return 0;
    case LoadedConfig::Action::kPrintConfig:
      PrintEffectiveConfig(spec, *loaded, std::cout);
      return 0;
    case LoadedConfig::Action::kRun:
      break;
  }
  return std::nullopt;
}

}  // namespace vigil
