// The DNS parser against crafted packets: what real resolvers send and
// receive, and every way an attacker-controlled datagram can be malformed.
#include "decode/dns.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "status_matchers.h"

namespace vigil::decode {
namespace {

using test::IsOk;
using test::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Bytes = std::vector<uint8_t>;

void Append(Bytes& b, std::initializer_list<uint8_t> more) { b.insert(b.end(), more); }

// Labels of `name` in wire form, root label included.
Bytes Name(const std::string& name) {
  Bytes b;
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<uint8_t>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.push_back(0);
  return b;
}

Bytes Header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an) {
  Bytes b;
  for (uint16_t v : {id, flags, qd, an, uint16_t{0}, uint16_t{0}}) {
    Append(b, {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
  }
  return b;
}

Bytes Query(const std::string& name, uint16_t type) { return EncodeDnsQuery(0xbeef, name, type); }

// The answer for `name`: a CNAME to a second name, then one A and one AAAA
// record of that name, all through compression pointers.
Bytes Answer() {
  Bytes b = Header(7, 0x8180, 1, 3);
  Bytes n = Name("www.example.com");  // at offset 12
  b.insert(b.end(), n.begin(), n.end());
  Append(b, {0, 1, 0, 1});
  // www.example.com CNAME edge.example.com (edge + pointer to "example.com" at 16)
  Append(b, {0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 0x2c, 0, 7, 4, 'e', 'd', 'g', 'e', 0xc0, 16});
  const uint8_t edge = 12 + static_cast<uint8_t>(n.size()) + 4 + 12;  // the CNAME's rdata
  Append(b, {0xc0, edge, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 93, 184, 216, 34});
  Append(b, {0xc0, edge, 0,    28,   0, 1, 0,   0,    0,    90,   0,    16,   0x26, 0x06,
             0x28, 0,    0x02, 0x20, 0, 1, 0x2, 0x48, 0x18, 0x93, 0x25, 0xc8, 0x19, 0x46});
  return b;
}

TEST(ParseDns, QueryNameTypeAndId) {
  auto m = ParseDns(Query("api.vigil.test", 28));
  ASSERT_THAT(m, IsOk());
  EXPECT_FALSE(m->response);
  EXPECT_EQ(m->id, 0xbeef);
  EXPECT_EQ(m->name, "api.vigil.test");
  EXPECT_EQ(m->type, 28);
  EXPECT_EQ(DnsTypeName(m->type), "AAAA");
  EXPECT_THAT(m->addresses, IsEmpty());
}

TEST(ParseDns, AnswerWithCnameAndCompression) {
  auto m = ParseDns(Answer());
  ASSERT_THAT(m, IsOk());
  EXPECT_TRUE(m->response);
  EXPECT_EQ(m->rcode, 0);
  EXPECT_EQ(m->name, "www.example.com");
  EXPECT_THAT(m->addresses, ElementsAre("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"));
  EXPECT_EQ(m->min_ttl, 30u);
}

TEST(ParseDns, RootAndOddBytesInLabels) {
  auto root = ParseDns(Query("", 2));
  ASSERT_THAT(root, IsOk());
  EXPECT_EQ(root->name, ".");
  Bytes b = Header(1, 0x0100, 1, 0);
  Append(b, {3, 'a', '.', 0x07, 0, 0, 1, 0, 1});
  auto odd = ParseDns(b);
  ASSERT_THAT(odd, IsOk());
  EXPECT_EQ(odd->name, "a\\.\\007");
  EXPECT_EQ(DnsTypeName(4660), "TYPE4660");
}

TEST(ParseDns, EveryTruncationIsAnError) {
  const Bytes whole = Answer();
  for (size_t len = 0; len < whole.size(); ++len) {
    auto m = ParseDns(absl::MakeConstSpan(whole.data(), len));
    EXPECT_THAT(m, StatusIs(absl::StatusCode::kInvalidArgument, "")) << "cut at " << len;
  }
}

TEST(ParseDns, CutCopyKeepsTheQuestionAndWholeAnswers) {
  const Bytes whole = Answer();
  // Cut inside the AAAA record: the A record before it is kept.
  auto m = ParseDns(absl::MakeConstSpan(whole.data(), whole.size() - 5), /*cut=*/true);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->name, "www.example.com");
  EXPECT_THAT(m->addresses, ElementsAre("93.184.216.34"));
  // Cut inside the question: still an error.
  EXPECT_THAT(ParseDns(absl::MakeConstSpan(whole.data(), 20), true),
              StatusIs(absl::StatusCode::kInvalidArgument, "label runs past"));
}

TEST(ParseDns, PointerLoopsAreRejected) {
  // The question's name is a pointer to itself.
  Bytes self = Header(1, 0x0100, 1, 0);
  Append(self, {0xc0, 12, 0, 1, 0, 1});
  EXPECT_THAT(ParseDns(self), StatusIs(absl::StatusCode::kInvalidArgument, "does not point backwards"));
  // Forward pointer.
  Bytes fwd = Header(1, 0x0100, 1, 0);
  Append(fwd, {0xc0, 14, 0, 0, 1, 0, 1});
  EXPECT_THAT(ParseDns(fwd), StatusIs(absl::StatusCode::kInvalidArgument, "does not point backwards"));
  // An answer's name: one label, then a pointer to itself.
  Bytes pair = Header(1, 0x8180, 1, 1);
  Append(pair, {1, 'a', 0, 0, 1, 0, 1});         // question at 12..18
  Append(pair, {1, 'b', 0xc0, 21, 0, 1, 0, 1});  // answer name at 19: "b" then a pointer to itself
  Append(pair, {0, 0, 0, 1, 0, 4, 1, 2, 3, 4});
  EXPECT_THAT(ParseDns(pair), StatusIs(absl::StatusCode::kInvalidArgument, "does not point backwards"));
  // A chain through the header: 12 -> 2 -> 0 -> 0 (the id and flags read as pointers).
  Bytes chain = Header(0xc000, 0xc000, 1, 0);
  Append(chain, {0xc0, 2, 0, 1, 0, 1});
  EXPECT_THAT(ParseDns(chain), StatusIs(absl::StatusCode::kInvalidArgument, "does not point backwards"));
}

TEST(ParseDns, OversizedLabelsAndNamesAreRejected) {
  Bytes label = Header(1, 0x0100, 1, 0);
  label.push_back(64);
  label.insert(label.end(), 64, 'x');
  Append(label, {0, 0, 1, 0, 1});
  EXPECT_THAT(ParseDns(label), StatusIs(absl::StatusCode::kInvalidArgument, "reserved label type"));
  // 5 labels of 63: 320 bytes of name.
  std::string longname;
  for (int i = 0; i < 5; ++i) longname += std::string(63, 'a' + i) + (i < 4 ? "." : "");
  EXPECT_THAT(ParseDns(Query(longname, 1)), StatusIs(absl::StatusCode::kInvalidArgument, "longer than 255"));
  // Exactly 255 bytes on the wire is fine: 3 x 63 + 61 labels + root.
  std::string max =
      std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(61, 'd');
  auto ok = ParseDns(Query(max, 1));
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(ok->name, max);
}

TEST(ParseDns, WrongCountsAreRejected) {
  Bytes none = Query("a.b", 1);
  none[5] = 0;  // qdcount 0
  EXPECT_THAT(ParseDns(none), StatusIs(absl::StatusCode::kInvalidArgument, "0 questions"));
  Bytes two = Query("a.b", 1);
  two[5] = 2;
  EXPECT_THAT(ParseDns(two), StatusIs(absl::StatusCode::kInvalidArgument, "2 questions"));
  Bytes many = Answer();
  many[6] = 0xff;  // 65283 answers in a hundred bytes
  EXPECT_THAT(ParseDns(many), StatusIs(absl::StatusCode::kInvalidArgument, "cannot fit"));
  Bytes one_more = Answer();
  one_more[7] = 4;
  EXPECT_THAT(ParseDns(one_more), StatusIs(absl::StatusCode::kInvalidArgument, "answer 3"));
}

TEST(ParseDns, AddressRecordOfTheWrongLengthIsRejected) {
  Bytes b = Header(1, 0x8180, 1, 1);
  Append(b, {1, 'a', 0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3});
  EXPECT_THAT(ParseDns(b), StatusIs(absl::StatusCode::kInvalidArgument, "has 3 bytes"));
}

TEST(ParseDns, RandomBytesNeverCrash) {
  std::mt19937 rng(53);
  const Bytes base = Answer();
  size_t accepted = 0, rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b = base;
    for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips)
      b[rng() % b.size()] = static_cast<uint8_t>(rng());
    b.resize(rng() % (b.size() + 1));
    auto m = ParseDns(b, rng() % 2 == 0);
    if (m.ok()) {
      ++accepted;
      EXPECT_LE(m->name.size(), 255u * 4);  // every byte may be escaped as \DDD
    } else {
      ++rejected;
      ASSERT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << m.status();
      ASSERT_FALSE(m.status().message().empty());
    }
  }
  // Cut or flipped, most answers are refused; some flips (a TTL, an id) are
  // harmless and must still parse.
  EXPECT_GT(rejected, 20000u / 2);
  EXPECT_GT(accepted, 0u);
}

