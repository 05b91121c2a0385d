// Detection end to end on the real kernel: the real sensor loads a rules file
// the test writes, a process really does what a rule describes, and the alert
// shows on the sensor's JSON output, in `vigilctl tail -k alert` (JSON and
// compact) and in `vigilctl rules list`; reloads on SIGHUP and on file
// change, a broken reload keeping the old rules, a broken file at start.
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "ctl_process.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"
#include "vigil/v1/sensor_api.pb.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;

// A process_creation rule matching /bin/echo with `marker` in its argv.
std::string EchoRule(const std::string& id, const std::string& title, const std::string& marker,
                     const std::string& level = "high") {
  return absl::StrCat(R"(title: )", title, R"(
id: )",
                      id, R"(
status: test
description: A test rule of alerts_test.
author: Vigil tests
tags:
  - attack.execution
  - attack.t1059.004
logsource:
  category: process_creation
  product: linux
detection:
  selection:
    Image|endswith: /echo
    CommandLine|contains: )",
                      marker, R"(
  condition: selection
falsepositives:
  - None, the marker is random
level: )",
                      level, "\n");
}

// Line 9, column 5 is a field no event has: refused.
std::string BrokenRule(const std::string& id) {
  return absl::StrCat(R"(title: Broken test rule
id: )",
                      id, R"(
status: test
logsource:
  category: process_creation
  product: linux
detection:
  selection:
    NoSuchField: x
  condition: selection
level: low
)");
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::trunc) << text; }

// Written beside `path` and renamed over it, as editors and tools do.
void ReplaceFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  WriteFile(tmp, text);
  fs::rename(tmp, path);
}

struct Files {
  std::string dir;
  // The rule path the sensor is given: a symlink into real/, so that an
  // edit of real/rules.yml is seen only by SIGHUP (the watcher watches the
  // path it was given), while replacing the link is seen by the watcher.
  std::string rules;
  std::string real;
  std::string nonce = Nonce().substr(0, 12);
  std::string id_a = absl::StrCat("0c1d2e3f-aaaa-4000-8000-", Nonce().substr(0, 12));
  std::string id_b = absl::StrCat("0c1d2e3f-bbbb-4000-8000-", Nonce().substr(0, 12));
  std::string id_c = absl::StrCat("0c1d2e3f-cccc-4000-8000-", Nonce().substr(0, 12));
  std::string RuleA() const { return EchoRule(id_a, "Vigil test rule A", "vigil-detect-a-" + nonce); }
  std::string RuleB() const { return EchoRule(id_b, "Vigil test rule B", "vigil-detect-b-" + nonce, "medium"); }
  std::string RuleC() const { return EchoRule(id_c, "Vigil test rule C", "vigil-detect-c-" + nonce, "low"); }
};

Files* files = nullptr;

class DetectionTest : public SharedSensorSuite<DetectionTest> {
 public:
  static std::vector<std::string> SensorFlags() {
    files = new Files();
    char templ[] = "/tmp/vigil-detect-XXXXXX";
    files->dir = mkdtemp(templ);
    fs::create_directories(files->dir + "/rules");
    fs::create_directories(files->dir + "/real");
    files->real = files->dir + "/real/rules.yml";
    files->rules = files->dir + "/rules/test.yml";
    WriteFile(files->real, files->RuleA());
    fs::create_symlink(files->real, files->rules);
    // Only this test's rules: the outcome must not depend on the default
    // ruleset or on what the machine has in /etc/vigil.
    return {"--rules=" + files->dir + "/rules", "--embedded_rules=false",
            "--rules_exceptions=" + files->dir + "/exceptions.yml", "--rules_lists_dir=" + files->dir + "/lists",
            "--alert_aggregation_window=60s"};
  }
  static void TearDownTestSuite() {
    SharedSensorSuite<DetectionTest>::TearDownTestSuite();
    if (files != nullptr) fs::remove_all(files->dir);
    delete files;
    files = nullptr;
  }

