// Node to Azure end to end: the real vigil-sensor (real probes, as root)
// streams to the real vigil-collector, whose azure-logs forwarder posts to
// the real vigil-azure-emulator over HTTPS on loopback (a CA the emulator
// makes for the test). Every event id the sensor wrote locally must arrive
// as a row: at least once always, exactly once when nothing crashed; alerts
// in the alerts stream, everything else in the events stream. The emulator
// accepts only the streams and columns deploy/azure/azuredeploy.json
// declares.
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "collector_harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

// vigil-azure-emulator as a child process: Entra token endpoint and Logs
// Ingestion API on one HTTPS port, accepted rows appended to a file.
class EmulatorProcess {
 public:
  explicit EmulatorProcess(std::string dir) : dir_(std::move(dir)) { mkdir(dir_.c_str(), 0700); }
  ~EmulatorProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }

  absl::Status Start() {
    const std::string port_file = dir_ + "/port";
    pid_ = Spawn(VIGIL_AZURE_EMULATOR_PATH, {VIGIL_AZURE_EMULATOR_PATH, "--pki_dir=" + dir_, "--port_file=" + port_file,
                                             "--rows_file=" + rows_file(), "--client_secret=" + std::string(kSecret),
                                             "--dcr_template=" VIGIL_AZURE_DEPLOY_DIR "/azuredeploy.json"});
    for (absl::Time until = absl::Now() + absl::Seconds(30); absl::Now() < until;) {
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadWholeFile(port_file)), &port_) && port_ > 0) {
        return absl::OkStatus();
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return absl::DeadlineExceededError("vigil-azure-emulator did not start");
  }

  // Faults for the next ingestion calls, through its control endpoint.
  absl::Status Control(const nlohmann::json& request) {
    httplib::SSLClient client("127.0.0.1", port_);
    client.set_ca_cert_path(ca().c_str());
    client.enable_server_certificate_verification(true);
    auto r = client.Post("/vigil-emulator/control", request.dump(), "application/json");
    if (!r || r->status != 204) return absl::InternalError("emulator control failed");
    return absl::OkStatus();
  }

  // The rows accepted so far in `stream`.
  std::vector<nlohmann::json> StreamRows(const std::string& stream) {
    httplib::SSLClient client("127.0.0.1", port_);
    client.set_ca_cert_path(ca().c_str());
    client.enable_server_certificate_verification(true);
    auto r = client.Get(("/vigil-emulator/rows?stream=" + stream).c_str());
    if (!r || r->status != 200) return {};
    auto rows = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    return rows.is_array() ? rows.get<std::vector<nlohmann::json>>() : std::vector<nlohmann::json>{};
  }

  std::string dead_letter_dir() const { return dir_ + "/dead-letter"; }

  // The collector flags that point its azure-logs forwarder here.
  std::vector<std::string> CollectorFlags() const {
    const std::string secret_file = dir_ + "/secret";
    std::ofstream(secret_file) << kSecret << "\n";
    const std::string url = absl::StrCat("https://127.0.0.1:", port_);
    return {"--plaintext",
            "--forwarders=azure-logs",
            "--azure_endpoint=" + url,
            "--azure_authority_host=" + url,
            "--azure_dcr_immutable_id=dcr-00000000000000000000000000000000",
            "--azure_tenant_id=test-tenant",
            "--azure_client_id=test-client",
            "--azure_client_secret_file=" + secret_file,
            "--azure_ca_bundle=" + ca(),
            "--azure_dead_letter_dir=" + dead_letter_dir(),
            "--azure_initial_backoff=100ms",
            "--azure_max_backoff=1s",
            "--azure_retry_budget=5s"};
  }

  // EventId (AlertId for alerts) -> how many rows carry it.
  std::map<std::string, int> IdCounts() const {
    std::map<std::string, int> counts;
    std::ifstream rows(rows_file());
    for (std::string line; std::getline(rows, line);) {
      auto row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!row.is_object()) continue;
      for (const char* id : {"EventId", "AlertId"}) {
        if (row.contains(id)) ++counts[row[id].get<std::string>()];
      }
    }
    return counts;
  }

 private:
  static constexpr const char* kSecret = "e2e-secret";
  std::string ca() const { return dir_ + "/ca.pem"; }
  std::string rows_file() const { return dir_ + "/rows.jsonl"; }

  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Waits until every event id the sensors wrote locally is a row at the emulator.
