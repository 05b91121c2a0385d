// Offline checks of the ARM templates in deploy/azure. The official
// deploymentTemplate and resource-provider JSON schemas are not available on
// this machine (no registry package ships them), so this is not the official
// schema: it is a checker written from the documented schemas of the
// resource types the templates use, and it checks what a deployment would
// refuse or silently get wrong:
//  - template shape: $schema, contentVersion, known top-level keys, typed
//    parameters whose defaults fit their type and allowedValues;
//  - every expression's parameters('x') and variables('x') is declared, and
//    brackets and quotes balance;
//  - each resource: a known type with an apiVersion that type has, a name,
//    dependsOn only on resources of the template;
//  - tables: *_CL names, column names and types from the allowed set,
//    TimeGenerated a datetime, no duplicates, the Analytics or Basic plan;
//  - the data collection rule: streams named Custom-*, allowed column types,
//    every data flow from declared streams to declared destinations into a
//    Custom-<table> of the template, transformKql set, kind Direct only with
//    an API version that has it (2023-03-11 or later);
//  - Sentinel scheduled analytics rules: the required properties, ISO 8601
//    durations within the documented bounds, severities, trigger operators,
//    tactics from Sentinel's list, technique and sub-technique ids, entity
//    types and identifiers from Sentinel's entity schema, at most 10 entity
//    mappings and 20 custom details, and every column they name projected by
//    the query; and the rules' MITRE tactics cover those of the default
//    rules (rules/*.yml) of the severities each one selects.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dcr_template.h"
#include "nlohmann/json.hpp"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Resource types the templates may use, and the API versions checked for
// each against the documentation of that version.
const std::map<std::string, std::set<std::string>>& KnownTypes() {
  static const auto* types = new std::map<std::string, std::set<std::string>>{
      {"Microsoft.OperationalInsights/workspaces/tables", {"2022-10-01", "2023-09-01"}},
      {"Microsoft.Insights/dataCollectionEndpoints", {"2022-06-01", "2023-03-11"}},
      {"Microsoft.Insights/dataCollectionRules", {"2022-06-01", "2023-03-11"}},
      {"Microsoft.Authorization/roleAssignments", {"2022-04-01"}},
      {"Microsoft.SecurityInsights/alertRules", {"2023-02-01", "2024-03-01", "2024-09-01"}},
  };
  return *types;
}

const std::set<std::string> kColumnTypes = {"string", "int", "long", "real", "boolean", "datetime", "dynamic", "guid"};

// Sentinel's AttackTactic values and its entity types with their identifiers
// (the "Entities reference" of Microsoft Sentinel).
const std::set<std::string> kTactics = {
    "Reconnaissance",       "ResourceDevelopment",    "InitialAccess",     "Execution", "Persistence",
    "PrivilegeEscalation",  "DefenseEvasion",         "CredentialAccess",  "Discovery", "LateralMovement",
    "Collection",           "Exfiltration",           "CommandAndControl", "Impact",    "PreAttack",
    "ImpairProcessControl", "InhibitResponseFunction"};
const std::map<std::string, std::set<std::string>>& EntityIdentifiers() {
  static const auto* ids = new std::map<std::string, std::set<std::string>>{
      {"Account",
       {"Name", "FullName", "NTDomain", "DnsDomain", "UPNSuffix", "Sid", "AadTenantId", "AadUserId", "PUID",
        "IsDomainJoined", "DisplayName", "ObjectGuid"}},
      {"Host",
       {"DnsDomain", "NTDomain", "HostName", "FullName", "NetBiosName", "AzureID", "OMSAgentID", "OSFamily",
        "OSVersion", "IsDomainJoined"}},
      {"IP", {"Address"}},
      {"DNS", {"DomainName"}},
      {"Process", {"ProcessId", "CommandLine", "ElevationToken", "CreationTimeUtc"}},
      {"File", {"Directory", "Name"}},
      {"URL", {"Url"}},
      {"AzureResource", {"ResourceId"}},
      {"CloudApplication", {"AppId", "Name", "InstanceName"}},
      {"FileHash", {"Algorithm", "Value"}},
      {"Malware", {"Name", "Category"}},
  };
  return *ids;
}

std::vector<std::string> Templates() {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(VIGIL_AZURE_DEPLOY_DIR)) {
    if (e.path().extension() == ".json") files.push_back(e.path().filename());
  }
  std::sort(files.begin(), files.end());
  return files;
}

