#include "sink/json_lines_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "status_matchers.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::MessageDifferencer;
using test::IsOk;
using test::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

v1::Event ExecEvent() {
  v1::Event e;
  e.set_id("abc-0");
  e.set_kind(v1::EVENT_KIND_EXEC);
  *e.mutable_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(1'700'000'000'123'456'789);
  e.set_node("node-a");
  v1::Process* p = e.mutable_process();
  p->set_pid(4242);
  p->set_ppid(1);
  p->set_uid(0);
  p->set_euid(0);
  p->set_comm("worker");
  p->set_exe("/usr/bin/tool");
  p->add_argv("tool");
  p->add_argv("line\nbreak \"quoted\"");
  p->add_argv("");
  p->set_argv_truncated(true);
  p->set_exec_id("node-a:12345:4242");
  p->set_parent_exec_id("node-a:2:1");
  e.mutable_workload()->set_cgroup_id(77);
  e.mutable_exec()->set_filename("/usr/bin/tool");
  e.mutable_exec()->set_argc(5);
  *e.add_ancestors() = *p;
  return e;
}

v1::Event ExitEvent() {
  v1::Event e;
  e.set_id("abc-1");
  e.set_kind(v1::EVENT_KIND_EXIT);
  e.mutable_process()->set_pid(4242);
  e.mutable_exit()->set_signal(9);
  return e;
}

class JsonLinesSinkTest : public ::testing::Test {
 protected:
  JsonLinesSinkTest() {
    std::string tmpl = fs::temp_directory_path() / "vigil-sink-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    dir_ = tmpl;
  }
  ~JsonLinesSinkTest() override { fs::remove_all(dir_); }

  std::vector<std::string> Lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(text.empty() || text.back() == '\n') << "last line not terminated";
    std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
    return lines;
  }

  static v1::Event Parse(const std::string& line) {
    v1::Event e;
    auto status = google::protobuf::util::JsonStringToMessage(line, &e);
    EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << line;
    return e;
  }

  std::string path() const { return dir_ + "/events.json"; }

  std::string dir_;
};

TEST_F(JsonLinesSinkTest, OneEventPerLineRoundTrips) {
  {
    auto sink = JsonLinesSink::Open(path());
    ASSERT_THAT(sink, IsOk());
    ASSERT_THAT((*sink)->Write(ExecEvent()), IsOk());
    ASSERT_THAT((*sink)->Write(ExitEvent()), IsOk());
    ASSERT_THAT((*sink)->Flush(), IsOk());
    // Visible after Flush, before the sink closes.
    ASSERT_THAT(Lines(path()), SizeIs(2));
  }
  std::vector<std::string> lines = Lines(path());
  ASSERT_THAT(lines, SizeIs(2));
  std::string diff;
  MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(ExecEvent(), Parse(lines[0]))) << diff;
  EXPECT_TRUE(differ.Compare(ExitEvent(), Parse(lines[1]))) << diff;
}

TEST_F(JsonLinesSinkTest, ProtobufJsonNamesAndPresence) {
  {
    auto sink = JsonLinesSink::Open(path());
    ASSERT_THAT(sink, IsOk());
    ASSERT_THAT((*sink)->Write(ExecEvent()), IsOk());
    ASSERT_THAT((*sink)->Write(ExitEvent()), IsOk());
  }
  std::vector<std::string> lines = Lines(path());
  ASSERT_THAT(lines, SizeIs(2));
  const std::string& exec = lines[0];
  EXPECT_THAT(exec, HasSubstr("\"execId\":\"node-a:12345:4242\""));
  EXPECT_THAT(exec, HasSubstr("\"parentExecId\":\"node-a:2:1\""));
  EXPECT_THAT(exec, HasSubstr("\"argvTruncated\":true"));
  EXPECT_THAT(exec, HasSubstr("\"cgroupId\":\"77\""));  // 64-bit ints are strings in protobuf JSON
  EXPECT_THAT(exec, HasSubstr("\"kind\":\"EVENT_KIND_EXEC\""));
  EXPECT_THAT(exec, HasSubstr("\"time\":\"2023-11-14T22:13:20.123456789Z\""));
  EXPECT_THAT(exec, HasSubstr("\"uid\":0"));  // root shows
  EXPECT_THAT(exec, HasSubstr("\"euid\":0"));
  EXPECT_THAT(exec, Not(HasSubstr("\"gid\"")));  // unknown does not
  EXPECT_THAT(exec, Not(HasSubstr("exec_id")));
  EXPECT_THAT(exec, Not(HasSubstr("\"tid\"")));  // proto3 defaults stay out
  EXPECT_THAT(lines[1], HasSubstr("\"exit\":{\"signal\":9}"));
}

