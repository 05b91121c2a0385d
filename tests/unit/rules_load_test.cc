// Loading: what is refused and where (file:line:column), the embedded
// rules, rule metadata on alerts, exceptions, and reloads.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "rules_fixture.h"
#include "status_matchers.h"

namespace vigil {
namespace {

using test::Alerts;
using test::Exec;
using test::LoadRules;
using test::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

// `body` goes under `detection:`; line 6 of the file is its first line.
std::string WithDetection(const std::string& body,
                          const std::string& logsource = "product: linux, category: process_creation") {
  return absl::StrCat("title: Bad\nid: bad-1\nlevel: high\nlogsource: {", logsource, "}\ndetection:\n", body);
}

absl::Status LoadError(const std::string& text) {
  auto l = LoadRules(text);
  // The message begins with the file's path; the tests compare what follows.
  return l->status;
}

TEST(RulesLoad, YamlSyntaxError) {
  EXPECT_THAT(LoadError("title: x\ndetection:\n  sel: {Image: [a, b}\n"), StatusIs(kInvalid, "rules.yml:3:"));
  EXPECT_THAT(LoadError("title: x\ndetection:\n  sel: {Image: [a, b}\n"), StatusIs(kInvalid, "YAML syntax"));
}

// yaml-cpp's own LoadAll never returns on these (found by fuzz/rules_fuzzer):
// a stray ',' after a document is refused where it stands.
TEST(RulesLoad, StrayCommaAfterADocumentIsRefusedNotLoadedForever) {
  EXPECT_THAT(LoadError(", a\n"), StatusIs(kInvalid, "rules.yml:1:1: YAML syntax: no document can start here"));
  EXPECT_THAT(LoadError("- a\n, b\n"), StatusIs(kInvalid, "rules.yml:2:1: YAML syntax: no document can start here"));
}

TEST(RulesLoad, UnknownField) {
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    Image: /bin/sh\n    ImageX: foo\n  condition: sel\n")),
              StatusIs(kInvalid, "rules.yml:8:5: unknown field ImageX"));
}

TEST(RulesLoad, FieldOfAnotherCategory) {
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    TargetFilename: /etc/shadow\n  condition: sel\n")),
              StatusIs(kInvalid, "rules.yml:7:5: field TargetFilename does not exist in category process_creation"));
}

TEST(RulesLoad, UnknownModifier) {
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    Image|containz: sh\n  condition: sel\n")),
              StatusIs(kInvalid, "rules.yml:7:5: unknown modifier containz"));
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    CommandLine|utf16le|contains: sh\n  condition: sel\n")),
              StatusIs(kInvalid, "rules.yml:7:5: modifier utf16le is not supported"));
}

TEST(RulesLoad, BadRegex) {
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    CommandLine|re: 'a(?!b)'\n  condition: sel\n")),
              StatusIs(kInvalid, "rules.yml:7:21: bad regular expression 'a(?!b)'"));
}

TEST(RulesLoad, TypeMismatches) {
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    Image|cidr: 10.0.0.0/8\n  condition: sel\n")),
              StatusIs(kInvalid, "rules.yml:7:5: type mismatch: cidr on Image, which is text"));
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    UpperLayer: maybe\n  condition: sel\n")),
              StatusIs(kInvalid, "rules.yml:7:17: type mismatch: UpperLayer is a boolean (true/false), not 'maybe'"));
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    ProcessId: abc\n  condition: sel\n")),
              StatusIs(kInvalid, "rules.yml:7:16: type mismatch: ProcessId is a number, not 'abc'"));
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    Image|gt: 3\n  condition: sel\n")),
              StatusIs(kInvalid, "type mismatch: numeric comparison on Image"));
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    ProcessId|gt: many\n  condition: sel\n")),
              StatusIs(kInvalid, "rules.yml:7:19: type mismatch: 'many' is not a number"));
}

TEST(RulesLoad, MalformedConditions) {
  const std::string sel = "  sel:\n    Image: /bin/sh\n";
  EXPECT_THAT(LoadError(WithDetection(sel + "  condition: sel and\n")),
              StatusIs(kInvalid, "rules.yml:8:21: malformed condition: condition ends where a selection was expected"));
  EXPECT_THAT(LoadError(WithDetection(sel + "  condition: sel and other\n")),
              StatusIs(kInvalid, "rules.yml:8:22: malformed condition: condition names unknown selection 'other'"));
  EXPECT_THAT(LoadError(WithDetection(sel + "  condition: (sel\n")),
              StatusIs(kInvalid, "malformed condition: missing ')'"));
  EXPECT_THAT(LoadError(WithDetection(sel + "  condition: 1 of filter_*\n")),
              StatusIs(kInvalid, "'filter_*' matches no selection"));
  EXPECT_THAT(LoadError(WithDetection(sel + "  condition: sel | count() > 5\n")),
              StatusIs(kInvalid, "aggregations in the condition"));
  EXPECT_THAT(LoadError(WithDetection(sel)), StatusIs(kInvalid, "rules.yml:6:3: detection has no condition"));
}