Delivery WaitDelivered(std::vector<SensorProcess*> sensors, const EmulatorProcess& azure,
                       absl::Duration timeout = absl::Seconds(60)) {
  std::set<std::string> ids;
  for (SensorProcess* s : sensors) {
    for (const v1::Event& e : s->Events()) ids.insert(e.id());
  }
  Delivery d;
  for (const absl::Time deadline = absl::Now() + timeout;; absl::SleepFor(absl::Milliseconds(250))) {
    const std::map<std::string, int> got = azure.IdCounts();
    d = Delivery{.expected = ids.size()};
    for (const std::string& id : ids) {
      auto it = got.find(id);
      if (it == got.end()) {
        ++d.missing;
      } else if (it->second > 1) {
        ++d.duplicated;
      }
    }
    if (d.missing == 0 || absl::Now() >= deadline) return d;
  }
}

// The collector's /metrics, parsed: "name{labels}" -> value.
std::map<std::string, double> Scrape(const CollectorProcess& collector) {
  std::string address;
  for (absl::Time until = absl::Now() + absl::Seconds(10); address.empty() && absl::Now() < until;) {
    const std::string log = collector.Log();
    const std::string kMarker = "metrics and health on http://";
    if (size_t at = log.rfind(kMarker); at != std::string::npos) {
      address = log.substr(at + kMarker.size(), log.find("/metrics", at) - at - kMarker.size());
    } else {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  std::map<std::string, double> values;
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return values;
  httplib::Client client(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  auto ready = client.Get("/readyz");
  values["readyz_status"] = ready ? ready->status : 0;
  auto r = client.Get("/metrics");
  if (!r || r->status != 200) return values;
  for (absl::string_view line : absl::StrSplit(r->body, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    const size_t space = line.rfind(' ');
    double v = 0;
    if (space != absl::string_view::npos && absl::SimpleAtod(line.substr(space + 1), &v)) {
      values[std::string(line.substr(0, space))] = v;
    }
  }
  return values;
}

class AzureE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    RequireBpfOrSkip();
    ASSERT_OK(azure_.Start());
  }
  TempDir dir_;
  EmulatorProcess azure_{dir_.path() + "/azure"};
};

// Nothing crashes, but the API throttles (429 with Retry-After) and then
// fails (500) for a stretch: every event arrives exactly once, and the
// collector's metrics say what happened.
TEST_F(AzureE2E, ThrottledAndFailingApiExactlyOnce) {
  CollectorProcess collector(dir_.path() + "/collector", azure_.CollectorFlags());
  ASSERT_OK(collector.Start());
  SensorProcess sensor(UplinkFlags(collector, dir_.path() + "/spool"));
  ASSERT_OK(sensor.Start());
  const std::string tag = "vigil-azure-e2e-" + Nonce();
  {
    Load load(tag, absl::Milliseconds(10));
    absl::SleepFor(absl::Seconds(2));
    ASSERT_OK(azure_.Control({{"fail", {{"count", 2}, {"status", 429}, {"retry_after", 2}}}}));
    absl::SleepFor(absl::Seconds(3));
    ASSERT_OK(azure_.Control({{"fail", {{"count", 4}, {"status", 500}}}}));
    absl::SleepFor(absl::Seconds(3));
  }
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();

  const Delivery d = WaitDelivered({&sensor}, azure_);
  EXPECT_GT(d.expected, 300u);
  EXPECT_EQ(d.missing, 0u) << "of " << d.expected << "\n" << collector.Log();
  EXPECT_EQ(d.duplicated, 0u);

  std::map<std::string, double> m = Scrape(collector);
  EXPECT_EQ(m["readyz_status"], 200);
  EXPECT_GE(m["vigil_collector_azure_calls_total{status=\"429\"}"], 2);
  EXPECT_GE(m["vigil_collector_azure_calls_total{status=\"500\"}"], 4);
  EXPECT_GE(m["vigil_collector_azure_calls_total{status=\"204\"}"], 1);
  EXPECT_GE(m["vigil_collector_events_acked_total"], d.expected);
  EXPECT_EQ(m["vigil_collector_batches_refused_total"], 0);
  EXPECT_GE(m["vigil_collector_forwarder_events_delivered_total{forwarder=\"azure-logs\"}"], d.expected);
  EXPECT_GE(m["vigil_collector_delivery_latency_seconds_count{forwarder=\"azure-logs\"}"], d.expected);
  EXPECT_EQ(m.count("vigil_collector_spool_bytes"), 1u);
  EXPECT_EQ(m.count("vigil_collector_streams"), 1u);
  const double count = m["vigil_collector_delivery_latency_seconds_count{forwarder=\"azure-logs\"}"];
  const double sum = m["vigil_collector_delivery_latency_seconds_sum{forwarder=\"azure-logs\"}"];
  std::cout << d.expected
            << " events; Azure calls 204/429/500: " << m["vigil_collector_azure_calls_total{status=\"204\"}"] << "/"
            << m["vigil_collector_azure_calls_total{status=\"429\"}"] << "/"
            << m["vigil_collector_azure_calls_total{status=\"500\"}"] << "; mean delivery latency "
            << (count > 0 ? sum / count : 0) << " s\n";
}

// A real alert, end to end: the process runs a program from /dev/shm, the
// sensor's default rule "Program executed from /dev/shm" fires, and the alert
// arrives in the alerts stream with its rule, severity, MITRE ids, process and
// cluster, while the exec that triggered it is in the events stream under the
// id the alert names. Nothing is parked: the template's columns took every
// row.
TEST_F(AzureE2E, RealAlertInTheAlertsStreamWithItsTriggerInTheEvents) {
  std::vector<std::string> flags = azure_.CollectorFlags();
  flags.push_back("--azure_cluster=e2e-cluster");
  CollectorProcess collector(dir_.path() + "/collector", flags);
  ASSERT_OK(collector.Start());
  SensorProcess sensor(UplinkFlags(collector, dir_.path() + "/spool"));
  ASSERT_OK(sensor.Start());
  const std::string program = "/dev/shm/vigil-azure-e2e-" + Nonce();
  ASSERT_TRUE(std::filesystem::copy_file("/bin/true", program));
  vigil::testing::Run({program, "vigil-azure-alert"});
  std::filesystem::remove(program);

  nlohmann::json alert;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(60); alert.is_null() && absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(250))) {
    for (const auto& row : azure_.StreamRows("Custom-VigilAlerts_CL")) {
      if (row.value("Exe", "") == program && row.value("RuleTitle", "") == "Program executed from /dev/shm")
        alert = row;
    }
  }
  ASSERT_FALSE(alert.is_null()) << "no alert for " << program << " in the alerts stream\n" << collector.Log();
  EXPECT_EQ(alert["RuleId"], "226365e7-5891-47a6-b160-1462945644af");
  EXPECT_EQ(alert["Severity"], "High");
  EXPECT_THAT(alert["Tactics"].get<std::vector<std::string>>(),
              ::testing::UnorderedElementsAre("execution", "defense-evasion"));
  EXPECT_THAT(alert["Techniques"].get<std::vector<std::string>>(),
              ::testing::UnorderedElementsAre("T1204.002", "T1036.005"));
  EXPECT_EQ(alert["Cluster"], "e2e-cluster");
  EXPECT_EQ(alert["CommandLine"], program + " vigil-azure-alert");
  EXPECT_EQ(alert["Host"], true);
  EXPECT_GT(alert["Pid"].get<int>(), 0);
  EXPECT_FALSE(alert["Node"].get<std::string>().empty());
  EXPECT_GE(alert["Count"].get<int>(), 1);
  ASSERT_EQ(alert["TriggerEventIds"].size(), 1u) << alert.dump();
  const std::string trigger = alert["TriggerEventIds"][0];

  nlohmann::json exec;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30); exec.is_null() && absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(250))) {
    for (const auto& row : azure_.StreamRows("Custom-VigilEvents_CL")) {
      if (row.value("EventId", "") == trigger) exec = row;
    }
  }
  ASSERT_FALSE(exec.is_null()) << "triggering event " << trigger << " not in the events stream";
  EXPECT_EQ(exec["Kind"], "exec");
  EXPECT_EQ(exec["Exe"], program);
  EXPECT_EQ(exec["Cluster"], "e2e-cluster");
  for (const auto& row : azure_.StreamRows("Custom-VigilEvents_CL")) {
    EXPECT_NE(row.value("Kind", ""), "alert") << "an alert in the events stream";
  }
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  EXPECT_TRUE(!std::filesystem::exists(azure_.dead_letter_dir()) || std::filesystem::is_empty(azure_.dead_letter_dir()))
      << "rows were refused; see " << azure_.dead_letter_dir();
}

