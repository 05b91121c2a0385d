#include "collector/azure/rows.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dcr_template.h"

namespace vigil::collector {
namespace {

using ::testing::ElementsAre;

// The row of `event`, parsed back: what Log Analytics receives.
nlohmann::json Row(const v1::Event& event, absl::string_view cluster = {}) {
  std::string text;
  AppendRow(event, cluster, text);
  return nlohmann::json::parse(text);
}

v1::Event ExecEvent() {
  v1::Event e;
  e.set_id("node-a:42:1");
  e.set_kind(v1::EVENT_KIND_EXEC);
  e.mutable_time()->set_seconds(1767323045);  // 2026-01-02T03:04:05Z
  e.mutable_time()->set_nanos(123456789);
  e.set_node("node-a");
  auto* p = e.mutable_process();
  p->set_pid(4242);
  p->set_tid(4242);
  p->set_ppid(1);
  p->set_uid(0);
  p->set_euid(1000);
  p->set_comm("curl");
  p->set_exe("/usr/bin/curl");
  p->add_argv("curl");
  p->add_argv("-s");
  p->add_argv("http://x");
  p->set_cwd("/root");
  p->set_exec_id("node-a:100:4242");
  p->set_parent_exec_id("node-a:1:1");
  auto* a = e.add_ancestors();
  a->set_exec_id("node-a:1:1");
  a->set_exe("/sbin/init");
  auto* w = e.mutable_workload();
  w->set_cgroup_id(777);
  w->set_container_id("abc123");
  w->set_container_name("web");
  w->set_image("nginx:1.25");
  w->set_pod_name("web-1");
  w->set_pod_namespace("prod");
  w->set_pod_uid("uid-1");
  e.mutable_exec()->set_filename("/usr/bin/curl");
  e.mutable_exec()->set_argc(3);
  return e;
}

TEST(EventRow, FlatColumnsAsTheStreamDeclaresThem) {
  nlohmann::json row = Row(ExecEvent());
  EXPECT_EQ(row["TimeGenerated"], "2026-01-02T03:04:05.1234567Z");
  EXPECT_EQ(row["EventId"], "node-a:42:1");
  EXPECT_EQ(row["Kind"], "exec");
  EXPECT_EQ(row["Node"], "node-a");
  EXPECT_EQ(row["Pid"], 4242);
  EXPECT_EQ(row["Ppid"], 1);
  EXPECT_EQ(row["Comm"], "curl");
  EXPECT_EQ(row["Exe"], "/usr/bin/curl");
  EXPECT_EQ(row["CommandLine"], "curl -s http://x");
  EXPECT_EQ(row["Argv"], nlohmann::json({"curl", "-s", "http://x"}));
  EXPECT_EQ(row["Cwd"], "/root");
  EXPECT_EQ(row["ExecId"], "node-a:100:4242");
  EXPECT_EQ(row["ParentExecId"], "node-a:1:1");
  EXPECT_EQ(row["Ancestors"], nlohmann::json::parse(R"([{"ExecId":"node-a:1:1","Exe":"/sbin/init"}])"));
  EXPECT_EQ(row["CgroupId"], 777);
  EXPECT_EQ(row["Host"], false);
  EXPECT_EQ(row["ContainerId"], "abc123");
  EXPECT_EQ(row["ContainerName"], "web");
  EXPECT_EQ(row["Image"], "nginx:1.25");
  EXPECT_EQ(row["PodName"], "web-1");
  EXPECT_EQ(row["PodNamespace"], "prod");
  EXPECT_EQ(row["PodUid"], "uid-1");
  EXPECT_EQ(row["PayloadType"], "exec");
  EXPECT_EQ(row["Payload"], nlohmann::json::parse(R"({"filename":"/usr/bin/curl","argc":3})"));
  // Every value is a scalar except the dynamic columns.
  for (const auto& [key, value] : row.items()) {
    if (key == "Argv" || key == "Ancestors" || key == "Payload") continue;
    EXPECT_TRUE(value.is_primitive()) << key;
  }
}

TEST(EventRow, RootUidShowsAndUnsetIdsStayOut) {
  nlohmann::json row = Row(ExecEvent());
  EXPECT_EQ(row["Uid"], 0);
  EXPECT_EQ(row["Euid"], 1000);
  EXPECT_FALSE(row.contains("Gid"));
  EXPECT_FALSE(row.contains("Egid"));
}

TEST(EventRow, ExitPayloadAndKind) {
  v1::Event e = ExecEvent();
  e.set_kind(v1::EVENT_KIND_EXIT);
  e.mutable_exit()->set_signal(9);
  nlohmann::json row = Row(e);
  EXPECT_EQ(row["Kind"], "exit");
  EXPECT_EQ(row["PayloadType"], "exit");
  EXPECT_EQ(row["Payload"], nlohmann::json::parse(R"({"signal":9})"));
}

TEST(EventRow, NoPayloadNoPayloadColumn) {
  v1::Event e;
  e.set_id("x");
  e.mutable_time()->set_seconds(1);
  nlohmann::json row = Row(e);
  EXPECT_EQ(row["TimeGenerated"], "1970-01-01T00:00:01.0000000Z");
  EXPECT_EQ(row["Kind"], "unspecified");
  EXPECT_FALSE(row.contains("Payload"));
}

TEST(AppendRow, InvalidUtf8IsReplacedNotFatal) {
  v1::Event e = ExecEvent();
  e.mutable_process()->set_comm(
      std::string("a\xff"
                  "b"));
  EXPECT_EQ(Row(e)["Comm"],
            "a\xEF\xBF\xBD"
            "b");
}

TEST(AppendRow, EveryStringComesBackAsItWasSent) {
  v1::Event e = ExecEvent();
  const std::string hostile = "q\"b\\n\n t\t e\x1b[31m d\x7f <a> \xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x90\xa7";
  e.mutable_process()->set_cwd(hostile);
  e.mutable_process()->add_argv(hostile);
  e.mutable_workload()->set_pod_name(hostile);
  e.mutable_ancestors(0)->set_exe(hostile);
  nlohmann::json row = Row(e);
  EXPECT_EQ(row["Cwd"], hostile);
  EXPECT_EQ(row["Argv"].back(), hostile);
  EXPECT_EQ(row["CommandLine"], "curl -s http://x " + hostile);
  EXPECT_EQ(row["PodName"], hostile);
  EXPECT_EQ(row["Ancestors"][0]["Exe"], hostile);
}

TEST(PackRows, FillsEachCallUpToTheLimitExactly) {
  // Each row 10 bytes: a body of n rows is 2 + 10n + (n - 1) bytes.
  std::vector<std::string> rows(7, std::string(10, 'x'));
  std::vector<size_t> oversized;
  auto ranges = PackRows(rows, 2 + 30 + 2, oversized);  // exactly 3 rows
  std::vector<size_t> sizes;
  for (const auto& r : ranges) {
    sizes.push_back(r.size());
    EXPECT_LE(JsonArrayBody(rows, r).size(), 34u);
  }
  EXPECT_THAT(sizes, ElementsAre(3, 3, 1));
  EXPECT_TRUE(oversized.empty());
  EXPECT_EQ(JsonArrayBody(rows, ranges[0]).size(), 34u);
}

TEST(PackRows, RowOverTheLimitAloneIsSetAside) {
  std::vector<std::string> rows = {"aa", std::string(100, 'b'), "cc", "dd"};
  std::vector<size_t> oversized;
  auto ranges = PackRows(rows, 50, oversized);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].begin, 0u);
  EXPECT_EQ(ranges[0].end, 1u);
  EXPECT_EQ(ranges[1].begin, 2u);
  EXPECT_EQ(ranges[1].end, 4u);
  EXPECT_THAT(oversized, ElementsAre(1));
  EXPECT_EQ(JsonArrayBody(rows, ranges[1]), "[cc,dd]");
}