TEST(RulesLoad, UnsupportedLogsources) {
  const std::string body = "  sel:\n    Image: /bin/sh\n  condition: sel\n";
  EXPECT_THAT(LoadError(WithDetection(body, "product: linux, service: auditd")),
              StatusIs(kInvalid, "rules.yml:4:38: logsource service 'auditd' is not supported"));
  EXPECT_THAT(LoadError(WithDetection(body, "product: windows, category: process_creation")),
              StatusIs(kInvalid, "rules.yml:4:22: logsource product 'windows' is not supported"));
  EXPECT_THAT(LoadError(WithDetection(body, "product: linux, category: registry_set")),
              StatusIs(kInvalid, "logsource category 'registry_set' is not supported"));
}

TEST(RulesLoad, KeywordsRefused) {
  EXPECT_THAT(LoadError(WithDetection("  keywords:\n    - 'rm -rf'\n  condition: keywords\n")),
              StatusIs(kInvalid, "rules.yml:7:7: keyword search"));
}

TEST(RulesLoad, UnknownList) {
  EXPECT_THAT(LoadError(WithDetection("  sel:\n    Image|expand: '%nope%'\n  condition: sel\n")),
              StatusIs(kInvalid, "value list %nope% not found"));
}

TEST(RulesLoad, DuplicateId) {
  const std::string rule = WithDetection("  sel: {Image: /bin/sh}\n  condition: sel\n");
  EXPECT_THAT(LoadError(rule + "---\n" + rule), StatusIs(kInvalid, "duplicate rule id bad-1"));
}

TEST(RulesLoad, CheckRulesCountsAndRefuses) {
  test::TempDir dir;
  dir.Write("a/one.yml", WithDetection("  sel: {Image: /bin/sh}\n  condition: sel\n"));
  dir.Write("a/b/two.yaml",
            "title: Two\nid: two\nlogsource: {category: file_event}\n"
            "detection:\n  sel: {TargetFilename: /x}\n  condition: sel\n");
  dir.Write("a/ignored.txt", "not a rule");
  auto count = CheckRules({dir.path() + "/a"});
  ASSERT_THAT(count, test::IsOk());
  EXPECT_EQ(*count, 2u);
  std::string bad = dir.Write("bad.yml", WithDetection("  sel: {Imag: /bin/sh}\n  condition: sel\n"));
  EXPECT_THAT(CheckRules({dir.path() + "/a", bad}), StatusIs(kInvalid, bad + ":6:9: unknown field Imag"));
  EXPECT_THAT(CheckRules({dir.path() + "/missing"}), StatusIs(absl::StatusCode::kNotFound, "no such file"));
}

const char* kShellRule = R"(title: Shell in container
id: 11111111-0000-0000-0000-000000000001
description: A shell started in a container.
alert_type: K8S.NODE_ShellInContainer
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: [/bash, /sh]
  condition: sel
falsepositives: [Debugging]
level: medium
tags: [attack.execution, attack.t1059.004, attack.credential_access, attack.g0139]
)";

