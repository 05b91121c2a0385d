// File family on the real kernel: each syscall it watches, done by this test
// process (or a child of it), gives one event with absolute paths and the
// syscall's result; filters configured on the sensor are honoured.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;

// A fresh directory under /tmp, removed at the end of the test.
class TempDir {
 public:
  explicit TempDir(std::string tmpl = "/tmp/vigil-file-test-XXXXXX") { path_ = mkdtemp(tmpl.data()); }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return absl::StrCat(path_, "/", name); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An event of `kind` by process `pid` on `path`.
auto FileEvent(v1::EventKind kind, pid_t pid, const std::string& path) {
  return [=](const v1::Event& e) {
    return e.kind() == kind && e.process().pid() == static_cast<uint32_t>(pid) && e.file().path() == path;
  };
}

// Runs `body` in a forked child (so it may chdir) and returns its pid once it
// has exited 0.
template <typename F>
pid_t InChild(F body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body() ? 0 : 1);
  EXPECT_EQ(WaitExit(pid), 0) << "child failed";
  return pid;
}

void WriteFile(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
  close(fd);
}

class FileTest : public SharedSensorSuite<FileTest> {
 public:  // the hooks are called from the base
  static void CheckFinalHealth(const v1::Event& health) { EXPECT_EQ(health.health().decode_errors(), 0u); }
};

TEST_F(FileTest, CreateGivesPathFlagsModeAndFd) {
  TempDir dir;
  const std::string path = dir / "created";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0640);
  ASSERT_GE(fd, 0);
  close(fd);

  auto e = sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), path));
  ASSERT_TRUE(e.has_value()) << "no open event for " << path;
  EXPECT_EQ(e->file().syscall(), "openat");
  EXPECT_EQ(e->file().result(), fd);
  EXPECT_EQ(e->file().flags() & (O_ACCMODE | O_CREAT | O_EXCL), static_cast<uint32_t>(O_WRONLY | O_CREAT | O_EXCL));
  EXPECT_THAT(e->file().open_flags(), Contains("O_WRONLY"));
  EXPECT_THAT(e->file().open_flags(), Contains("O_CREAT"));
  EXPECT_THAT(e->file().open_flags(), Contains("O_EXCL"));
  ASSERT_TRUE(e->file().has_mode());
  EXPECT_EQ(e->file().mode(), 0640u);
  EXPECT_FALSE(e->file().sensitive());
  EXPECT_EQ(e->process().exec_id(), SelfExecId());
}

TEST_F(FileTest, WriteAndTruncateOpensAreReported) {
  TempDir dir;
  const std::string path = dir / "data";
  WriteFile(path);
  const int rw = open(path.c_str(), O_RDWR);
  ASSERT_GE(rw, 0);
  close(rw);
  const int trunc = open(path.c_str(), O_RDONLY | O_TRUNC);
  ASSERT_GE(trunc, 0);
  close(trunc);

  ASSERT_TRUE(sensor().WaitFor([&](const v1::Event& e) {
    return FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), path)(e) && (e.file().flags() & O_TRUNC) &&
           (e.file().flags() & O_ACCMODE) == O_RDONLY;
  }));
  auto opens = sensor().FindAll(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), path));
  ASSERT_EQ(opens.size(), 3u);  // create, read-write, truncate
  EXPECT_THAT(opens[1].file().open_flags(), Contains("O_RDWR"));
  EXPECT_FALSE(opens[1].file().has_mode()) << "no O_CREAT, no mode";
  EXPECT_THAT(opens[2].file().open_flags(), Contains("O_TRUNC"));
}

TEST_F(FileTest, OpenRelativeToCwdIsAbsolute) {
  TempDir dir;
  ASSERT_EQ(mkdir((dir / "sub").c_str(), 0755), 0);
  const pid_t pid = InChild([&] {
    if (chdir((dir / "sub").c_str()) != 0) return false;
    const int fd = open("./rel.txt", O_WRONLY | O_CREAT, 0600);
    return fd >= 0 && close(fd) == 0;
  });
  auto e = sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, pid, dir / "sub/rel.txt"));
  ASSERT_TRUE(e.has_value()) << "no open event for " << dir / "sub/rel.txt";
  EXPECT_GE(e->file().result(), 0);
}