// SIGKILL mid-stream, then a restart on the same port: at least once.
TEST_F(AzureE2E, CollectorKilledMidStream) {
  CollectorProcess collector(dir_.path() + "/collector", azure_.CollectorFlags());
  ASSERT_OK(collector.Start());
  const int port = collector.port();
  SensorProcess sensor(UplinkFlags(collector, dir_.path() + "/spool"));
  ASSERT_OK(sensor.Start());
  {
    Load load("vigil-azure-kill-" + Nonce(), absl::Milliseconds(10));
    absl::SleepFor(absl::Seconds(3));
    collector.Stop(SIGKILL);
    absl::SleepFor(absl::Seconds(2));
    ASSERT_OK(collector.Start(port));
    absl::SleepFor(absl::Seconds(2));
  }
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  const Delivery d = WaitDelivered({&sensor}, azure_);
  EXPECT_GT(d.expected, 200u);
  EXPECT_EQ(d.missing, 0u) << "of " << d.expected << "\n" << collector.Log();
  std::cout << d.expected << " events, " << d.duplicated << " delivered twice (a crash may repeat a batch)\n";
}

// The collector stops (SIGTERM) mid-stream, the sensor restarts on its
// spool while the collector is down: both runs' events arrive, exactly once
// (the collector acknowledges what it stored before it stops, and knows a
// resent batch when it sees one again).
TEST_F(AzureE2E, SensorRestarted) {
  CollectorProcess collector(dir_.path() + "/collector", azure_.CollectorFlags());
  ASSERT_OK(collector.Start());
  const int port = collector.port();
  const std::string spool = dir_.path() + "/spool";
  SensorProcess first(UplinkFlags(collector, spool));
  ASSERT_OK(first.Start());
  for (int i = 0; i < 50; ++i) vigil::testing::Run({"/bin/true", "vigil-azure-first-" + std::to_string(i)});
  collector.Stop(SIGTERM);
  for (int i = 0; i < 50; ++i) vigil::testing::Run({"/bin/true", "vigil-azure-spooled-" + std::to_string(i)});
  ASSERT_EQ(first.Stop(), 0) << first.Stderr();

  ASSERT_OK(collector.Start(port));
  SensorProcess second(UplinkFlags(collector, spool));
  ASSERT_OK(second.Start());
  for (int i = 0; i < 50; ++i) vigil::testing::Run({"/bin/true", "vigil-azure-second-" + std::to_string(i)});
  ASSERT_EQ(second.Stop(), 0) << second.Stderr();

  const Delivery d = WaitDelivered({&first, &second}, azure_);
  EXPECT_GT(d.expected, 300u);
  EXPECT_EQ(d.missing, 0u) << "of " << d.expected << "\n" << collector.Log();
  EXPECT_EQ(d.duplicated, 0u) << "nothing crashed: exactly once";
}

