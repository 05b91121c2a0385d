#include "pipeline/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "records.h"
#include "support/fake_clock.h"

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
  std::vector<std::string> calls ABSL_GUARDED_BY(mu);  // "enrich pid <pid>", "write <id>", "flush"
  std::vector<v1::Event> written ABSL_GUARDED_BY(mu);
  std::vector<std::thread::id> writers ABSL_GUARDED_BY(mu);  // the thread of each write

  std::vector<std::string> Calls() {
    absl::MutexLock lock(&mu);
    return calls;
  }
  std::vector<v1::Event> Written() {
    absl::MutexLock lock(&mu);
    return written;
  }
  size_t WrittenCount() {
    absl::MutexLock lock(&mu);
    return written.size();
  }
  std::vector<std::thread::id> Writers() {
    absl::MutexLock lock(&mu);
    return writers;
  }
  // Waits (boundedly) until `n` events were written; false if they were not.
  bool AwaitWritten(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return written.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
};

class RecordingEnricher : public Enricher {
 public:
  explicit RecordingEnricher(Journal* journal) : journal_(journal) {}
  void Enrich(v1::Event& event) override {
    absl::MutexLock lock(&journal_->mu);
    journal_->calls.push_back(absl::StrCat("enrich pid ", event.process().pid()));
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
    journal_->writers.push_back(std::this_thread::get_id());
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

// An output that stalls on the events of one pid (a disk that hangs).
class StallingSink : public Sink {
 public:
  StallingSink(uint32_t pid, absl::Duration stall) : pid_(pid), stall_(stall) {}
  absl::Status Write(const v1::Event& event) override {
    if (event.process().pid() == pid_) absl::SleepFor(stall_);
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  const uint32_t pid_;
  const absl::Duration stall_;
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

  // A recording sink and no other stage, on a clock that stands still: a
  // poll slowed by a busy machine (these tests share it) must not send the
  // next ones to the pipeline thread.
  std::unique_ptr<Pipeline> MakeOnStillClock() {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(std::make_unique<RecordingSink>(&journal_));
    return std::make_unique<Pipeline>(PipelineOptions{.instance_id = "inst", .now = still_.clock()},
                                      Decoder({.node = test::kNode}, &clock_), std::vector<std::unique_ptr<Enricher>>{},
                                      nullptr, std::move(sinks));
  }

  std::vector<uint32_t> WrittenPids() {
    std::vector<uint32_t> pids;
    for (const auto& e : journal_.Written()) pids.push_back(e.process().pid());
    return pids;
  }

  BootClock clock_;
  test::FakeClock still_;
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
  EXPECT_THAT(std::vector<std::string>(calls.begin(), calls.begin() + 2), ElementsAre("enrich pid 1", "write inst-0"));
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

// The reader's usual case, a few records per poll on a node that is not
// overloaded: the batch is done on the reader's own thread, written by the
// time Publish() returns, with no wake-up of the pipeline thread.
TEST_F(PipelineTest, AnIdlePipelineDoesAPublishedBatchOnThePublishingThread) {
  auto pipeline = MakeOnStillClock();
  pipeline->Start();
  int done_here = 0;
  for (uint32_t pid = 1; pid <= 20; ++pid) {
    pipeline->Submit(ExecOfPid(pid));
    pipeline->Publish();
    // The pipeline thread's once-a-second tick may hold the work at that
    // moment: then the batch is handed over instead.
    if (journal_.Written().size() == pid) ++done_here;
    ASSERT_TRUE(journal_.AwaitWritten(pid));
  }
  EXPECT_GE(done_here, 18);
  pipeline->Stop();
  EXPECT_THAT(WrittenPids(), ElementsAreArray({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}));
}

// Within a poll the reader takes the work at the first record and does each
// record as it is submitted, straight from the ring buffer's memory: written
// before Submit() returns. A burst past kBatchRecords (1,024) in one poll is
// handed over from there on, so that the reader goes back to draining.
TEST_F(PipelineTest, AnIdlePipelineDoesAPollsRecordsAsTheyAreSubmitted) {
  auto pipeline = MakeOnStillClock();
  pipeline->Start();
  // The pipeline thread's once-a-second tick may hold the work when a poll
  // starts: then that poll is queued, and the next one is tried.
  uint32_t pid = 0;
  bool done_here = false;
  for (int poll = 0; poll < 5 && !done_here; ++poll) {
    Record record = ExecOfPid(++pid);
    pipeline->Submit(record);
    std::fill(record.begin(), record.end(), 0xff);  // the ring buffer's space, reused
    done_here = journal_.WrittenCount() == pid;
    pipeline->Publish();
    ASSERT_TRUE(journal_.AwaitWritten(pid));
  }
  ASSERT_TRUE(done_here) << "no poll's record was done as it was submitted";
  EXPECT_EQ(journal_.Writers().back(), std::this_thread::get_id());

  constexpr uint32_t kBurst = 3000;
  const uint32_t first = pid + 1;
  std::vector<size_t> submitted_at;  // records written when each was submitted
  for (uint32_t i = 0; i < kBurst; ++i) {
    pipeline->Submit(ExecOfPid(++pid));
    submitted_at.push_back(journal_.WrittenCount());
  }
  pipeline->Publish();
  pipeline->Stop();
  std::vector<uint32_t> want(pid);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_THAT(WrittenPids(), ElementsAreArray(want));
  if (submitted_at[0] == first) {  // this poll took the work
    EXPECT_EQ(submitted_at[1023], first + 1023) << "the first 1,024 records done as they came";
    EXPECT_LT(submitted_at[1024], first + 1024) << "the 1,025th was queued";
  }
  const std::vector<std::thread::id> writers = journal_.Writers();
  EXPECT_TRUE(std::any_of(writers.begin() + first - 1, writers.end(), [](std::thread::id id) {
    return id != std::this_thread::get_id();
  })) << "the pipeline thread took no part in the burst";
}

// A slow output must not keep the reader from the ring buffer: after a batch
// done on its thread was slow, the next ones go to the pipeline thread.
TEST_F(PipelineTest, AfterASlowBatchTheNextOnesAreHandedOver) {
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<StallingSink>(1, absl::Milliseconds(50)));
  sinks.push_back(std::make_unique<RecordingSink>(&journal_));
  Pipeline pipeline(PipelineOptions{.instance_id = "inst"}, Decoder({.node = test::kNode}, &clock_), {}, nullptr,
                    std::move(sinks));
  pipeline.Start();
  for (uint32_t pid = 1; pid <= 5; ++pid) {
    pipeline.Submit(ExecOfPid(pid));
    pipeline.Publish();
  }
  pipeline.Stop();
  EXPECT_THAT(WrittenPids(), ElementsAre(1, 2, 3, 4, 5));
  std::vector<std::thread::id> writers = journal_.Writers();
  ASSERT_EQ(writers.size(), 5u);
  EXPECT_EQ(writers[0], std::this_thread::get_id()) << "the first batch is done where it was published";
  for (size_t i = 1; i < writers.size(); ++i) {
    EXPECT_NE(writers[i], std::this_thread::get_id()) << "batch " << i << " was done on the reader's thread";
  }
}

// Records published from the reader's thread, done there or handed over,
// and events injected from another thread meanwhile: every record arrives,
// in order, each injected event after the records submitted before it, and
// ids follow the output's order.
TEST_F(PipelineTest, PublishedAndInjectedConcurrentlyAllArriveInOrder) {
  auto pipeline = Make(/*queue_capacity=*/1 << 16);
  pipeline->Start();
  constexpr uint32_t kRecords = 3000;
  std::atomic<uint32_t> submitted{0};
  std::thread reader([&] {
    for (uint32_t pid = 1; pid <= kRecords; ++pid) {
      pipeline->Submit(ExecOfPid(pid));
      submitted.store(pid, std::memory_order_release);
      if (pid % 7 == 0) pipeline->Publish();
    }
    pipeline->Publish();
  });
  std::vector<uint32_t> injected_after;  // records submitted before each injection
  for (int i = 0; i < 50; ++i) {
    v1::Event health;
    health.set_kind(v1::EVENT_KIND_SENSOR_HEALTH);
    injected_after.push_back(submitted.load(std::memory_order_acquire));
    health.mutable_health()->set_queue_depth(i);
    pipeline->Inject(health);
    absl::SleepFor(absl::Microseconds(200));
  }
  reader.join();
  pipeline->Stop();

  std::vector<uint32_t> pids;
  std::vector<int> health_order;
  uint32_t records_before = 0;
  uint64_t last_seq = 0;
  for (const v1::Event& e : journal_.Written()) {
    uint64_t seq = 0;
    ASSERT_TRUE(absl::SimpleAtoi(absl::StripPrefix(e.id(), "inst-"), &seq)) << e.id();
    if (!pids.empty() || !health_order.empty()) {
      EXPECT_EQ(seq, last_seq + 1);
    }
    last_seq = seq;
    if (e.kind() == v1::EVENT_KIND_SENSOR_HEALTH) {
      const int i = static_cast<int>(e.health().queue_depth());
      health_order.push_back(i);
      EXPECT_GE(records_before, injected_after[i]) << "health " << i << " passed a record submitted before it";
      continue;
    }
    pids.push_back(e.process().pid());
    ++records_before;
  }
  std::vector<uint32_t> want(kRecords);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_THAT(pids, ElementsAreArray(want));
  std::vector<int> want_health(50);
  std::iota(want_health.begin(), want_health.end(), 0);
  EXPECT_THAT(health_order, ElementsAreArray(want_health));
}

// An operator's `top -H` (and perf) tells the pipeline's thread apart.
TEST_F(PipelineTest, ItsThreadIsNamed) {
  auto names = [] {
    std::vector<std::string> out;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      std::getline(comm, name);
      out.push_back(name);
    }
    return out;
  };
  auto pipeline = Make();
  pipeline->Start();
  EXPECT_THAT(names(), ::testing::Contains("vigil-pipeline"));
  pipeline->Stop();
  EXPECT_THAT(names(), ::testing::Not(::testing::Contains("vigil-pipeline")));
}

TEST_F(PipelineTest, DestroyedWithoutStartDoesNotHang) {
  auto pipeline = Make(4);
  pipeline->Submit(ExecOfPid(1));
  pipeline.reset();
  EXPECT_THAT(journal_.Written(), IsEmpty());
}

// Stands for an enricher whose answers come from elsewhere (the container
// runtimes): events of pids >= 100 wait for the answer for their pid, which
// the test gives, up to `wait` after the first of them.
class AnsweringEnricher : public Enricher {
 public:
  AnsweringEnricher(Clock now, absl::Duration wait) : now_(std::move(now)), wait_(wait) {}
  uint64_t WaitKey(const v1::Event& event) override {
    const uint64_t pid = event.process().pid();
    if (pid < 100) return 0;
    absl::MutexLock lock(&mu_);
    deadlines_.try_emplace(pid, now_() + wait_);
    return pid;
  }
  absl::Time WaitUntil(uint64_t key) override {
    absl::MutexLock lock(&mu_);
    if (answered_.contains(key)) return absl::InfinitePast();
    auto it = deadlines_.find(key);
    return it == deadlines_.end() ? absl::InfinitePast() : it->second;
  }
  void SetWake(std::function<void()> wake) override {
    absl::MutexLock lock(&mu_);
    wake_ = std::move(wake);
  }
  void Enrich(v1::Event& event) override {
    absl::MutexLock lock(&mu_);
    if (event.process().pid() >= 100) {
      event.mutable_workload()->set_container_id(answered_.contains(event.process().pid()) ? "answered" : "");
      event.mutable_workload()->set_metadata_pending(!answered_.contains(event.process().pid()));
    }
  }
  // From the test thread, as a runtime's answer comes on another thread.
  void Answer(uint64_t key) {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      answered_.insert(key);
      wake = wake_;
    }
    wake();
  }
  void Wake() {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      wake = wake_;
    }
    wake();
  }

