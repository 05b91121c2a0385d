// Faults on the way from the sensor to the collector, with the real
// vigil-sensor (real probes, as root) and the real vigil-collector on
// loopback: daemons killed at random points, full and read-only spools, a
// failed fdatasync, corrupt spool segments. Each test asserts that nothing
// accepted is lost, or that exactly the events the daemons count as lost are.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "collector_harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"
#include "spool/spool.h"
#include "vigil/v1/collector.pb.h"

namespace vigil::testing {
namespace {

using ::testing::HasSubstr;

// The sensor's in-memory queue toward its spool in these tests
// (--uplink_queue_bytes): what a crash can cost is this, plus the batch being
// cut (1 MiB).
constexpr uint64_t kQueueBytes = 2u << 20;
constexpr uint64_t kBatchBytes = 1u << 20;

// A small tmpfs the test mounts on `dir`, gone with it.
class Tmpfs {
 public:
  Tmpfs(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    if (mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("mode=0700,size=" + size).c_str()) != 0) {
      ADD_FAILURE() << "mount tmpfs on " << dir_ << ": " << std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~Tmpfs() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  bool mounted() const { return mounted_; }

  // Writes a file until the file system is full; returns its size.
  uint64_t Fill() {
    const std::string path = dir_ + "/filler";
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      ADD_FAILURE() << "open " << path << ": " << std::strerror(errno);
      return 0;
    }
    const std::string block(4096, 'x');
    uint64_t written = 0;
    for (ssize_t n; (n = write(fd, block.data(), block.size())) > 0;) written += static_cast<uint64_t>(n);
    EXPECT_EQ(errno, ENOSPC);
    close(fd);
    return written;
  }
  void Free() { unlink((dir_ + "/filler").c_str()); }

 private:
  const std::string dir_;
  bool mounted_ = false;
};

// An ext4 file system in `image`, on a loop device, mounted on `dir` with
// errors=remount-ro, unmounted with it. GoReadOnly() takes it read-only the
// way a disk error does in production, which a test cannot do by remounting:
// the kernel refuses that (EBUSY) while a daemon has a file open for writing.
class Ext4Disk {
 public:
  // `format`: make a new file system, else mount the one in `image`.
  Ext4Disk(std::string dir, const std::string& image, bool format = true) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    std::string cmd;
    if (format) absl::StrAppend(&cmd, "truncate -s 64M '", image, "' && mkfs.ext4 -q '", image, "' && ");
    absl::StrAppend(&cmd, "mount -o loop,errors=remount-ro '", image, "' '", dir_, "'");
    if (system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "could not make the disk: " << cmd;
      return;
    }
    mounted_ = true;
  }
  ~Ext4Disk() {
    if (mounted_ && umount2(dir_.c_str(), 0) != 0) {
      ADD_FAILURE() << "umount " << dir_ << ": " << std::strerror(errno);
      umount2(dir_.c_str(), MNT_DETACH);
    }
  }
  Ext4Disk(const Ext4Disk&) = delete;
  Ext4Disk& operator=(const Ext4Disk&) = delete;
  bool mounted() const { return mounted_; }

