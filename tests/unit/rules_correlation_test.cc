// Correlation rules (event_count, value_count, temporal, temporal_ordered)
// and the aggregation window.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "rules_fixture.h"
#include "status_matchers.h"

namespace vigil {
namespace {

using test::Alerts;
using test::LoadRules;
using test::ProcessEvent;
using test::StatusIs;
using test::T0;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

v1::Event ConnectAt(absl::Duration after, uint32_t port, const std::string& exec_id = "node:1:100",
                    const std::string& id = "") {
  v1::Event e = ProcessEvent(v1::EVENT_KIND_TCP_CONNECT, "/usr/bin/nmap", {"nmap"}, exec_id);
  e.set_id(id.empty() ? absl::StrCat("c", port) : id);
  test::SetEventTime(e, T0() + after);
  e.mutable_tcp_connect()->mutable_remote()->set_ip("10.0.0.9");
  e.mutable_tcp_connect()->mutable_remote()->set_port(port);
  return e;
}

const char* kConnectRule = R"(title: Outbound connection
id: base-connect
name: outbound_connect
logsource: {product: linux, category: network_connection}
detection:
  sel: {Initiated: 'true'}
  condition: sel
level: low
)";

TEST(RulesCorrelation, ValueCountFiresOnDistinctPortsWithinTimespan) {
  auto l = LoadRules(std::string(kConnectRule) + R"(---
title: Port scan
id: scan-1
correlation:
  type: value_count
  rules: [outbound_connect]
  group-by: [ProcessId]
  timespan: 10s
  condition: {field: DestinationPort, gte: 3}
level: high
tags: [attack.discovery, attack.t1046]
)");
  ASSERT_THAT(l->status, test::IsOk());
  // The base rule is used by a correlation: it does not alert on its own.
  EXPECT_THAT(Alerts(*l->detector, ConnectAt(absl::Seconds(0), 22)), IsEmpty());
  EXPECT_THAT(Alerts(*l->detector, ConnectAt(absl::Seconds(1), 22)), IsEmpty());  // same port: still 1 value
  EXPECT_THAT(Alerts(*l->detector, ConnectAt(absl::Seconds(2), 80)), IsEmpty());
  auto alerts = Alerts(*l->detector, ConnectAt(absl::Seconds(3), 443));
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].alert().rule_id(), "scan-1");
  EXPECT_EQ(alerts[0].alert().count(), 4u);
  EXPECT_THAT(alerts[0].alert().event_ids(), ElementsAre("c22", "c22", "c80", "c443"));
  EXPECT_THAT(alerts[0].alert().techniques(), ElementsAre("T1046"));
  EXPECT_EQ(alerts[0].alert().first_time().seconds(), absl::ToUnixSeconds(T0()));
  EXPECT_EQ(alerts[0].alert().last_time().seconds(), absl::ToUnixSeconds(T0()) + 3);
}

TEST(RulesCorrelation, EventCountForgetsEventsOutsideTimespanAndGroupsApart) {
  auto l = LoadRules(std::string(kConnectRule) + R"(---
title: Many connections
id: many-1
correlation:
  type: event_count
  rules: outbound_connect
  group-by: [ProcessId]
  timespan: 10s
  condition: {gte: 3}
  generate: true
level: medium
)");
  ASSERT_THAT(l->status, test::IsOk());
  auto count_alerts = [](const std::vector<v1::Event>& alerts, const std::string& id) {
    int n = 0;
    for (const v1::Event& a : alerts) n += a.alert().rule_id() == id;
    return n;
  };
  // generate: true: the base rule alerts too (once, then aggregated).
  EXPECT_EQ(count_alerts(Alerts(*l->detector, ConnectAt(absl::Seconds(0), 1)), "base-connect"), 1);
  EXPECT_EQ(count_alerts(Alerts(*l->detector, ConnectAt(absl::Seconds(1), 2)), "many-1"), 0);
  // 11 s later the first two have left the window.
  EXPECT_EQ(count_alerts(Alerts(*l->detector, ConnectAt(absl::Seconds(12), 3)), "many-1"), 0);
  EXPECT_EQ(count_alerts(Alerts(*l->detector, ConnectAt(absl::Seconds(13), 4)), "many-1"), 0);
  // Another process's connection is another group.
  v1::Event other = ConnectAt(absl::Seconds(14), 5, "node:1:200");
  other.mutable_process()->set_pid(200);
  EXPECT_EQ(count_alerts(Alerts(*l->detector, other), "many-1"), 0);
  EXPECT_EQ(count_alerts(Alerts(*l->detector, ConnectAt(absl::Seconds(15), 6)), "many-1"), 1);
}