// The kernel's path walk crosses mount points: /dev/shm is a tmpfs mounted
// on /dev, itself a mount on /.
TEST_F(FileTest, RelativePathAcrossMountPoints) {
  char tmpl[] = "/dev/shm/vigil-file-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr) << strerror(errno);
  const std::string dir = tmpl;
  const pid_t pid = InChild([&] {
    if (chdir(dir.c_str()) != 0) return false;
    const int fd = open("shm.txt", O_WRONLY | O_CREAT, 0600);
    return fd >= 0 && close(fd) == 0;
  });
  auto e = sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, pid, dir + "/shm.txt"));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  ASSERT_TRUE(e.has_value()) << "no open event for " << dir << "/shm.txt";
}

TEST_F(FileTest, OpenRelativeToDirfdIsAbsolute) {
  TempDir dir;
  ASSERT_EQ(mkdir((dir / "d").c_str(), 0755), 0);
  const int dfd = open((dir / "d").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  const int fd = openat(dfd, "at.txt", O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  close(dfd);
  auto e = sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / "d/at.txt"));
  ASSERT_TRUE(e.has_value()) << "no open event for " << dir / "d/at.txt";
  EXPECT_EQ(e->file().result(), fd);
}

TEST_F(FileTest, RenameGivesBothPaths) {
  TempDir dir;
  WriteFile(dir / "old");
  ASSERT_EQ(mkdir((dir / "to").c_str(), 0755), 0);
  const int dfd = open((dir / "to").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  ASSERT_EQ(renameat(AT_FDCWD, (dir / "old").c_str(), dfd, "new"), 0);
  close(dfd);
  auto e = sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_RENAME, getpid(), dir / "old"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->file().new_path(), dir / "to/new");
  EXPECT_EQ(e->file().result(), 0);
}

TEST_F(FileTest, UnlinkAndRmdirAndTheirErrors) {
  TempDir dir;
  WriteFile(dir / "gone");
  ASSERT_EQ(unlink((dir / "gone").c_str()), 0);
  ASSERT_EQ(mkdir((dir / "emptydir").c_str(), 0755), 0);
  ASSERT_EQ(rmdir((dir / "emptydir").c_str()), 0);
  ASSERT_EQ(unlink((dir / "never-existed").c_str()), -1);

  auto gone = sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_UNLINK, getpid(), dir / "gone"));
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->file().result(), 0);
  auto rmdir_e = sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_UNLINK, getpid(), dir / "emptydir"));
  ASSERT_TRUE(rmdir_e.has_value());
  EXPECT_EQ(rmdir_e->file().result(), 0);
  auto failed = sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_UNLINK, getpid(), dir / "never-existed"));
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->file().result(), -ENOENT);
  EXPECT_EQ(failed->file().error(), "ENOENT");
}

TEST_F(FileTest, ChmodByPathAndByFd) {
  TempDir dir;
  const std::string path = dir / "mode";
  WriteFile(path);
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  const int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fchmod(fd, 0751), 0);
  close(fd);

  ASSERT_TRUE(sensor().WaitFor([&](const v1::Event& e) {
    return FileEvent(v1::EVENT_KIND_FILE_CHMOD, getpid(), path)(e) && e.file().mode() == 0751;
  }));
  auto chmods = sensor().FindAll(FileEvent(v1::EVENT_KIND_FILE_CHMOD, getpid(), path));
  ASSERT_EQ(chmods.size(), 2u);
  EXPECT_EQ(chmods[0].file().mode(), 0600u);
  EXPECT_EQ(chmods[1].file().syscall(), "fchmod");
  EXPECT_EQ(chmods[1].file().mode(), 0751u);
  EXPECT_EQ(chmods[1].file().result(), 0);
}

TEST_F(FileTest, ChownByPathAndByFd) {
  TempDir dir;
  const std::string path = dir / "owner";
  WriteFile(path);
  ASSERT_EQ(chown(path.c_str(), 1234, 5678), 0);
  const int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fchown(fd, static_cast<uid_t>(-1), 42), 0);
  close(fd);

  ASSERT_TRUE(sensor().WaitFor([&](const v1::Event& e) {
    return FileEvent(v1::EVENT_KIND_FILE_CHOWN, getpid(), path)(e) && e.file().syscall() == "fchown";
  }));
  auto chowns = sensor().FindAll(FileEvent(v1::EVENT_KIND_FILE_CHOWN, getpid(), path));
  ASSERT_EQ(chowns.size(), 2u);
  EXPECT_EQ(chowns[0].file().uid(), 1234u);
  EXPECT_EQ(chowns[0].file().gid(), 5678u);
  EXPECT_FALSE(chowns[1].file().has_uid()) << "uid -1 leaves it unchanged";
  EXPECT_EQ(chowns[1].file().gid(), 42u);
}

