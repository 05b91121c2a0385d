// The azure-logs forwarder against the local Azure emulator, over real HTTPS
// on loopback: what arrives, how often a token is fetched, and what happens
// to each kind of refusal or failure the Logs Ingestion API documents.
#include "collector/azure/azure_logs_forwarder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "azure_emulator.h"
#include "connect_proxy.h"
#include "status_matchers.h"
#include "support/event_pointers.h"
#include "test_pki.h"

namespace vigil::collector {
namespace {

using ::testing::AllOf;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Ge;
using ::testing::HasSubstr;
using ::testing::Le;
using ::testing::SizeIs;
using vigil::test::IsOk;
using vigil::test::StatusIs;
using vigil::testing::AzureEmulator;
using vigil::testing::AzureEmulatorOptions;

std::vector<v1::Event> MakeEvents(int n, const std::string& prefix = "ev", size_t argv_bytes = 8) {
  std::vector<v1::Event> events;
  for (int i = 0; i < n; ++i) {
    v1::Event e;
    e.set_id(absl::StrCat(prefix, "-", i));
    e.set_kind(v1::EVENT_KIND_EXEC);
    *e.mutable_time() = google::protobuf::Timestamp();
    e.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    e.set_node("node-a");
    e.mutable_process()->set_pid(1000 + i);
    e.mutable_process()->set_ppid(1);
    e.mutable_process()->set_uid(0);
    e.mutable_process()->set_comm("sh");
    e.mutable_process()->set_exe("/bin/sh");
    e.mutable_process()->add_argv("sh");
    // Varied text, so gzip cannot shrink a big batch to nothing.
    std::string arg;
    for (size_t k = 0; arg.size() < argv_bytes; ++k) absl::StrAppend(&arg, (i * 7919 + k * 104729) % 1000003, ".");
    e.mutable_process()->add_argv(arg);
    e.mutable_process()->set_exec_id(absl::StrCat("node-a:", i, ":", 1000 + i));
    e.mutable_process()->set_parent_exec_id("node-a:1:1");
    e.mutable_workload()->set_container_id("c0ffee");
    e.mutable_workload()->set_image("busybox:1.36");
    e.mutable_workload()->set_pod_name("web-1");
    e.mutable_workload()->set_pod_namespace("prod");
    e.mutable_exec()->set_filename("/bin/sh");
    e.mutable_exec()->set_argc(2);
    events.push_back(std::move(e));
  }
  return events;
}

// Alerts interleaved with events, as the sensor sends them: after every
// second event, an alert it triggered.
std::vector<v1::Event> MakeMixed(int n, const std::string& prefix) {
  std::vector<v1::Event> mixed;
  for (v1::Event& e : MakeEvents(n, prefix)) {
    mixed.push_back(e);
    if (mixed.size() % 3 != 2) continue;
    v1::Event a = e;
    a.set_id(absl::StrCat(e.id(), "-alert"));
    a.set_kind(v1::EVENT_KIND_ALERT);
    a.mutable_alert()->set_rule_id("rule-1");
    a.mutable_alert()->set_title("Shell in a container");
    a.mutable_alert()->set_severity(v1::SEVERITY_MEDIUM);
    a.mutable_alert()->add_tactics("execution");
    a.mutable_alert()->add_techniques("T1059.004");
    a.mutable_alert()->add_event_ids(e.id());
    mixed.push_back(std::move(a));
  }
  return mixed;
}

// How many times each event id arrived (AlertId for alert rows).
std::map<std::string, int> IdCounts(const std::vector<nlohmann::json>& rows) {
  std::map<std::string, int> counts;
  for (const auto& r : rows) ++counts[r.value("AlertId", r.value("EventId", ""))];
  return counts;
}

void ExpectEachExactlyOnce(const AzureEmulator& emulator, const std::vector<v1::Event>& events) {
  auto counts = IdCounts(emulator.Rows());
  EXPECT_EQ(counts.size(), events.size());
  for (const auto& e : events) EXPECT_EQ(counts[e.id()], 1) << e.id();
}

std::vector<int> Statuses(const AzureEmulator& emulator) {
  std::vector<int> s;
  for (const auto& c : emulator.Calls()) s.push_back(c.status);
  return s;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class AzureLogsForwarderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_dir_ = new std::string(vigil::testing::MakeTempDir("vigil-azure-pki-"));
    auto pki = vigil::testing::MakeTestPki(*pki_dir_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = new vigil::testing::TestPki(*pki);
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*pki_dir_);
    delete pki_;
    delete pki_dir_;
  }

