// The file family's records, decoded: every field, and truncated or garbage
// records rejected with a status naming the problem.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <limits>
#include <random>

#include "decode/decoder.h"
#include "records.h"
#include "status_matchers.h"
#include "vigil_abi.h"

namespace vigil {
namespace {

using test::FileRecord;
using test::FileSpec;
using test::IsOk;
using test::kNode;
using test::Record;
using test::StatusIs;
using ::testing::ElementsAre;

class FileDecoderTest : public ::testing::Test {
 protected:
  absl::Status Decode(const Record& r, v1::Event& out) {
    return Decoder({.node = kNode}, &clock_).Decode(absl::MakeConstSpan(r), out);
  }
  v1::Event Decoded(const FileSpec& spec) {
    v1::Event e;
    EXPECT_THAT(Decode(FileRecord(spec), e), IsOk());
    return e;
  }
  BootClock clock_;
};

TEST_F(FileDecoderTest, OpenForCreate) {
  FileSpec s;
  s.flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  s.mode = 0640;
  s.result = 7;
  const v1::Event e = Decoded(s);
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_FILE_OPEN);
  EXPECT_EQ(e.process().pid(), 4242u);
  EXPECT_EQ(e.file().path(), "/etc/app.conf");
  EXPECT_EQ(e.file().syscall(), "openat");
  EXPECT_EQ(e.file().result(), 7);
  EXPECT_EQ(e.file().error(), "");
  EXPECT_THAT(e.file().open_flags(), ElementsAre("O_WRONLY", "O_CREAT", "O_TRUNC", "O_CLOEXEC"));
  ASSERT_TRUE(e.file().has_mode());
  EXPECT_EQ(e.file().mode(), 0640u);
  EXPECT_FALSE(e.file().sensitive());
  EXPECT_FALSE(e.file().has_uid());
}

TEST_F(FileDecoderTest, SensitiveReadWithoutCreateHasNoMode) {
  FileSpec s;
  s.path = "/etc/shadow";
  s.vflags = VIGIL_FILE_SENSITIVE;
  s.mode = 0777;  // garbage the kernel saw: no O_CREAT, so not reported
  const v1::Event e = Decoded(s);
  EXPECT_TRUE(e.file().sensitive());
  EXPECT_THAT(e.file().open_flags(), ElementsAre("O_RDONLY"));
  EXPECT_FALSE(e.file().has_mode());
}

TEST_F(FileDecoderTest, FailedCallNamesTheErrno) {
  FileSpec s;
  s.kind = VIGIL_KIND_FILE_UNLINK;
  s.op = VIGIL_FILE_OP_UNLINKAT;
  s.result = -ENOENT;
  const v1::Event e = Decoded(s);
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_FILE_UNLINK);
  EXPECT_EQ(e.file().result(), -ENOENT);
  EXPECT_EQ(e.file().error(), "ENOENT");
  EXPECT_THAT(e.file().open_flags(), ::testing::IsEmpty());
}

// Found by fuzz/decoder_fuzzer.cc under UBSan: negating INT64_MIN overflowed.
// A syscall fails with -1..-4095 (the kernel's MAX_ERRNO); a lower result is
// a corrupt record and names no errno.
TEST_F(FileDecoderTest, ResultBelowTheErrnoRangeNamesNoError) {
  FileSpec s;
  s.kind = VIGIL_KIND_FILE_UNLINK;
  s.op = VIGIL_FILE_OP_UNLINKAT;
  for (int64_t result : {std::numeric_limits<int64_t>::min(), int64_t{-4096}, int64_t{-(int64_t{1} << 32) - 2}}) {
    s.result = result;
    const v1::Event e = Decoded(s);
    EXPECT_EQ(e.file().result(), result);
    EXPECT_EQ(e.file().error(), "") << result;
  }
}

TEST_F(FileDecoderTest, RenameHasBothPaths) {
  FileSpec s;
  s.kind = VIGIL_KIND_FILE_RENAME;
  s.op = VIGIL_FILE_OP_RENAMEAT2;
  s.result = 0;
  s.path = "/srv/a";
  s.path2 = "/srv/b";
  const v1::Event e = Decoded(s);
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_FILE_RENAME);
  EXPECT_EQ(e.file().path(), "/srv/a");
  EXPECT_EQ(e.file().new_path(), "/srv/b");
  EXPECT_EQ(e.file().syscall(), "renameat2");
}

TEST_F(FileDecoderTest, ChownKeepsOnlyChangedIds) {
  FileSpec s;
  s.kind = VIGIL_KIND_FILE_CHOWN;
  s.op = VIGIL_FILE_OP_FCHOWN;
  s.gid = 0;  // root group: must show, not vanish as a default
  const v1::Event e = Decoded(s);
  EXPECT_FALSE(e.file().has_uid());
  ASSERT_TRUE(e.file().has_gid());
  EXPECT_EQ(e.file().gid(), 0u);
}

TEST_F(FileDecoderTest, ChmodHasMode) {
  FileSpec s;
  s.kind = VIGIL_KIND_FILE_CHMOD;
  s.op = VIGIL_FILE_OP_CHMOD;
  s.mode = 04755;
  EXPECT_EQ(Decoded(s).file().mode(), 04755u);
}