TEST_F(FileTest, UtimensatByPathAndByFd) {
  TempDir dir;
  const std::string path = dir / "times";
  WriteFile(path);
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), nullptr, 0), 0);
  const int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(futimens(fd, nullptr), 0);
  close(fd);

  // futimens() is utimensat(fd, NULL, ...): the path is the fd's file.
  WriteFile(dir / "marker");  // reported after both
  ASSERT_TRUE(sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / "marker")));
  auto utimes = sensor().FindAll(FileEvent(v1::EVENT_KIND_FILE_UTIMES, getpid(), path));
  ASSERT_EQ(utimes.size(), 2u);
  for (const v1::Event& e : utimes) {
    EXPECT_EQ(e.file().syscall(), "utimensat");
    EXPECT_EQ(e.file().result(), 0);
  }
}

// Reads of ordinary files are the bulk of all opens: they stay in the kernel.
TEST_F(FileTest, ReadOnlyOpenOfOrdinaryFileGivesNothing) {
  TempDir dir;
  const int fd = open("/etc/hostname", O_RDONLY);
  ASSERT_GE(fd, 0);
  close(fd);
  WriteFile(dir / "marker");  // reported, and after the read
  ASSERT_TRUE(sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / "marker")));
  EXPECT_THAT(sensor().FindAll(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), "/etc/hostname")), IsEmpty());
}

TEST_F(FileTest, ReadOfDefaultSensitivePathIsReported) {
  const int fd = open("/etc/shadow", O_RDONLY);
  ASSERT_GE(fd, 0);
  close(fd);
  auto e = sensor().WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), "/etc/shadow"));
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->file().sensitive());
  EXPECT_THAT(e->file().open_flags(), Contains("O_RDONLY"));
  EXPECT_EQ(e->file().result(), fd);
}

// ---------------------------------------------------------------------------
// Filters: each needs its own sensor flags.

TEST(FileFilters, ConfiguredSensitivePathReplacesTheDefaults) {
  RequireBpfOrSkip();
  TempDir dir;
  ASSERT_EQ(mkdir((dir / "secret").c_str(), 0700), 0);
  WriteFile(dir / "secret/key");
  SensorProcess sensor({absl::StrCat("--sensitive_paths=", dir / "secret/")});
  ASSERT_OK(sensor.Start());

  for (const char* path : {"/etc/shadow"}) close(open(path, O_RDONLY));
  const int fd = open((dir / "secret/key").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  close(fd);
  auto e = sensor.WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / "secret/key"));
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->file().sensitive());
  EXPECT_THAT(sensor.FindAll(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), "/etc/shadow")), IsEmpty());
  const int status = sensor.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SensorProcess::DescribeStatus(status);
}

// The programs clear most paths by their first bytes before the prefix trie
// (vigil_head_hash): the shortest prefix sets how many, here 14 (fewer than
// VIGIL_HEAD_MAX, so the head is masked). Paths as long as it, sharing its
// head, and under a longer prefix must each be decided right.
TEST(FileFilters, SensitivePrefixesOfDifferentLengths) {
  RequireBpfOrSkip();
  TempDir dir("/tmp/vXXXXXX");
  ASSERT_EQ(mkdir((dir / "long-secret-directory").c_str(), 0700), 0);
  for (const char* f : {"k", "kx", "j", "long-secret-directory/key", "long-secret-file"}) WriteFile(dir / f);
  SensorProcess sensor({absl::StrCat("--sensitive_paths=", dir / "k", ",", dir / "long-secret-directory/")});
  ASSERT_OK(sensor.Start());

  for (const char* f : {"j", "long-secret-file", "k", "kx", "long-secret-directory/key"}) {
    const int fd = open((dir / f).c_str(), O_RDONLY);
    ASSERT_GE(fd, 0) << f;
    close(fd);
  }
  for (const char* f : {"k", "kx", "long-secret-directory/key"}) {
    auto e = sensor.WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / f));
    ASSERT_TRUE(e.has_value()) << f;
    EXPECT_TRUE(e->file().sensitive()) << f;
  }
  for (const char* f : {"j", "long-secret-file"}) {
    EXPECT_THAT(sensor.FindAll(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / f)), IsEmpty()) << f;
  }
  const int status = sensor.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SensorProcess::DescribeStatus(status);
}