 private:
  const Clock now_;
  const absl::Duration wait_;
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, absl::Time> deadlines_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint64_t> answered_ ABSL_GUARDED_BY(mu_);
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
};

class ParkingTest : public PipelineTest {
 protected:
  std::unique_ptr<Pipeline> MakeParking(size_t park_max_events = 1024) {
    auto enricher = std::make_unique<AnsweringEnricher>(clock(), absl::Seconds(2));
    answers_ = enricher.get();
    std::vector<std::unique_ptr<Enricher>> enrichers;
    enrichers.push_back(std::move(enricher));
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(std::make_unique<RecordingSink>(&journal_));
    auto p = std::make_unique<Pipeline>(
        PipelineOptions{.instance_id = "inst", .park_max_events = park_max_events, .now = clock()},
        Decoder({.node = test::kNode}, &clock_), std::move(enrichers), nullptr, std::move(sinks));
    p->Start();
    return p;
  }
  Clock clock() { return fake_clock_.clock(); }
  void Advance(absl::Duration d) { fake_clock_.Advance(d); }
  void Submit(Pipeline& p, std::initializer_list<uint32_t> pids) {
    for (uint32_t pid : pids) p.Submit(ExecOfPid(pid));
    p.Publish();
  }

  AnsweringEnricher* answers_ = nullptr;  // owned by the pipeline
  test::FakeClock fake_clock_;
};