// The text of an address is compared and indexed on (DNS names, the
// collector's rows): it must be exactly what inet_ntop writes.
std::string Ntop(absl::Span<const uint8_t> addr) {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(addr.size() == 4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof(buf));
}

TEST(IpString, Ipv4IsInetNtopsForEveryOctet) {
  for (int v = 0; v < 256; ++v) {
    for (int at = 0; at < 4; ++at) {
      uint8_t a[4] = {10, 200, 7, 99};
      a[at] = static_cast<uint8_t>(v);
      ASSERT_EQ(IpString(a), Ntop(a)) << v << " at " << at;
    }
  }
}

// Every pattern of zero words, so every run that "::" may stand for, with
// the words around them 1, ffff (the IPv4-mapped form) or longer.
TEST(IpString, Ipv6IsInetNtopsForEveryRunOfZeros) {
  for (uint16_t fill : {0x1, 0xffff, 0xab, 0x1234, 0xf00}) {
    for (unsigned zeros = 0; zeros < 256; ++zeros) {
      uint8_t a[16];
      for (int w = 0; w < 8; ++w) {
        const uint16_t v = (zeros >> w & 1) != 0 ? 0 : static_cast<uint16_t>(fill + w * (fill == 0xffff ? 0 : 1));
        a[2 * w] = static_cast<uint8_t>(v >> 8);
        a[2 * w + 1] = static_cast<uint8_t>(v);
      }
      ASSERT_EQ(IpString(a), Ntop(a)) << Ntop(a);
    }
  }
}

TEST(IpString, RandomAddressesAreInetNtops) {
  std::mt19937 rng(5952);
  for (int i = 0; i < 200000; ++i) {
    uint8_t a[16];
    // Mostly zero bytes, so that runs of zero words are common.
    for (uint8_t& b : a) b = rng() % 3 == 0 ? static_cast<uint8_t>(rng()) : 0;
    if (rng() % 4 == 0) a[10] = a[11] = 0xff;  // IPv4-mapped, or nearly
    ASSERT_EQ(IpString(a), Ntop(a));
    ASSERT_EQ(IpString(absl::MakeConstSpan(a, 4)), Ntop(absl::MakeConstSpan(a, 4)));
  }
}

TEST(IpString, ReusedStringTakesTheNewAddressWhole) {
  std::string s = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const uint8_t loopback[4] = {127, 0, 0, 1};
  AssignIp(loopback, s);
  EXPECT_EQ(s, "127.0.0.1");
  AssignIp(absl::Span<const uint8_t>(), s);
  EXPECT_EQ(s, "");
}

}  // namespace
}  // namespace vigil::decode