v1::Event AlertEvent() {
  v1::Event e = ExecEvent();
  e.set_id("node-a:42:9");
  e.set_kind(v1::EVENT_KIND_ALERT);
  e.clear_exec();
  e.mutable_process()->set_gid(0);
  e.mutable_process()->set_egid(0);
  e.mutable_process()->mutable_start_time()->set_seconds(1767323000);
  e.mutable_ancestors(0)->add_argv("/sbin/init");
  e.mutable_ancestors(0)->add_argv("splash");
  e.mutable_workload()->set_image_digest("sha256:feed");
  v1::Alert* a = e.mutable_alert();
  a->set_rule_id("9d0b6f2e-reverse-shell");
  a->set_title("Reverse shell");
  a->set_severity(v1::SEVERITY_HIGH);
  a->add_tactics("execution");
  a->add_techniques("T1059.004");
  a->set_alert_type("K8S.NODE_ReverseShell");
  a->set_description("A shell whose stdio is a TCP socket");
  a->add_event_ids("node-a:42:1");
  a->mutable_first_time()->set_seconds(1767323045);
  a->mutable_last_time()->set_seconds(1767323050);
  a->set_count(3);
  a->set_aggregated(true);
  a->set_rule_file("/etc/vigil/rules/reverse_shell.yml");
  a->add_false_positives("debugging with socat");
  return e;
}