 protected:
  static std::vector<std::string> Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", sensor().api_socket()});
    return args;
  }

  static v1::ListRulesResponse ListRules() {
    std::string out, err;
    EXPECT_EQ(RunCtl(Ctl({"rules", "list", "-o", "json"}), &out, &err), 0) << err;
    v1::ListRulesResponse r;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(out, &r).ok()) << out;
    return r;
  }

  static std::optional<v1::ComponentStatus> DetectorStatus() {
    std::string out, err;
    EXPECT_EQ(RunCtl(Ctl({"status", "-o", "json"}), &out, &err), 0) << err;
    v1::StatusResponse r;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(out, &r).ok()) << out;
    for (const v1::ComponentStatus& c : r.components()) {
      if (c.name() == "detector") return c;
    }
    return std::nullopt;
  }

  static std::string Metrics() {
    std::string out, err;
    EXPECT_EQ(RunCtl(Ctl({"status", "-o", "json"}), &out, &err), 0) << err;
    v1::StatusResponse r;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(out, &r).ok()) << out;
    httplib::Client http(absl::StrCat("http://", r.metrics_address()));
    auto res = http.Get("/metrics");
    EXPECT_TRUE(res) << httplib::to_string(res.error());
    return res ? res->body : "";
  }

  // Polls `rules list` until `pred` holds.
  static std::optional<v1::ListRulesResponse> WaitRules(const std::function<bool(const v1::ListRulesResponse&)>& pred,
                                                        absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      v1::ListRulesResponse r = ListRules();
      if (pred(r)) return r;
      if (absl::Now() >= deadline) return std::nullopt;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  static bool HasRule(const v1::ListRulesResponse& r, const std::string& id) {
    return std::any_of(r.rules().begin(), r.rules().end(), [&](const v1::RuleStatus& s) { return s.id() == id; });
  }

  // Runs /bin/echo <marker> and waits for the alert of rule `id` on it in
  // the sensor's output.
  static std::optional<v1::Event> TriggerAndWait(const std::string& marker, const std::string& id, pid_t* pid_out) {
    const pid_t pid = Spawn({"/bin/echo", marker});
    WaitExit(pid);
    if (pid_out != nullptr) *pid_out = pid;
    return sensor().WaitFor([&](const v1::Event& e) {
      return e.kind() == v1::EVENT_KIND_ALERT && e.alert().rule_id() == id &&
             e.process().pid() == static_cast<uint32_t>(pid);
    });
  }

  // SIGHUP, then waits until a reload has succeeded or failed.
  static void Sighup(bool expect_success) {
    const v1::ListRulesResponse before = ListRules();
    ASSERT_EQ(kill(sensor().pid(), SIGHUP), 0);
    const bool done =
        WaitRules([&](const v1::ListRulesResponse& r) {
          return expect_success ? r.reloads() > before.reloads() : r.reload_failures() > before.reload_failures();
        }).has_value();
    ASSERT_TRUE(done) << "no " << (expect_success ? "reload" : "failed reload") << " after SIGHUP; "
                      << sensor().Stderr();
  }
};

