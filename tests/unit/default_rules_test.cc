// The default ruleset (rules/*.yml and rules/lists/) as the repository ships
// it: every file compiles with the engine the sensor uses, and every rule
// carries what an analyst needs from an alert (MITRE technique and tactic, a
// severity, a description, false positives, a UUID). What each rule catches
// is proven on the real kernel by tests/e2e/detection_test.cc.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "rules/sigma_detector.h"

namespace vigil {
namespace {

constexpr char kRules[] = VIGIL_SOURCE_DIR "/rules";

TEST(DefaultRules, CompileWithTheSensorsEngine) {
  absl::StatusOr<size_t> n = CheckRules({kRules}, std::string(kRules) + "/lists");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_GE(*n, 50u);
}

struct Doc {
  std::string file, text;
};

std::vector<Doc> Documents() {
  std::vector<Doc> docs;
  for (const auto& entry : std::filesystem::directory_iterator(kRules)) {
    if (entry.path().extension() != ".yml") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    for (absl::string_view doc : absl::StrSplit(text.str(), "\n---\n")) {
      docs.push_back({entry.path().filename().string(), std::string(doc)});
    }
  }
  return docs;
}

TEST(DefaultRules, EveryAlertingRuleIsMitreTaggedAndDocumented) {
  const RE2 id("(?m)^id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  const RE2 technique("(?m)^    - attack\\.t[0-9]{4}(\\.[0-9]{3})?$");
  const RE2 tactic("(?m)^    - attack\\.[a-z]+(-[a-z]+)*$");
  const RE2 level("(?m)^level: (low|medium|high|critical)$");
  std::set<std::string> ids;
  size_t alerting = 0;
  for (const Doc& d : Documents()) {
    SCOPED_TRACE(d.file);
    std::string uuid;
    EXPECT_TRUE(RE2::PartialMatch(d.text, "(?m)^id: (\\S+)$", &uuid));
    EXPECT_TRUE(ids.insert(uuid).second) << "duplicate id " << uuid;
    EXPECT_TRUE(RE2::PartialMatch(d.text, id)) << "id is not a random UUID";
    EXPECT_TRUE(absl::StrContains(d.text, "\nname: vigil_"));
    EXPECT_TRUE(absl::StrContains(d.text, "\ndescription: "));
    if (absl::StrContains(d.text, "\nlevel: informational")) {
      // A correlation's base rule: it must be used by a correlation and not alert.
      continue;
    }
    ++alerting;
    EXPECT_TRUE(RE2::PartialMatch(d.text, technique)) << "no attack.tNNNN tag";
    EXPECT_TRUE(RE2::PartialMatch(d.text, tactic)) << "no ATT&CK tactic tag";
    EXPECT_TRUE(RE2::PartialMatch(d.text, level));
    EXPECT_TRUE(absl::StrContains(d.text, "\nfalsepositives:\n    - "));
  }
  EXPECT_GE(alerting, 50u);
}

TEST(DefaultRules, ThreatIntelListHasTheVendorsSimulationDomains) {
  std::ifstream in(std::string(kRules) + "/lists/threat_intel_domains.txt");
  std::set<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') names.insert(line);
  }
  EXPECT_TRUE(names.count("mdc-eicar.alerts.security.azure.com"));
  EXPECT_TRUE(names.count("guarddutyc2activityb.com"));
}

}  // namespace
}  // namespace vigil