  void SetUp() override {
    dir_ = vigil::testing::MakeTempDir("vigil-azure-test-");
    ASSERT_FALSE(dir_.empty());
    options_.cert_file = pki_->server_cert;
    options_.key_file = pki_->server_key;
    options_.client_secret = "s3cret&=+";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void StartEmulator() {
    auto e = AzureEmulator::Start(options_);
    ASSERT_TRUE(e.ok()) << e.status();
    emulator_ = *std::move(e);
    config_.endpoint = emulator_->url();
    config_.authority_host = emulator_->url();
    config_.dcr_immutable_id = options_.dcr_immutable_id;
    config_.tenant_id = options_.tenant_id;
    config_.client_id = options_.client_id;
    config_.client_secret = options_.client_secret;
    config_.ca_bundle = pki_->ca_cert;
    config_.dead_letter_dir = dir_ + "/dead-letter";
    config_.request_timeout = absl::Seconds(5);
    config_.initial_backoff = absl::Milliseconds(50);
    config_.max_backoff = absl::Milliseconds(400);
    config_.retry_budget = absl::Seconds(20);
  }

  std::unique_ptr<Forwarder> MakeForwarder() {
    auto f = MakeAzureLogsForwarder(config_);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *std::move(f) : nullptr;
  }

  std::vector<std::string> DeadLetters(const std::string& ext) {
    std::vector<std::string> files;
    if (!std::filesystem::exists(config_.dead_letter_dir)) return files;
    for (const auto& f : std::filesystem::directory_iterator(config_.dead_letter_dir)) {
      if (f.path().extension() == ext) files.push_back(f.path());
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  static std::string* pki_dir_;
  static vigil::testing::TestPki* pki_;
  std::string dir_;
  AzureEmulatorOptions options_;
  std::unique_ptr<AzureEmulator> emulator_;
  AzureLogsConfig config_;
};

std::string* AzureLogsForwarderTest::pki_dir_ = nullptr;
vigil::testing::TestPki* AzureLogsForwarderTest::pki_ = nullptr;

TEST_F(AzureLogsForwarderTest, RowsArriveWithTheirColumns) {
  StartEmulator();
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  EXPECT_EQ(forwarder->name(), "azure-logs");
  auto events = MakeEvents(3);
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());

  auto rows = emulator_->Rows();
  ASSERT_THAT(rows, SizeIs(3));
  const auto& row = rows[1];
  EXPECT_EQ(row["EventId"], "ev-1");
  EXPECT_EQ(row["Kind"], "exec");
  EXPECT_EQ(row["Node"], "node-a");
  EXPECT_EQ(row["Pid"], 1001);
  EXPECT_EQ(row["Ppid"], 1);
  EXPECT_EQ(row["Uid"], 0);
  EXPECT_EQ(row["Comm"], "sh");
  EXPECT_EQ(row["Exe"], "/bin/sh");
  EXPECT_EQ(row["CommandLine"], absl::StrCat("sh ", events[1].process().argv(1)));
  EXPECT_EQ(row["ExecId"], "node-a:1:1001");
  EXPECT_EQ(row["ParentExecId"], "node-a:1:1");
  EXPECT_EQ(row["ContainerId"], "c0ffee");
  EXPECT_EQ(row["Image"], "busybox:1.36");
  EXPECT_EQ(row["PodName"], "web-1");
  EXPECT_EQ(row["PodNamespace"], "prod");
  EXPECT_EQ(row["Payload"]["filename"], "/bin/sh");
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, row["TimeGenerated"].get<std::string>(), &t, &err)) << err;
  EXPECT_EQ(absl::ToUnixSeconds(t), events[1].time().seconds());
  // One gzip call, answered 204.
  auto calls = emulator_->Calls();
  ASSERT_THAT(calls, SizeIs(1));
  EXPECT_EQ(calls[0].status, 204);
  EXPECT_LT(calls[0].wire_bytes, calls[0].json_bytes);
}

TEST_F(AzureLogsForwarderTest, TokenIsFetchedOnceAndReused) {
  StartEmulator();
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  for (int i = 0; i < 5; ++i)
    ASSERT_THAT(forwarder->Send(testing::Pointers(MakeEvents(2, absl::StrCat("b", i)))), IsOk());
  EXPECT_EQ(emulator_->token_requests(), 1);
  auto calls = emulator_->Calls();
  ASSERT_THAT(calls, SizeIs(5));
  for (const auto& c : calls) EXPECT_EQ(c.token, calls[0].token);
  auto forms = emulator_->TokenForms();
  EXPECT_EQ(forms[0].find("grant_type")->second, "client_credentials");
  EXPECT_EQ(forms[0].find("client_secret")->second, "s3cret&=+");
  EXPECT_EQ(forms[0].find("scope")->second, "https://monitor.azure.com//.default");
}

TEST_F(AzureLogsForwarderTest, TokenIsRefreshedBeforeItExpires) {
  options_.token_lifetime_seconds = 2;  // renewed after half its life
  StartEmulator();
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  ASSERT_THAT(forwarder->Send(testing::Pointers(MakeEvents(1, "a"))), IsOk());
  ASSERT_THAT(forwarder->Send(testing::Pointers(MakeEvents(1, "b"))), IsOk());
  EXPECT_EQ(emulator_->token_requests(), 1);
  absl::SleepFor(absl::Milliseconds(1200));
  ASSERT_THAT(forwarder->Send(testing::Pointers(MakeEvents(1, "c"))), IsOk());
  EXPECT_EQ(emulator_->token_requests(), 2);
  // Never sent with an expired token: no call was refused.
  EXPECT_THAT(Statuses(*emulator_), ElementsAre(204, 204, 204));
  auto calls = emulator_->Calls();
  EXPECT_NE(calls[2].token, calls[0].token);
}

TEST_F(AzureLogsForwarderTest, RevokedTokenIsReplacedAtOnce) {
  StartEmulator();
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  ASSERT_THAT(forwarder->Send(testing::Pointers(MakeEvents(1, "a"))), IsOk());
  emulator_->RevokeTokens();
  auto events = MakeEvents(2, "b");
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  EXPECT_THAT(Statuses(*emulator_), ElementsAre(204, 401, 204));
  EXPECT_EQ(emulator_->token_requests(), 2);
  EXPECT_EQ(IdCounts(emulator_->Rows()), (std::map<std::string, int>{{"a-0", 1}, {"b-0", 1}, {"b-1", 1}}));
}

TEST_F(AzureLogsForwarderTest, WorkloadIdentityTokenFileIsReadForEachToken) {
  options_.client_secret.clear();
  options_.client_assertion = "eyJhbGciOi.first.sig";
  options_.token_lifetime_seconds = 2;
  StartEmulator();
  std::string token_file = dir_ + "/azure-identity-token";
  std::ofstream(token_file) << options_.client_assertion << "\n";
  config_.client_secret.clear();
  config_.federated_token_file = token_file;
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  ASSERT_THAT(forwarder->Send(testing::Pointers(MakeEvents(1, "a"))), IsOk());
  // The kubelet rotates the projected token; the old one stops working.
  std::ofstream(token_file, std::ios::trunc) << "eyJhbGciOi.second.sig";
  emulator_->SetClientAssertion("eyJhbGciOi.second.sig");
  absl::SleepFor(absl::Milliseconds(1200));
  ASSERT_THAT(forwarder->Send(testing::Pointers(MakeEvents(1, "b"))), IsOk());
  auto forms = emulator_->TokenForms();
  ASSERT_THAT(forms, SizeIs(2));
  for (const auto& f : forms) {
    EXPECT_EQ(f.find("client_assertion_type")->second, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    EXPECT_EQ(f.count("client_secret"), 0u);
  }
  EXPECT_EQ(forms[0].find("client_assertion")->second, "eyJhbGciOi.first.sig");
  EXPECT_EQ(forms[1].find("client_assertion")->second, "eyJhbGciOi.second.sig");
  EXPECT_THAT(emulator_->Rows(), SizeIs(2));
}

TEST_F(AzureLogsForwarderTest, TooManyRequestsWaitsForRetryAfter) {
  StartEmulator();
  emulator_->FailNext(1, 429, /*retry_after_seconds=*/2);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(10);
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  auto calls = emulator_->Calls();
  ASSERT_THAT(Statuses(*emulator_), ElementsAre(429, 204));
  absl::Duration waited = calls[1].at - calls[0].at;
  std::printf("429 Retry-After: 2 s, measured wait %s\n", absl::FormatDuration(waited).c_str());
  EXPECT_GE(waited, absl::Seconds(2));
  EXPECT_LT(waited, absl::Seconds(3));  // and not the (much longer) backoff cap either
  ExpectEachExactlyOnce(*emulator_, events);
}

// Issue 15, defect 9: a Retry-After of years does not stall the forwarder.
TEST_F(AzureLogsForwarderTest, HugeRetryAfterIsCapped) {
  StartEmulator();
  config_.max_retry_after = absl::Seconds(1);
  emulator_->FailNext(1, 429, /*retry_after_seconds=*/1000000000);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(3);
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  ASSERT_THAT(Statuses(*emulator_), ElementsAre(429, 204));
  ExpectEachExactlyOnce(*emulator_, events);
}

TEST_F(AzureLogsForwarderTest, ServerErrorsAreRetriedThenDeliveredWithoutDuplicates) {
  StartEmulator();
  emulator_->FailNext(4, 500);
  emulator_->FailNext(1, 503);
  emulator_->FailNext(1, 408);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(50);
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  EXPECT_THAT(Statuses(*emulator_), ElementsAre(500, 500, 500, 500, 503, 408, 204));
  // Backoff grows: the gap before the last retry is longer than the first.
  auto calls = emulator_->Calls();
  EXPECT_GT(calls[4].at - calls[3].at, calls[1].at - calls[0].at);
  ExpectEachExactlyOnce(*emulator_, events);
}

TEST_F(AzureLogsForwarderTest, RetryAfterIsHonouredAcrossSends) {
  StartEmulator();
  config_.retry_budget = absl::Seconds(1);  // shorter than the Retry-After
  emulator_->FailNext(1, 429, /*retry_after_seconds=*/2);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(3);
  EXPECT_THAT(forwarder->Send(testing::Pointers(events)), StatusIs(absl::StatusCode::kUnavailable, "429"));
  // The collector hands the batch back at once: no call before the 2 s are up.
  EXPECT_THAT(forwarder->Send(testing::Pointers(events)), StatusIs(absl::StatusCode::kUnavailable, "throttled"));
  EXPECT_THAT(Statuses(*emulator_), ElementsAre(429));
  // Half a second before the Retry-After ends: within the next Send's budget.
  absl::SleepFor(emulator_->Calls()[0].at + absl::Milliseconds(1500) - absl::Now());
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());  // waits out the rest (< budget), then sends
  auto calls = emulator_->Calls();
  ASSERT_THAT(Statuses(*emulator_), ElementsAre(429, 204));
  EXPECT_GE(calls[1].at - calls[0].at, absl::Seconds(2));
  ExpectEachExactlyOnce(*emulator_, events);
}

TEST_F(AzureLogsForwarderTest, RowOverTheCallLimitIsParkedAndTheRestDelivered) {
  StartEmulator();
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(3);
  events[1].mutable_process()->set_argv(1, std::string(1100 * 1000, 'a'));
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  auto counts = IdCounts(emulator_->Rows());
  EXPECT_EQ(counts, (std::map<std::string, int>{{"ev-0", 1}, {"ev-2", 1}}));
  auto bodies = DeadLetters(".json");
  ASSERT_THAT(bodies, SizeIs(1));
  EXPECT_EQ(nlohmann::json::parse(ReadFile(bodies[0]))[0]["EventId"], "ev-1");
  EXPECT_THAT(ReadFile(DeadLetters(".reason")[0]), AllOf(HasSubstr("not sent"), HasSubstr("call limit")));
}

TEST_F(AzureLogsForwarderTest, PayloadTooLargeSplitsTheBatch) {
  StartEmulator();
  emulator_->SetMaxRowsPerCall(10);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(35);
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  ExpectEachExactlyOnce(*emulator_, events);
  int accepted = 0;
  for (const auto& c : emulator_->Calls()) {
    if (c.status == 204) {
      ++accepted;
      EXPECT_LE(c.rows, 10u);
    }
  }
  EXPECT_GE(accepted, 4);
  EXPECT_TRUE(DeadLetters(".json").empty());
}

TEST_F(AzureLogsForwarderTest, BatchOverOneMegabyteIsSplitIntoCallsUnderTheLimit) {
  StartEmulator();
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(3000, "big", 1000);  // about 7.5 MB of JSON
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  ExpectEachExactlyOnce(*emulator_, events);
  auto calls = emulator_->Calls();
  EXPECT_GE(calls.size(), 4u);
  size_t total = 0;
  for (const auto& c : calls) {
    EXPECT_EQ(c.status, 204);
    EXPECT_LE(c.json_bytes, 1000u * 1000u);
    EXPECT_LE(c.wire_bytes, 1000u * 1000u);
    total += c.json_bytes;
  }
  std::printf("%zu rows, %zu bytes of JSON in %zu calls\n", events.size(), total, calls.size());
  EXPECT_GT(total, 3u * 1000u * 1000u);
}

TEST_F(AzureLogsForwarderTest, RefusedBatchesAreParkedWithTheResponseBody) {
  StartEmulator();
  emulator_->FailNext(1, 400, -1, "InvalidColumn: Pid is not an int");
  emulator_->FailNext(1, 403, -1, "The principal has no Monitoring Metrics Publisher role on the DCR");
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto first = MakeEvents(5, "first");
  auto second = MakeEvents(4, "second");
  ASSERT_THAT(forwarder->Send(testing::Pointers(first)), IsOk());  // parked durably counts as handled
  ASSERT_THAT(forwarder->Send(testing::Pointers(second)), IsOk());
  EXPECT_TRUE(emulator_->Rows().empty());
  auto bodies = DeadLetters(".json");
  auto reasons = DeadLetters(".reason");
  ASSERT_THAT(bodies, SizeIs(2));
  ASSERT_THAT(reasons, SizeIs(2));
  EXPECT_THAT(ReadFile(reasons[0]), AllOf(HasSubstr("HTTP 400"), HasSubstr("Pid is not an int")));
  EXPECT_THAT(ReadFile(reasons[1]), AllOf(HasSubstr("HTTP 403"), HasSubstr("Monitoring Metrics Publisher")));
  // The parked file is the body as it was sent: a replayable JSON array.
  auto parked = nlohmann::json::parse(ReadFile(bodies[0]));
  ASSERT_TRUE(parked.is_array());
  std::vector<std::string> ids;
  for (const auto& r : parked) ids.push_back(r["EventId"]);
  EXPECT_THAT(ids, ElementsAre("first-0", "first-1", "first-2", "first-3", "first-4"));
  EXPECT_EQ(nlohmann::json::parse(ReadFile(bodies[1])).size(), 4u);
}

TEST_F(AzureLogsForwarderTest, AlertsGoToTheirOwnStreamAndEventsStayInTheirs) {
  // The streams and columns of the shipped template: a row with a column the
  // DCR does not declare is refused.
  auto tmpl = vigil::testing::ReadJsonFile(VIGIL_AZURE_DEPLOY_DIR "/azuredeploy.json");
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  auto streams = vigil::testing::DcrStreams(*tmpl);
  ASSERT_TRUE(streams.ok()) << streams.status();
  options_.streams = *streams;
  StartEmulator();
  config_.cluster = "aks-prod";
  config_.max_call_bytes = 4096;  // several calls per stream
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto mixed = MakeMixed(60, "m");
  ASSERT_THAT(forwarder->Send(testing::Pointers(mixed)), IsOk());
  ExpectEachExactlyOnce(*emulator_, mixed);
  auto alerts = emulator_->Rows("Custom-VigilAlerts_CL");
  auto events = emulator_->Rows("Custom-VigilEvents_CL");
  EXPECT_THAT(alerts, SizeIs(30));
  EXPECT_THAT(events, SizeIs(60));
  for (const auto& r : alerts) {
    EXPECT_EQ(r["RuleId"], "rule-1");
    EXPECT_EQ(r["Cluster"], "aks-prod");
    EXPECT_FALSE(r.contains("EventId"));
  }
  for (const auto& r : events) EXPECT_EQ(r["Kind"], "exec");
  size_t alert_calls = 0;
  for (const auto& c : emulator_->Calls()) {
    EXPECT_LE(c.json_bytes, 4096u);
    alert_calls += c.stream == "Custom-VigilAlerts_CL";
  }
  EXPECT_GE(alert_calls, 2u);
}

// A DCR deployed from an older template has no alerts stream: the API answers
// 400 for it. The alerts are parked for replay (naming their stream), the
// events are delivered, and the batch counts as handled.
TEST_F(AzureLogsForwarderTest, RefusedAlertsStreamDoesNotCostTheEvents) {
  options_.streams = {{"Custom-VigilEvents_CL", {}}};
  StartEmulator();
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto mixed = MakeMixed(9, "old-dcr");
  ASSERT_THAT(forwarder->Send(testing::Pointers(mixed)), IsOk());
  EXPECT_THAT(emulator_->Rows("Custom-VigilEvents_CL"), SizeIs(9));
  auto bodies = DeadLetters(".json");
  ASSERT_THAT(bodies, SizeIs(1));
  EXPECT_THAT(ReadFile(DeadLetters(".reason")[0]),
              AllOf(HasSubstr("HTTP 400"), HasSubstr("stream: Custom-VigilAlerts_CL"), HasSubstr("not declared")));
  std::vector<std::string> parked;
  for (const auto& r : nlohmann::json::parse(ReadFile(bodies[0]))) parked.push_back(r["AlertId"]);
  EXPECT_THAT(parked, ElementsAre("old-dcr-1-alert", "old-dcr-3-alert", "old-dcr-5-alert", "old-dcr-7-alert"));
}

// The alerts stream is delivered, then the events stream fails past the
// retry budget: the batch goes back to the collector, and its retry sends
// the events once and the alerts not again.
TEST_F(AzureLogsForwarderTest, BatchRetriedAfterOneStreamFailedSendsEachRowOnce) {
  StartEmulator();
  config_.retry_budget = absl::Milliseconds(300);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto mixed = MakeMixed(12, "retry");
  emulator_->SlowNext(1, absl::ZeroDuration());  // the alerts call passes
  emulator_->FailNext(50, 503);
  EXPECT_THAT(forwarder->Send(testing::Pointers(mixed)), StatusIs(absl::StatusCode::kUnavailable, "gave up"));
  EXPECT_THAT(emulator_->Rows("Custom-VigilAlerts_CL"), SizeIs(6));
  EXPECT_THAT(emulator_->Rows("Custom-VigilEvents_CL"), SizeIs(0));
  emulator_->ClearFaults();
  ASSERT_THAT(forwarder->Send(testing::Pointers(mixed)), IsOk());
  ExpectEachExactlyOnce(*emulator_, mixed);
}

// Issue 15, defect 9: a refusal that lasts cannot fill the disk: reasons are
// cut, the directory is capped, and past the cap a batch is not delivered
// (the collector keeps it in its spool) rather than dropped.
TEST_F(AzureLogsForwarderTest, DeadLettersAreBounded) {
  StartEmulator();
  const std::string huge_reason(200 << 10, 'r');
  emulator_->FailNext(3, 403, -1, huge_reason);
  config_.dead_letter_max_bytes = 8 << 10;
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  ASSERT_THAT(forwarder->Send(testing::Pointers(MakeEvents(5, "first"))), IsOk());
  auto reasons = DeadLetters(".reason");
  ASSERT_THAT(reasons, SizeIs(1));
  EXPECT_LT(ReadFile(reasons[0]).size(), 8u << 10);
  absl::Status full;
  for (int i = 0; i < 10 && full.ok(); ++i)
    full = forwarder->Send(testing::Pointers(MakeEvents(5, absl::StrCat("more-", i))));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  uint64_t bytes = 0;
  for (const auto& f : std::filesystem::directory_iterator(config_.dead_letter_dir)) bytes += f.file_size();
  EXPECT_LE(bytes, config_.dead_letter_max_bytes + (8u << 10));
}

TEST_F(AzureLogsForwarderTest, DroppedConnectionsAreRetried) {
  StartEmulator();
  emulator_->DropNext(2);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(20);
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  EXPECT_THAT(Statuses(*emulator_), ElementsAre(-1, -1, 204));
  ExpectEachExactlyOnce(*emulator_, events);
}

TEST_F(AzureLogsForwarderTest, SlowAnswerTimesOutAndIsRetried) {
  StartEmulator();
  config_.request_timeout = absl::Milliseconds(500);
  emulator_->SlowNext(1, absl::Milliseconds(1500));
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(5);
  absl::Time start = absl::Now();
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1400));  // did not wait for the slow answer
  absl::SleepFor(absl::Milliseconds(1500));                  // let the slow one finish
  // The timed-out call may still have been accepted, as it can be in Azure:
  // at least once, and a duplicate carries the same EventId.
  auto counts = IdCounts(emulator_->Rows());
  for (const auto& e : events) EXPECT_THAT(counts[e.id()], AllOf(Ge(1), Le(2))) << e.id();
}