json Load(const std::string& name) {
  auto t = ReadJsonFile(absl::StrCat(VIGIL_AZURE_DEPLOY_DIR, "/", name));
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : json::object();
}

// Every string in `j`, depth first.
void Strings(const json& j, std::vector<std::string>& out) {
  if (j.is_string()) out.push_back(j.get<std::string>());
  if (j.is_structured()) {
    for (const auto& v : j) Strings(v, out);
  }
}

// j[key], or an empty array when j has no such member. (json::value returns a
// copy: iterating over it in a range-for would outlive the temporary.)
const json& Child(const json& j, const char* key) {
  static const json* empty = new json(json::array());
  auto it = j.find(key);
  return it == j.end() ? *empty : *it;
}

// ISO 8601 duration (PnDTnHnMnS subset Sentinel accepts) in minutes; -1 if bad.
int64_t Minutes(const std::string& d) {
  std::smatch m;
  static const std::regex re(R"(^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$)");
  if (!std::regex_match(d, m, re) || d == "P" || d == "PT") return -1;
  auto n = [&](int i) -> int64_t { return m[i].matched ? std::stoll(m[i].str()) : 0; };
  return n(1) * 24 * 60 + n(2) * 60 + n(3);
}

// The columns of the query's result: the names of its last `project`.
std::set<std::string> ProjectedColumns(const std::string& query) {
  size_t at = query.rfind("| project ");
  std::set<std::string> cols;
  if (at == std::string::npos) return cols;
  for (absl::string_view c : absl::StrSplit(query.substr(at + 10), ',')) {
    c = absl::StripAsciiWhitespace(c);
    if (size_t eq = c.find('='); eq != absl::string_view::npos) c = absl::StripAsciiWhitespace(c.substr(0, eq));
    if (!c.empty()) cols.insert(std::string(c));
  }
  return cols;
}

class TemplateTest : public ::testing::TestWithParam<std::string> {
 protected:
  TemplateTest() : t_(Load(GetParam())) {}
  const json t_;
};

TEST_P(TemplateTest, ShapeParametersAndExpressions) {
  EXPECT_EQ(t_.value("$schema", ""), "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#");
  EXPECT_TRUE(std::regex_match(t_.value("contentVersion", ""), std::regex(R"(^\d+\.\d+\.\d+\.\d+$)")));
  const std::set<std::string> top = {"$schema",   "contentVersion", "apiProfile", "metadata", "parameters",
                                     "variables", "functions",      "resources",  "outputs"};
  for (const auto& [k, v] : t_.items()) EXPECT_TRUE(top.contains(k)) << "unknown top-level key " << k;
  ASSERT_TRUE(t_["resources"].is_array());

  const std::set<std::string> types = {"string", "securestring", "int", "bool", "object", "secureObject", "array"};
  for (const auto& [name, p] : Child(t_, "parameters").items()) {
    const std::string type = p.value("type", "");
    EXPECT_TRUE(types.contains(type)) << name << ": type " << type;
    if (p.contains("allowedValues") && p.contains("defaultValue")) {
      const auto& allowed = p["allowedValues"];
      EXPECT_NE(std::find(allowed.begin(), allowed.end(), p["defaultValue"]), allowed.end()) << name;
    }
    const bool expression =
        p.contains("defaultValue") && p["defaultValue"].is_string() && absl::StartsWith(p["defaultValue"], "[");
    if (!p.contains("defaultValue") || expression) {
      continue;
    }
    const json& d = p["defaultValue"];
    EXPECT_TRUE(type == "int"                                ? d.is_number_integer()
                : type == "bool"                             ? d.is_boolean()
                : type == "array"                            ? d.is_array()
                : type == "object" || type == "secureObject" ? d.is_object()
                                                             : d.is_string())
        << name << " default does not fit " << type;
  }

  std::vector<std::string> strings;
  Strings(t_["resources"], strings);
  Strings(Child(t_, "variables"), strings);
  Strings(Child(t_, "outputs"), strings);
  static const std::regex ref(R"((parameters|variables)\('([^']+)'\))");
  for (const std::string& s : strings) {
    // An expression is a whole string in brackets; "[[" escapes a literal.
    // (Text that only starts with "[" is a literal too, but reads as a
    // broken expression: the templates avoid it.)
    if (!absl::StartsWith(s, "[") || absl::StartsWith(s, "[[")) continue;
    EXPECT_TRUE(absl::EndsWith(s, "]")) << s;
    int depth = 0;
    bool quoted = false;
    for (char c : s) {
      if (c == '\'') quoted = !quoted;
      if (!quoted) depth += c == '(' ? 1 : c == ')' ? -1 : 0;
      EXPECT_GE(depth, 0) << s;
    }
    EXPECT_EQ(depth, 0) << s;
    EXPECT_FALSE(quoted) << s;
    for (std::sregex_iterator it(s.begin(), s.end(), ref), end; it != end; ++it) {
      const std::string section = (*it)[1] == "parameters" ? "parameters" : "variables";
      EXPECT_TRUE(t_.contains(section) && t_[section].contains((*it)[2].str()))
          << (*it)[0] << " is not declared, in " << s;
    }
  }
}

