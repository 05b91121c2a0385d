// The uplink against a real collector in this process, over gRPC on
// loopback (issue 15): batches are cut by bytes below both gRPC limits, and a
// batch the collector refuses as too large is split, never retried as is
// (defect 2); sequence numbers never go backwards after a power loss, and
// unreadable records never make the sender skip a backlog (defect 4).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/collector.h"
#include "collector/json_lines_forwarder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spool/spool.h"
#include "uplink/uplink.h"

namespace vigil {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vigil-uplink-batch-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An exec event as a busy node makes them: long argv (15 KB), deep cwd.
v1::Event LongExec(const std::string& tag, int i) {
  v1::Event e;
  e.set_id(absl::StrCat(tag, "-", i));
  e.set_kind(v1::EVENT_KIND_EXEC);
  e.set_node("node-1");
  v1::Process* p = e.mutable_process();
  p->set_pid(1000 + i);
  p->add_argv("/usr/bin/java");
  for (int a = 0; a < 60; ++a) p->add_argv(absl::StrCat("-Dproperty.", a, "=", std::string(240, 'x')));
  p->set_cwd("/" + std::string(500, 'd'));
  e.mutable_exec()->set_filename("/usr/bin/java");
  return e;
}

// A loopback port free now (the kernel's choice), for a collector started later.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(a.sin_port);
}

v1::Event Small(const std::string& tag, int i) {
  v1::Event e;
  e.set_id(absl::StrCat(tag, "-", i));
  e.set_kind(v1::EVENT_KIND_EXIT);
  e.set_node("node-1");
  return e;
}

class UplinkBatchTest : public ::testing::Test {
 protected:
  void StartCollector(uint64_t max_batch_bytes, int port = 0) {
    collector::CollectorConfig config;
    config.listen = absl::StrCat("127.0.0.1:", port);
    config.plaintext = true;
    config.spool_dir = dir_.path() + "/collector";
    config.max_batch_bytes = max_batch_bytes;
    config.spool_max_bytes = 1ull << 30;
    std::vector<std::unique_ptr<collector::Forwarder>> forwarders;
    auto file = collector::JsonLinesForwarder::Open("file", output(), 1ull << 30, 2);
    ASSERT_TRUE(file.ok()) << file.status();
    forwarders.push_back(*std::move(file));
    auto c = collector::Collector::Start(config, std::move(forwarders));
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
  }

  UplinkOptions Options(int port = 0) const {
    UplinkOptions o;
    o.target = absl::StrCat("127.0.0.1:", port != 0 ? port : collector_->port());
    o.plaintext = true;
    o.spool.dir = dir_.path() + "/spool";
    o.spool.max_bytes = 1ull << 30;
    o.spool.segment_bytes = 64u << 20;
    o.max_backoff = absl::Milliseconds(500);
    o.identity.set_node("node-1");
    o.identity.set_instance_id("instance-1");
    return o;
  }

  std::string output() const { return dir_.path() + "/events.jsonl"; }

  // Event ids the collector's file forwarder wrote, once `want` are there or
  // at the deadline.
  std::set<std::string> WaitDelivered(size_t want, absl::Duration timeout = absl::Seconds(120)) {
    const absl::Time deadline = absl::Now() + timeout;
    std::set<std::string> ids;
    for (;;) {
      ids.clear();
      std::ifstream in(output());
      std::string line;
      while (std::getline(in, line)) {
        const size_t at = line.find("\"id\":\"");
        if (at == std::string::npos) continue;
        const size_t end = line.find('"', at + 6);
        ids.insert(line.substr(at + 6, end - at - 6));
      }
      if (ids.size() >= want || absl::Now() >= deadline) return ids;
      absl::SleepFor(absl::Milliseconds(200));
    }
  }

  TempDir dir_;
  std::unique_ptr<collector::Collector> collector_;
};

TEST_F(UplinkBatchTest, ABurstOfLongExecsIsDelivered) {
  ASSERT_NO_FATAL_FAILURE(StartCollector(8u << 20));
  auto uplink = Uplink::Create(Options());
  ASSERT_TRUE(uplink.ok()) << uplink.status();
  // 512 of these are 7.8 MB: above the sensor's send limit.
  constexpr int kEvents = 1200;
  ASSERT_GT(LongExec("x", 0).ByteSizeLong(), 15000u);
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE((*uplink)->Write(LongExec("burst", i)).ok());
  EXPECT_EQ(WaitDelivered(kEvents).size(), static_cast<size_t>(kEvents));
  EXPECT_EQ((*uplink)->Stats().split_batches, 0u) << "cut by bytes when spooled, nothing to split";
}

// --collector_gzip: the same batches, compressed on the wire, arrive whole.
TEST_F(UplinkBatchTest, GzippedBatchesAreDelivered) {
  ASSERT_NO_FATAL_FAILURE(StartCollector(8u << 20));
  UplinkOptions options = Options();
  options.gzip = true;
  auto uplink = Uplink::Create(options);
  ASSERT_TRUE(uplink.ok()) << uplink.status();
  constexpr int kEvents = 600;
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE((*uplink)->Write(LongExec("gzip", i)).ok());
  EXPECT_EQ(WaitDelivered(kEvents).size(), static_cast<size_t>(kEvents));
}

