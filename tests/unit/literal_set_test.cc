// The detector's literal search against the plain answer: a substring test
// of each literal.
#include "rules/literal_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "status_matchers.h"

namespace vigil::rules {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<int> Expected(const std::vector<std::string>& literals, absl::string_view text) {
  std::vector<int> out;
  for (size_t i = 0; i < literals.size(); ++i) {
    if (absl::StrContains(text, literals[i])) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::vector<int> Found(const LiteralSet& set, absl::string_view text) {
  std::vector<int> found = {-1};  // appended to, not replaced
  const bool any = set.Find(text, found);
  EXPECT_EQ(any, found.size() > 1);
  EXPECT_EQ(found.front(), -1);
  found.erase(found.begin());
  return found;
}

TEST(LiteralSet, OverlappingLiteralsAndSuffixes) {
  const std::vector<std::string> literals = {"he", "she", "his", "hers", "e"};
  auto set = LiteralSet::Build(literals);
  ASSERT_THAT(set.status(), test::IsOk());
  EXPECT_THAT(Found(*set, "ushers"), ElementsAre(0, 1, 3, 4));
  EXPECT_THAT(Found(*set, "this"), ElementsAre(2));
  EXPECT_THAT(Found(*set, "hhhhhe"), ElementsAre(0, 4));
  EXPECT_THAT(Found(*set, "xyz"), IsEmpty());
  EXPECT_THAT(Found(*set, ""), IsEmpty());
}

TEST(LiteralSet, EachLiteralOnceInOrderHoweverOftenItIsThere) {
  auto set = LiteralSet::Build({"b", "a", "a"});  // the same literal twice: both indices
  ASSERT_THAT(set.status(), test::IsOk());
  EXPECT_THAT(Found(*set, "abababab"), ElementsAre(0, 1, 2));
}

TEST(LiteralSet, AnEmptyLiteralIsInEveryText) {
  auto set = LiteralSet::Build({"x", ""});
  ASSERT_THAT(set.status(), test::IsOk());
  EXPECT_THAT(Found(*set, ""), ElementsAre(1));
  EXPECT_THAT(Found(*set, "axb"), ElementsAre(0, 1));
}

TEST(LiteralSet, EveryByteValue) {
  // Bytes that are not UTF-8, and NUL, are bytes like any other.
  const std::vector<std::string> literals = {std::string("\xff\xfe", 2), std::string("a\0b", 3), "\x80"};
  auto set = LiteralSet::Build(literals);
  ASSERT_THAT(set.status(), test::IsOk());
  for (int c = 0; c < 256; ++c) {
    const std::string text = std::string("a\0", 2) + static_cast<char>(c) + "\xff\xfe";
    EXPECT_EQ(Found(*set, text), Expected(literals, text)) << c;
  }
}

// Literals that use all 256 byte values, one of them again after the
// 256th: 257 classes, with none left for bytes no literal has.
TEST(LiteralSet, LiteralsOfEveryByte) {
  std::vector<std::string> literals;
  for (int c = 0; c < 256; c += 2) literals.push_back({static_cast<char>(c), static_cast<char>(c + 1)});
  literals.push_back({static_cast<char>(255), 'x'});
  auto set = LiteralSet::Build(literals);
  ASSERT_THAT(set.status(), test::IsOk());
  std::mt19937 rng(256);
  for (int t = 0; t < 2000; ++t) {
    std::string text(rng() % 40, ' ');
    for (char& c : text) c = "\x00\x01\xfe\xffxy"[rng() % 6];
    ASSERT_EQ(Found(*set, text), Expected(literals, text)) << t;
  }
  EXPECT_THAT(Found(*set, std::string("\xfe\xffx\0\1", 5)), ElementsAre(0, 127, 128));
}

TEST(LiteralSet, RandomSetsAgreeWithSubstringTests) {
  std::mt19937 rng(1320);
  // A small alphabet, so that literals overlap and share prefixes and suffixes.
  auto random_text = [&rng](size_t max) {
    std::string s(rng() % (max + 1), ' ');
    for (char& c : s) c = "abc/-. "[rng() % 7];
    return s;
  };
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> literals(1 + rng() % 40);
    for (std::string& l : literals) l = random_text(8);
    auto set = LiteralSet::Build(literals);
    ASSERT_THAT(set.status(), test::IsOk());
    for (int t = 0; t < 50; ++t) {
      const std::string text = random_text(60);
      ASSERT_EQ(Found(*set, text), Expected(literals, text)) << "round " << round << " text '" << text << "'";
    }
  }
}

TEST(LiteralSet, ASetTooLargeIsRefused) {
  // 200 distinct bytes over literals of 40,000 bytes in all: up to 8M transitions.
  std::vector<std::string> literals;
  for (int i = 0; i < 1000; ++i) {
    std::string l(40, ' ');
    for (int j = 0; j < 40; ++j) l[j] = static_cast<char>(32 + (i * 7 + j * 13) % 200);
    literals.push_back(l);
  }
  EXPECT_EQ(LiteralSet::Build(literals).status().code(), absl::StatusCode::kResourceExhausted);
  literals.resize(100);
  EXPECT_THAT(LiteralSet::Build(literals).status(), test::IsOk());
}

}  // namespace
}  // namespace vigil::rules