TEST_F(AzureLogsForwarderTest, GivesUpAfterTheRetryBudgetAndResumesWithoutDuplicates) {
  StartEmulator();
  config_.max_call_bytes = 2500;  // a few rows per call
  config_.retry_budget = absl::Seconds(1);
  auto events = MakeEvents(12);
  emulator_->SlowNext(1, absl::ZeroDuration());  // the first call passes
  emulator_->FailNext(1000, 503);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  EXPECT_THAT(forwarder->Send(testing::Pointers(events)), StatusIs(absl::StatusCode::kUnavailable, "HTTP 503"));
  size_t delivered_first = emulator_->Rows().size();
  EXPECT_GT(delivered_first, 0u);
  EXPECT_LT(delivered_first, events.size());
  emulator_->ClearFaults();
  // The collector hands the same batch again.
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  ExpectEachExactlyOnce(*emulator_, events);
}

TEST_F(AzureLogsForwarderTest, ServerCertificateFromAnUnknownCaIsRefused) {
  StartEmulator();
  std::string other_dir = dir_ + "/other-ca";
  std::filesystem::create_directories(other_dir);
  auto other = vigil::testing::MakeTestPki(other_dir);
  ASSERT_TRUE(other.ok()) << other.status();
  config_.ca_bundle = other->ca_cert;
  config_.retry_budget = absl::Milliseconds(300);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto status = forwarder->Send(testing::Pointers(MakeEvents(1)));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable, "certificate"));
  EXPECT_EQ(emulator_->token_requests(), 0);
  EXPECT_TRUE(emulator_->Calls().empty());
}

