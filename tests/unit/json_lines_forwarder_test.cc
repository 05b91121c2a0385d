#include "collector/json_lines_forwarder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "status_matchers.h"
#include "support/event_pointers.h"

namespace vigil::collector {
namespace {

using test::IsOk;

std::vector<v1::Event> Events(int first, int n) {
  std::vector<v1::Event> out(n);
  for (int i = 0; i < n; ++i) {
    out[i].set_id("inst-" + std::to_string(first + i));
    out[i].set_kind(v1::EVENT_KIND_EXEC);
    out[i].mutable_process()->add_argv(std::string(100, 'a'));
  }
  return out;
}

std::vector<std::string> IdsIn(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    v1::Event e;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &e).ok()) << line;
    ids.push_back(e.id());
  }
  return ids;
}

class JsonLinesForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "vigil-fwd-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(JsonLinesForwarderTest, WritesOneEventPerLineInOrder) {
  auto f = JsonLinesForwarder::Open("file", dir_ + "/events.jsonl", 1 << 20, 3);
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT((*f)->Send(testing::Pointers(Events(0, 3))), IsOk());
  ASSERT_THAT((*f)->Send(testing::Pointers(Events(3, 2))), IsOk());
  EXPECT_THAT(IdsIn(dir_ + "/events.jsonl"), ::testing::ElementsAre("inst-0", "inst-1", "inst-2", "inst-3", "inst-4"));
}

// From the spool's serialized events: the same lines as from parsed ones,
// whether the bytes are as protobuf serializes them or need a parse first;
// bytes that do not parse are skipped, not retried forever.
TEST_F(JsonLinesForwarderTest, SerializedEventsGiveTheSameLines) {
  std::vector<v1::Event> events = Events(0, 3);
  events[1].mutable_process()->set_uid(0);
  events[1].mutable_exec()->set_filename("/bin/caf\xc3\xa9");
  std::vector<std::string> bytes;
  for (const v1::Event& e : events) bytes.push_back(e.SerializeAsString());
  bytes[2] += std::string("\xc2\x3e\x01x", 4);  // an unknown field (1000): parsed, then printed
  const std::string unreadable = "\x0a\x05id";  // truncated

  auto parsed = JsonLinesForwarder::Open("file", dir_ + "/parsed.jsonl", 1 << 20, 3);
  auto serialized = JsonLinesForwarder::Open("file", dir_ + "/serialized.jsonl", 1 << 20, 3);
  ASSERT_THAT(parsed, IsOk());
  ASSERT_THAT(serialized, IsOk());
  ASSERT_TRUE((*serialized)->TakesSerialized());
  ASSERT_THAT((*parsed)->Send(testing::Pointers(events)), IsOk());
  const std::vector<absl::string_view> views = {bytes[0], unreadable, bytes[1], bytes[2]};
  ASSERT_THAT((*serialized)->SendSerialized(views), IsOk());

  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  EXPECT_EQ(read(dir_ + "/serialized.jsonl"), read(dir_ + "/parsed.jsonl"));
  EXPECT_THAT(IdsIn(dir_ + "/serialized.jsonl"), ::testing::ElementsAre("inst-0", "inst-1", "inst-2"));
}

// Issue 15, defect 9: every node's command lines: owner only.
TEST_F(JsonLinesForwarderTest, OutputIsReadableByItsOwnerOnly) {
  auto f = JsonLinesForwarder::Open("file", dir_ + "/events.jsonl", 1 << 20, 3);
  ASSERT_THAT(f, IsOk());
  namespace fs = std::filesystem;
  EXPECT_EQ(fs::status(dir_ + "/events.jsonl").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(JsonLinesForwarderTest, RotatesBySizeAndKeepsMaxFiles) {
  const std::string path = dir_ + "/events.jsonl";
  auto f = JsonLinesForwarder::Open("file", path, 2000, 3);
  ASSERT_THAT(f, IsOk());
  for (int batch = 0; batch < 10; ++batch) ASSERT_THAT((*f)->Send(testing::Pointers(Events(batch * 5, 5))), IsOk());
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::exists(path + ".1"));
  EXPECT_TRUE(std::filesystem::exists(path + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path + ".3"));
  for (const std::string& p : {path, path + ".1", path + ".2"}) {
    EXPECT_LE(std::filesystem::file_size(p), 2000u) << p;
  }
  // Newest in the current file, the previous batch in .1.
  EXPECT_EQ(IdsIn(path).back(), "inst-49");
  EXPECT_EQ(IdsIn(path + ".1").back(), "inst-" + std::to_string(50 - 1 - IdsIn(path).size()));
}

// One send larger than the pieces it is written in, rotating in the middle:
// every line once, in order, across the files, none over the size.
TEST_F(JsonLinesForwarderTest, ALargeSendRotatesBetweenLines) {
  const std::string path = dir_ + "/events.jsonl";
  auto f = JsonLinesForwarder::Open("file", path, 400'000, 8);
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT((*f)->Send(testing::Pointers(Events(0, 6000))), IsOk());
  std::vector<std::string> ids, expected;
  for (int i = 7; i >= 0; --i) {
    const std::string p = i == 0 ? path : path + "." + std::to_string(i);
    if (!std::filesystem::exists(p)) continue;
    EXPECT_LE(std::filesystem::file_size(p), 400'000u) << p;
    for (std::string& id : IdsIn(p)) ids.push_back(std::move(id));
  }
  for (int i = 0; i < 6000; ++i) expected.push_back("inst-" + std::to_string(i));
  EXPECT_EQ(ids, expected);
  EXPECT_TRUE(std::filesystem::exists(path + ".2")) << "written in pieces, rotated between them";
}

TEST_F(JsonLinesForwarderTest, ReopeningAppends) {
  const std::string path = dir_ + "/events.jsonl";
  {
    auto f = JsonLinesForwarder::Open("file", path, 1 << 20, 2);
    ASSERT_THAT(f, IsOk());
    ASSERT_THAT((*f)->Send(testing::Pointers(Events(0, 2))), IsOk());
  }
  auto f = JsonLinesForwarder::Open("file", path, 1 << 20, 2);
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT((*f)->Send(testing::Pointers(Events(2, 1))), IsOk());
  EXPECT_THAT(IdsIn(path), ::testing::ElementsAre("inst-0", "inst-1", "inst-2"));
}

}  // namespace
}  // namespace vigil::collector