TEST_F(FileDecoderTest, DotComponentsAndRepeatedSlashesAreDropped) {
  FileSpec s;
  s.path = "/home/u/./work//./a/../b";
  EXPECT_EQ(Decoded(s).file().path(), "/home/u/work/a/../b") << "'..' depends on symlinks: kept";
}

TEST_F(FileDecoderTest, PathsAreNormalizedAlikeWhateverCameBefore) {
  const std::pair<std::string, std::string> cases[] = {
      {"/", "/"},
      {"//", "/"},
      {"/.", "/"},
      {"/./", "/"},
      {"/a/", "/a/"},
      {"/a//", "/a/"},
      {"/a/.", "/a"},
      {"/a/./", "/a/"},
      {"///a///b///", "/a/b/"},
      {"/..", "/.."},
      {"/.hidden/..x/.", "/.hidden/..x"},
      {"/x/\xff/./y", "/x/\\xff/y"},         // a byte that is not UTF-8, spelled out
      {"relative/./x//", "relative/./x//"},  // not absolute: as it came
      {"", ""},
  };
  // One event reused, as the pipeline reuses it: a long path, then each
  // case, must leave nothing of what was there.
  v1::Event e;
  for (const auto& [path, want] : cases) {
    FileSpec s;
    s.path = s.path2 = "/a/very/long/path/that/was/here/before/./and/must/go";
    ASSERT_THAT(Decode(FileRecord(s), e), IsOk());
    s.path = s.path2 = path;  // a rename's second path goes the same way
    ASSERT_THAT(Decode(FileRecord(s), e), IsOk()) << path;
    EXPECT_EQ(e.file().path(), want) << "'" << path << "'";
    EXPECT_EQ(e.file().new_path(), want) << "'" << path << "'";
  }
}

TEST_F(FileDecoderTest, TruncatedFlagsShow) {
  FileSpec s;
  s.vflags = VIGIL_FILE_PATH2_TRUNCATED;
  EXPECT_TRUE(Decoded(s).file().path_truncated());
}

TEST_F(FileDecoderTest, KindNames) {
  EXPECT_EQ(KindName(VIGIL_KIND_FILE_OPEN), "file_open");
  EXPECT_EQ(KindName(VIGIL_KIND_FILE_UTIMES), "file_utimes");
  EXPECT_EQ(KindName(VIGIL_KIND_FILE_FIRST + 15), "kind_47");
}

// ---- bad records --------------------------------------------------------

Record Resized(Record r, size_t size) {
  r.resize(size);
  test::Edit<vigil_header>(r, [&](vigil_header& h) { h.size = static_cast<uint32_t>(size); });
  return r;
}

TEST_F(FileDecoderTest, RejectsRecordShorterThanItsFixedPart) {
  v1::Event e;
  EXPECT_THAT(Decode(Resized(FileRecord({}), sizeof(vigil_file) - 1), e),
              StatusIs(absl::StatusCode::kInvalidArgument, "shorter than its fixed part"));
}

TEST_F(FileDecoderTest, RejectsPathCutShort) {
  Record r = FileRecord({});
  v1::Event e;
  EXPECT_THAT(Decode(Resized(r, r.size() - 3), e),
              StatusIs(absl::StatusCode::kInvalidArgument, "holds path_len 14 and path2_len 0"));
}

TEST_F(FileDecoderTest, RejectsLengthsAbovePathMax) {
  Record r = FileRecord({});
  test::Edit<vigil_file>(r, [](vigil_file& f) {
    f.path_len = 0xFFFFFFF0u;
    f.path2_len = 0x20;  // would wrap to the real size in 32 bits
  });
  v1::Event e;
  EXPECT_THAT(Decode(r, e), StatusIs(absl::StatusCode::kInvalidArgument, "path_len 4294967280"));
}

TEST_F(FileDecoderTest, RejectsUnknownSyscall) {
  FileSpec s;
  s.op = VIGIL_FILE_OP_MAX;
  v1::Event e;
  EXPECT_THAT(Decode(FileRecord(s), e), StatusIs(absl::StatusCode::kInvalidArgument, "unknown syscall 20"));
}

TEST_F(FileDecoderTest, RejectsUnknownKindOfTheFamily) {
  FileSpec s;
  s.kind = VIGIL_KIND_FILE_FIRST + 10;
  v1::Event e;
  EXPECT_THAT(Decode(FileRecord(s), e), StatusIs(absl::StatusCode::kInvalidArgument, "unknown event kind 42"));
}

// Random bytes after a valid header never crash the decoder or read past
// the record (run under ASan to see the latter); each is accepted or rejected.
TEST_F(FileDecoderTest, GarbageAfterTheHeaderIsHandled) {
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    Record r = FileRecord({});
    const size_t size = sizeof(vigil_header) + rng() % 200;
    r.resize(size);
    for (size_t b = sizeof(vigil_header); b < size; ++b) r[b] = static_cast<uint8_t>(rng());
    test::Edit<vigil_header>(r, [&](vigil_header& h) { h.size = static_cast<uint32_t>(size); });
    v1::Event e;
    const absl::Status s = Decode(r, e);
    if (!s.ok()) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    }
  }
}

}  // namespace
}  // namespace vigil