TEST_F(UplinkBatchTest, BatchesTheCollectorRefusesAsTooLargeAreSplit) {
  // The collector takes 256 KiB per message, the sensor cuts 1 MiB batches.
  ASSERT_NO_FATAL_FAILURE(StartCollector(256u << 10));
  auto uplink = Uplink::Create(Options());
  ASSERT_TRUE(uplink.ok()) << uplink.status();
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE((*uplink)->Write(LongExec("refused", i)).ok());
  EXPECT_EQ(WaitDelivered(kEvents).size(), static_cast<size_t>(kEvents));
  const UplinkStats s = (*uplink)->Stats();
  EXPECT_GT(s.split_batches, 0u);
  EXPECT_EQ(s.dropped_oversized, 0u);
}

TEST_F(UplinkBatchTest, AnOversizedBatchSpooledByAnEarlierRunIsSplit) {
  ASSERT_NO_FATAL_FAILURE(StartCollector(8u << 20));
  UplinkOptions options = Options();
  // What a sensor before byte-cut batches left: 512 long execs in one record.
  constexpr int kEvents = 512;
  {
    auto spool = Spool::Open(options.spool);
    ASSERT_TRUE(spool.ok()) << spool.status();
    v1::PublishRequest batch;
    for (int i = 0; i < kEvents; ++i) *batch.add_events() = LongExec("old", i);
    ASSERT_GT(batch.ByteSizeLong(), 5u << 20);
    ASSERT_TRUE((*spool)->Append(batch.SerializeAsString(), kEvents).ok());
  }
  auto uplink = Uplink::Create(options);
  ASSERT_TRUE(uplink.ok()) << uplink.status();
  EXPECT_EQ(WaitDelivered(kEvents).size(), static_cast<size_t>(kEvents));
  EXPECT_EQ((*uplink)->Stats().split_batches, 1u);
}

// The spool and the acked file are not synced: a power loss can leave the
// acked file ahead of the spool. New batches must be numbered above it, or
// the sender, waiting for acked + 1, never sends them.
TEST_F(UplinkBatchTest, NumberingResumesAboveAckedAfterAPowerLoss) {
  ASSERT_NO_FATAL_FAILURE(StartCollector(8u << 20));
  UplinkOptions options = Options();
  {
    auto spool = Spool::Open(options.spool);
    ASSERT_TRUE(spool.ok()) << spool.status();
    for (int i = 1; i <= 3; ++i) {
      v1::PublishRequest batch;
      *batch.add_events() = Small("before", i);
      ASSERT_TRUE((*spool)->Append(batch.SerializeAsString(), 1).ok());
    }
  }
  // The collector had acknowledged up to 40; records 4..40 did not survive.
  std::ofstream(options.spool.dir + "/acked") << "40\n";
  auto uplink = Uplink::Create(options);
  ASSERT_TRUE(uplink.ok()) << uplink.status();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*uplink)->Write(Small("after", i)).ok());
  const std::set<std::string> ids = WaitDelivered(10, absl::Seconds(30));
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(ids.contains(absl::StrCat("after-", i))) << "after-" << i;
  EXPECT_GT((*uplink)->Stats().acked_sequence, 40u);
}

// Records that turn out unreadable when the sender reads them (changed on
// disk since they were spooled) are skipped one by one and counted; the
// records after them are still sent.
TEST_F(UplinkBatchTest, UnreadableRecordsDoNotMakeTheSenderSkipABacklog) {
  const int port = FreePort();
  ASSERT_NE(port, 0);
  UplinkOptions options = Options(port);
  constexpr int kRecords = 80;
  constexpr int kCorruptFrom = 2, kCorruptTo = 70;  // more than one read window (max_in_flight = 64)
  std::vector<uint64_t> offsets;                    // of each record's payload in the one segment
  uint64_t offset = 0;
  {
    auto spool = Spool::Open(options.spool);
    ASSERT_TRUE(spool.ok()) << spool.status();
    for (int i = 1; i <= kRecords; ++i) {
      v1::PublishRequest batch;
      *batch.add_events() = Small("spooled", i);
      const std::string payload = batch.SerializeAsString();
      ASSERT_TRUE((*spool)->Append(payload, 1).ok());
      offsets.push_back(offset + 24);  // after the record header
      offset += 24 + payload.size();
    }
  }
  auto uplink = Uplink::Create(options);
  ASSERT_TRUE(uplink.ok()) << uplink.status();
  // Loaded and checked; now the disk changes under it.
  const std::string segment = options.spool.dir + "/" + std::string(19, '0') + "1.seg";
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << segment;
    for (int i = kCorruptFrom; i <= kCorruptTo; ++i) {
      f.seekp(static_cast<std::streamoff>(offsets[i - 1]));
      f.put('\xff');
    }
  }
  ASSERT_NO_FATAL_FAILURE(StartCollector(8u << 20, port));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*uplink)->Write(Small("new", i)).ok());
  const std::set<std::string> ids = WaitDelivered(kRecords - (kCorruptTo - kCorruptFrom + 1) + 5, absl::Seconds(30));
  for (int i = kCorruptTo + 1; i <= kRecords; ++i)
    EXPECT_TRUE(ids.contains(absl::StrCat("spooled-", i))) << "spooled-" << i << " skipped";
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(ids.contains(absl::StrCat("new-", i))) << "new-" << i;
  EXPECT_EQ((*uplink)->Stats().spool.corrupt_records, static_cast<uint64_t>(kCorruptTo - kCorruptFrom + 1));
}