TEST_P(TemplateTest, ResourcesHaveKnownTypesApiVersionsAndDependencies) {
  std::set<std::string> declared;  // "type name-expression"
  for (const auto& r : t_["resources"]) {
    const std::string type = r.value("type", "");
    ASSERT_TRUE(KnownTypes().contains(type)) << "unchecked resource type " << type;
    EXPECT_TRUE(KnownTypes().at(type).contains(r.value("apiVersion", ""))) << type << "@" << r.value("apiVersion", "");
    EXPECT_FALSE(r.value("name", "").empty()) << type;
    declared.insert(type);
  }
  static const std::regex dep(R"(resourceId\('([^']+)')");
  for (const auto& r : t_["resources"]) {
    for (const auto& d : Child(r, "dependsOn")) {
      std::smatch m;
      const std::string s = d.get<std::string>();
      ASSERT_TRUE(std::regex_search(s, m, dep)) << s;
      EXPECT_TRUE(declared.contains(m[1].str())) << r["type"] << " depends on " << m[1] << ", not in the template";
    }
  }
}

TEST_P(TemplateTest, TablesAndDataCollectionRule) {
  std::set<std::string> tables;
  for (const auto& r : t_["resources"]) {
    if (r["type"] != "Microsoft.OperationalInsights/workspaces/tables") continue;
    const auto& p = r["properties"];
    EXPECT_TRUE(p.value("plan", "Analytics") == "Analytics" || p["plan"] == "Basic");
    const std::string name = ResolveVariable(t_, p["schema"]["name"]).get<std::string>();
    EXPECT_TRUE(absl::EndsWith(name, "_CL")) << name;
    tables.insert(name);
    std::set<std::string> seen;
    bool time_generated = false;
    for (const auto& c : ResolveVariable(t_, p["schema"]["columns"])) {
      const std::string col = c.value("name", "");
      EXPECT_TRUE(std::regex_match(col, std::regex("^[A-Za-z_][A-Za-z0-9_]{0,44}$"))) << name << "." << col;
      EXPECT_TRUE(kColumnTypes.contains(c.value("type", ""))) << name << "." << col << ": " << c["type"];
      EXPECT_TRUE(seen.insert(col).second) << name << "." << col << " twice";
      time_generated |= col == "TimeGenerated" && c["type"] == "datetime";
    }
    EXPECT_TRUE(time_generated) << name << " needs a datetime TimeGenerated";
  }
  for (const auto& r : t_["resources"]) {
    if (r["type"] != "Microsoft.Insights/dataCollectionRules") continue;
    const auto& p = r["properties"];
    if (r.contains("kind")) {
      EXPECT_GE(r.value("apiVersion", ""), "2023-03-11") << "kind Direct needs 2023-03-11 or later";
      EXPECT_THAT(r["kind"].get<std::string>(), ::testing::HasSubstr("'Direct'"));
    }
    auto streams = DcrStreams(t_);
    ASSERT_TRUE(streams.ok()) << streams.status();
    for (const auto& [stream, columns] : *streams) {
      EXPECT_TRUE(absl::StartsWith(stream, "Custom-")) << stream;
      for (const auto& [col, type] : columns) EXPECT_TRUE(kColumnTypes.contains(type)) << stream << "." << col;
    }
    std::set<std::string> destinations;
    for (const auto& [kind, list] : p["destinations"].items()) {
      for (const auto& d : list) destinations.insert(d.value("name", ""));
    }
    std::set<std::string> flowed;
    for (const auto& flow : p["dataFlows"]) {
      EXPECT_TRUE(flow.contains("transformKql"));
      for (const auto& s : flow["streams"]) {
        const std::string stream = ResolveVariable(t_, s).get<std::string>();
        EXPECT_TRUE(streams->contains(stream)) << stream << " flows but is not declared";
        flowed.insert(stream);
      }
      for (const auto& d : flow["destinations"]) EXPECT_TRUE(destinations.contains(d.get<std::string>())) << d;
      const std::string out = ResolveVariable(t_, flow["outputStream"]).get<std::string>();
      ASSERT_TRUE(absl::StartsWith(out, "Custom-")) << out;
      EXPECT_TRUE(tables.contains(out.substr(7))) << out << ": no such table in the template";
    }
    for (const auto& [stream, columns] : *streams) EXPECT_TRUE(flowed.contains(stream)) << stream << " goes nowhere";
  }
}