const char* kDownloadExec = R"(title: Download
id: dl
name: download
logsource: {category: process_creation}
detection:
  sel: {Image|endswith: [/curl, /wget]}
  condition: sel
---
title: Chmod exec
id: chmod
name: make_executable
logsource: {category: process_creation}
detection:
  sel: {Image|endswith: /chmod, CommandLine|contains: +x}
  condition: sel
---
title: Download then make executable
id: dl-chmod
correlation:
  type: TYPE
  rules: [download, make_executable]
  group-by: [ContainerId]
  timespan: 1m
level: high
)";

v1::Event InPod(const std::string& exe, std::vector<std::string> argv, absl::Duration after) {
  v1::Event e = test::Exec(exe, argv, absl::StrCat("node:1:", absl::ToInt64Seconds(after)));
  test::InContainer(e, "ctr-1");
  test::SetEventTime(e, T0() + after);
  return e;
}

std::string WithType(const std::string& type) {
  std::string s = kDownloadExec;
  s.replace(s.find("TYPE"), 4, type);
  return s;
}

TEST(RulesCorrelation, TemporalAnyOrder) {
  auto l = LoadRules(WithType("temporal"));
  ASSERT_THAT(l->status, test::IsOk());
  EXPECT_THAT(Alerts(*l->detector, InPod("/bin/chmod", {"chmod", "+x", "/tmp/x"}, absl::Seconds(0))), IsEmpty());
  auto alerts = Alerts(*l->detector, InPod("/usr/bin/curl", {"curl", "-o", "/tmp/x"}, absl::Seconds(5)));
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].alert().rule_id(), "dl-chmod");
}

TEST(RulesCorrelation, TemporalOrderedNeedsTheOrder) {
  auto l = LoadRules(WithType("temporal_ordered"));
  ASSERT_THAT(l->status, test::IsOk());
  EXPECT_THAT(Alerts(*l->detector, InPod("/bin/chmod", {"chmod", "+x", "/tmp/x"}, absl::Seconds(0))), IsEmpty());
  EXPECT_THAT(Alerts(*l->detector, InPod("/usr/bin/curl", {"curl", "-o", "/tmp/x"}, absl::Seconds(5))), IsEmpty());
  auto alerts = Alerts(*l->detector, InPod("/bin/chmod", {"chmod", "+x", "/tmp/x"}, absl::Seconds(6)));
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].alert().rule_id(), "dl-chmod");
  // Another container's chmod does not complete this one's sequence.
  EXPECT_THAT(Alerts(*l->detector, InPod("/usr/bin/wget", {"wget"}, absl::Seconds(7))), IsEmpty());
  v1::Event elsewhere = InPod("/bin/chmod", {"chmod", "+x", "y"}, absl::Seconds(8));
  elsewhere.mutable_workload()->set_container_id("ctr-2");
  EXPECT_THAT(Alerts(*l->detector, elsewhere), IsEmpty());
}

TEST(RulesCorrelation, RefusedCorrelations) {
  EXPECT_THAT(LoadRules(WithType("sequence"))->status,
              StatusIs(absl::StatusCode::kInvalidArgument, "rules.yml:20:9: unknown correlation type 'sequence'"));
  std::string unknown = WithType("temporal");
  unknown.replace(unknown.find("[download,"), 10, "[nothing, ");
  EXPECT_THAT(LoadRules(unknown)->status,
              StatusIs(absl::StatusCode::kInvalidArgument, "correlation refers to unknown rule 'nothing'"));
  std::string lt = std::string(kConnectRule) +
                   "---\ntitle: Few\ncorrelation:\n  type: event_count\n  rules: outbound_connect\n"
                   "  timespan: 1h\n  condition: {lt: 2}\n";
  EXPECT_THAT(LoadRules(lt)->status, StatusIs(absl::StatusCode::kInvalidArgument,
                                              "rules.yml:15:15: correlation condition lt is not supported"));
  std::string field = std::string(kConnectRule) +
                      "---\ntitle: Bad group\ncorrelation:\n  type: event_count\n  rules: outbound_connect\n"
                      "  group-by: [TargetFilename]\n  timespan: 1h\n  condition: {gte: 2}\n";
  EXPECT_THAT(LoadRules(field)->status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "rules.yml:14:14: field TargetFilename does not exist in category network_connection"));
}

// A rule that matches every exec of a shell.
std::string ShellRule(const std::string& title, const std::string& id) {
  return absl::StrCat("title: ", title, "\nid: ", id,
                      "\nlogsource: {category: process_creation}\ndetection:\n  sel: {Image|endswith: /sh}\n"
                      "  condition: sel\n");
}