// Issue 15, defect 9: the output holds every command line (secrets in argv
// too): readable by its owner only, whatever the umask.
TEST_F(JsonLinesSinkTest, OutputIsCreatedReadableByItsOwnerOnly) {
  const mode_t old = umask(022);
  {
    auto sink = JsonLinesSink::Open(path());
    ASSERT_TRUE(sink.ok()) << sink.status();
  }
  umask(old);
  EXPECT_EQ(fs::status(path()).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(JsonLinesSinkTest, AppendsToAnExistingFile) {
  for (int i = 0; i < 2; ++i) {
    auto sink = JsonLinesSink::Open(path());
    ASSERT_THAT(sink, IsOk());
    ASSERT_THAT((*sink)->Write(ExitEvent()), IsOk());
  }
  EXPECT_THAT(Lines(path()), SizeIs(2));
}

// A write(2) per page of output cost more than encoding the events; the
// lines wait for the pipeline's flush (it flushes whenever it goes idle) or
// for 256 KiB, and then go out whole.
TEST_F(JsonLinesSinkTest, LinesWaitForAFlushOrAQuarterMebibyte) {
  auto sink = JsonLinesSink::Open(path());
  ASSERT_THAT(sink, IsOk());
  for (int i = 0; i < 100; ++i) ASSERT_THAT((*sink)->Write(ExecEvent()), IsOk());
  EXPECT_EQ(fs::file_size(path()), 0u) << "written before the flush";
  ASSERT_THAT((*sink)->Flush(), IsOk());
  EXPECT_THAT(Lines(path()), SizeIs(100));

  // Past 256 KiB, without a flush: whole lines only.
  const uintmax_t flushed = fs::file_size(path());
  const uintmax_t line_bytes = flushed / 100;
  size_t lines = 100;
  while (fs::file_size(path()) == flushed && lines < 10000) {
    ASSERT_THAT((*sink)->Write(ExecEvent()), IsOk());
    ++lines;
  }
  EXPECT_GE(fs::file_size(path()) - flushed, 256u << 10);
  EXPECT_EQ(fs::file_size(path()) % line_bytes, 0u);
  ASSERT_THAT((*sink)->Flush(), IsOk());
  EXPECT_THAT(Lines(path()), SizeIs(lines));
}

TEST_F(JsonLinesSinkTest, OpenInMissingDirectoryNamesThePath) {
  const std::string missing = dir_ + "/no/such/dir/events.json";
  EXPECT_THAT(JsonLinesSink::Open(missing), StatusIs(absl::StatusCode::kNotFound, missing));
}

TEST_F(JsonLinesSinkTest, FullDeviceIsAnErrorNotACrash) {
  auto sink = JsonLinesSink::Open("/dev/full");
  ASSERT_THAT(sink, IsOk());
  absl::Status status = (*sink)->Write(ExecEvent());
  if (status.ok()) status = (*sink)->Flush();  // small writes are buffered
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted, "/dev/full"));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted, "No space left on device"));
}

TEST_F(JsonLinesSinkTest, FullDeviceFailsLargeWriteAtOnce) {
  auto sink = JsonLinesSink::Open("/dev/full");
  ASSERT_THAT(sink, IsOk());
  v1::Event big = ExecEvent();
  big.mutable_process()->add_argv(std::string(1 << 20, 'x'));  // larger than any stdio buffer
  EXPECT_THAT((*sink)->Write(big), StatusIs(absl::StatusCode::kResourceExhausted, "write /dev/full"));
  // And it keeps reporting, rather than failing once and going quiet.
  EXPECT_THAT((*sink)->Write(big), StatusIs(absl::StatusCode::kResourceExhausted, "write /dev/full"));
}

}  // namespace
}  // namespace vigil