TEST_P(TemplateTest, SentinelScheduledRules) {
  for (const auto& r : t_["resources"]) {
    if (r["type"] != "Microsoft.SecurityInsights/alertRules") continue;
    EXPECT_EQ(r.value("kind", ""), "Scheduled");
    EXPECT_TRUE(r.contains("scope"));
    const auto& p = r["properties"];
    const std::string name = p.value("displayName", "");
    for (const char* key : {"displayName", "enabled", "query", "queryFrequency", "queryPeriod", "severity",
                            "suppressionDuration", "suppressionEnabled", "triggerOperator", "triggerThreshold"}) {
      EXPECT_TRUE(p.contains(key)) << name << ": " << key << " is required";
    }
    const int64_t every = Minutes(p.value("queryFrequency", "")), over = Minutes(p.value("queryPeriod", ""));
    EXPECT_GE(every, 5) << name;
    EXPECT_LE(every, 14 * 24 * 60) << name;
    EXPECT_GE(over, every) << name;
    EXPECT_LE(over, 14 * 24 * 60) << name;
    EXPECT_GE(Minutes(p.value("suppressionDuration", "")), 5) << name;
    EXPECT_THAT(p.value("severity", ""), ::testing::AnyOf("High", "Medium", "Low", "Informational"));
    EXPECT_THAT(p.value("triggerOperator", ""), ::testing::AnyOf("GreaterThan", "LessThan", "Equal", "NotEqual"));
    EXPECT_TRUE(p["triggerThreshold"].is_number_integer());
    std::set<std::string> techniques;
    for (const auto& t : Child(p, "tactics")) EXPECT_TRUE(kTactics.contains(t)) << name << ": " << t;
    for (const auto& t : Child(p, "techniques")) {
      EXPECT_TRUE(std::regex_match(t.get<std::string>(), std::regex(R"(^T\d{4}$)"))) << name << ": " << t;
      techniques.insert(t);
    }
    for (const auto& t : Child(p, "subTechniques")) {
      const std::string s = t.get<std::string>();
      EXPECT_TRUE(std::regex_match(s, std::regex(R"(^T\d{4}\.\d{3}$)"))) << name << ": " << s;
      EXPECT_TRUE(techniques.contains(s.substr(0, 5))) << name << ": " << s << " without its technique";
    }

    const std::set<std::string> columns = ProjectedColumns(p.value("query", ""));
    ASSERT_FALSE(columns.empty()) << name << ": the query must end in a project";
    std::set<std::string> mapped;
    EXPECT_LE(Child(p, "entityMappings").size(), 10u) << name;
    for (const auto& m : Child(p, "entityMappings")) {
      const std::string type = m.value("entityType", "");
      ASSERT_TRUE(EntityIdentifiers().contains(type)) << name << ": entity type " << type;
      mapped.insert(type);
      EXPECT_LE(m["fieldMappings"].size(), 3u) << name << ": " << type;
      for (const auto& f : m["fieldMappings"]) {
        EXPECT_TRUE(EntityIdentifiers().at(type).contains(f.value("identifier", "")))
            << name << ": " << type << "." << f["identifier"];
        EXPECT_TRUE(columns.contains(f.value("columnName", ""))) << name << ": " << f["columnName"] << " not projected";
      }
    }
    EXPECT_LE(Child(p, "customDetails").size(), 20u) << name;
    for (const auto& [key, column] : Child(p, "customDetails").items()) {
      EXPECT_TRUE(std::regex_match(key, std::regex("^[A-Za-z0-9_]{1,20}$"))) << name << ": custom detail " << key;
      EXPECT_TRUE(columns.contains(column.get<std::string>())) << name << ": " << column << " not projected";
    }
    static const std::regex placeholder(R"(\{\{([^}]+)\}\})");
    for (const auto& [key, format] : Child(p, "alertDetailsOverride").items()) {
      if (!format.is_string()) continue;
      const std::string f = format.get<std::string>();
      for (std::sregex_iterator it(f.begin(), f.end(), placeholder), end; it != end; ++it) {
        EXPECT_TRUE(columns.contains((*it)[1].str())) << name << ": " << key << " names " << (*it)[1];
      }
    }
    const auto& incident = p["incidentConfiguration"];
    EXPECT_EQ(incident.value("createIncident", false), true) << name;
    const auto& g = incident["groupingConfiguration"];
    EXPECT_THAT(g.value("matchingMethod", ""), ::testing::AnyOf("AllEntities", "AnyAlert", "Selected"));
    EXPECT_GE(Minutes(g.value("lookbackDuration", "")), 5);
    for (const auto& e : Child(g, "groupByEntities")) EXPECT_TRUE(mapped.contains(e)) << name << e;
    for (const auto& d : Child(g, "groupByAlertDetails")) {
      EXPECT_THAT(d.get<std::string>(), ::testing::AnyOf("DisplayName", "Severity"));
    }
    EXPECT_THAT(p["eventGroupingSettings"].value("aggregationKind", ""),
                ::testing::AnyOf("SingleAlert", "AlertPerResult"));
  }
}