TEST_F(ParkingTest, EventsWaitingForAnAnswerDoNotHoldUpTheOthers) {
  auto pipeline = MakeParking();
  Submit(*pipeline, {100, 1, 100, 2, 3});
  ASSERT_TRUE(journal_.AwaitWritten(3)) << "events of no key went on";
  EXPECT_THAT(WrittenPids(), ElementsAre(1, 2, 3));
  PipelineCounters c = pipeline->Counters();
  EXPECT_EQ(c.parked, 2u);
  EXPECT_EQ(c.parked_events, 2u);
  EXPECT_GT(c.parked_bytes, 0u);

  answers_->Answer(100);
  ASSERT_TRUE(journal_.AwaitWritten(5));
  EXPECT_THAT(WrittenPids(), ElementsAre(1, 2, 3, 100, 100));
  std::vector<v1::Event> written = journal_.Written();
  EXPECT_EQ(written[3].workload().container_id(), "answered");
  EXPECT_FALSE(written[4].workload().metadata_pending());
  // Ids follow the order the events left in.
  EXPECT_EQ(written[3].id(), "inst-3");
  EXPECT_EQ(written[4].id(), "inst-4");
  c = pipeline->Counters();
  EXPECT_EQ(c.released, 2u);
  EXPECT_EQ(c.expired, 0u);
  EXPECT_EQ(c.parked_events, 0u);
  EXPECT_EQ(c.parked_bytes, 0u);
}

