#include "spool/spool.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "status_matchers.h"

namespace vigil {
namespace {

using test::IsOk;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::SizeIs;

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "vigil-spool-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SpoolOptions Options() const { return SpoolOptions{.dir = dir_, .max_bytes = 1 << 20, .segment_bytes = 8192}; }
  std::unique_ptr<Spool> OpenSpool(const SpoolOptions& o) {
    auto s = Spool::Open(o);
    EXPECT_THAT(s, IsOk());
    return s.ok() ? *std::move(s) : nullptr;
  }
  std::vector<std::string> Segments() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<std::string> Payloads(Spool& spool, uint64_t from = 0) {
    auto r = spool.Read(from, 1000000, 1 << 30);
    EXPECT_THAT(r, IsOk());
    std::vector<std::string> out;
    if (r.ok()) {
      for (auto& rec : *r) out.push_back(rec.payload);
    }
    return out;
  }
  // Overwrites one byte at `offset` of `path`.
  static void Poke(const std::string& path, off_t offset) {
    const int fd = open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char c = 0;
    ASSERT_EQ(pread(fd, &c, 1, offset), 1);
    c ^= 0x5a;
    ASSERT_EQ(pwrite(fd, &c, 1, offset), 1);
    close(fd);
  }

  std::string dir_;
};

TEST_F(SpoolTest, RecordsReadBackInOrderWithIndexesAndItems) {
  auto spool = OpenSpool(Options());
  for (int i = 0; i < 5; ++i) {
    auto index = spool->Append(absl::StrCat("batch-", i), i + 1);
    ASSERT_THAT(index, IsOk());
    EXPECT_EQ(*index, static_cast<uint64_t>(i + 1));
  }
  auto records = spool->Read(3, 10, 1 << 20);
  ASSERT_THAT(records, IsOk());
  EXPECT_THAT(*records, ElementsAre(Field(&SpoolRecord::payload, "batch-2"), Field(&SpoolRecord::payload, "batch-3"),
                                    Field(&SpoolRecord::payload, "batch-4")));
  EXPECT_EQ((*records)[0].index, 3u);
  EXPECT_EQ((*records)[0].items, 3u);
  EXPECT_THAT(*spool->Read(1, 2, 1 << 20), SizeIs(2));
  // max_bytes stops a read, but never before its first record.
  EXPECT_THAT(*spool->Read(1, 10, 1), SizeIs(1));
}

// Readers (the uplink's sender, the collector's forwarders) take a read as
// everything up to its last index, so a read that left out a record the
// spool holds would lose it: a record too large for what is left of the
// budget ends the read, even when a smaller one follows in the next segment.
TEST_F(SpoolTest, ReadsLeaveNoGapAcrossSegmentsWhateverTheBudget) {
  auto spool = OpenSpool(Options());  // 8 KiB segments
  std::mt19937 rng(7);
  std::vector<std::string> payloads;
  for (int i = 0; i < 200; ++i) {
    payloads.push_back(std::string(std::uniform_int_distribution<size_t>(1, 5000)(rng), 'a' + i % 26));
    ASSERT_THAT(spool->Append(payloads.back(), 1), IsOk());
  }
  ASSERT_GT(Segments().size(), 20u);
  for (uint64_t from = 1; from <= payloads.size(); ++from) {
    for (size_t budget : {1u, 2000u, 6000u, 20000u}) {
      auto records = spool->Read(from, 64, budget);
      ASSERT_THAT(records, IsOk());
      ASSERT_FALSE(records->empty());
      for (size_t k = 0; k < records->size(); ++k) {
        ASSERT_EQ((*records)[k].index, from + k) << "read from " << from << " with " << budget << " bytes";
        EXPECT_EQ((*records)[k].payload, payloads[from + k - 1]);
      }
    }
  }
}

TEST_F(SpoolTest, ReopenKeepsRecordsAndNumbering) {
  {
    auto spool = OpenSpool(Options());
    for (int i = 0; i < 3; ++i) ASSERT_THAT(spool->Append(absl::StrCat("r", i), 1), IsOk());
  }
  auto spool = OpenSpool(Options());
  EXPECT_THAT(Payloads(*spool), ElementsAre("r0", "r1", "r2"));
  auto index = spool->Append("r3", 1);
  ASSERT_THAT(index, IsOk());
  EXPECT_EQ(*index, 4u);
}

TEST_F(SpoolTest, NumberingSurvivesReleasingEverything) {
  {
    auto spool = OpenSpool(Options());
    const std::string big(3000, 'x');
    for (int i = 0; i < 10; ++i) ASSERT_THAT(spool->Append(big, 1), IsOk());
    spool->Release(11);
    EXPECT_EQ(spool->Stats().segments, 1u);  // the newest stays
  }
  auto spool = OpenSpool(Options());
  EXPECT_EQ(spool->next_index(), 11u);
}

TEST_F(SpoolTest, CorruptRecordIsSkippedAndCounted) {
  {
    auto spool = OpenSpool(Options());
    for (int i = 0; i < 3; ++i) ASSERT_THAT(spool->Append(absl::StrCat("record-", i), 1), IsOk());
  }
  // Record 2 starts at 24 + 8 bytes; flip a payload byte of it.
  Poke(Segments().at(0), 24 + 8 + 24 + 2);
  auto spool = OpenSpool(Options());
  EXPECT_THAT(Payloads(*spool), ElementsAre("record-0", "record-2"));
  EXPECT_EQ(spool->Stats().corrupt_records, 1u);
}

// Damage across several records is one stretch of bad bytes, but the count
// is of the records it took (here 2, 3 and 4): the next good record's index
// tells.
TEST_F(SpoolTest, DamageAcrossRecordsCountsEveryRecordItTook) {
  {
    auto spool = OpenSpool(Options());
    for (int i = 0; i < 5; ++i) ASSERT_THAT(spool->Append(absl::StrCat("record-", i), 1), IsOk());
  }
  const std::string seg = Segments().at(0);
  std::string bytes;
  {
    std::ifstream in(seg, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  constexpr size_t kRecord = 24 + 8;  // header and "record-N"
  std::fill(bytes.begin() + kRecord, bytes.begin() + 4 * kRecord, '\0');
  std::ofstream(seg, std::ios::binary | std::ios::trunc) << bytes;
  auto spool = OpenSpool(Options());
  EXPECT_THAT(Payloads(*spool), ElementsAre("record-0", "record-4"));
  EXPECT_EQ(spool->Stats().corrupt_records, 3u);
}

// Found by fuzz/spool_fuzzer.cc: a record whose checksum holds but whose
// index is not above the one before it (here a copy of the first record after
// the last, as a disk writing a block twice leaves it) was taken, and the next
// Append reused an index.
TEST_F(SpoolTest, RecordThatDoesNotNumberUpwardsIsCorrupt) {
  {
    auto spool = OpenSpool(Options());
    for (int i = 0; i < 2; ++i) ASSERT_THAT(spool->Append(absl::StrCat("record-", i), 1), IsOk());
  }
  const std::string seg = Segments().at(0);
  std::string first(24 + 8, '\0');  // record-0 whole: header and payload
  {
    std::ifstream in(seg, std::ios::binary);
    ASSERT_TRUE(in.read(first.data(), static_cast<std::streamsize>(first.size())));
  }
  std::ofstream(seg, std::ios::binary | std::ios::app).write(first.data(), static_cast<std::streamsize>(first.size()));

  auto spool = OpenSpool(Options());
  EXPECT_THAT(Payloads(*spool), ElementsAre("record-0", "record-1"));
  EXPECT_EQ(spool->Stats().corrupt_records, 1u);
  auto index = spool->Append("next", 1);
  ASSERT_THAT(index, IsOk());
  EXPECT_EQ(*index, 3u);
}

TEST_F(SpoolTest, CorruptionAfterOpeningIsDetectedWhenRead) {
  auto spool = OpenSpool(Options());
  for (int i = 0; i < 3; ++i) ASSERT_THAT(spool->Append(absl::StrCat("record-", i), 1), IsOk());
  Poke(Segments().at(0), 24 + 3);
  EXPECT_THAT(Payloads(*spool), ElementsAre("record-1", "record-2"));
  EXPECT_EQ(spool->Stats().corrupt_records, 1u);
}

TEST_F(SpoolTest, RecordCutOffByACrashIsSkippedAndAppendsContinue) {
  {
    auto spool = OpenSpool(Options());
    for (int i = 0; i < 3; ++i) ASSERT_THAT(spool->Append(absl::StrCat("record-", i), 1), IsOk());
  }
  const std::string seg = Segments().at(0);
  std::filesystem::resize_file(seg, std::filesystem::file_size(seg) - 3);  // mid-write
  auto spool = OpenSpool(Options());
  EXPECT_EQ(spool->Stats().truncated_records, 1u);
  auto index = spool->Append("after-crash", 1);
  ASSERT_THAT(index, IsOk());
  EXPECT_EQ(*index, 3u);  // record 3 never fully existed
  EXPECT_THAT(Payloads(*spool), ElementsAre("record-0", "record-1", "after-crash"));
  spool.reset();
  auto again = OpenSpool(Options());
  EXPECT_THAT(Payloads(*again), ElementsAre("record-0", "record-1", "after-crash"));
  EXPECT_EQ(again->Stats().corrupt_records + again->Stats().truncated_records, 0u);
}

TEST_F(SpoolTest, CapDeletesOldestAndCountsWhatWasNotReleased) {
  SpoolOptions o = Options();
  o.max_bytes = 32768;
  o.segment_bytes = 8192;
  auto spool = OpenSpool(o);
  const std::string payload(1000, 'p');
  // ~8 records per segment; 100 records are ~100 KB, three times the cap.
  for (int i = 0; i < 100; ++i) ASSERT_THAT(spool->Append(payload, 7), IsOk());
  const SpoolStats s = spool->Stats();
  EXPECT_LE(s.bytes, o.max_bytes);
  EXPECT_GT(s.evicted_records, 0u);
  EXPECT_EQ(s.evicted_items, 7 * s.evicted_records);
  // Everything not evicted is still there, and numbering tells what is gone.
  auto left = spool->Read(1, 1000, 1 << 30);
  ASSERT_THAT(left, IsOk());
  EXPECT_EQ(left->size() + s.evicted_records, 100u);
  EXPECT_EQ(left->front().index, s.evicted_records + 1);
}

TEST_F(SpoolTest, ReleasedRecordsAreNotCountedAsLost) {
  SpoolOptions o = Options();
  o.max_bytes = 32768;
  auto spool = OpenSpool(o);
  const std::string payload(1000, 'p');
  for (int i = 0; i < 100; ++i) {
    auto index = spool->Append(payload, 1);
    ASSERT_THAT(index, IsOk());
    spool->Release(*index + 1);  // a reader that keeps up
  }
  EXPECT_EQ(spool->Stats().evicted_records, 0u);
  EXPECT_EQ(spool->Stats().segments, 1u);
}

TEST_F(SpoolTest, DurableSpoolSyncs) {
  SpoolOptions o = Options();
  o.durable = true;
  auto spool = OpenSpool(o);
  auto index = spool->Append("x", 1);
  ASSERT_THAT(index, IsOk());
  EXPECT_THAT(spool->SyncThrough(*index), IsOk());
}

TEST_F(SpoolTest, RefusesSegmentLargerThanHalfTheCap) {
  SpoolOptions o = Options();
  o.max_bytes = 10000;
  EXPECT_THAT(Spool::Open(o), test::StatusIs(absl::StatusCode::kInvalidArgument, "at most half the cap"));
}

}  // namespace
}  // namespace vigil