INSTANTIATE_TEST_SUITE_P(DeployAzure, TemplateTest, ::testing::ValuesIn(Templates()), [](const auto& info) {
  return absl::StrReplaceAll(info.param, {{".", "_"}, {"-", "_"}});
});

// "credential-access" -> "CredentialAccess".
std::string SentinelTactic(const std::string& attack) {
  std::string out;
  for (absl::string_view w : absl::StrSplit(attack, '-')) {
    std::string word(w);
    word[0] = absl::ascii_toupper(word[0]);
    out += word;
  }
  return out;
}

// The analytics rules select alerts by severity; together they must turn
// every alerting default rule of level low and up into an incident, and
// each declares the tactics and techniques of the rules it selects.
TEST(SentinelAnalytics, CoverTheDefaultRulesOfTheirSeverities) {
  const json t = Load("sentinel-analytics.json");
  std::map<std::string, const json*> by_severity;  // Vigil severity -> analytics rule properties
  static const std::regex in(R"re(Severity in \(([^)]*)\))re");
  for (const auto& r : t["resources"]) {
    const std::string query = r["properties"]["query"];
    std::smatch m;
    ASSERT_TRUE(std::regex_search(query, m, in)) << query;
    for (absl::string_view s : absl::StrSplit(m[1].str(), ',')) {
      s = absl::StripAsciiWhitespace(s);
      s = absl::StripPrefix(absl::StripSuffix(s, "\""), "\"");
      EXPECT_TRUE(by_severity.emplace(std::string(s), &r["properties"]).second) << s << " selected twice";
    }
  }
  const std::map<std::string, std::string> level_to_severity = {
      {"low", "Low"}, {"medium", "Medium"}, {"high", "High"}, {"critical", "Critical"}};
  int rules = 0;
  for (const auto& e : fs::directory_iterator(VIGIL_SOURCE_DIR "/rules")) {
    if (e.path().extension() != ".yml") continue;
    for (const YAML::Node& doc : YAML::LoadAllFromFile(e.path())) {
      if (!doc["level"] || !doc["tags"]) continue;
      auto sev = level_to_severity.find(doc["level"].as<std::string>());
      if (sev == level_to_severity.end()) continue;  // informational: data, not incidents
      ++rules;
      ASSERT_TRUE(by_severity.contains(sev->second)) << "no analytics rule selects " << sev->second;
      const json& p = *by_severity[sev->second];
      for (const auto& tag : doc["tags"]) {
        std::string s = tag.as<std::string>();
        if (!absl::StartsWith(s, "attack.")) continue;
        s = s.substr(7);
        const json& list = std::isdigit(s[1]) && s[0] == 't'
                               ? (s.find('.') == std::string::npos ? p["techniques"] : p["subTechniques"])
                               : p["tactics"];
        const std::string want = std::isdigit(s[1]) && s[0] == 't' ? absl::AsciiStrToUpper(s) : SentinelTactic(s);
        EXPECT_NE(std::find(list.begin(), list.end(), want), list.end())
            << e.path().filename() << ": " << want << " missing from " << p["displayName"];
        if (s[0] == 't' && s.find('.') != std::string::npos) {
          const std::string parent = absl::AsciiStrToUpper(s.substr(0, 5));
          EXPECT_NE(std::find(p["techniques"].begin(), p["techniques"].end(), parent), p["techniques"].end()) << parent;
        }
      }
    }
  }
  EXPECT_GE(rules, 50);
}

}  // namespace
}  // namespace vigil::testing