TEST_F(AzureLogsForwarderTest, WithoutTheCaBundleTheSystemStoreRefusesTheTestCa) {
  StartEmulator();
  config_.ca_bundle.clear();
  config_.retry_budget = absl::Milliseconds(300);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  EXPECT_THAT(forwarder->Send(testing::Pointers(MakeEvents(1))),
              StatusIs(absl::StatusCode::kUnavailable, "certificate"));
  EXPECT_TRUE(emulator_->Calls().empty());
}

TEST_F(AzureLogsForwarderTest, RequestsGoThroughTheConfiguredProxy) {
  StartEmulator();
  auto proxy = vigil::testing::ConnectProxy::Start();
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  config_.proxy = absl::StrCat("http://127.0.0.1:", (*proxy)->port());
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(3);
  ASSERT_THAT(forwarder->Send(testing::Pointers(events)), IsOk());
  ExpectEachExactlyOnce(*emulator_, events);
  // Token endpoint and ingestion share one host here, so one tunnel may carry both.
  EXPECT_GE((*proxy)->tunnels(), 1);
}

TEST_F(AzureLogsForwarderTest, HttpsProxyFromTheEnvironmentIsUsed) {
  StartEmulator();
  auto proxy = vigil::testing::ConnectProxy::Start();
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string url = absl::StrCat("http://127.0.0.1:", (*proxy)->port());
  ::setenv("HTTPS_PROXY", url.c_str(), 1);
  ::unsetenv("NO_PROXY");
  ::unsetenv("no_proxy");
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  auto events = MakeEvents(2);
  absl::Status sent = forwarder->Send(testing::Pointers(events));
  ::unsetenv("HTTPS_PROXY");
  ASSERT_THAT(sent, IsOk());
  ExpectEachExactlyOnce(*emulator_, events);
  EXPECT_GE((*proxy)->tunnels(), 1);
}