TEST(FileFilters, IncludeAndExcludePrefixes) {
  RequireBpfOrSkip();
  TempDir dir;
  for (const char* d : {"in", "in/skip", "out"}) ASSERT_EQ(mkdir((dir / d).c_str(), 0755), 0);
  SensorProcess sensor(
      {absl::StrCat("--file_include=", dir / "in/"), absl::StrCat("--file_exclude=", dir / "in/skip/")});
  ASSERT_OK(sensor.Start());

  WriteFile(dir / "out/a");
  WriteFile(dir / "in/skip/a");
  WriteFile(dir / "in/a");  // last: once it is there, the others would be too
  ASSERT_TRUE(sensor.WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / "in/a")));
  EXPECT_THAT(sensor.FindAll(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / "out/a")), IsEmpty());
  EXPECT_THAT(sensor.FindAll(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / "in/skip/a")), IsEmpty());
  const int status = sensor.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SensorProcess::DescribeStatus(status);
}

TEST(FileFilters, WritesOnlyOffReportsReads) {
  RequireBpfOrSkip();
  TempDir dir;
  WriteFile(dir / "plain");
  SensorProcess sensor({"--file_writes_only=false", absl::StrCat("--file_include=", dir.path(), "/")});
  ASSERT_OK(sensor.Start());
  const int fd = open((dir / "plain").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  close(fd);
  auto e = sensor.WaitFor(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / "plain"));
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->file().sensitive());
  sensor.Stop();
}

// A disabled family loads no program at all; the others still run.
TEST(FileFilters, DisabledFamilyGivesNothing) {
  RequireBpfOrSkip();
  TempDir dir;
  SensorProcess sensor({"--disable=file"});
  ASSERT_OK(sensor.Start());  // ready = an exec event arrived
  WriteFile(dir / "unseen");
  ASSERT_EQ(unlink((dir / "unseen").c_str()), 0);
  const pid_t marker = Spawn({"/bin/true", "file-disabled-marker"});
  ASSERT_EQ(WaitExit(marker), 0);
  ASSERT_TRUE(sensor.WaitFor(
      [&](const v1::Event& e) { return IsExec(e) && e.process().pid() == static_cast<uint32_t>(marker); }));
  EXPECT_THAT(sensor.FindAll([](const v1::Event& e) { return e.has_file(); }), IsEmpty());
  sensor.Stop();
}

// One probe of the family off: its syscalls give nothing, the rest still do.
TEST(FileFilters, DisabledProbeGivesNothingOthersStillWork) {
  RequireBpfOrSkip();
  TempDir dir;
  SensorProcess sensor({"--disable=file/open"});
  ASSERT_OK(sensor.Start());
  WriteFile(dir / "f");
  ASSERT_EQ(unlink((dir / "f").c_str()), 0);
  ASSERT_TRUE(sensor.WaitFor(FileEvent(v1::EVENT_KIND_FILE_UNLINK, getpid(), dir / "f")));
  EXPECT_THAT(sensor.FindAll(FileEvent(v1::EVENT_KIND_FILE_OPEN, getpid(), dir / "f")), IsEmpty());
  sensor.Stop();
}

// A typo in --disable would leave the probe on: the sensor refuses it.
TEST(FileFilters, DisablingAnUnknownProbeIsAnError) {
  RequireBpfOrSkip();
  SensorProcess sensor({"--disable=file/opne"});
  ASSERT_OK(sensor.Launch());
  const int status = sensor.WaitExit(absl::Seconds(30));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << SensorProcess::DescribeStatus(status);
  EXPECT_THAT(sensor.Stderr(), ::testing::HasSubstr("nothing to disable named \"file/opne\""));
}

}  // namespace
}  // namespace vigil::testing