TEST_F(DetectionTest, AlertOnTheOutputInTailAndInRulesList) {
  auto json_tail = std::make_unique<CtlProcess>(Ctl({"tail", "-k", "alert", "-o", "json"}));
  auto compact_tail = std::make_unique<CtlProcess>(Ctl({"tail", "-k", "alert", "-o", "compact"}));
  ASSERT_TRUE(json_tail->WaitStderr("vigilctl: tailing")) << json_tail->Stderr();
  ASSERT_TRUE(compact_tail->WaitStderr("vigilctl: tailing")) << compact_tail->Stderr();

  pid_t pid = -1;
  const std::string marker = "vigil-detect-a-" + files->nonce + "-first";
  const std::optional<v1::Event> alert = TriggerAndWait(marker, files->id_a, &pid);
  ASSERT_TRUE(alert.has_value()) << sensor().Stderr();
  const v1::Alert& a = alert->alert();
  EXPECT_EQ(a.title(), "Vigil test rule A");
  EXPECT_EQ(a.severity(), v1::SEVERITY_HIGH);
  EXPECT_THAT(a.techniques(), Contains("T1059.004"));
  EXPECT_THAT(a.tactics(), Contains("execution"));
  EXPECT_EQ(a.count(), 1u);
  EXPECT_FALSE(a.aggregated());
  EXPECT_THAT(a.false_positives(), Contains("None, the marker is random"));
  EXPECT_THAT(a.rule_file(), HasSubstr("test.yml"));
  EXPECT_EQ(alert->node(), kTestNode);
  EXPECT_EQ(alert->process().exe(), "/bin/echo");
  EXPECT_THAT(alert->process().argv(), Contains(marker));
  EXPECT_FALSE(alert->id().empty());
  // It names the exec event that raised it, which is on the output too.
  ASSERT_EQ(a.event_ids_size(), 1);
  const std::optional<v1::Event> exec =
      sensor().WaitFor([&](const v1::Event& e) { return e.id() == a.event_ids(0); }, absl::Seconds(1));
  ASSERT_TRUE(exec.has_value());
  EXPECT_TRUE(IsExec(*exec));
  EXPECT_EQ(exec->process().pid(), static_cast<uint32_t>(pid));

  // The same alert through the local API.
  ASSERT_TRUE(json_tail->WaitStdout(a.rule_id())) << json_tail->Stdout();
  bool seen = false;
  for (const v1::Event& e : json_tail->JsonEvents()) {
    EXPECT_EQ(e.kind(), v1::EVENT_KIND_ALERT) << e.ShortDebugString();
    if (e.id() == alert->id()) {
      seen = true;
      EXPECT_EQ(e.alert().rule_id(), files->id_a);
      EXPECT_EQ(e.process().pid(), static_cast<uint32_t>(pid));
    }
  }
  EXPECT_TRUE(seen) << json_tail->Stdout();
  ASSERT_TRUE(compact_tail->WaitStdout(files->id_a)) << compact_tail->Stdout();
  EXPECT_THAT(compact_tail->Stdout(),
              AllOf(HasSubstr(" alert "), HasSubstr("HIGH Vigil test rule A [T1059.004] rule=" + files->id_a)));

  // `rules list` counts it.
  const v1::ListRulesResponse rules = ListRules();
  ASSERT_EQ(rules.rules_size(), 1) << rules.ShortDebugString();
  const v1::RuleStatus& r = rules.rules(0);
  EXPECT_EQ(r.id(), files->id_a);
  EXPECT_EQ(r.title(), "Vigil test rule A");
  EXPECT_EQ(r.severity(), v1::SEVERITY_HIGH);
  EXPECT_THAT(r.kinds(), Contains(v1::EVENT_KIND_EXEC));
  EXPECT_GE(r.matches(), 1u);
  EXPECT_GE(r.alerts(), 1u);
  EXPECT_GE(r.evaluations(), r.matches());  // rules are indexed by Image: maybe only echo execs
  std::string table, err;
  ASSERT_EQ(RunCtl(Ctl({"rules", "list"}), &table, &err), 0) << err;
  EXPECT_THAT(table, AllOf(HasSubstr("SEVERITY"), HasSubstr(files->id_a), HasSubstr("Vigil test rule A"),
                           HasSubstr("T1059.004")));

  // Status and /metrics.
  const std::optional<v1::ComponentStatus> detector = DetectorStatus();
  ASSERT_TRUE(detector.has_value());
  EXPECT_EQ(detector->state(), "ok");
  EXPECT_EQ(detector->details().at("rules"), "1");
  const std::string metrics = Metrics();
  EXPECT_TRUE(std::regex_search(
      metrics, std::regex(absl::StrCat("vigil_alerts_total\\{rule=\"", files->id_a, "\",severity=\"high\"\\} [1-9]"))))
      << metrics;
  EXPECT_THAT(metrics, AllOf(HasSubstr("vigil_rules_loaded 1\n"),
                             HasSubstr(absl::StrCat("vigil_rule_eval_seconds_total{rule=\"", files->id_a, "\"} ")),
                             HasSubstr("vigil_rules_reloads_total "), HasSubstr("vigil_rules_reload_failures_total ")));
}

