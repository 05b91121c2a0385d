// What an ARM template in deploy/azure declares for the Logs Ingestion API:
// the data collection rule's streams and their columns. Read by the emulator
// (to accept only declared columns, as the DCR does) and by the tests that
// hold the collector's rows against the template.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace vigil::testing {

// Column name -> type ("string", "int", "long", "real", "boolean",
// "datetime", "dynamic").
using Columns = std::map<std::string, std::string>;
// Stream name ("Custom-...") -> its columns.
using StreamColumns = std::map<std::string, Columns>;

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

// The value of `value` with a whole-string "[variables('name')]" expression
// replaced by that variable (other expressions are returned as they are).
const nlohmann::json& ResolveVariable(const nlohmann::json& tmpl, const nlohmann::json& value);

// The streamDeclarations of the template's Microsoft.Insights/dataCollectionRules
// resource (exactly one), columns resolved through variables.
absl::StatusOr<StreamColumns> DcrStreams(const nlohmann::json& tmpl);

// Empty when every member of `row` is a declared column whose type the JSON
// value fits; otherwise why not, naming the column.
std::string CheckRow(const Columns& columns, const nlohmann::json& row);

}  // namespace vigil::testing
