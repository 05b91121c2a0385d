#include "pipeline/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "records.h"

namespace vigil {
namespace {

using test::ExecOf;
using test::ExecRecord;
using test::ExitRecord;
using test::ForkRecord;
using test::Record;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

// What the test stages saw, in order; shared with the test, which owns it.
struct Journal {
  absl::Mutex mu;
  std::vector<std::string> calls ABSL_GUARDED_BY(mu);  // "enrich <id>", "write <id>", "flush"
  std::vector<v1::Event> written ABSL_GUARDED_BY(mu);

  std::vector<std::string> Calls() {
    absl::MutexLock lock(&mu);
    return calls;
  }
  std::vector<v1::Event> Written() {
    absl::MutexLock lock(&mu);
    return written;
  }
};

class RecordingEnricher : public Enricher {
 public:
  explicit RecordingEnricher(Journal* journal) : journal_(journal) {}
  void Enrich(v1::Event& event) override {
    absl::MutexLock lock(&journal_->mu);
    journal_->calls.push_back("enrich " + event.id());
    event.mutable_workload()->set_container_name("enriched");
  }

 private:
  Journal* journal_;
};

class RecordingSink : public Sink {
 public:
  explicit RecordingSink(Journal* journal) : journal_(journal) {}
  absl::Status Write(const v1::Event& event) override {
    absl::MutexLock lock(&journal_->mu);
    journal_->calls.push_back("write " + event.id());
    journal_->written.push_back(event);
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    absl::MutexLock lock(&journal_->mu);
    journal_->calls.push_back("flush");
    return absl::OkStatus();
  }

 private:
  Journal* journal_;
};

// Raises one alert per exec event; on the final Tick, one more (as an
// aggregation window closing at shutdown would).
class ExecAlertDetector : public Detector {
 public:
  void Evaluate(const v1::Event& event, std::vector<v1::Event>& alerts) override {
    if (event.kind() != v1::EVENT_KIND_EXEC) return;
    v1::Event& alert = alerts.emplace_back();
    alert.set_kind(v1::EVENT_KIND_ALERT);
    *alert.mutable_process() = event.process();
    alert.mutable_alert()->set_rule_id("exec-seen");
    alert.mutable_alert()->add_event_ids(event.id());
  }
  void Tick(absl::Time now, std::vector<v1::Event>& alerts) override {
    if (now != absl::InfiniteFuture()) return;
    v1::Event& alert = alerts.emplace_back();
    alert.set_kind(v1::EVENT_KIND_ALERT);
    alert.mutable_alert()->set_rule_id("closing");
  }
  DetectorStats Stats() const override { return {}; }
};

class FailingSink : public Sink {
 public:
  absl::Status Write(const v1::Event&) override { return absl::UnavailableError("down"); }
  absl::Status Flush() override { return absl::OkStatus(); }
};

vigil_proc Proc(uint32_t pid) { return test::TestProc(pid); }

class PipelineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Pipeline> Make(size_t queue_capacity = 1024, bool failing_sink = false,
                                 std::unique_ptr<Detector> detector = nullptr, size_t queue_max_bytes = 64u << 20) {
    std::vector<std::unique_ptr<Enricher>> enrichers;
    enrichers.push_back(std::make_unique<RecordingEnricher>(&journal_));
    std::vector<std::unique_ptr<Sink>> sinks;
    if (failing_sink) sinks.push_back(std::make_unique<FailingSink>());
    sinks.push_back(std::make_unique<RecordingSink>(&journal_));
    return std::make_unique<Pipeline>(
        PipelineOptions{.queue_capacity = queue_capacity, .queue_max_bytes = queue_max_bytes, .instance_id = "inst"},
        Decoder({.node = test::kNode}, &clock_), std::move(enrichers), std::move(detector), std::move(sinks));
  }

  std::vector<uint32_t> WrittenPids() {
    std::vector<uint32_t> pids;
    for (const auto& e : journal_.Written()) pids.push_back(e.process().pid());
    return pids;
  }

