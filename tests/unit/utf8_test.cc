#include "common/utf8.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "google/protobuf/stubs/common.h"

namespace vigil {
namespace {

using google::protobuf::internal::IsStructurallyValidUTF8;

// Reference encoder, independent of the code under test.
std::string Encode(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

TEST(SanitizeUtf8, AsciiAndEmptyUnchanged) {
  EXPECT_EQ(SanitizeUtf8(""), "");
  EXPECT_EQ(SanitizeUtf8("/usr/bin/env -i PATH=/bin"), "/usr/bin/env -i PATH=/bin");
  EXPECT_EQ(SanitizeUtf8(absl::string_view("a\0b", 3)), std::string("a\0b", 3));
}

TEST(SanitizeUtf8, ValidMultibyteUnchanged) {
  for (const char* s : {"caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80",   // é, 日本, 😀
                        "\xc2\x80", "\xdf\xbf",                                          // U+0080, U+07FF
                        "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf",  // U+0800 U+D7FF U+E000 U+FFFF
                        "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"}) {                       // U+10000, U+10FFFF
    EXPECT_EQ(SanitizeUtf8(s), s);
  }
}

TEST(SanitizeUtf8, EveryValidCodePointUnchanged) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s = Encode(cp);
    ASSERT_EQ(SanitizeUtf8(s), s) << "U+" << std::hex << cp;
  }
}

TEST(SanitizeUtf8, OverlongEscaped) {
  EXPECT_EQ(SanitizeUtf8("\xc0\x80"), "\\xc0\\x80");  // NUL in 2 bytes
  EXPECT_EQ(SanitizeUtf8("\xc1\xbf"), "\\xc1\\xbf");
  EXPECT_EQ(SanitizeUtf8("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");  // '/' in 3 bytes
  EXPECT_EQ(SanitizeUtf8("\xe0\x9f\xbf"), "\\xe0\\x9f\\xbf");
  EXPECT_EQ(SanitizeUtf8("\xf0\x8f\xbf\xbf"), "\\xf0\\x8f\\xbf\\xbf");
}

TEST(SanitizeUtf8, SurrogatesEscaped) {
  EXPECT_EQ(SanitizeUtf8("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // U+D800
  EXPECT_EQ(SanitizeUtf8("\xed\xbf\xbf"), "\\xed\\xbf\\xbf");  // U+DFFF
}

TEST(SanitizeUtf8, AboveMaxCodePointEscaped) {
  EXPECT_EQ(SanitizeUtf8("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // U+110000
}

TEST(SanitizeUtf8, TruncatedSequencesEscaped) {
  EXPECT_EQ(SanitizeUtf8("\xe2\x82"), "\\xe2\\x82");           // € cut at the end
  EXPECT_EQ(SanitizeUtf8("a\xe2\x82z"), "a\\xe2\\x82z");       // and in the middle
  EXPECT_EQ(SanitizeUtf8("\xf0\x9f\x98"), "\\xf0\\x9f\\x98");  // 😀 cut
  EXPECT_EQ(SanitizeUtf8("\xc3"), "\\xc3");
  EXPECT_EQ(SanitizeUtf8("\xc3"
                         "a"),
            "\\xc3"
            "a");
}

TEST(SanitizeUtf8, LoneContinuationEscaped) {
  EXPECT_EQ(SanitizeUtf8("\x80"), "\\x80");
  EXPECT_EQ(SanitizeUtf8("\xc3\xa9\xa9"), "\xc3\xa9\\xa9");
}

TEST(SanitizeUtf8, BytesF5AndAboveEscaped) {
  for (int b = 0xF5; b <= 0xFF; ++b) {
    std::string in(1, static_cast<char>(b));
    char want[8];
    std::snprintf(want, sizeof(want), "\\x%02x", b);
    EXPECT_EQ(SanitizeUtf8(in + "\x80\x80\x80"), std::string(want) + "\\x80\\x80\\x80");
  }
}

TEST(SanitizeUtf8, RandomBytesBecomeValidUtf8) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string in(rng() % 24, '\0');
    for (char& c : in) c = static_cast<char>(rng());
    std::string out = SanitizeUtf8(in);
    ASSERT_TRUE(IsStructurallyValidUTF8(out.data(), static_cast<int>(out.size()))) << "case " << i;
  }
}

TEST(SanitizeUtf8, RandomValidTextUnchanged) {
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) {
    std::string in;
    for (int n = rng() % 8; n > 0; --n) {
      uint32_t cp;
      do {
        // Mostly short sequences, some from every length class.
        const uint32_t limits[] = {0x80, 0x800, 0x10000, 0x110000};
        cp = rng() % limits[rng() % 4];
      } while (cp >= 0xD800 && cp <= 0xDFFF);
      in += Encode(cp);
    }
    ASSERT_EQ(SanitizeUtf8(in), in) << "case " << i;
  }
}

}  // namespace
}  // namespace vigil