// The acked file holds the last batch the collector acknowledged, and a
// restarted uplink resumes from it: neither resending what was stored nor
// numbering new batches at or below it.
TEST_F(UplinkBatchTest, TheLastAckIsKeptForTheNextStart) {
  ASSERT_NO_FATAL_FAILURE(StartCollector(8u << 20));
  UplinkOptions options = Options();
  options.batch_events = 10;  // several batches, several acks
  uint64_t acked = 0;
  {
    auto uplink = Uplink::Create(options);
    ASSERT_TRUE(uplink.ok()) << uplink.status();
    for (int i = 0; i < 95; ++i) ASSERT_TRUE((*uplink)->Write(Small("first", i)).ok());
    ASSERT_EQ(WaitDelivered(95).size(), 95u);
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while ((*uplink)->Stats().acked_sequence < 10 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
    acked = (*uplink)->Stats().acked_sequence;
    ASSERT_GE(acked, 10u);
  }
  std::ifstream in(options.spool.dir + "/acked");
  uint64_t on_disk = 0;
  ASSERT_TRUE(in >> on_disk);
  EXPECT_EQ(on_disk, acked);
  auto again = Uplink::Create(options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->Stats().acked_sequence, acked);
  ASSERT_TRUE((*again)->Write(Small("second", 1)).ok());
  EXPECT_EQ(WaitDelivered(96).size(), 96u);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while ((*again)->Stats().acked_sequence <= acked && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_GT((*again)->Stats().acked_sequence, acked);
}

// The sender sends a spooled batch's bytes as they are. A record whose
// checksum holds but which is not a run of events (no sensor of ours wrote
// it) is skipped, never sent: the collector would refuse it on every resend,
// and the records after it would wait forever.
TEST_F(UplinkBatchTest, ASpooledRecordThatIsNotEventsIsSkipped) {
  const int port = FreePort();
  ASSERT_NE(port, 0);
  UplinkOptions options = Options(port);
  {
    auto spool = Spool::Open(options.spool);
    ASSERT_TRUE(spool.ok()) << spool.status();
    auto batch_of = [](const v1::Event& e) {
      v1::PublishRequest batch;
      *batch.add_events() = e;
      return batch.SerializeAsString();
    };
    v1::PublishRequest other;  // a valid message, but not the batcher's: a sequence of its own
    other.set_sequence(7);
    *other.add_events() = Small("other", 1);
    for (const std::string& payload :
         {batch_of(Small("before", 1)), std::string("not protobuf at all"), other.SerializeAsString(),
          batch_of(Small("after", 1)).substr(0, 5), batch_of(Small("after", 2))}) {
      ASSERT_TRUE((*spool)->Append(payload, 1).ok());
    }
  }
  auto uplink = Uplink::Create(options);
  ASSERT_TRUE(uplink.ok()) << uplink.status();
  ASSERT_NO_FATAL_FAILURE(StartCollector(8u << 20, port));
  ASSERT_TRUE((*uplink)->Write(Small("new", 1)).ok());
  const std::set<std::string> ids = WaitDelivered(3, absl::Seconds(30));
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre("before-1", "after-2", "new-1"));
}

// Issue 15, defect 5: the queue to the spool is bounded by bytes, not only
// by count, and says how many it holds.
TEST_F(UplinkBatchTest, TheQueueIsBoundedByBytes) {
  UplinkOptions options = Options(FreePort());  // nothing listens: events stay spooled
  options.batch_delay = absl::Hours(1);         // and the queue is taken only when a batch is full
  options.batch_bytes = 64u << 10;
  options.queue_max_bytes = 128u << 10;
  auto uplink = Uplink::Create(options);
  ASSERT_TRUE(uplink.ok()) << uplink.status();
  const v1::Event small = Small("queued", 1);
  ASSERT_TRUE((*uplink)->Write(small).ok());
  // Held in its wire form: what a batch of it alone would be.
  v1::PublishRequest alone;
  *alone.add_events() = small;
  EXPECT_EQ((*uplink)->Stats().queue_bytes, alone.ByteSizeLong());
  EXPECT_EQ((*uplink)->Stats().queue_depth, 1u);
  v1::Event huge = LongExec("huge", 1);
  for (int a = 0; a < 600; ++a) huge.mutable_process()->add_argv(std::string(240, 'y'));
  ASSERT_GT(huge.ByteSizeLong(), options.queue_max_bytes);
  EXPECT_EQ((*uplink)->Write(huge).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ((*uplink)->Stats().dropped_queue, 1u);
}

}  // namespace
}  // namespace vigil