TEST_F(DetectionTest, SighupReloadsANewRuleThatFires) {
  WriteFile(files->real, files->RuleA() + "---\n" + files->RuleB());
  ASSERT_NO_FATAL_FAILURE(Sighup(true));
  const v1::ListRulesResponse rules = ListRules();
  EXPECT_TRUE(HasRule(rules, files->id_a) && HasRule(rules, files->id_b)) << rules.ShortDebugString();
  EXPECT_TRUE(rules.last_error().empty()) << rules.last_error();
  const std::optional<v1::Event> alert = TriggerAndWait("vigil-detect-b-" + files->nonce, files->id_b, nullptr);
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->alert().severity(), v1::SEVERITY_MEDIUM);
}

TEST_F(DetectionTest, BrokenReloadKeepsTheOldRulesAndSaysWhy) {
  WriteFile(files->real, files->RuleA());
  ASSERT_NO_FATAL_FAILURE(Sighup(true));
  const std::string metrics_before = Metrics();

  WriteFile(files->real, BrokenRule(files->id_c));
  ASSERT_NO_FATAL_FAILURE(Sighup(false));
  const v1::ListRulesResponse rules = ListRules();
  // file:line:column of the unknown field.
  EXPECT_TRUE(std::regex_search(rules.last_error(), std::regex("test\\.yml:9:5: .*NoSuchField"))) << rules.last_error();
  ASSERT_EQ(rules.rules_size(), 1);
  EXPECT_EQ(rules.rules(0).id(), files->id_a);
  const std::optional<v1::ComponentStatus> detector = DetectorStatus();
  ASSERT_TRUE(detector.has_value());
  EXPECT_EQ(detector->state(), "degraded");
  EXPECT_EQ(detector->details().at("last_error"), rules.last_error());
  std::string text, err;
  ASSERT_EQ(RunCtl(Ctl({"status"}), &text, &err), 0) << err;
  EXPECT_THAT(text, AllOf(HasSubstr("detector"), HasSubstr("degraded"), HasSubstr("NoSuchField")));
  EXPECT_THAT(Metrics(), HasSubstr(absl::StrCat("vigil_rules_reload_failures_total ", rules.reload_failures(), "\n")));
  EXPECT_THAT(sensor().Stderr(), HasSubstr("reload failed"));

  // The old rule still fires.
  ASSERT_TRUE(TriggerAndWait("vigil-detect-a-" + files->nonce + "-after-broken", files->id_a, nullptr).has_value());

  // Fixed: the error is gone.
  WriteFile(files->real, files->RuleA());
  ASSERT_NO_FATAL_FAILURE(Sighup(true));
  EXPECT_TRUE(ListRules().last_error().empty());
  EXPECT_EQ(DetectorStatus()->state(), "ok");
}

TEST_F(DetectionTest, ChangedFileIsReloadedWithoutASignal) {
  const v1::ListRulesResponse before = ListRules();
  // Replaces the symlink in the watched directory with a file holding C.
  ReplaceFile(files->rules, files->RuleC());
  const std::optional<v1::ListRulesResponse> after =
      WaitRules([&](const v1::ListRulesResponse& r) { return HasRule(r, files->id_c); });
  ASSERT_TRUE(after.has_value()) << sensor().Stderr();
  EXPECT_FALSE(HasRule(*after, files->id_a));
  EXPECT_GT(after->reloads(), before.reloads());
  ASSERT_TRUE(TriggerAndWait("vigil-detect-c-" + files->nonce, files->id_c, nullptr).has_value());

  // A new file in the directory counts too.
  WriteFile(files->dir + "/rules/more.yml", files->RuleB());
  ASSERT_TRUE(WaitRules([&](const v1::ListRulesResponse& r) { return HasRule(r, files->id_b); }).has_value());
}

