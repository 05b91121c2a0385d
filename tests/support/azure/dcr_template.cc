#include "dcr_template.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace vigil::testing {

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, " is not JSON"));
  return j;
}

const nlohmann::json& ResolveVariable(const nlohmann::json& tmpl, const nlohmann::json& value) {
  if (!value.is_string()) return value;
  absl::string_view s = value.get_ref<const std::string&>();
  if (!absl::ConsumePrefix(&s, "[variables('") || !absl::ConsumeSuffix(&s, "')]")) return value;
  const auto& vars = tmpl.contains("variables") ? tmpl["variables"] : value;
  auto it = vars.find(std::string(s));
  return it == vars.end() ? value : *it;
}

absl::StatusOr<StreamColumns> DcrStreams(const nlohmann::json& tmpl) {
  if (!tmpl.contains("resources") || !tmpl["resources"].is_array()) {
    return absl::InvalidArgumentError("the template has no resources array");
  }
  const nlohmann::json* dcr = nullptr;
  for (const auto& r : tmpl["resources"]) {
    if (r.value("type", "") != "Microsoft.Insights/dataCollectionRules") continue;
    if (dcr != nullptr) return absl::InvalidArgumentError("more than one data collection rule");
    dcr = &r;
  }
  if (dcr == nullptr) return absl::NotFoundError("no Microsoft.Insights/dataCollectionRules resource");
  StreamColumns streams;
  for (const auto& [name, decl] : (*dcr)["properties"]["streamDeclarations"].items()) {
    const nlohmann::json& columns = ResolveVariable(tmpl, decl["columns"]);
    if (!columns.is_array()) return absl::InvalidArgumentError(absl::StrCat(name, ": columns is not an array"));
    Columns& c = streams[name];
    for (const auto& col : columns) c[col.value("name", "")] = col.value("type", "");
  }
  return streams;
}

std::string CheckRow(const Columns& columns, const nlohmann::json& row) {
  if (!row.is_object()) return "a row must be a JSON object";
  for (const auto& [key, value] : row.items()) {
    auto it = columns.find(key);
    if (it == columns.end()) return absl::StrCat("column ", key, " is not declared in the stream");
    const std::string& type = it->second;
    bool fits = false;
    if (value.is_null()) {
      fits = true;
    } else if (type == "string") {
      fits = value.is_string();
    } else if (type == "int") {
      fits = value.is_number_integer() && value.get<int64_t>() >= INT32_MIN && value.get<int64_t>() <= INT32_MAX;
    } else if (type == "long") {
      fits = value.is_number_integer();
    } else if (type == "real") {
      fits = value.is_number();
    } else if (type == "boolean") {
      fits = value.is_boolean();
    } else if (type == "datetime") {
      absl::Time t;
      std::string err;
      fits = value.is_string() && absl::ParseTime(absl::RFC3339_full, value.get<std::string>(), &t, &err);
    } else if (type == "dynamic") {
      fits = value.is_array() || value.is_object();
    }
    if (!fits) return absl::StrCat("column ", key, " is declared ", type, " but the row has ", value.dump());
  }
  return "";
}

}  // namespace vigil::testing