  BootClock clock_;
  Journal journal_;
};

Record ExecOfPid(uint32_t pid) {
  test::ExecSpec spec = ExecOf({"run", absl::StrCat(pid)});
  spec.proc = Proc(pid);
  return ExecRecord(spec);
}

TEST_F(PipelineTest, DeliversInOrderWithUniqueIds) {
  auto pipeline = Make();
  pipeline->Start();
  pipeline->Submit(ExecOfPid(1));
  pipeline->Submit(ForkRecord(7, Proc(2)));
  pipeline->Submit(ExitRecord(0, Proc(3)));
  pipeline->Submit(ExecOfPid(4));
  pipeline->Stop();

  std::vector<v1::Event> written = journal_.Written();
  ASSERT_EQ(written.size(), 4u);
  EXPECT_THAT(WrittenPids(), ElementsAre(1, 2, 3, 4));
  std::vector<std::string> ids;
  for (const auto& e : written) ids.push_back(e.id());
  EXPECT_THAT(ids, ElementsAre("inst-0", "inst-1", "inst-2", "inst-3"));
  EXPECT_EQ(written[1].kind(), v1::EVENT_KIND_FORK);
  EXPECT_THAT(written[0].process().argv(), ElementsAre("run", "1"));
  // Enrichers run before sinks, on every event.
  for (const auto& e : written) EXPECT_EQ(e.workload().container_name(), "enriched");

  PipelineCounters c = pipeline->Counters();
  EXPECT_EQ(c.received[VIGIL_KIND_EXEC], 2u);
  EXPECT_EQ(c.received[VIGIL_KIND_FORK], 1u);
  EXPECT_EQ(c.received[VIGIL_KIND_EXIT], 1u);
  EXPECT_EQ(c.decode_errors[VIGIL_KIND_EXEC], 0u);
  EXPECT_EQ(c.queue_depth, 0u);
}

TEST_F(PipelineTest, AlertsFollowTheirEventWithIdsFromTheSameSequence) {
  auto pipeline = Make(1024, false, std::make_unique<ExecAlertDetector>());
  pipeline->Start();
  pipeline->Submit(ExecOfPid(1));
  pipeline->Submit(ForkRecord(7, Proc(2)));
  pipeline->Submit(ExecOfPid(3));
  pipeline->Stop();

  std::vector<std::string> seen;
  for (const auto& e : journal_.Written()) {
    seen.push_back(absl::StrCat(e.id(), " ", v1::EventKind_Name(e.kind()), " ", e.alert().rule_id(), " ",
                                e.alert().event_ids_size() ? e.alert().event_ids(0) : ""));
  }
  EXPECT_THAT(seen, ElementsAre("inst-0 EVENT_KIND_EXEC  ", "inst-1 EVENT_KIND_ALERT exec-seen inst-0",
                                "inst-2 EVENT_KIND_FORK  ", "inst-3 EVENT_KIND_EXEC  ",
                                "inst-4 EVENT_KIND_ALERT exec-seen inst-3", "inst-5 EVENT_KIND_ALERT closing "));
  // The detector sees enriched events; alerts skip the enrichers.
  EXPECT_EQ(journal_.Written()[1].process().pid(), 1u);
}

TEST_F(PipelineTest, InvalidRecordsAreCountedPerKindAndDropped) {
  auto pipeline = Make();
  Record bad_exec = ExecOfPid(2);
  bad_exec.pop_back();  // header size no longer matches
  Record bad_exit = ExitRecord(0, Proc(3));
  test::Edit<vigil_header>(bad_exit, [](vigil_header& h) { h.abi_version = 99; });
  Record too_short(5, 0);

  pipeline->Start();
  pipeline->Submit(ExecOfPid(1));
  pipeline->Submit(bad_exec);
  pipeline->Submit(bad_exit);
  pipeline->Submit(too_short);
  pipeline->Submit(ExecOfPid(4));
  pipeline->Stop();

  EXPECT_THAT(WrittenPids(), ElementsAre(1, 4));
  EXPECT_EQ(journal_.Written()[1].id(), "inst-1") << "rejected records use no id";
  PipelineCounters c = pipeline->Counters();
  EXPECT_EQ(c.decode_errors[VIGIL_KIND_EXEC], 1u);
  EXPECT_EQ(c.decode_errors[VIGIL_KIND_EXIT], 1u);
  EXPECT_EQ(c.decode_errors[0], 1u) << "a record without a header counts as kind 0";
  EXPECT_EQ(c.received[VIGIL_KIND_EXEC], 3u);
  EXPECT_EQ(c.received[0], 1u);
}

TEST_F(PipelineTest, FullQueueDropsAndCountsPerKind) {
  auto pipeline = Make(/*queue_capacity=*/4);
  for (uint32_t pid = 1; pid <= 10; ++pid) pipeline->Submit(ExecOfPid(pid));

  PipelineCounters c = pipeline->Counters();
  EXPECT_EQ(c.received[VIGIL_KIND_EXEC], 10u);
  EXPECT_EQ(c.dropped_queue[VIGIL_KIND_EXEC], 6u);
  EXPECT_EQ(c.dropped_queue[VIGIL_KIND_FORK], 0u);
  EXPECT_EQ(c.queue_depth, 4u);

  pipeline->Start();
  pipeline->Stop();
  EXPECT_THAT(WrittenPids(), ElementsAre(1, 2, 3, 4)) << "the first four were queued";
  EXPECT_EQ(pipeline->Counters().queue_depth, 0u);
}

TEST_F(PipelineTest, QueueIsBoundedByBytesToo) {
  const Record small = ForkRecord(7, Proc(2));
  test::ExecSpec big_spec = ExecOf({"run", std::string(4000, 'x')});
  big_spec.proc = Proc(1);
  const Record big = ExecRecord(big_spec);
  // Room for two big records (and a small one), far below the count bound.
  const size_t max_bytes = 2 * big.size() + small.size();
  auto pipeline = Make(/*queue_capacity=*/1024, false, nullptr, max_bytes);
  pipeline->Submit(big);
  pipeline->Submit(big);
  pipeline->Submit(big);    // would pass the byte bound: dropped
  pipeline->Submit(small);  // still fits
  pipeline->Submit(small);  // does not

  PipelineCounters c = pipeline->Counters();
  EXPECT_EQ(c.dropped_queue[VIGIL_KIND_EXEC], 1u);
  EXPECT_EQ(c.dropped_queue[VIGIL_KIND_FORK], 1u);
  EXPECT_EQ(c.queue_depth, 3u);
  EXPECT_EQ(c.queue_bytes, max_bytes);

  pipeline->Start();
  pipeline->Stop();
  EXPECT_EQ(journal_.Written().size(), 3u);
  EXPECT_EQ(pipeline->Counters().queue_bytes, 0u) << "handled records give their bytes back";
}

TEST_F(PipelineTest, InjectedEventsAreNeverDropped) {
  auto pipeline = Make(/*queue_capacity=*/4);
  for (uint32_t pid = 1; pid <= 4; ++pid) pipeline->Submit(ExecOfPid(pid));
  for (int i = 0; i < 3; ++i) {
    v1::Event health;
    health.set_kind(v1::EVENT_KIND_SENSOR_HEALTH);
    health.mutable_health()->set_queue_depth(100 + i);
    pipeline->Inject(health);
  }
  pipeline->Submit(ExecOfPid(5));  // queue full: dropped

  pipeline->Start();
  pipeline->Stop();
  std::vector<v1::Event> written = journal_.Written();
  ASSERT_EQ(written.size(), 7u);
  std::vector<uint64_t> health;
  for (const auto& e : written) {
    if (e.kind() == v1::EVENT_KIND_SENSOR_HEALTH) health.push_back(e.health().queue_depth());
  }
  EXPECT_THAT(health, ElementsAre(100, 101, 102));
  EXPECT_EQ(written.back().id(), "inst-6") << "injected events get ids too";
  EXPECT_EQ(pipeline->Counters().dropped_queue[VIGIL_KIND_EXEC], 1u);
}

TEST_F(PipelineTest, StopFlushesSinksAfterTheLastWrite) {
  auto pipeline = Make();
  pipeline->Start();
  pipeline->Submit(ExecOfPid(1));
  pipeline->Submit(ExecOfPid(2));
  pipeline->Stop();
  std::vector<std::string> calls = journal_.Calls();
  ASSERT_THAT(calls, ::testing::Contains("write inst-1"));
  EXPECT_EQ(calls.back(), "flush") << "Stop() must flush after the last write";
}

TEST_F(PipelineTest, EnrichesBeforeWriting) {
  auto pipeline = Make();
  pipeline->Submit(ExecOfPid(1));
  pipeline->Start();
  pipeline->Stop();
  std::vector<std::string> calls = journal_.Calls();
  ASSERT_GE(calls.size(), 2u);
  EXPECT_THAT(std::vector<std::string>(calls.begin(), calls.begin() + 2), ElementsAre("enrich inst-0", "write inst-0"));
}

TEST_F(PipelineTest, SinkErrorsAreCountedAndOtherSinksStillWritten) {
  auto pipeline = Make(1024, /*failing_sink=*/true);
  pipeline->Start();
  pipeline->Submit(ExecOfPid(1));
  pipeline->Submit(ExecOfPid(2));
  pipeline->Stop();
  EXPECT_THAT(WrittenPids(), ElementsAre(1, 2));
  EXPECT_EQ(pipeline->Counters().sink_errors, 2u);
}

TEST_F(PipelineTest, RecordsSubmittedWhileRunningAllArrive) {
  auto pipeline = Make(/*queue_capacity=*/1 << 16);
  pipeline->Start();
  std::vector<uint32_t> want;
  for (uint32_t pid = 1; pid <= 2000; ++pid) {
    pipeline->Submit(pid % 2 ? ExecOfPid(pid) : ForkRecord(1, Proc(pid)));
    want.push_back(pid);
  }
  pipeline->Stop();
  EXPECT_THAT(WrittenPids(), ElementsAreArray(want));
}

TEST_F(PipelineTest, DestroyedWithoutStartDoesNotHang) {
  auto pipeline = Make(4);
  pipeline->Submit(ExecOfPid(1));
  pipeline.reset();
  EXPECT_THAT(journal_.Written(), IsEmpty());
}

}  // namespace
}  // namespace vigil
