#include "collector/azure/rows.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace vigil::collector {
namespace {

using ::testing::ElementsAre;

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

TEST(EventToRow, FlatColumnsAsTheStreamDeclaresThem) {
  nlohmann::json row = EventToRow(ExecEvent());
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

TEST(EventToRow, RootUidShowsAndUnsetIdsStayOut) {
  nlohmann::json row = EventToRow(ExecEvent());
  EXPECT_EQ(row["Uid"], 0);
  EXPECT_EQ(row["Euid"], 1000);
  EXPECT_FALSE(row.contains("Gid"));
  EXPECT_FALSE(row.contains("Egid"));
}

TEST(EventToRow, ExitPayloadAndKind) {
  v1::Event e = ExecEvent();
  e.set_kind(v1::EVENT_KIND_EXIT);
  e.mutable_exit()->set_signal(9);
  nlohmann::json row = EventToRow(e);
  EXPECT_EQ(row["Kind"], "exit");
  EXPECT_EQ(row["PayloadType"], "exit");
  EXPECT_EQ(row["Payload"], nlohmann::json::parse(R"({"signal":9})"));
}

TEST(EventToRow, NoPayloadNoPayloadColumn) {
  v1::Event e;
  e.set_id("x");
  e.mutable_time()->set_seconds(1);
  nlohmann::json row = EventToRow(e);
  EXPECT_EQ(row["TimeGenerated"], "1970-01-01T00:00:01.0000000Z");
  EXPECT_EQ(row["Kind"], "unspecified");
  EXPECT_FALSE(row.contains("Payload"));
}

TEST(SerializeRow, InvalidUtf8IsReplacedNotFatal) {
  v1::Event e = ExecEvent();
  e.mutable_process()->set_comm(
      std::string("a\xff"
                  "b"));
  std::string json = SerializeRow(EventToRow(e));
  EXPECT_EQ(nlohmann::json::parse(json)["Comm"],
            "a\xEF\xBF\xBD"
            "b");
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

// The DCR's stream declaration and the table in deploy/azure must accept
// exactly the rows the forwarder sends: a column Azure does not know is
// dropped silently, a type mismatch nulls the value.
TEST(EventToRow, MatchesTheStreamDeclarationShippedInDeploy) {
  std::ifstream in(VIGIL_AZURE_DEPLOY_TEMPLATE);
  ASSERT_TRUE(in) << VIGIL_AZURE_DEPLOY_TEMPLATE;
  nlohmann::json tmpl = nlohmann::json::parse(in);
  const auto& stream = tmpl["variables"]["streamColumns"];
  const auto& table = tmpl["variables"]["tableColumns"];
  ASSERT_EQ(stream.size(), table.size());
  std::map<std::string, std::string> types;
  for (size_t i = 0; i < stream.size(); ++i) {
    EXPECT_EQ(stream[i]["name"], table[i]["name"]);
    EXPECT_EQ(stream[i]["type"], table[i]["type"]);
    types[stream[i]["name"]] = stream[i]["type"];
  }
  v1::Event e = ExecEvent();  // every column set
  e.mutable_process()->set_gid(0);
  e.mutable_process()->set_egid(0);
  e.mutable_process()->mutable_start_time()->set_seconds(1767323000);
  nlohmann::json row = EventToRow(e);
  for (const auto& [key, value] : row.items()) {
    ASSERT_TRUE(types.contains(key)) << key << " is not declared in the stream";
    const std::string& type = types[key];
    if (type == "string") {
      EXPECT_TRUE(value.is_string()) << key;
    } else if (type == "int" || type == "long") {
      EXPECT_TRUE(value.is_number_integer()) << key;
    } else if (type == "boolean") {
      EXPECT_TRUE(value.is_boolean()) << key;
    } else if (type == "datetime") {
      absl::Time t;
      std::string err;
      EXPECT_TRUE(value.is_string() && absl::ParseTime(absl::RFC3339_full, value.get<std::string>(), &t, &err)) << key;
    } else if (type == "dynamic") {
      EXPECT_TRUE(value.is_array() || value.is_object()) << key;
    } else {
      ADD_FAILURE() << key << " has unexpected type " << type;
    }
  }
  for (const auto& [name, type] : types) EXPECT_TRUE(row.contains(name)) << name << " is declared but never sent";
}

}  // namespace
}  // namespace vigil::collector