TEST_F(AzureLogsForwarderTest, WrongClientSecretIsAnErrorNotALoss) {
  StartEmulator();
  config_.client_secret = "wrong";
  config_.retry_budget = absl::Milliseconds(300);
  auto forwarder = MakeForwarder();
  ASSERT_NE(forwarder, nullptr);
  EXPECT_THAT(forwarder->Send(testing::Pointers(MakeEvents(1))),
              StatusIs(absl::StatusCode::kUnavailable, "AADSTS7000215"));
  EXPECT_TRUE(DeadLetters(".json").empty());
}

TEST(AzureLogsConfigTest, NamesTheBadSetting) {
  AzureLogsConfig config;
  config.endpoint = "http://plain.example";
  EXPECT_THAT(MakeAzureLogsForwarder(config),
              StatusIs(absl::StatusCode::kInvalidArgument, "endpoint must be an https"));
  config.endpoint = "https://dce.example";
  config.dcr_immutable_id = "dcr-1";
  config.tenant_id = "t";
  config.client_id = "c";
  config.dead_letter_dir = "/tmp/x";
  EXPECT_THAT(MakeAzureLogsForwarder(config), StatusIs(absl::StatusCode::kInvalidArgument, "exactly one of"));
  config.client_secret = "s";
  config.federated_token_file = "/var/run/secrets/azure/tokens/azure-identity-token";
  EXPECT_THAT(MakeAzureLogsForwarder(config), StatusIs(absl::StatusCode::kInvalidArgument, "exactly one of"));
}

TEST(AzureLogsConfigTest, WorkloadIdentityEnvironmentFillsWhatIsEmpty) {
  ::setenv("AZURE_TENANT_ID", "tenant-from-env", 1);
  ::setenv("AZURE_CLIENT_ID", "client-from-env", 1);
  ::setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token", 1);
  ::setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/", 1);
  AzureLogsConfig config;
  config.client_id = "explicit-client";
  ApplyWorkloadIdentityEnvironment(config);
  EXPECT_EQ(config.tenant_id, "tenant-from-env");
  EXPECT_EQ(config.client_id, "explicit-client");
  EXPECT_EQ(config.federated_token_file, "/var/run/secrets/azure/tokens/azure-identity-token");
  EXPECT_EQ(config.authority_host, "https://login.microsoftonline.us");

  AzureLogsConfig with_secret;
  with_secret.client_secret = "s";
  with_secret.authority_host = "https://login.example";
  ApplyWorkloadIdentityEnvironment(with_secret);
  EXPECT_EQ(with_secret.federated_token_file, "");  // a secret was given: not both
  EXPECT_EQ(with_secret.authority_host, "https://login.example");
  for (const char* v : {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"}) {
    ::unsetenv(v);
  }
}

}  // namespace
}  // namespace vigil::collector