  // Reports a file system error through ext4's own test hook
  // (/sys/fs/ext4/<device>/trigger_fs_error), which ext4 handles as for a
  // failed write: it aborts the journal and, per errors=remount-ro, makes
  // the file system read-only, open files and all. Whether it did.
  bool GoReadOnly() {
    struct stat st;
    if (stat(dir_.c_str(), &st) != 0) return false;
    std::error_code ec;
    const std::filesystem::path device =
        std::filesystem::read_symlink(absl::StrCat("/sys/dev/block/", major(st.st_dev), ":", minor(st.st_dev)), ec);
    if (ec) return false;
    std::ofstream(absl::StrCat("/sys/fs/ext4/", device.filename().string(), "/trigger_fs_error")) << "1\n";
    // ext4 does it from a work queue, soon after; newer kernels mark the
    // file system read-only without the mount's ST_RDONLY: a new file says.
    const std::string probe = dir_ + "/.vigil-test-probe";
    for (int i = 0; i < 50; ++i) {
      const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0 && errno == EROFS) return true;
      if (fd >= 0) {
        close(fd);
        unlink(probe.c_str());
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

 private:
  const std::string dir_;
  bool mounted_ = false;
};

// A disk whose writes fail while a test wants them to: ext4 on a loop device
// whose image lives in a small tmpfs, every metadata block written by mkfs.
// Filling the tmpfs leaves the image's holes, where new file data goes,
// without backing, so writeback of new data fails. fdatasync reports that
// once; a later one succeeds though the data is gone, as on a failing disk.
class FailingWritesDisk {
 public:
  // The tmpfs on `backing`, the disk on `path`.
  FailingWritesDisk(const std::string& backing, std::string path)
      : backing_(backing, "40m"), image_(backing + "/disk.img"), path_(std::move(path)) {
    if (!backing_.mounted()) return;
    // Through a loop device: mkfs on a file punches holes where it zeroes
    // (the journal too), and a journal that cannot be written aborts.
    const std::string cmd = absl::StrCat("truncate -s 64M '", image_, "' && d=$(losetup -f --show '", image_,
                                         "') && mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 $d; r=$?; "
                                         "losetup -d $d; exit $r");
    if (system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "could not make the disk: " << cmd;
      return;
    }
    disk_ = std::make_unique<Ext4Disk>(path_, image_, /*format=*/false);
  }
  ~FailingWritesDisk() {
    backing_.Free();
    disk_.reset();  // before the tmpfs under it
  }
  bool mounted() const { return disk_ != nullptr && disk_->mounted(); }
  const std::string& path() const { return path_; }
  void FailWrites() { EXPECT_GT(backing_.Fill(), 0u); }
  void HealWrites() { backing_.Free(); }
  // Unmounted and mounted again: what is read next comes from the disk, not
  // from the page cache.
  void Remount() {
    disk_.reset();
    disk_ = std::make_unique<Ext4Disk>(path_, image_, /*format=*/false);
  }

 private:
  Tmpfs backing_;
  const std::string image_, path_;
  std::unique_ptr<Ext4Disk> disk_;
};

// "<instance>-<n>" -> n: the pipeline numbers a sensor run's events 0, 1, ...
uint64_t SeqOf(const std::string& id) {
  uint64_t n = 0;
  (void)absl::SimpleAtoi(id.substr(id.rfind('-') + 1), &n);
  return n;
}
std::string RunOf(const std::string& id) { return id.substr(0, id.rfind('-')); }

// Every event id in a sensor's spool, read from a copy (opening a spool cuts
// a record left half-written, which the test leaves to the next sensor).
std::set<std::string> SpooledIds(const std::string& spool, const std::string& scratch) {
  std::filesystem::remove_all(scratch);
  std::filesystem::copy(spool, scratch);
  std::set<std::string> ids;
  auto s = Spool::Open({.dir = scratch});
  if (!s.ok()) {
    ADD_FAILURE() << "open a copy of the spool: " << s.status();
    return ids;
  }
  for (uint64_t from = (*s)->FirstIndexFrom(0); from < (*s)->next_index();) {
    auto records = (*s)->Read(from, 64, 8u << 20);
    if (!records.ok() || records->empty()) break;
    for (const SpoolRecord& r : *records) {
      v1::PublishRequest batch;
      EXPECT_TRUE(batch.ParseFromString(r.payload)) << "spool record " << r.index;
      for (const v1::Event& e : batch.events()) ids.insert(e.id());
      from = r.index + 1;
    }
  }
  return ids;
}

std::vector<std::string> SensorFlags(const CollectorProcess& collector, const std::string& spool) {
  std::vector<std::string> flags = UplinkFlags(collector, spool);
  flags.push_back(absl::StrCat("--uplink_queue_bytes=", kQueueBytes));
  return flags;
}

class FaultE2E : public ::testing::Test {
 protected:
  TempDir dir_;
};

// SIGKILL at two random moments under load, a third run stopped normally, all
// on one spool. What a killed sensor had spooled is delivered (by the next
// run); what it held in memory is lost, but only the newest events, within
// the queue's bound: the run's events at the collector are numbered 0..k
// without a hole, and the gap after k is the loss.
TEST_F(FaultE2E, SensorKilledAtRandomPoints) {
  RequireBpfOrSkip();
  CollectorProcess collector(dir_.path() + "/collector", {"--plaintext"});
  ASSERT_OK(collector.Start());
  const std::string spool = dir_.path() + "/spool";
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::cout << "seed " << seed << "\n";

  std::vector<std::unique_ptr<SensorProcess>> runs;
  std::set<std::string> spooled;  // at the moments of the kills
  {
    Load load("vigil-fault-kill-" + Nonce(), absl::Milliseconds(5));
    for (int kill_round = 0; kill_round < 2; ++kill_round) {
      runs.push_back(std::make_unique<SensorProcess>(SensorFlags(collector, spool)));
      SensorProcess& s = *runs.back();
      ASSERT_OK(s.Start());
      const int ms = std::uniform_int_distribution<int>(200, 2500)(rng);
      absl::SleepFor(absl::Milliseconds(ms));
      ASSERT_EQ(kill(s.pid(), SIGKILL), 0);
      EXPECT_EQ(SensorProcess::DescribeStatus(s.WaitExit(absl::Seconds(10))), "signal 9");
      const std::set<std::string> now = SpooledIds(spool, dir_.path() + "/spool-copy");
      spooled.insert(now.begin(), now.end());
      std::cout << "run " << kill_round + 1 << ": killed after " << ms << " ms, " << s.Events().size()
                << " events on its output, " << now.size() << " in the spool\n";
    }
    runs.push_back(std::make_unique<SensorProcess>(SensorFlags(collector, spool)));
    ASSERT_OK(runs.back()->Start());
    absl::SleepFor(absl::Seconds(1));
  }
  ASSERT_EQ(runs.back()->Stop(), 0) << runs.back()->Stderr();

  // The last run stopped cleanly: all of its events arrive, and with them
  // what the killed runs left in the spool.
  const Delivery last = WaitDelivered({runs.back().get()}, collector);
  EXPECT_EQ(last.missing, 0u) << "of " << last.expected << ", first missing: " << last.first_missing;
  const std::map<std::string, int> got = collector.IdCounts();
  size_t spooled_missing = 0;
  for (const std::string& id : spooled) spooled_missing += got.count(id) == 0 ? 1 : 0;
  EXPECT_EQ(spooled_missing, 0u) << "of " << spooled.size() << " events spooled when the sensor was killed";

  for (size_t r = 0; r + 1 < runs.size(); ++r) {
    const std::vector<v1::Event>& out = runs[r]->Events();
    ASSERT_FALSE(out.empty());
    const std::string run = RunOf(out.front().id());
    std::set<uint64_t> delivered;
    for (const auto& [id, n] : got) {
      if (RunOf(id) == run) delivered.insert(SeqOf(id));
    }
    ASSERT_FALSE(delivered.empty()) << "nothing of run " << r + 1 << " arrived";
    const uint64_t k = *delivered.rbegin();
    EXPECT_EQ(delivered.size(), k + 1) << "run " << r + 1 << ": its delivered events are not 0.." << k;
    uint64_t lost = 0, lost_bytes = 0;
    for (const v1::Event& e : out) {
      const uint64_t seq = SeqOf(e.id());
      if (seq > k) {
        ++lost;
        lost_bytes += e.ByteSizeLong();
      } else {
        EXPECT_TRUE(delivered.contains(seq)) << "run " << r + 1 << ": a hole at " << e.id();
      }
    }
    EXPECT_LE(lost_bytes, kQueueBytes + kBatchBytes) << "run " << r + 1 << " lost " << lost << " events";
    std::cout << "run " << r + 1 << ": events 0.." << k << " delivered, " << lost << " (" << lost_bytes
              << " bytes) lost in memory\n";
  }
}

// The disk under the sensor's spool fills up for a while: the batches it
// cannot write are lost and counted (uplink.spoolErrors); everything else
// arrives, once.
TEST_F(FaultE2E, SensorSpoolDiskFull) {
  RequireBpfOrSkip();
  const std::string spool = dir_.path() + "/spool";
  Tmpfs disk(spool, "16m");
  ASSERT_TRUE(disk.mounted());
  CollectorProcess collector(dir_.path() + "/collector", {"--plaintext"});
  ASSERT_OK(collector.Start());
  SensorProcess sensor(SensorFlags(collector, spool));
  ASSERT_OK(sensor.Start());
  {
    Load load("vigil-fault-full-" + Nonce(), absl::Milliseconds(5));
    absl::SleepFor(absl::Seconds(1));
    EXPECT_GT(disk.Fill(), 0u);
    absl::SleepFor(absl::Seconds(2));
    disk.Free();
    absl::SleepFor(absl::Seconds(1));
  }
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  const std::optional<v1::Event> health = sensor.FinalHealth();
  ASSERT_TRUE(health.has_value());
  const v1::UplinkHealth& u = health->health().uplink();
  EXPECT_GT(u.spool_errors(), 0u) << "the full disk cost nothing: the test did not test";
  EXPECT_EQ(u.dropped_queue(), 0u);
  EXPECT_EQ(u.pending_batches(), 0u);
  const Delivery d = WaitDelivered({&sensor}, collector, absl::Seconds(180), u.spool_errors());
  absl::SleepFor(absl::Seconds(1));  // anything more would make the count wrong
  const Delivery settled = WaitDelivered({&sensor}, collector, absl::ZeroDuration(), u.spool_errors());
  EXPECT_EQ(settled.missing, u.spool_errors()) << "of " << d.expected;
  EXPECT_EQ(settled.duplicated, 0u);
  EXPECT_THAT(sensor.Stderr(), HasSubstr("events lost"));
}

// The disk under the collector's spool fills up for a while: it refuses to
// acknowledge what it cannot store, the sensor keeps it and sends it again,
// and nothing is lost.
TEST_F(FaultE2E, CollectorSpoolDiskFull) {
  RequireBpfOrSkip();
  CollectorProcess collector(dir_.path() + "/collector", {"--plaintext"});
  Tmpfs disk(dir_.path() + "/collector/spool", "16m");
  ASSERT_TRUE(disk.mounted());
  ASSERT_OK(collector.Start());
  SensorProcess sensor(SensorFlags(collector, dir_.path() + "/spool"));
  ASSERT_OK(sensor.Start());
  {
    Load load("vigil-fault-cfull-" + Nonce(), absl::Milliseconds(5));
    absl::SleepFor(absl::Seconds(1));
    EXPECT_GT(disk.Fill(), 0u);
    absl::SleepFor(absl::Seconds(2));
    disk.Free();
    absl::SleepFor(absl::Seconds(1));
  }
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  const Delivery d = WaitDelivered({&sensor}, collector);
  EXPECT_EQ(d.missing, 0u) << "of " << d.expected << ", first missing: " << d.first_missing << "\n" << collector.Log();
  EXPECT_THAT(collector.Log(), HasSubstr("cannot store a batch"));
}

// A collector whose spool is read-only does not start (it could acknowledge
// nothing); the sensor keeps its events until a collector can take them.
TEST_F(FaultE2E, CollectorOnAReadOnlySpoolRefusesToStart) {
  RequireBpfOrSkip();
  const std::string collector_dir = dir_.path() + "/collector";
  CollectorProcess collector(collector_dir, {"--plaintext"});
  ASSERT_OK(collector.Start());
  const int port = collector.port();
  collector.Stop(SIGTERM);
  SensorProcess sensor(SensorFlags(collector, dir_.path() + "/spool"));
  ASSERT_OK(sensor.Start());
  {
    Load load("vigil-fault-ro-" + Nonce(), absl::Milliseconds(5));
    const std::string spool = collector_dir + "/spool";
    ASSERT_EQ(mount(spool.c_str(), spool.c_str(), nullptr, MS_BIND, nullptr), 0) << std::strerror(errno);
    ASSERT_EQ(mount(nullptr, spool.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr), 0)
        << std::strerror(errno);
    const absl::Status refused = collector.Start(port);
    EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
    EXPECT_THAT(refused.message(), HasSubstr("Read-only file system"));
    umount2(spool.c_str(), MNT_DETACH);
    absl::SleepFor(absl::Seconds(1));
    ASSERT_OK(collector.Start(port));
    absl::SleepFor(absl::Seconds(1));
  }
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  const Delivery d = WaitDelivered({&sensor}, collector);
  EXPECT_EQ(d.missing, 0u) << "of " << d.expected << ", first missing: " << d.first_missing;
  EXPECT_EQ(d.duplicated, 0u);
}

// The disk under the sensor's spool turns read-only under load and stays so,
// as a disk error makes ext4 do (errors=remount-ro). The sensor keeps
// running; what it had spooled still arrives, and what it could no longer
// spool is lost and counted (uplink.spoolErrors), never silently.
TEST_F(FaultE2E, SensorSpoolTurnsReadOnly) {
  RequireBpfOrSkip();
  const std::string spool = dir_.path() + "/spool";
  Ext4Disk disk(spool, dir_.path() + "/spool.img");
  ASSERT_TRUE(disk.mounted());
  CollectorProcess collector(dir_.path() + "/collector", {"--plaintext"});
  ASSERT_OK(collector.Start());
  SensorProcess sensor(SensorFlags(collector, spool));
  ASSERT_OK(sensor.Start());
  {
    Load load("vigil-fault-ro-sensor-" + Nonce(), absl::Milliseconds(5));
    absl::SleepFor(absl::Seconds(1));
    ASSERT_TRUE(disk.GoReadOnly());
    absl::SleepFor(absl::Seconds(2));
  }
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  const std::optional<v1::Event> health = sensor.FinalHealth();
  ASSERT_TRUE(health.has_value());
  const v1::UplinkHealth& u = health->health().uplink();
  EXPECT_GT(u.spool_errors(), 0u) << "the read-only disk cost nothing: the test did not test";
  EXPECT_EQ(u.dropped_queue(), 0u);
  // The final health event cannot be spooled either, so it cannot count
  // itself: the uplink's last words at exit have the run's whole loss.
  const std::string log = sensor.Stderr();
  const size_t end = log.rfind(" events of this run lost");
  ASSERT_NE(end, std::string::npos) << "no final loss count:\n" << log;
  const size_t begin = log.rfind(' ', end - 1) + 1;
  uint64_t lost = 0;
  ASSERT_TRUE(absl::SimpleAtoi(log.substr(begin, end - begin), &lost)) << log.substr(begin);
  EXPECT_GE(lost, u.spool_errors());
  const Delivery d = WaitDelivered({&sensor}, collector, absl::Seconds(180), lost);
  absl::SleepFor(absl::Seconds(1));  // anything more would make the count wrong
  const Delivery settled = WaitDelivered({&sensor}, collector, absl::ZeroDuration(), lost);
  EXPECT_EQ(settled.missing, lost) << "of " << d.expected;
  EXPECT_EQ(settled.duplicated, 0u);
  EXPECT_THAT(log, HasSubstr("Read-only file system"));
}

// A record whose fdatasync failed is never reported durable, though the
// next fdatasync succeeds: the disk did not take it. Whoever holds it must
// store it again (MayBeLost), and the records after it are durable.
TEST_F(FaultE2E, SpoolTrustsNoSyncOfARecordAFailedSyncCovered) {
  RequireBpfOrSkip();
  FailingWritesDisk disk(dir_.path() + "/backing", dir_.path() + "/disk");
  ASSERT_TRUE(disk.mounted());
  const SpoolOptions options{.dir = disk.path() + "/spool", .durable = true};
  std::filesystem::create_directories(options.dir);
  // The second large (8 MiB, a segment of its own): small writes right after
  // the first were seen to succeed on this rig, as if in space the image
  // already had.
  const std::string first(256u << 10, '1'), second(8u << 20, '2'), third(256u << 10, '3');
  {
    auto spool = Spool::Open(options);
    ASSERT_OK(spool.status());
    auto one = (*spool)->Append(first, 1);
    ASSERT_OK(one.status());
    ASSERT_OK((*spool)->SyncThrough(*one));
    disk.FailWrites();
    auto two = (*spool)->Append(second, 1);
    ASSERT_OK(two.status());  // the page cache takes it
    ASSERT_FALSE((*spool)->SyncThrough(*two).ok()) << "the sync did not fail: the test did not test";
    EXPECT_TRUE((*spool)->MayBeLost(*two));
    EXPECT_FALSE((*spool)->MayBeLost(*one));
    disk.HealWrites();
    EXPECT_EQ((*spool)->SyncThrough(*two).code(), absl::StatusCode::kDataLoss);
    EXPECT_TRUE((*spool)->SyncThrough(*one).ok());
    auto three = (*spool)->Append(third, 1);
    ASSERT_OK(three.status());
    EXPECT_TRUE((*spool)->SyncThrough(*three).ok());
    EXPECT_FALSE((*spool)->MayBeLost(*three));
    EXPECT_EQ((*spool)->SyncThrough(*two).code(), absl::StatusCode::kDataLoss)
        << "a later record's sync vouches for it";
  }
  disk.Remount();
  auto spool = Spool::Open(options);
  ASSERT_OK(spool.status());
  auto records = (*spool)->Read(0, 16, 64u << 20);
  ASSERT_OK(records.status());
  std::vector<std::string> payloads;
  for (const SpoolRecord& r : *records) payloads.push_back(r.payload.substr(0, 1));
  // The second is gone (the kernel does not write a page again once its
  // write failed); the one before and the one after are whole.
  EXPECT_THAT(payloads, ::testing::ElementsAre("1", "3"));
}

// The disk under the collector's spool turns read-only under load and stays
// so. The collector acknowledges nothing it cannot store, the sensor keeps
// it, and once the disk is repaired (unmounted, checked, mounted again) and
// the collector started again, all of it arrives.
TEST_F(FaultE2E, CollectorSpoolTurnsReadOnly) {
  RequireBpfOrSkip();
  const std::string image = dir_.path() + "/collector-spool.img";
  const std::string spool = dir_.path() + "/collector/spool";
  auto disk = std::make_unique<Ext4Disk>(spool, image);  // outlives the collector
  ASSERT_TRUE(disk->mounted());
  CollectorProcess collector(dir_.path() + "/collector", {"--plaintext"});
  ASSERT_OK(collector.Start());
  const int port = collector.port();
  SensorProcess sensor(SensorFlags(collector, dir_.path() + "/spool"));
  ASSERT_OK(sensor.Start());
  {
    Load load("vigil-fault-ro-collector-" + Nonce(), absl::Milliseconds(5));
    absl::SleepFor(absl::Seconds(1));
    ASSERT_TRUE(disk->GoReadOnly());
    absl::SleepFor(absl::Seconds(2));
  }
  EXPECT_THAT(collector.Log(), HasSubstr("cannot store a batch"));
  collector.Stop(SIGTERM);
  disk.reset();
  // e2fsck: 0 clean, 1 errors corrected.
  const int fsck = system(absl::StrCat("e2fsck -fy '", image, "' >/dev/null 2>&1").c_str());
  ASSERT_TRUE(WIFEXITED(fsck) && WEXITSTATUS(fsck) <= 1) << "e2fsck: " << fsck;
  disk = std::make_unique<Ext4Disk>(spool, image, /*format=*/false);
  ASSERT_TRUE(disk->mounted());
  ASSERT_OK(collector.Start(port));
  ASSERT_EQ(sensor.Stop(), 0) << sensor.Stderr();
  const Delivery d = WaitDelivered({&sensor}, collector);
  EXPECT_EQ(d.missing, 0u) << "of " << d.expected << ", first missing: " << d.first_missing << "\n" << collector.Log();
}

// Damage in the middle of the collector's spool, found when it starts: the
// damaged records are skipped (and logged), every other batch is forwarded
// once, and no forwarder stops at the damage. The spool is written here with
// small segments so that there is a middle; the collector alone runs.
TEST_F(FaultE2E, CorruptSegmentsInTheMiddleOfTheCollectorsSpool) {
  const std::string collector_dir = dir_.path() + "/collector";
  const std::string data = collector_dir + "/spool/data";
  std::filesystem::create_directories(data);
  const std::string run = "fault-" + Nonce();
  std::map<uint64_t, std::vector<std::string>> ids_of;  // record index -> its events' ids
  {
    auto spool = Spool::Open({.dir = data, .segment_bytes = 8192});
    ASSERT_TRUE(spool.ok()) << spool.status();
    for (int b = 0; b < 40; ++b) {
      v1::PublishRequest batch;
      batch.mutable_sensor()->set_node("node-a");
      batch.set_sequence(static_cast<uint64_t>(b) + 1);
      std::vector<std::string> ids;
      for (int i = 0; i < 20; ++i) {
        v1::Event* e = batch.add_events();
        e->set_id(absl::StrCat(run, "-", b * 20 + i + 1));
        e->set_kind(v1::EVENT_KIND_EXEC);
        e->set_node("node-a");
        e->mutable_process()->set_pid(1000 + i);
        e->mutable_process()->add_argv(absl::StrCat("/bin/true batch ", b));
        ids.push_back(e->id());
      }
      auto index = (*spool)->Append(batch.SerializeAsString(), 20);
      ASSERT_TRUE(index.ok()) << index.status();
      ids_of[*index] = std::move(ids);
    }
  }
  std::vector<std::string> segments;
  for (const auto& e : std::filesystem::directory_iterator(data)) segments.push_back(e.path().string());
  std::sort(segments.begin(), segments.end());
  ASSERT_GE(segments.size(), 5u);

  // Record framing (spool.h): magic u32 | length u32 | index u64 | items u32 | crc u32 | payload.
  struct Record {
    uint64_t index;
    size_t offset;
    size_t length;
  };
  auto records_of = [](const std::string& bytes) {
    std::vector<Record> out;
    for (size_t off = 0; off + 24 <= bytes.size();) {
      uint32_t length;
      uint64_t index;
      std::memcpy(&length, bytes.data() + off + 4, 4);
      std::memcpy(&index, bytes.data() + off + 8, 8);
      out.push_back({index, off, length});
      off += 24 + length;
    }
    return out;
  };
  std::set<uint64_t> damaged;
  // Segment 2: one byte of one record's payload flipped.
  {
    std::string bytes = ReadWholeFile(segments[1]);
    const std::vector<Record> rs = records_of(bytes);
    ASSERT_GE(rs.size(), 3u);
    bytes[rs[1].offset + 24 + rs[1].length / 2] ^= 0x40;
    damaged.insert(rs[1].index);
    std::ofstream(segments[1], std::ios::binary | std::ios::trunc) << bytes;
  }
  // Segment 3: two whole records in its middle zeroed.
  {
    std::string bytes = ReadWholeFile(segments[2]);
    const std::vector<Record> rs = records_of(bytes);
    ASSERT_GE(rs.size(), 4u);
    std::fill(bytes.begin() + rs[1].offset, bytes.begin() + rs[3].offset, '\0');
    damaged.insert(rs[1].index);
    damaged.insert(rs[2].index);
    std::ofstream(segments[2], std::ios::binary | std::ios::trunc) << bytes;
  }

  CollectorProcess collector(collector_dir, {"--plaintext"});
  ASSERT_OK(collector.Start());
  std::set<std::string> expected, lost;
  for (const auto& [index, ids] : ids_of) (damaged.contains(index) ? lost : expected).insert(ids.begin(), ids.end());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::map<std::string, int> got;
  for (;;) {
    got = collector.IdCounts();
    size_t present = 0;
    for (const std::string& id : expected) present += got.count(id);
    if (present == expected.size() || absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  absl::SleepFor(absl::Milliseconds(500));
  got = collector.IdCounts();
  collector.Stop(SIGTERM);
  size_t missing = 0, duplicated = 0, unexpected = 0;
  for (const std::string& id : expected) {
    auto it = got.find(id);
    if (it == got.end()) {
      ++missing;
    } else if (it->second > 1) {
      ++duplicated;
    }
  }
  for (const std::string& id : lost) unexpected += got.count(id);
  EXPECT_EQ(missing, 0u) << "of " << expected.size() << " events in undamaged records\n" << collector.Log();
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(unexpected, 0u) << "events of damaged records were forwarded";
  // Counted where an operator looks, record by record: the log names each
  // damaged segment with the running count (1, then 1 + 2).
  const std::string log = collector.Log();
  EXPECT_THAT(log, HasSubstr(segments[1] + ": 1 corrupt"));
  EXPECT_THAT(log, HasSubstr(segments[2] + ": 3 corrupt"));
}

}  // namespace
}  // namespace vigil::testing
