// vigilctl's event kinds and compact output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/format.h"
#include "google/protobuf/util/time_util.h"
#include "status_matchers.h"

namespace vigil::cli {
namespace {

using test::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseKind, EveryEventKindByItsShortNameInAnyCase) {
  const google::protobuf::EnumDescriptor* d = v1::EventKind_descriptor();
  for (int i = 0; i < d->value_count(); ++i) {
    const auto kind = static_cast<v1::EventKind>(d->value(i)->number());
    if (kind == v1::EVENT_KIND_UNSPECIFIED) continue;
    const std::string name = KindShortName(kind);
    EXPECT_EQ(ParseKind(name).value_or(v1::EVENT_KIND_UNSPECIFIED), kind) << name;
    EXPECT_EQ(ParseKind(d->value(i)->name()).value_or(v1::EVENT_KIND_UNSPECIFIED), kind);
  }
  EXPECT_EQ(*ParseKind("EXEC"), v1::EVENT_KIND_EXEC);
  EXPECT_EQ(*ParseKind("alert"), v1::EVENT_KIND_ALERT);
  EXPECT_EQ(KindShortName(v1::EVENT_KIND_SENSOR_HEALTH), "sensor_health");
}

TEST(ParseKind, UnknownNamesTheKnownOnes) {
  EXPECT_THAT(ParseKind("bogus"), StatusIs(absl::StatusCode::kInvalidArgument, "unknown event kind 'bogus'"));
  EXPECT_THAT(ParseKind("unspecified"), StatusIs(absl::StatusCode::kInvalidArgument, "exec, exit, fork"));
}

v1::Event Exec() {
  v1::Event e;
  e.set_kind(v1::EVENT_KIND_EXEC);
  *e.mutable_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(1'700'000'000'123'000'000);
  e.mutable_process()->set_pid(6552);
  e.mutable_process()->set_comm("echo");
  e.mutable_process()->add_argv("/bin/echo");
  e.mutable_process()->add_argv("hi");
  e.mutable_exec()->set_filename("/bin/echo");
  return e;
}

TEST(FormatCompact, AlignedColumnsPlainOrColoured) {
  v1::Event e = Exec();
  const std::string plain = FormatCompact(e, false);
  EXPECT_THAT(plain, ::testing::MatchesRegex(R"(..:..:..\.123 exec +6552 echo +host +/bin/echo hi)"));
  EXPECT_THAT(plain, Not(HasSubstr("\033")));
  EXPECT_THAT(FormatCompact(e, true), HasSubstr("\033[32m"));
  e.mutable_workload()->set_pod_namespace("prod");
  e.mutable_workload()->set_pod_name("web-1");
  EXPECT_THAT(FormatCompact(e, false), HasSubstr(" prod/web-1 "));
  // The columns before the detail have the same width whatever the values.
  v1::Event exit = e;
  exit.set_kind(v1::EVENT_KIND_EXIT);
  exit.mutable_exit()->set_signal(9);
  EXPECT_EQ(FormatCompact(exit, false).find("signal 9"), plain.find("/bin/echo"));
}

TEST(FormatCompact, HealthShowsItsTotals) {
  v1::Event e = Exec();
  e.set_kind(v1::EVENT_KIND_SENSOR_HEALTH);
  e.mutable_health()->set_queue_depth(3);
  EXPECT_THAT(FormatCompact(e, false), HasSubstr("queue 3"));
}

TEST(FormatCompact, AlertShowsSeverityRuleAndTechniques) {
  v1::Event e = Exec();
  e.set_kind(v1::EVENT_KIND_ALERT);
  e.mutable_workload()->set_pod_namespace("prod");
  e.mutable_workload()->set_pod_name("web-1");
  v1::Alert* a = e.mutable_alert();
  a->set_rule_id("5f2c0d1e-7a4b-4c1d-9e8f-0a1b2c3d4e5f");
  a->set_title("Reverse shell");
  a->set_severity(v1::SEVERITY_HIGH);
  a->add_techniques("T1059.004");
  a->add_techniques("T1071");
  a->set_count(1);
  EXPECT_THAT(FormatCompact(e, false),
              ::testing::MatchesRegex(R"(..:..:..\.123 alert +6552 echo +prod/web-1 +HIGH Reverse shell )"
                                      R"(\[T1059\.004,T1071\] rule=5f2c0d1e-7a4b-4c1d-9e8f-0a1b2c3d4e5f)"));
  EXPECT_THAT(FormatCompact(e, true), HasSubstr("\033[1;31m"));
  // The alert that closes an aggregation window says how many it stands for.
  a->set_aggregated(true);
  a->set_count(7);
  EXPECT_THAT(FormatCompact(e, false), ::testing::EndsWith(" count=7"));
  // No techniques: no empty brackets.
  a->clear_techniques();
  EXPECT_THAT(FormatCompact(e, false), HasSubstr("HIGH Reverse shell rule=5f2c"));
}

TEST(FormatJson, IsTheProtobufJsonMappingOnOneLine) {
  const std::string json = FormatJson(Exec());
  EXPECT_THAT(json, HasSubstr("\"kind\":\"EVENT_KIND_EXEC\""));
  EXPECT_THAT(json, Not(HasSubstr("\n")));
}

}  // namespace
}  // namespace vigil::cli