TEST_F(ParkingTest, AKeysEventsKeepTheirOrderAfterItsAnswer) {
  auto pipeline = MakeParking();
  for (uint32_t i = 0; i < 3; ++i) pipeline->Submit(ForkRecord(1, Proc(100)));
  Submit(*pipeline, {1});
  ASSERT_TRUE(journal_.AwaitWritten(1));
  answers_->Answer(100);
  // Answered now, but parked events of the key still go before this one.
  Submit(*pipeline, {100});
  ASSERT_TRUE(journal_.AwaitWritten(5));
  std::vector<v1::Event> written = journal_.Written();
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(written[i].kind(), v1::EVENT_KIND_FORK) << i;
  EXPECT_EQ(written[4].kind(), v1::EVENT_KIND_EXEC);
  EXPECT_EQ(pipeline->Counters().released, 3u);
  EXPECT_EQ(pipeline->Counters().parked, 3u);
}

TEST_F(ParkingTest, WithoutAnAnswerEventsGoAtTheirDeadlineAndAreCounted) {
  auto pipeline = MakeParking();
  Submit(*pipeline, {100, 1});
  ASSERT_TRUE(journal_.AwaitWritten(1));
  Advance(absl::Seconds(2) - absl::Milliseconds(1));
  answers_->Wake();
  Submit(*pipeline, {2});
  ASSERT_TRUE(journal_.AwaitWritten(2));
  EXPECT_EQ(pipeline->Counters().parked_events, 1u) << "released before its deadline";
  Advance(absl::Milliseconds(1));
  answers_->Wake();
  ASSERT_TRUE(journal_.AwaitWritten(3));
  EXPECT_THAT(WrittenPids(), ElementsAre(1, 2, 100));
  EXPECT_TRUE(journal_.Written()[2].workload().metadata_pending());
  PipelineCounters c = pipeline->Counters();
  EXPECT_EQ(c.expired, 1u);
  EXPECT_EQ(c.released, 0u);
  // A later event of the key does not wait again.
  Submit(*pipeline, {100});
  ASSERT_TRUE(journal_.AwaitWritten(4));
  EXPECT_EQ(pipeline->Counters().parked, 1u);
}

TEST_F(ParkingTest, AFullParkSendsTheKeysEventsOnInOrder) {
  auto pipeline = MakeParking(/*park_max_events=*/2);
  for (uint32_t i = 0; i < 2; ++i) pipeline->Submit(ForkRecord(1, Proc(100)));
  Submit(*pipeline, {1});
  ASSERT_TRUE(journal_.AwaitWritten(1));
  EXPECT_EQ(pipeline->Counters().parked_events, 2u);
  Submit(*pipeline, {100});  // no room: the two parked go first, then it
  ASSERT_TRUE(journal_.AwaitWritten(4));
  std::vector<v1::Event> written = journal_.Written();
  EXPECT_EQ(written[1].kind(), v1::EVENT_KIND_FORK);
  EXPECT_EQ(written[2].kind(), v1::EVENT_KIND_FORK);
  EXPECT_EQ(written[3].kind(), v1::EVENT_KIND_EXEC);
  PipelineCounters c = pipeline->Counters();
  EXPECT_EQ(c.park_overflow, 1u);
  EXPECT_EQ(c.expired, 2u);
  EXPECT_EQ(c.parked_events, 0u);
}

TEST_F(ParkingTest, StopSendsParkedEventsAtTheirDeadline) {
  auto pipeline = MakeParking();
  Submit(*pipeline, {100, 1});
  ASSERT_TRUE(journal_.AwaitWritten(1));  // 100 is parked
  std::thread stop([&] { pipeline->Stop(); });
  Advance(absl::Seconds(2));
  answers_->Wake();
  stop.join();
  EXPECT_THAT(WrittenPids(), ElementsAre(1, 100));
  EXPECT_EQ(pipeline->Counters().expired, 1u);
}

}  // namespace
}  // namespace vigil