// `rules`, with identical alerts folded for 60 s.
auto LoadFolding(const std::string& rules) {
  SigmaDetectorOptions o;
  o.aggregation_window = absl::Seconds(60);
  return LoadRules(rules, nullptr, o);
}

// An exec of /bin/sh as process `exec_id`, `after` T0, in `container` when
// one is named.
v1::Event ShellAt(absl::Duration after, const std::string& exec_id, const std::string& container = "") {
  v1::Event e = test::Exec("/bin/sh", {"sh"}, exec_id);
  if (!container.empty()) test::InContainer(e, container);
  test::SetEventTime(e, T0() + after);
  return e;
}

TEST(RulesCorrelation, AggregationFoldsIdenticalAlertsAndReportsTheCountAtWindowClose) {
  auto l = LoadFolding(ShellRule("Shell", "shell"));
  ASSERT_THAT(l->status, test::IsOk());
  // The first is sent at once; the same process again is folded.
  EXPECT_THAT(Alerts(*l->detector, ShellAt(absl::Seconds(0), "node:1:100")), SizeIs(1));
  EXPECT_THAT(Alerts(*l->detector, ShellAt(absl::Seconds(1), "node:1:100")), IsEmpty());
  EXPECT_THAT(Alerts(*l->detector, ShellAt(absl::Seconds(2), "node:1:100")), IsEmpty());
  // Another host process is another alert.
  EXPECT_THAT(Alerts(*l->detector, ShellAt(absl::Seconds(3), "node:1:101")), SizeIs(1));
  // In a container, the container is the unit: two processes, one alert.
  EXPECT_THAT(Alerts(*l->detector, ShellAt(absl::Seconds(4), "node:1:102", "ctr")), SizeIs(1));
  EXPECT_THAT(Alerts(*l->detector, ShellAt(absl::Seconds(5), "node:1:103", "ctr")), IsEmpty());
  // Before the window closes nothing more.
  std::vector<v1::Event> closed;
  l->detector->Tick(T0() + absl::Seconds(59), closed);
  EXPECT_THAT(closed, IsEmpty());
  l->detector->Tick(T0() + absl::Seconds(60), closed);
  ASSERT_THAT(closed, SizeIs(1));  // node:1:100 (3 matches); node:1:101 had only one
  EXPECT_TRUE(closed[0].alert().aggregated());
  EXPECT_EQ(closed[0].alert().count(), 3u);
  EXPECT_EQ(closed[0].process().exec_id(), "node:1:100");
  EXPECT_EQ(closed[0].alert().last_time().seconds(), absl::ToUnixSeconds(T0()) + 2);
  closed.clear();
  // Shutdown closes every window.
  l->detector->Tick(absl::InfiniteFuture(), closed);
  ASSERT_THAT(closed, SizeIs(1));
  EXPECT_EQ(closed[0].workload().container_id(), "ctr");
  EXPECT_EQ(closed[0].alert().count(), 2u);
  // After its window, the same process alerts afresh.
  EXPECT_THAT(Alerts(*l->detector, ShellAt(absl::Seconds(120), "node:1:100")), SizeIs(1));
  DetectorStats s = l->detector->Stats();
  EXPECT_EQ(s.alerts, 6u);  // 4 first alerts + 2 aggregated
  EXPECT_EQ(s.suppressed, 3u);
}

// Each rule folds its own matches: the aggregation key keeps apart rules
// whose ids, joined to the process, would spell the same text.
TEST(RulesCorrelation, AggregationKeepsEachRuleApart) {
  auto l = LoadFolding(ShellRule("One", "a") + "---\n" + ShellRule("Two", "\"ap:\""));
  ASSERT_THAT(l->status, test::IsOk());
  // Rule "a" on process "p:1" and rule "ap:" on process "1" would both be
  // "ap:p:1" if joined as they are.
  EXPECT_THAT(Alerts(*l->detector, ShellAt(absl::Seconds(0), "p:1")), SizeIs(2));
  EXPECT_THAT(Alerts(*l->detector, ShellAt(absl::Seconds(1), "1")), SizeIs(2));
  EXPECT_THAT(Alerts(*l->detector, ShellAt(absl::Seconds(2), "p:1")), IsEmpty());
  std::vector<v1::Event> closed;
  l->detector->Tick(absl::InfiniteFuture(), closed);
  ASSERT_THAT(closed, SizeIs(2));  // p:1, once per rule
  for (const v1::Event& e : closed) {
    EXPECT_EQ(e.process().exec_id(), "p:1");
    EXPECT_EQ(e.alert().count(), 2u);
  }
}

}  // namespace
}  // namespace vigil
