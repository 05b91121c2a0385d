#include "decode/dns.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace vigil::decode {

namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxName = 255;  // wire length, length bytes and root label included
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeAaaa = 28;
constexpr uint16_t kClassIn = 1;

class Reader {
 public:
  explicit Reader(absl::Span<const uint8_t> packet) : p_(packet) {}

  size_t pos() const { return pos_; }
  size_t left() const { return p_.size() - pos_; }
  bool Skip(size_t n) {
    if (left() < n) return false;
    pos_ += n;
    return true;
  }
  bool U16(uint16_t& v) {
    if (left() < 2) return false;
    v = static_cast<uint16_t>(p_[pos_] << 8 | p_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t& v) {
    uint16_t hi, lo;
    if (!U16(hi) || !U16(lo)) return false;
    v = uint32_t{hi} << 16 | lo;
    return true;
  }

  // Reads a possibly compressed name at the current position into `out`
  // (presentation form), leaving the position after its in-place part.
  absl::Status Name(std::string* out) {
    size_t at = pos_;
    size_t limit = pos_;
    size_t wire = 0;
    bool jumped = false;
    out->clear();
    for (;;) {
      if (at >= p_.size()) return absl::InvalidArgumentError("name runs past the end of the message");
      const uint8_t len = p_[at];
      if ((len & 0xc0) == 0xc0) {
        if (at + 1 >= p_.size()) return absl::InvalidArgumentError("compression pointer cut short");
        const size_t target = (len & 0x3f) << 8 | p_[at + 1];
        // Only backwards, to before where the previous jump landed (or this
        // name started): jump targets strictly decrease, so no loop.
        if (target >= limit) {
          return absl::InvalidArgumentError(
              absl::StrCat("compression pointer at ", at, " to ", target, " does not point backwards"));
        }
        if (!jumped) pos_ = at + 2;
        jumped = true;
        at = limit = target;
        continue;
      }
      if ((len & 0xc0) != 0) return absl::InvalidArgumentError(absl::StrCat("reserved label type at ", at));
      wire += 1 + len;
      if (len > kMaxLabel) return absl::InvalidArgumentError(absl::StrCat("label of ", len, " bytes"));
      if (wire > kMaxName) return absl::InvalidArgumentError("name longer than 255 bytes");
      if (len == 0) {
        if (!jumped) pos_ = at + 1;
        if (out->empty()) out->push_back('.');
        return absl::OkStatus();
      }
      if (at + 1 + len > p_.size()) return absl::InvalidArgumentError("label runs past the end of the message");
      if (!out->empty()) out->push_back('.');
      for (size_t i = 0; i < len; ++i) {
        const uint8_t c = p_[at + 1 + i];
        if (c == '.' || c == '\\') {
          out->push_back('\\');
          out->push_back(static_cast<char>(c));
        } else if (c > ' ' && c < 0x7f) {
          out->push_back(static_cast<char>(c));
        } else {
          absl::StrAppendFormat(out, "\\%03d", c);  // RFC 1035 \DDD
        }
      }
      at += 1 + len;
    }
  }

 private:
  absl::Span<const uint8_t> p_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<DnsMessage> ParseDns(absl::Span<const uint8_t> packet, bool cut) {
  if (packet.size() < kHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat("DNS message of ", packet.size(), " bytes has no full header"));
  }
  Reader r(packet);
  DnsMessage m;
  uint16_t flags, qdcount, ancount, nscount, arcount;
  r.U16(m.id);
  r.U16(flags);
  r.U16(qdcount);
  r.U16(ancount);
  r.U16(nscount);
  r.U16(arcount);
  m.response = (flags & 0x8000) != 0;
  m.rcode = flags & 0xf;
  if (qdcount != 1) return absl::InvalidArgumentError(absl::StrCat("DNS message with ", qdcount, " questions"));
  // Each resource record takes at least 11 bytes (root name, fixed fields).
  if (size_t{ancount} * 11 > r.left() && !cut) {
    return absl::InvalidArgumentError(absl::StrCat(ancount, " answers cannot fit in ", packet.size(), " bytes"));
  }
  if (absl::Status s = r.Name(&m.name); !s.ok()) return s;
  uint16_t qclass;
  if (!r.U16(m.type) || !r.U16(qclass)) return absl::InvalidArgumentError("question cut short");
  if (m.name.size() > 1 && m.name.back() == '.') m.name.pop_back();

  bool have_ttl = false;
  std::string owner;
  for (uint16_t i = 0; i < ancount; ++i) {
    uint16_t type, rclass, rdlen;
    uint32_t ttl;
    absl::Status s = r.Name(&owner);
    const bool whole = s.ok() && r.U16(type) && r.U16(rclass) && r.U32(ttl) && r.U16(rdlen) && r.left() >= rdlen;
    if (!whole) {
      if (cut) break;  // the copy ended inside this answer
      return absl::InvalidArgumentError(absl::StrCat("answer ", i, ": ", s.ok() ? "cut short" : s.message()));
    }
    if (rclass == kClassIn && ((type == kTypeA && rdlen == 4) || (type == kTypeAaaa && rdlen == 16))) {
      m.addresses.push_back(IpString(packet.subspan(r.pos(), rdlen)));
      m.min_ttl = have_ttl ? std::min(m.min_ttl, ttl) : ttl;
      have_ttl = true;
    } else if (rclass == kClassIn && (type == kTypeA || type == kTypeAaaa)) {
      return absl::InvalidArgumentError(absl::StrCat("answer ", i, " of type ", type, " has ", rdlen, " bytes"));
    }
    r.Skip(rdlen);
  }
  return m;
}

std::string DnsTypeName(uint16_t type) {
  switch (type) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 28:
      return "AAAA";
    case 33:
      return "SRV";
    case 65:
      return "HTTPS";
    case 255:
      return "ANY";
    default:
      return absl::StrCat("TYPE", type);
  }
}