TEST(AlertRow, RuleMitreProcessParentAndWorkloadColumns) {
  v1::Event e = AlertEvent();
  ASSERT_EQ(StreamOf(e), RowStream::kAlerts);
  nlohmann::json row = Row(e, "aks-prod");
  EXPECT_EQ(row["TimeGenerated"], "2026-01-02T03:04:05.1234567Z");
  EXPECT_EQ(row["AlertId"], "node-a:42:9");
  EXPECT_EQ(row["Cluster"], "aks-prod");
  EXPECT_EQ(row["Node"], "node-a");
  EXPECT_EQ(row["RuleId"], "9d0b6f2e-reverse-shell");
  EXPECT_EQ(row["RuleTitle"], "Reverse shell");
  EXPECT_EQ(row["Severity"], "High");
  EXPECT_EQ(row["Tactics"], nlohmann::json({"execution"}));
  EXPECT_EQ(row["Techniques"], nlohmann::json({"T1059.004"}));
  EXPECT_EQ(row["AlertType"], "K8S.NODE_ReverseShell");
  EXPECT_EQ(row["TriggerEventIds"], nlohmann::json({"node-a:42:1"}));
  EXPECT_EQ(row["FirstSeen"], "2026-01-02T03:04:05.0000000Z");
  EXPECT_EQ(row["LastSeen"], "2026-01-02T03:04:10.0000000Z");
  EXPECT_EQ(row["Count"], 3);
  EXPECT_EQ(row["Aggregated"], true);
  EXPECT_EQ(row["Pid"], 4242);
  EXPECT_EQ(row["Exe"], "/usr/bin/curl");
  EXPECT_EQ(row["CommandLine"], "curl -s http://x");
  EXPECT_EQ(row["Uid"], 0);
  EXPECT_EQ(row["ParentPid"], 1);
  EXPECT_EQ(row["ParentExe"], "/sbin/init");
  EXPECT_EQ(row["ParentCommandLine"], "/sbin/init splash");
  EXPECT_EQ(row["ParentExecId"], "node-a:1:1");
  EXPECT_EQ(row["ContainerId"], "abc123");
  EXPECT_EQ(row["ContainerName"], "web");
  EXPECT_EQ(row["Image"], "nginx:1.25");
  EXPECT_EQ(row["PodName"], "web-1");
  EXPECT_EQ(row["PodNamespace"], "prod");
  EXPECT_FALSE(row.contains("Payload"));  // the alert's fields are columns
}

TEST(AlertRow, SingleMatchAlertSpansItsEvent) {
  v1::Event e = AlertEvent();
  e.mutable_alert()->clear_first_time();
  e.mutable_alert()->clear_last_time();
  e.mutable_alert()->set_count(0);
  e.mutable_alert()->set_severity(v1::SEVERITY_CRITICAL);
  nlohmann::json row = Row(e);
  EXPECT_EQ(row["FirstSeen"], row["TimeGenerated"]);
  EXPECT_EQ(row["LastSeen"], row["TimeGenerated"]);
  EXPECT_EQ(row["Count"], 1);
  EXPECT_EQ(row["Severity"], "Critical");
  EXPECT_EQ(row["Cluster"], "");
}

TEST(StreamOf, OnlyAlertsGoToTheAlertsStream) {
  for (int k = v1::EventKind_MIN; k <= v1::EventKind_MAX; ++k) {
    if (!v1::EventKind_IsValid(k)) continue;
    v1::Event e;
    e.set_kind(static_cast<v1::EventKind>(k));
    EXPECT_EQ(StreamOf(e), k == v1::EVENT_KIND_ALERT ? RowStream::kAlerts : RowStream::kEvents) << KindName(e.kind());
  }
}