TEST(RulesLoad, AlertCarriesRuleAndEvent) {
  auto l = LoadRules(kShellRule);
  ASSERT_THAT(l->status, test::IsOk());
  v1::Event e = Exec("/bin/bash", {"bash"});
  test::InContainer(e);
  e.add_ancestors()->set_exe("/usr/bin/python3");
  auto alerts = Alerts(*l->detector, e);
  ASSERT_THAT(alerts, SizeIs(1));
  const v1::Event& a = alerts[0];
  EXPECT_EQ(a.kind(), v1::EVENT_KIND_ALERT);
  EXPECT_EQ(a.time().seconds(), e.time().seconds());
  EXPECT_EQ(a.node(), "node");
  EXPECT_EQ(a.process().exe(), "/bin/bash");
  EXPECT_EQ(a.ancestors(0).exe(), "/usr/bin/python3");
  EXPECT_EQ(a.workload().pod_name(), "web-1");
  EXPECT_EQ(a.alert().rule_id(), "11111111-0000-0000-0000-000000000001");
  EXPECT_EQ(a.alert().title(), "Shell in container");
  EXPECT_EQ(a.alert().severity(), v1::SEVERITY_MEDIUM);
  EXPECT_THAT(a.alert().tactics(), ElementsAre("execution", "credential-access"));
  EXPECT_THAT(a.alert().techniques(), ElementsAre("T1059.004"));
  EXPECT_EQ(a.alert().alert_type(), "K8S.NODE_ShellInContainer");
  EXPECT_EQ(a.alert().description(), "A shell started in a container.");
  EXPECT_THAT(a.alert().event_ids(), ElementsAre("ev-1"));
  EXPECT_EQ(a.alert().count(), 1u);
  EXPECT_FALSE(a.alert().aggregated());
  EXPECT_THAT(a.alert().rule_file(), ::testing::EndsWith("rules.yml"));
  EXPECT_THAT(a.alert().false_positives(), ElementsAre("Debugging"));
}

TEST(RulesLoad, EmbeddedRulesLoadAndUserRuleOverridesById) {
  test::TempDir dir;
  SigmaDetectorOptions o = test::OptionsFor({});
  o.embedded_rules = true;
  auto d = SigmaDetector::Create(o, nullptr);
  ASSERT_THAT(d, test::IsOk());
  EXPECT_THAT(Alerts(**d, Exec("/opt/embedded-test-tool", {"t"})), SizeIs(1));
  EXPECT_EQ((*d)->Stats().rules.rules(0).file(), "embedded:rules/embedded_test.yml");
  // The same id in a user file replaces the embedded rule.
  std::string f = dir.Write("override.yml",
                            "title: Tuned\nid: 00000000-0000-0000-0000-00000000e001\n"
                            "logsource: {category: process_creation}\n"
                            "detection:\n  sel: {Image: /nothing}\n  condition: sel\n");
  o.rule_paths = {f};
  auto tuned = SigmaDetector::Create(o, nullptr);
  ASSERT_THAT(tuned, test::IsOk());
  EXPECT_THAT(Alerts(**tuned, Exec("/opt/embedded-test-tool", {"t"})), IsEmpty());
  EXPECT_THAT((*tuned)->Stats().rules.rules(), SizeIs(1));
}

TEST(RulesLoad, ExceptionsDropMatchingAlerts) {
  test::TempDir dir;
  std::string rules = dir.Write("r.yml", kShellRule);
  std::string ex = dir.Write("exceptions.yml", R"(exceptions:
  - rule: Shell in container
    namespaces: [kube-system]
    comment: the system pods run shells
  - rule: "*"
    images: ["registry.example/debug:*"]
    pods: ["toolbox-*"]
)");
  SigmaDetectorOptions o = test::OptionsFor({rules});
  o.exceptions_file = ex;
  auto d = SigmaDetector::Create(o, nullptr);
  ASSERT_THAT(d, test::IsOk());
  v1::Event sys = Exec("/bin/sh", {"sh"}, "node:1:1");
  test::InContainer(sys, "c1", "k8s/coredns:1", "kube-system", "coredns-1");
  EXPECT_THAT(Alerts(**d, sys), IsEmpty());
  v1::Event dbg = Exec("/bin/sh", {"sh"}, "node:1:2");
  test::InContainer(dbg, "c2", "registry.example/debug:3", "prod", "toolbox-2");
  EXPECT_THAT(Alerts(**d, dbg), IsEmpty());
  // Every key of an entry must match: the debug image in another pod alerts.
  v1::Event other = Exec("/bin/sh", {"sh"}, "node:1:3");
  test::InContainer(other, "c3", "registry.example/debug:3", "prod", "web-2");
  EXPECT_THAT(Alerts(**d, other), SizeIs(1));
  EXPECT_EQ((*d)->Stats().suppressed, 2u);
  EXPECT_EQ((*d)->Stats().alerts, 1u);
}

TEST(RulesLoad, BadExceptionsFileIsRefused) {
  test::TempDir dir;
  std::string rules = dir.Write("r.yml", kShellRule);
  std::string ex = dir.Write("exceptions.yml", "exceptions:\n  - rule: x\n    namespace: [kube-system]\n");
  SigmaDetectorOptions o = test::OptionsFor({rules});
  o.exceptions_file = ex;
  EXPECT_THAT(SigmaDetector::Create(o, nullptr), StatusIs(kInvalid, ex + ":3:5: unknown exception key 'namespace'"));
}