std::vector<uint8_t> EncodeDnsQuery(uint16_t id, const std::string& name, uint16_t type) {
  std::vector<uint8_t> q = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  for (absl::string_view label : absl::StrSplit(name, '.', absl::SkipEmpty())) {
    q.push_back(static_cast<uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
  }
  q.insert(q.end(), {0, static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), 0, 1});
  return q;
}

std::vector<uint8_t> EncodeDnsAnswerA(std::vector<uint8_t> query, absl::Span<const uint8_t> ipv4, uint32_t ttl) {
  if (query.size() < kHeaderSize || ipv4.size() != 4) return query;
  query[2] = 0x81;  // QR, RD
  query[3] = 0x80;  // RA, NOERROR
  query[6] = 0;
  query[7] = 1;  // ANCOUNT
  query.insert(query.end(),
               {0xc0, static_cast<uint8_t>(kHeaderSize), 0, 1, 0, 1, static_cast<uint8_t>(ttl >> 24),
                static_cast<uint8_t>(ttl >> 16), static_cast<uint8_t>(ttl >> 8), static_cast<uint8_t>(ttl), 0, 4});
  query.insert(query.end(), ipv4.begin(), ipv4.end());
  return query;
}

namespace {

constexpr size_t kIpTextMax = 46;  // INET6_ADDRSTRLEN, "ffff:...:255.255.255.255" and its NUL

char* FormatIpv4(const uint8_t* a, char* p) {
  for (int i = 0; i < 4; ++i) {
    if (i > 0) *p++ = '.';
    const unsigned v = a[i];
    if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
    if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
    *p++ = static_cast<char>('0' + v % 10);
  }
  return p;
}

// "%x": no leading zeros.
char* FormatHexWord(unsigned v, char* p) {
  static constexpr char kHex[] = "0123456789abcdef";
  int shift = 12;
  while (shift > 0 && (v >> shift) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) *p++ = kHex[(v >> shift) & 0xf];
  return p;
}

// inet_ntop6: the longest run of zero words (the first of equal ones), at
// least two long, becomes "::"; an address whose first 80 bits are zero
// and whose next 16 are zero or ffff ends in dotted IPv4.
char* FormatIpv6(const uint8_t* a, char* p) {
  unsigned words[8];
  for (int i = 0; i < 8; ++i) words[i] = static_cast<unsigned>(a[2 * i]) << 8 | a[2 * i + 1];
  int best = -1;
  int best_len = 0;
  for (int i = 0; i < 8;) {
    if (words[i] != 0) {
      ++i;
      continue;
    }
    int end = i;
    while (end < 8 && words[end] == 0) ++end;
    if (end - i > best_len) {
      best = i;
      best_len = end - i;
    }
    i = end;
  }
  if (best_len < 2) best = -1;
  for (int i = 0; i < 8; ++i) {
    if (best >= 0 && i >= best && i < best + best_len) {
      if (i == best) *p++ = ':';
      continue;
    }
    if (i != 0) *p++ = ':';
    if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))) {
      return FormatIpv4(a + 12, p);
    }
    p = FormatHexWord(words[i], p);
  }
  if (best >= 0 && best + best_len == 8) *p++ = ':';
  return p;
}

}  // namespace

void AssignIp(absl::Span<const uint8_t> addr, std::string& out) {
  char buf[kIpTextMax];
  char* end = buf;
  if (addr.size() == 4) {
    end = FormatIpv4(addr.data(), buf);
  } else if (addr.size() == 16) {
    end = FormatIpv6(addr.data(), buf);
  }
  out.assign(buf, end - buf);
}

std::string IpString(absl::Span<const uint8_t> addr) {
  std::string out;
  AssignIp(addr, out);
  return out;
}

}  // namespace vigil::decode
