#include "collector/resend_filter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "status_matchers.h"

namespace vigil::collector {
namespace {

v1::PublishRequest Batch(const std::string& node, uint64_t sequence, std::vector<std::string> ids,
                         const std::string& cluster = "prod") {
  v1::PublishRequest b;
  b.mutable_sensor()->set_node(node);
  b.mutable_sensor()->set_cluster(cluster);
  b.set_sequence(sequence);
  for (const std::string& id : ids) b.add_events()->set_id(id);
  return b;
}

// Stands in for the spool: counts what was stored, hands out indexes, and
// says which records a failed sync covered.
struct FakeSpool {
  absl::StatusOr<uint64_t> Append() { return next++; }
  bool MayBeLost(uint64_t index) const { return lost.contains(index); }
  uint64_t next = 100;
  std::set<uint64_t> lost;
};

class ResendFilterTest : public ::testing::Test {
 protected:
  absl::StatusOr<ResendFilter::Stored> Store(ResendFilter& f, const v1::PublishRequest& b) {
    return f.StoreOnce(
        b, [this] { return spool_.Append(); }, [this](uint64_t i) { return spool_.MayBeLost(i); });
  }
  absl::Status Save(ResendFilter& f, const std::string& path) {
    return f.Save(path, [this](uint64_t i) { return !spool_.MayBeLost(i); });
  }
  FakeSpool spool_;
};

TEST_F(ResendFilterTest, AResendIsAcknowledgedNotStored) {
  ResendFilter f({});
  auto first = Store(f, Batch("node-a", 7, {"i-1", "i-2"}));
  ASSERT_THAT(first.status(), vigil::test::IsOk());
  EXPECT_FALSE(first->resent);
  EXPECT_EQ(first->spool_index, 100u);
  auto again = Store(f, Batch("node-a", 7, {"i-1", "i-2"}));
  ASSERT_THAT(again.status(), vigil::test::IsOk());
  EXPECT_TRUE(again->resent);
  EXPECT_EQ(again->spool_index, 100u) << "synced through the stored copy before the ack";
  EXPECT_EQ(spool_.next, 101u) << "stored once";
}

TEST_F(ResendFilterTest, SameSequenceOtherEventsIsNew) {
  ResendFilter f({});
  ASSERT_THAT(Store(f, Batch("node-a", 1, {"old-1"})).status(), vigil::test::IsOk());
  // The sensor's spool was wiped: sequences start again, events are new.
  auto b = Store(f, Batch("node-a", 1, {"new-1"}));
  ASSERT_THAT(b.status(), vigil::test::IsOk());
  EXPECT_FALSE(b->resent);
  // Same ids in another order is another batch too.
  ASSERT_THAT(Store(f, Batch("node-a", 2, {"x", "y"})).status(), vigil::test::IsOk());
  EXPECT_FALSE(Store(f, Batch("node-a", 2, {"y", "x"}))->resent);
}

TEST_F(ResendFilterTest, SensorsAreKeptApart) {
  ResendFilter f({});
  ASSERT_THAT(Store(f, Batch("node-a", 1, {"i-1"})).status(), vigil::test::IsOk());
  EXPECT_FALSE(Store(f, Batch("node-b", 1, {"i-1"}))->resent);
  EXPECT_FALSE(Store(f, Batch("node-a", 1, {"i-1"}, "staging"))->resent) << "same node name, other cluster";
  EXPECT_TRUE(Store(f, Batch("node-a", 1, {"i-1"}))->resent);
}

// A sync that failed may have cost the stored copy (the disk did not take
// it, and the next sync succeeds regardless): a resend is stored again, in a
// new copy, and a later resend of it is one again.
TEST_F(ResendFilterTest, AResendWhoseCopyMayBeLostIsStoredAgain) {
  ResendFilter f({});
  ASSERT_THAT(Store(f, Batch("node-a", 7, {"i-1"})).status(), vigil::test::IsOk());
  ASSERT_THAT(Store(f, Batch("node-a", 8, {"i-2"})).status(), vigil::test::IsOk());
  spool_.lost.insert(100);
  auto again = Store(f, Batch("node-a", 7, {"i-1"}));
  ASSERT_THAT(again.status(), vigil::test::IsOk());
  EXPECT_FALSE(again->resent);
  EXPECT_EQ(again->spool_index, 102u);
  EXPECT_TRUE(Store(f, Batch("node-a", 7, {"i-1"}))->resent) << "the new copy is trusted";
  EXPECT_TRUE(Store(f, Batch("node-a", 8, {"i-2"}))->resent) << "a copy no failure covered is kept";
  EXPECT_EQ(spool_.next, 103u);
}

TEST_F(ResendFilterTest, AFailedAppendIsNotRemembered) {
  ResendFilter f({});
  auto failed = f.StoreOnce(
      Batch("node-a", 1, {"i-1"}), [] { return absl::StatusOr<uint64_t>(absl::InternalError("disk full")); },
      [](uint64_t) { return false; });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_FALSE(Store(f, Batch("node-a", 1, {"i-1"}))->resent) << "the retry must be stored";
}

TEST_F(ResendFilterTest, BoundedPerSensorAndInSensors) {
  ResendFilter f({.per_sensor = 4, .max_sensors = 2});
  for (uint64_t s = 1; s <= 6; ++s)
    ASSERT_THAT(Store(f, Batch("node-a", s, {absl::StrCat("a-", s)})).status(), vigil::test::IsOk());
  // The oldest sequences are forgotten first; a forgotten one is stored again.
  EXPECT_FALSE(Store(f, Batch("node-a", 1, {"a-1"}))->resent);
  EXPECT_TRUE(Store(f, Batch("node-a", 6, {"a-6"}))->resent);
  ASSERT_THAT(Store(f, Batch("node-b", 1, {"b-1"})).status(), vigil::test::IsOk());
  ASSERT_THAT(Store(f, Batch("node-a", 6, {"a-6"})).status(), vigil::test::IsOk());  // node-a seen last
  ASSERT_THAT(Store(f, Batch("node-c", 1, {"c-1"})).status(), vigil::test::IsOk());  // node-b goes
  EXPECT_EQ(f.sensors(), 2u);
  EXPECT_TRUE(Store(f, Batch("node-a", 6, {"a-6"}))->resent);
  EXPECT_FALSE(Store(f, Batch("node-b", 1, {"b-1"}))->resent);
}

TEST_F(ResendFilterTest, TwoStreamsOfOneSensorStoreABatchOnce) {
  ResendFilter f({});
  std::vector<std::thread> streams;
  for (int t = 0; t < 4; ++t) {
    streams.emplace_back([&] {
      for (uint64_t s = 1; s <= 200; ++s)
        ASSERT_THAT(Store(f, Batch("node-a", s, {absl::StrCat("i-", s)})).status(), vigil::test::IsOk());
    });
  }
  for (auto& t : streams) t.join();
  EXPECT_EQ(spool_.next, 300u) << "200 batches, each stored once";
}

class ResendFilterFileTest : public ResendFilterTest {
 protected:
  ResendFilterFileTest() {
    std::string tmpl = std::filesystem::temp_directory_path() / "vigil-resend-XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    path_ = dir_ + "/resend-filter";
  }
  ~ResendFilterFileTest() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(ResendFilterFileTest, SavedTableSurvivesARestart) {
  {
    ResendFilter f({});
    ASSERT_THAT(Store(f, Batch("node-a", 1, {"i-1"})).status(), vigil::test::IsOk());
    ASSERT_THAT(Store(f, Batch("tab\tand\nnewline", 2, {"i-2"}, "c\\x")).status(), vigil::test::IsOk());
    ASSERT_THAT(Save(f, path_), vigil::test::IsOk());
  }
  ResendFilter restarted({});
  ASSERT_THAT(restarted.Load(path_), vigil::test::IsOk());
  auto a = Store(restarted, Batch("node-a", 1, {"i-1"}));
  EXPECT_TRUE(a->resent);
  EXPECT_FALSE(a->spool_index.has_value()) << "stored by the earlier run: durable, nothing to sync";
  EXPECT_TRUE(Store(restarted, Batch("tab\tand\nnewline", 2, {"i-2"}, "c\\x"))->resent);
  EXPECT_FALSE(Store(restarted, Batch("node-a", 2, {"i-2"}))->resent);
}

// A batch whose copy is not durable is not saved: after the restart, its
// resend is stored again rather than acknowledged.
TEST_F(ResendFilterFileTest, ABatchWhoseCopyMayBeLostIsNotSaved) {
  {
    ResendFilter f({});
    ASSERT_THAT(Store(f, Batch("node-a", 1, {"i-1"})).status(), vigil::test::IsOk());
    ASSERT_THAT(Store(f, Batch("node-a", 2, {"i-2"})).status(), vigil::test::IsOk());
    spool_.lost.insert(101);
    ASSERT_THAT(Save(f, path_), vigil::test::IsOk());
  }
  ResendFilter restarted({});
  ASSERT_THAT(restarted.Load(path_), vigil::test::IsOk());
  EXPECT_TRUE(Store(restarted, Batch("node-a", 1, {"i-1"}))->resent);
  EXPECT_FALSE(Store(restarted, Batch("node-a", 2, {"i-2"}))->resent);
}

TEST_F(ResendFilterFileTest, CorruptFileIsRefusedWhole) {
  for (const std::string& text : {std::string("something else\n"), std::string("vigil-resend-filter 1\nprod\\tn\t1\n"),
                                  std::string("vigil-resend-filter 1\nprod\\tn\t1\t99\nprod\\tn\t2\t9")}) {
    std::ofstream(path_, std::ios::trunc) << text;
    ResendFilter f({});
    EXPECT_EQ(f.Load(path_).code(), absl::StatusCode::kDataLoss) << text;
    EXPECT_EQ(f.sensors(), 0u) << text;
  }
  ResendFilter f({});
  EXPECT_EQ(f.Load(dir_ + "/absent").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil::collector