// The collector is away for a minute while events keep coming: the sensor
// spools, then catches up while it runs (not only in its grace at stop);
// nothing crashed, so exactly once.
TEST_F(AzureE2E, CollectorUnreachableForAWhile) {
  CollectorProcess collector(dir_.path() + "/collector", azure_.CollectorFlags());
  ASSERT_OK(collector.Start());
  const int port = collector.port();
  SensorProcess sensor(UplinkFlags(collector, dir_.path() + "/spool"));
  ASSERT_OK(sensor.Start());
  absl::Time back;
  {
    Load load("vigil-azure-outage-" + Nonce(), absl::Milliseconds(10));
    absl::SleepFor(absl::Seconds(2));
    collector.Stop(SIGTERM);
    absl::SleepFor(absl::Seconds(60));
    ASSERT_OK(collector.Start(port));
    back = absl::Now();
    absl::SleepFor(absl::Seconds(2));
  }
  const Delivery backlog = WaitDelivered({&sensor}, azure_);
  EXPECT_EQ(backlog.missing, 0u) << "of " << backlog.expected << " a minute after the collector came back\n"
                                 << collector.Log();
  std::cout << backlog.expected << " events delivered " << absl::ToDoubleSeconds(absl::Now() - back)
            << " s after the collector came back\n";
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  const Delivery d = WaitDelivered({&sensor}, azure_);
  EXPECT_GT(d.expected, 300u);
  EXPECT_EQ(d.missing, 0u) << "of " << d.expected << "\n" << collector.Log();
  EXPECT_EQ(d.duplicated, 0u);
}

}  // namespace
}  // namespace vigil::testing