TEST(RulesLoad, FailedReloadKeepsOldRules) {
  test::TempDir dir;
  std::string rules = dir.Write("r.yml", kShellRule);
  auto d = SigmaDetector::Create(test::OptionsFor({rules}), nullptr);
  ASSERT_THAT(d, test::IsOk());
  // A broken edit: the reload fails and the shell rule still fires.
  dir.Write("r.yml", std::string(kShellRule) +
                         "---\ntitle: Broken\nlogsource: {category: process_creation}\n"
                         "detection:\n  sel: {Image|bogus: x}\n  condition: sel\n");
  EXPECT_THAT((*d)->Reload(), StatusIs(kInvalid, rules + ":19:9: unknown modifier bogus"));
  EXPECT_THAT(Alerts(**d, Exec("/bin/sh", {"sh"})), SizeIs(1));
  DetectorStats s = (*d)->Stats();
  EXPECT_EQ(s.rules.reload_failures(), 1u);
  EXPECT_THAT(s.rules.last_error(), ::testing::HasSubstr("unknown modifier bogus"));
  EXPECT_EQ(s.rules.rules(0).title(), "Shell in container");
  // A good edit takes effect from the next event.
  dir.Write("r.yml",
            "title: Curl\nid: curl\nlogsource: {category: process_creation}\n"
            "detection:\n  sel: {Image|endswith: /curl}\n  condition: sel\n");
  EXPECT_THAT((*d)->Reload(), test::IsOk());
  EXPECT_THAT(Alerts(**d, Exec("/bin/sh", {"sh"}, "node:1:7")), IsEmpty());
  EXPECT_THAT(Alerts(**d, Exec("/usr/bin/curl", {"curl"})), SizeIs(1));
  s = (*d)->Stats();
  EXPECT_EQ(s.rules.reloads(), 1u);
  EXPECT_EQ(s.rules.last_error(), "");
  ASSERT_THAT(s.rules.rules(), SizeIs(1));
  EXPECT_EQ(s.rules.rules(0).id(), "curl");
}

TEST(RulesLoad, ReloadedRulesAreListedBeforeTheNextEvent) {
  // `vigilctl rules list` right after a SIGHUP, on a node with no event in
  // between, lists what was reloaded, not the rules it replaced.
  test::TempDir dir;
  std::string rules = dir.Write("r.yml", kShellRule);
  auto d = SigmaDetector::Create(test::OptionsFor({rules}), nullptr);
  ASSERT_THAT(d, test::IsOk());
  dir.Write("r.yml", std::string(kShellRule) +
                         "---\ntitle: Curl\nid: curl\nlogsource: {category: process_creation}\n"
                         "detection:\n  sel: {Image|endswith: /curl}\n  condition: sel\n");
  ASSERT_THAT((*d)->Reload(), test::IsOk());
  DetectorStats s = (*d)->Stats();
  EXPECT_EQ(s.rules.reloads(), 1u);
  ASSERT_THAT(s.rules.rules(), SizeIs(2));
  EXPECT_EQ(s.rules.rules(1).id(), "curl");
  // And they are the ones in force from the next event.
  EXPECT_THAT(Alerts(**d, Exec("/usr/bin/curl", {"curl"})), SizeIs(1));
  ASSERT_THAT((*d)->Stats().rules.rules(), SizeIs(2));
  EXPECT_EQ((*d)->Stats().rules.rules(1).alerts(), 1u);
}

TEST(RulesLoad, PerRuleStats) {
  auto l = LoadRules(kShellRule);
  ASSERT_THAT(l->status, test::IsOk());
  Alerts(*l->detector, Exec("/bin/bash", {"bash"}));
  Alerts(*l->detector, Exec("/bin/ls", {"ls"}));
  Alerts(*l->detector, test::ProcessEvent(v1::EVENT_KIND_EXIT, "/bin/bash", {"bash"}));
  DetectorStats stats = l->detector->Stats();
  const v1::RuleStatus& r = stats.rules.rules(0);
  // Exec events only, and of those only the ones whose Image has a name the
  // rule requires (the index skips the others).
  EXPECT_EQ(r.evaluations(), 1u);
  EXPECT_EQ(r.matches(), 1u);
  EXPECT_EQ(r.alerts(), 1u);
  EXPECT_THAT(r.kinds(), ElementsAre(v1::EVENT_KIND_EXEC));
  EXPECT_THAT(r.techniques(), ElementsAre("T1059.004"));
}

}  // namespace
}  // namespace vigil