// A rules file that turns to garbage in place while the sensor runs (a disk
// error, a botched copy: bytes that are not YAML, not UTF-8, with NULs): the
// watcher's reload fails and says so, the rules in force stay and fire, and
// events keep flowing (the suite's final health counts nothing lost).
TEST_F(DetectionTest, RulesFileTurnedToGarbageKeepsTheRulesInForce) {
  const std::string good = files->RuleC();
  WriteFile(files->rules, good);
  ASSERT_TRUE(WaitRules([&](const v1::ListRulesResponse& r) { return HasRule(r, files->id_c); }).has_value());
  const v1::ListRulesResponse before = ListRules();

  std::mt19937 rng(15);
  constexpr char kBad[] = "\0\xff\xfe\x1b[2J\n\t- [";
  std::string garbage = good.substr(0, good.size() / 2) + std::string(kBad, sizeof(kBad) - 1);
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>(rng()));
  WriteFile(files->rules, garbage);
  const std::optional<v1::ListRulesResponse> failed =
      WaitRules([&](const v1::ListRulesResponse& r) { return r.reload_failures() > before.reload_failures(); });
  ASSERT_TRUE(failed.has_value()) << "no failed reload after the file turned to garbage; " << sensor().Stderr();
  EXPECT_THAT(failed->last_error(), HasSubstr("test.yml"));
  EXPECT_EQ(failed->rules_size(), before.rules_size());
  EXPECT_TRUE(HasRule(*failed, files->id_c));
  EXPECT_EQ(DetectorStatus()->state(), "degraded");
  ASSERT_TRUE(TriggerAndWait("vigil-detect-c-" + files->nonce + "-garbage", files->id_c, nullptr).has_value());

  WriteFile(files->rules, good);
  ASSERT_TRUE(WaitRules([&](const v1::ListRulesResponse& r) { return r.last_error().empty(); }).has_value());
  EXPECT_EQ(DetectorStatus()->state(), "ok");
}

TEST(DetectionStart, BadRulesFileFailsTheStartWithFileLineColumn) {
  RequireBpfOrSkip();
  char templ[] = "/tmp/vigil-detect-XXXXXX";
  const std::string dir = mkdtemp(templ);
  const std::string path = dir + "/bad.yml";
  WriteFile(path, BrokenRule("0c1d2e3f-dddd-4000-8000-000000000001"));
  SensorProcess sensor({"--rules=" + path, "--embedded_rules=false"});
  ASSERT_OK(sensor.Launch());
  const int status = sensor.WaitExit(absl::Seconds(30));
  EXPECT_EQ(SensorProcess::DescribeStatus(status), "exit 1");
  EXPECT_THAT(sensor.Stderr(), HasSubstr(path + ":9:5: ")) << sensor.Stderr();
  fs::remove_all(dir);
}

// No sensor and no root needed.
TEST(RulesCheck, GoodFilesPassBadOnesNameFileLineColumn) {
  char templ[] = "/tmp/vigil-detect-XXXXXX";
  const std::string dir = mkdtemp(templ);
  fs::create_directories(dir + "/good");
  WriteFile(dir + "/good/a.yml", EchoRule("0c1d2e3f-eeee-4000-8000-000000000001", "A", "x"));
  WriteFile(dir + "/good/b.yml", EchoRule("0c1d2e3f-eeee-4000-8000-000000000002", "B", "y"));
  std::string out, err;
  EXPECT_EQ(RunCtl({"rules", "check", dir + "/good"}, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("2 rules OK"));

  WriteFile(dir + "/bad.yml", BrokenRule("0c1d2e3f-eeee-4000-8000-000000000003"));
  EXPECT_EQ(RunCtl({"rules", "check", dir + "/good", dir + "/bad.yml"}, &out, &err), 1);
  EXPECT_TRUE(absl::StartsWith(err, dir + "/bad.yml:9:5: ")) << err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::testing