// The DCR's stream declarations and the tables in deploy/azure must accept
// exactly the rows the forwarder sends: a column Azure does not know is
// dropped silently, a type mismatch nulls the value. For every event kind
// (each with the payload its kind carries), the row goes to the stream
// StreamOf names, every member is a declared column of a fitting type, and
// every declared column is sent.
class TemplateColumnsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TemplateColumnsTest, RowsOfEveryKindMatchTheirStreamAndTable) {
  auto tmpl = vigil::testing::ReadJsonFile(absl::StrCat(VIGIL_AZURE_DEPLOY_DIR, "/", GetParam()));
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  auto streams = vigil::testing::DcrStreams(*tmpl);
  ASSERT_TRUE(streams.ok()) << streams.status();
  const std::map<RowStream, std::string> names = {{RowStream::kEvents, "Custom-VigilEvents_CL"},
                                                  {RowStream::kAlerts, "Custom-VigilAlerts_CL"}};
  std::map<std::string, std::map<std::string, std::string>> tables;  // table -> columns
  for (const auto& r : (*tmpl)["resources"]) {
    if (r["type"] != "Microsoft.OperationalInsights/workspaces/tables") continue;
    const auto& schema = r["properties"]["schema"];
    auto& cols = tables[vigil::testing::ResolveVariable(*tmpl, schema["name"]).get<std::string>()];
    for (const auto& c : vigil::testing::ResolveVariable(*tmpl, schema["columns"])) cols[c["name"]] = c["type"];
  }
  // Each stream flows (transformKql source) to the table of the same name
  // without "Custom-", so the table's columns are the stream's.
  for (const auto& [stream, name] : names) {
    ASSERT_TRUE(streams->contains(name)) << name;
    std::string table = name.substr(strlen("Custom-"));
    ASSERT_TRUE(tables.contains(table)) << table;
    EXPECT_EQ(tables[table], streams->at(name)) << table;
  }

  const auto* oneof = v1::Event::descriptor()->FindOneofByName("payload");
  std::map<std::string, std::set<std::string>> sent;  // stream -> columns seen
  for (int k = v1::EventKind_MIN; k <= v1::EventKind_MAX; ++k) {
    if (!v1::EventKind_IsValid(k)) continue;
    v1::Event e = k == v1::EVENT_KIND_ALERT ? AlertEvent() : ExecEvent();
    e.set_kind(static_cast<v1::EventKind>(k));
    e.mutable_process()->set_gid(0);
    e.mutable_process()->set_egid(0);
    e.mutable_process()->mutable_start_time()->set_seconds(1767323000);
    for (int f = 0; f < oneof->field_count() && k != v1::EVENT_KIND_ALERT; ++f) {
      // Every payload type the events stream can carry, on every kind.
      const auto* field = oneof->field(f);
      if (field->name() == "alert") continue;
      e.GetReflection()->MutableMessage(&e, field);
      nlohmann::json row = Row(e, "cluster-1");
      const std::string& stream = names.at(StreamOf(e));
      EXPECT_EQ(vigil::testing::CheckRow(streams->at(stream), row), "") << KindName(e.kind()) << " " << field->name();
      for (const auto& [key, value] : row.items()) sent[stream].insert(key);
    }
    if (k == v1::EVENT_KIND_ALERT) {
      nlohmann::json row = Row(e, "cluster-1");
      const std::string& stream = names.at(StreamOf(e));
      EXPECT_EQ(stream, "Custom-VigilAlerts_CL");
      EXPECT_EQ(vigil::testing::CheckRow(streams->at(stream), row), "");
      for (const auto& [key, value] : row.items()) sent[stream].insert(key);
    }
  }
  for (const auto& [stream, columns] : *streams) {
    for (const auto& [name, type] : columns) {
      EXPECT_TRUE(sent[stream].contains(name)) << stream << ": " << name << " is declared but never sent";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(DeployAzure, TemplateColumnsTest, ::testing::Values("azuredeploy.json"));

}  // namespace
}  // namespace vigil::collector
