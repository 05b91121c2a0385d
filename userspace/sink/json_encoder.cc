#include "sink/json_encoder.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "common/wire.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"
#include "vigil/v1/event.pb.h"
#include "vigil/v1/file.pb.h"

namespace vigil {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

struct MessageTable;

struct FieldEntry {
  const FieldDescriptor* field;
  std::string key;                        // "\"jsonName\":"
  const MessageTable* message = nullptr;  // message fields and map values of message type
  bool timestamp = false;
  bool process = false;  // vigil.v1.Process: AppendProcess
  bool map = false;
  int oneof = -1;  // index of the (real, not proto3-optional) oneof it is a member of
  // The descriptor's answers, asked once (has_presence() is not inline).
  FieldDescriptor::Type type = FieldDescriptor::TYPE_INT32;
  bool repeated = false;
  bool presence = false;
  uint32_t number = 0;
};

struct MessageTable {
  std::vector<FieldEntry> fields;  // in field-number order, as protobuf prints them (a map entry: key, value)
};

// Tables live as long as the process, like the descriptors they describe.
class Tables {
 public:
  const MessageTable* Get(const Descriptor* d) {
    absl::MutexLock lock(&mu_);
    return BuildLocked(d);
  }

 private:
  MessageTable* BuildLocked(const Descriptor* d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = tables_.find(d);
    if (it != tables_.end()) return it->second.get();
    MessageTable* table = tables_.emplace(d, std::make_unique<MessageTable>()).first->second.get();
    std::vector<const FieldDescriptor*> fields;
    for (int i = 0; i < d->field_count(); ++i) fields.push_back(d->field(i));
    std::sort(fields.begin(), fields.end(),
              [](const FieldDescriptor* a, const FieldDescriptor* b) { return a->number() < b->number(); });
    table->fields.reserve(fields.size());
    for (const FieldDescriptor* f : fields) {
      FieldEntry e{f, "\"" + f->json_name() + "\":"};
      if (const auto* o = f->real_containing_oneof()) e.oneof = o->index();
      e.type = f->type();
      e.number = static_cast<uint32_t>(f->number());
      e.repeated = f->is_repeated();
      e.presence = f->has_presence();
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        if (f->is_map()) {
          e.map = true;
          e.message = BuildLocked(f->message_type());
        } else if (f->message_type() == google::protobuf::Timestamp::descriptor()) {
          e.timestamp = true;
        } else {
          e.process = f->message_type() == v1::Process::descriptor();
          e.message = BuildLocked(f->message_type());
        }
      }
      table->fields.push_back(std::move(e));
    }
    return table;
  }

  absl::Mutex mu_;
  absl::flat_hash_map<const Descriptor*, std::unique_ptr<MessageTable>> tables_ ABSL_GUARDED_BY(mu_);
};

const MessageTable* TableFor(const Descriptor* d) {
  // One message type (vigil.v1.Event) is nearly all a thread encodes.
  thread_local const Descriptor* last = nullptr;
  thread_local const MessageTable* last_table = nullptr;
  if (d == last) return last_table;
  static Tables* tables = new Tables();
  last_table = tables->Get(d);
  last = d;
  return last_table;
}

// Where the encoders write: a buffer on the stack, written through a pointer
// and appended to the caller's string when full and at the end. Appending a
// character at a time to the std::string was an out-of-line call each
// (~8 % of the collector's file lane).
class JsonOut {
 public:
  explicit JsonOut(std::string& out) : out_(out) {}
  ~JsonOut() { Flush(); }
  JsonOut(const JsonOut&) = delete;
  JsonOut& operator=(const JsonOut&) = delete;

  ABSL_ATTRIBUTE_ALWAYS_INLINE void Put(char c) {
    if (ABSL_PREDICT_FALSE(p_ == std::end(buf_))) Flush();
    *p_++ = c;
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Put(const char* s, size_t n) {
    if (ABSL_PREDICT_FALSE(static_cast<size_t>(std::end(buf_) - p_) < n)) return PutLong(s, n);
    // Keys and most runs are short: two overlapping fixed-size copies
    // instead of a call to memcpy for a length it does not know.
    if (n >= 8 && n <= 16) {
      std::memcpy(p_, s, 8);
      std::memcpy(p_ + n - 8, s + n - 8, 8);
    } else if (n >= 4 && n < 8) {
      std::memcpy(p_, s, 4);
      std::memcpy(p_ + n - 4, s + n - 4, 4);
    } else if (n != 0) {  // an empty string_view's data may be null: no memcpy then
      std::memcpy(p_, s, n);
    }
    p_ += n;
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Put(absl::string_view s) { Put(s.data(), s.size()); }

  // Room for `n` (at most kMaxReserve) bytes at the returned pointer; Commit
  // says where the writing ended.
  static constexpr size_t kMaxReserve = 64;
  ABSL_ATTRIBUTE_ALWAYS_INLINE char* Reserve(size_t n) {
    if (ABSL_PREDICT_FALSE(static_cast<size_t>(std::end(buf_) - p_) < n)) Flush();
    return p_;
  }
  void Commit(char* end) { p_ = end; }

  // What has been written so far, and going back to an earlier position.
  size_t Position() const { return out_.size() + static_cast<size_t>(p_ - buf_); }
  void Rewind(size_t position) {
    if (position >= out_.size()) {
      p_ = buf_ + (position - out_.size());
    } else {
      out_.resize(position);
      p_ = buf_;
    }
  }

 private:
  ABSL_ATTRIBUTE_NOINLINE void Flush() {
    out_.append(buf_, static_cast<size_t>(p_ - buf_));
    p_ = buf_;
  }
  ABSL_ATTRIBUTE_NOINLINE void PutLong(const char* s, size_t n) {
    Flush();
    if (n > sizeof(buf_)) {
      out_.append(s, n);
      return;
    }
    std::memcpy(p_, s, n);
    p_ += n;
  }

  std::string& out_;
  char buf_[4096];
  char* p_ = buf_;
};

// Code points protobuf's printer writes as \u escapes besides the ASCII
// controls: C1 controls, format and invisible characters (measured against
// protobuf 3.21 over every code point; json_encoder_test keeps that true).
constexpr std::array<std::pair<uint32_t, uint32_t>, 15> kEscapedRanges = {{
    {0x80, 0x9F},
    {0xAD, 0xAD},
    {0x600, 0x603},
    {0x6DD, 0x6DD},
    {0x70F, 0x70F},
    {0x17B4, 0x17B5},
    {0x200B, 0x200F},
    {0x2028, 0x202E},
    {0x2060, 0x2064},
    {0x206A, 0x206F},
    {0xFEFF, 0xFEFF},
    {0xFFF9, 0xFFFB},
    {0x1D173, 0x1D17A},
    {0xE0001, 0xE0001},
    {0xE0020, 0xE007F},
}};

bool Escaped(uint32_t cp) {
  for (const auto& [lo, hi] : kEscapedRanges) {
    if (cp < lo) return false;
    if (cp <= hi) return true;
  }
  return false;
}

void AppendU16Escape(uint32_t unit, JsonOut& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char s[6] = {'\\',           'u', kHex[(unit >> 12) & 15], kHex[(unit >> 8) & 15], kHex[(unit >> 4) & 15],
                     kHex[unit & 15]};
  out.Put(s, 6);
}

// What each ASCII byte becomes: 0 = itself, 1 = \u00XX, else the escape letter.
constexpr std::array<char, 128> MakeAsciiTable() {
  std::array<char, 128> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 1;
  t['\b'] = 'b';
  t['\t'] = 't';
  t['\n'] = 'n';
  t['\f'] = 'f';
  t['\r'] = 'r';
  t['"'] = '"';
  t['\\'] = '\\';
  t['<'] = 1;
  t['>'] = 1;
  t[0x7f] = 1;
  return t;
}
constexpr std::array<char, 128> kAscii = MakeAsciiTable();

// A high bit set in each of the 8 bytes at `p` that kAscii escapes or that is
// not ASCII: below 0x20 or from 0x7F, '"', '\\', '<' and '>' (Bit Twiddling
// Hacks, "determine if a word has a byte less than n" / "equal to n"). A
// borrow can flag a byte above one that is flagged rightly, never below, so
// the lowest flag is exact: the first byte that needs a closer look.
uint64_t SpecialBytes8(const unsigned char* p) {
  static_assert(std::endian::native == std::endian::little, "the first byte is the lowest");
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  uint64_t x;
  std::memcpy(&x, p, 8);
  auto less = [x](uint64_t n) { return (x - kOnes * n) & ~x; };
  auto equal = [&](uint64_t c) {
    const uint64_t v = x ^ (kOnes * c);
    return (v - kOnes) & ~v;
  };
  return (x | less(0x20) | equal(0x7F) | equal('"') | equal('\\') | equal('<') | equal('>')) & kHigh;
}

// Decodes one UTF-8 sequence at s[i..n); 0 when it is not valid UTF-8.
size_t DecodeUtf8(const unsigned char* s, size_t i, size_t n, uint32_t& cp) {
  const unsigned char c = s[i];
  size_t len;
  uint32_t min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((s[i + k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i + k] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// With `replace_invalid`, a byte that starts no valid UTF-8 sequence becomes
// U+FFFD; without, it fails the string.
bool AppendString(absl::string_view s, JsonOut& out, bool replace_invalid = false) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  out.Put('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < n;) {
    // Eight bytes at a time: most strings have nothing to escape, and the
    // rest little (a command line's quotes), so go straight to the next byte
    // that needs a look.
    if (n - i >= 8) {
      const uint64_t special = SpecialBytes8(p + i);
      if (special == 0) {
        i += 8;
        continue;
      }
      i += static_cast<size_t>(std::countr_zero(special)) / 8;
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      const char e = kAscii[c];
      if (e == 0) {
        ++i;
        continue;
      }
      out.Put(s.data() + run, i - run);
      if (e == 1) {
        AppendU16Escape(c, out);
      } else {
        const char esc[2] = {'\\', e};
        out.Put(esc, 2);
      }
      run = ++i;
      continue;
    }
    uint32_t cp;
    const size_t len = DecodeUtf8(p, i, n, cp);
    if (len == 0) {
      if (!replace_invalid) return false;
      out.Put(s.data() + run, i - run);
      out.Put("\xEF\xBF\xBD");
      run = ++i;
      continue;
    }
    if (Escaped(cp)) {
      out.Put(s.data() + run, i - run);
      if (cp >= 0x10000) {
        AppendU16Escape(0xD800 + ((cp - 0x10000) >> 10), out);
        AppendU16Escape(0xDC00 + ((cp - 0x10000) & 0x3FF), out);
      } else {
        AppendU16Escape(cp, out);
      }
      run = i + len;
    }
    i += len;
  }
  out.Put(s.data() + run, n - run);
  out.Put('"');
  return true;
}

template <typename T>
void AppendNumber(T v, JsonOut& out) {
  static_assert(absl::numbers_internal::kFastToBufferSize <= JsonOut::kMaxReserve);
  out.Commit(absl::numbers_internal::FastIntToBuffer(v, out.Reserve(absl::numbers_internal::kFastToBufferSize)));
}

template <typename T>
void AppendQuotedNumber(T v, JsonOut& out) {
  out.Put('"');
  AppendNumber(v, out);
  out.Put('"');
}

constexpr std::array<char, 200> MakeDigitPairs() {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; ++i) {
    t[2 * i] = static_cast<char>('0' + i / 10);
    t[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return t;
}
constexpr std::array<char, 200> kDigitPairs = MakeDigitPairs();

// `v` in exactly `width` decimal digits, two at a time (a timestamp has 23).
void AppendDigits(uint32_t v, int width, char* dst) {
  int i = width;
  for (; i >= 2; i -= 2) {
    std::memcpy(dst + i - 2, &kDigitPairs[2 * (v % 100)], 2);
    v /= 100;
  }
  if (i == 1) dst[0] = static_cast<char>('0' + v % 10);
}

// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf prints.
bool AppendTimestamp(int64_t seconds, int32_t nanos, JsonOut& out) {
  // 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, as protobuf accepts.
  if (seconds < -62135596800 || seconds > 253402300799 || nanos < 0 || nanos > 999999999) return false;
  int64_t days = seconds / 86400;
  int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const uint32_t doe = static_cast<uint32_t>(z - era * 146097);
  const uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const uint32_t mp = (5 * doy + 2) / 153;
  const uint32_t day = doy - (153 * mp + 2) / 5 + 1;
  const uint32_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = static_cast<int64_t>(yoe) + era * 400 + (month <= 2);
  char buf[32] = "\"0000-00-00T00:00:00";
  AppendDigits(static_cast<uint32_t>(year), 4, buf + 1);
  AppendDigits(month, 2, buf + 6);
  AppendDigits(day, 2, buf + 9);
  AppendDigits(static_cast<uint32_t>(rem / 3600), 2, buf + 12);
  AppendDigits(static_cast<uint32_t>(rem / 60 % 60), 2, buf + 15);
  AppendDigits(static_cast<uint32_t>(rem % 60), 2, buf + 18);
  size_t len = 20;
  if (nanos != 0) {
    buf[len++] = '.';
    if (nanos % 1000000 == 0) {
      AppendDigits(nanos / 1000000, 3, buf + len);
      len += 3;
    } else if (nanos % 1000 == 0) {
      AppendDigits(nanos / 1000, 6, buf + len);
      len += 6;
    } else {
      AppendDigits(nanos, 9, buf + len);
      len += 9;
    }
  }
  buf[len++] = 'Z';
  buf[len++] = '"';
  out.Put(buf, len);
  return true;
}

bool AppendTimestamp(const google::protobuf::Timestamp& ts, JsonOut& out) {
  return AppendTimestamp(ts.seconds(), ts.nanos(), out);
}

// A separator and a key: ',' before every member but the first.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Key(const char* key, size_t len, bool& first, JsonOut& out) {
  if (!first) out.Put(',');
  first = false;
  out.Put(key, len);
}
#define VIGIL_KEY(k) Key("\"" k "\":", sizeof("\"" k "\":") - 1, first, out)

// The process is most of an event's bytes (the event's own, and each
// ancestor's): written through the generated accessors rather than
// reflection. json_encoder_test compares it with protobuf's on random ones.
bool EncodeProcess(const v1::Process& p, JsonOut& out) {
  static_assert(v1::Process::kNsPidFieldNumber == 16, "a field was added to Process: add it here too");
  out.Put('{');
  bool first = true;
  if (p.pid() != 0) VIGIL_KEY("pid"), AppendNumber(p.pid(), out);
  if (p.tid() != 0) VIGIL_KEY("tid"), AppendNumber(p.tid(), out);
  if (p.ppid() != 0) VIGIL_KEY("ppid"), AppendNumber(p.ppid(), out);
  if (p.has_uid()) VIGIL_KEY("uid"), AppendNumber(p.uid(), out);
  if (p.has_gid()) VIGIL_KEY("gid"), AppendNumber(p.gid(), out);
  if (p.has_euid()) VIGIL_KEY("euid"), AppendNumber(p.euid(), out);
  if (p.has_egid()) VIGIL_KEY("egid"), AppendNumber(p.egid(), out);
  if (!p.comm().empty() && (VIGIL_KEY("comm"), !AppendString(p.comm(), out))) return false;
  if (!p.exe().empty() && (VIGIL_KEY("exe"), !AppendString(p.exe(), out))) return false;
  if (p.argv_size() > 0) {
    VIGIL_KEY("argv");
    out.Put('[');
    for (int i = 0; i < p.argv_size(); ++i) {
      if (i > 0) out.Put(',');
      if (!AppendString(p.argv(i), out)) return false;
    }
    out.Put(']');
  }
  if (p.argv_truncated()) VIGIL_KEY("argvTruncated"), out.Put("true");
  if (!p.cwd().empty() && (VIGIL_KEY("cwd"), !AppendString(p.cwd(), out))) return false;
  if (!p.exec_id().empty() && (VIGIL_KEY("execId"), !AppendString(p.exec_id(), out))) return false;
  if (!p.parent_exec_id().empty() && (VIGIL_KEY("parentExecId"), !AppendString(p.parent_exec_id(), out))) return false;
  if (p.has_start_time() && (VIGIL_KEY("startTime"), !AppendTimestamp(p.start_time(), out))) return false;
  if (p.ns_pid() != 0) VIGIL_KEY("nsPid"), AppendNumber(p.ns_pid(), out);
  out.Put('}');
  return true;
}

// A value as a key: its numbers, then its strings, each after its length.
// Two values print alike when their keys are equal. Comparing a value with a
// key is a few hundred instructions; printing it again a few thousand for a
// process (string escapes, UTF-8 checks, numbers and a timestamp).
using ProcessNumbers = std::array<uint32_t, 13>;

ProcessNumbers NumbersOf(const v1::Process& p) {
  static_assert(v1::Process::kNsPidFieldNumber == 16, "a field was added to Process: add it to its key too");
  const auto seconds = static_cast<uint64_t>(p.start_time().seconds());
  const uint32_t flags = (p.has_uid() ? 1u : 0u) | (p.has_gid() ? 2u : 0u) | (p.has_euid() ? 4u : 0u) |
                         (p.has_egid() ? 8u : 0u) | (p.has_start_time() ? 16u : 0u) | (p.argv_truncated() ? 32u : 0u);
  return {p.pid(),
          p.tid(),
          p.ppid(),
          p.ns_pid(),
          p.uid(),
          p.gid(),
          p.euid(),
          p.egid(),
          static_cast<uint32_t>(seconds),
          static_cast<uint32_t>(seconds >> 32),
          static_cast<uint32_t>(p.start_time().nanos()),
          flags,
          static_cast<uint32_t>(p.argv_size())};
}

// Stops early when `f` returns false; returns whether it never did.
template <typename F>
bool ForEachString(const v1::Process& p, F f) {
  if (!f(p.comm()) || !f(p.exe()) || !f(p.cwd()) || !f(p.exec_id()) || !f(p.parent_exec_id())) return false;
  for (const std::string& arg : p.argv()) {
    if (!f(arg)) return false;
  }
  return true;
}

using WorkloadNumbers = std::array<uint32_t, 6>;

WorkloadNumbers NumbersOf(const v1::Workload& w) {
  static_assert(v1::Workload::kMetadataPendingFieldNumber == 14,
                "a field was added to Workload: add it to its key too");
  return {static_cast<uint32_t>(w.cgroup_id()),
          static_cast<uint32_t>(w.cgroup_id() >> 32),
          w.pid_ns(),
          w.mnt_ns(),
          w.net_ns(),
          (w.host() ? 1u : 0u) | (w.metadata_pending() ? 2u : 0u)};
}

template <typename F>
bool ForEachString(const v1::Workload& w, F f) {
  return f(w.container_id()) && f(w.container_name()) && f(w.image()) && f(w.pod_name()) && f(w.pod_namespace()) &&
         f(w.pod_uid()) && f(w.runtime()) && f(w.image_digest());
}

template <typename T>
void AssignKey(const T& value, std::string& key) {
  const auto numbers = NumbersOf(value);
  key.assign(reinterpret_cast<const char*>(numbers.data()), sizeof(numbers));
  ForEachString(value, [&key](const std::string& s) {
    const auto n = static_cast<uint32_t>(s.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof(n));
    key.append(s);
    return true;
  });
}

template <typename T>
bool MatchesKey(const T& value, absl::string_view key) {
  const auto numbers = NumbersOf(value);
  if (key.size() < sizeof(numbers) || std::memcmp(key.data(), numbers.data(), sizeof(numbers)) != 0) return false;
  key.remove_prefix(sizeof(numbers));
  return ForEachString(value,
                       [&key](const std::string& s) {
                         const auto n = static_cast<uint32_t>(s.size());
                         if (key.size() < sizeof(n) + n || std::memcmp(key.data(), &n, sizeof(n)) != 0 ||
                             std::memcmp(key.data() + sizeof(n), s.data(), n) != 0) {
                           return false;
                         }
                         key.remove_prefix(sizeof(n) + n);
                         return true;
                       }) &&
         key.empty();
}

// The JSON of the values of one type a thread printed last, kept in sets of
// two by a hash of their identity. A new value takes its set's slot of the
// same identity (a process before its exec), else the one used less
// recently: two values that hash alike (a shell and its parent, a few pids
// apart) both stay, instead of pushing each other out on every event that
// prints both.
template <size_t kSlots>
class JsonMemo {
 public:
  static_assert(std::has_single_bit(kSlots) && kSlots >= 2);
  // Values with more text than this are printed each time, not kept: what a
  // peer sends the collector can be long, and the memo stays small.
  static constexpr size_t kMaxText = 2048;

  struct Slot {
    std::string key;  // AssignKey's; empty while `json` is not its value's
    std::string json;
    uint64_t identity = 0;
  };

  // Prints `value` with `encode` into a slot unless a slot holds it.
  template <typename T, typename Encode>
  bool Append(const T& value, uint64_t identity, Encode encode, JsonOut& out) {
    Set& set = sets_[absl::HashOf(identity) & (kSets - 1)];
    for (uint8_t way = 0; way < 2; ++way) {
      Slot& slot = set.ways[way];
      if (slot.identity == identity && MatchesKey(value, slot.key)) {  // an empty key matches nothing
        set.recent = way;
        out.Put(slot.json);
        return true;
      }
    }
    size_t text = 0;
    ForEachString(value, [&text](const std::string& s) { return (text += s.size()) <= kMaxText; });
    if (text > kMaxText) return encode(value, out);
    const uint8_t way = Victim(set, identity);
    Slot& slot = set.ways[way];
    slot.key.clear();
    slot.json.clear();
    {
      JsonOut to_slot(slot.json);
      if (!encode(value, to_slot)) return false;
    }
    AssignKey(value, slot.key);
    slot.identity = identity;
    set.recent = way;
    out.Put(slot.json);
    return true;
  }

 private:
  static constexpr size_t kSets = kSlots / 2;
  struct Set {
    std::array<Slot, 2> ways;
    uint8_t recent = 0;  // the way used last
  };

  static uint8_t Victim(const Set& set, uint64_t identity) {
    if (set.ways[0].identity == identity) return 0;
    if (set.ways[1].identity == identity) return 1;
    return static_cast<uint8_t>(set.recent ^ 1);
  }

  std::array<Set, kSets> sets_;
};

// Most processes a node prints are printed again and again, unchanged: the
// ancestors of every exec (a shell's children all carry the shell and its
// own ancestors), and the process of each file, network and exit event
// after its exec. Ancestors have their arguments cut at 1 KiB: most fit.
bool AppendProcess(const v1::Process& p, JsonOut& out) {
  if (p.exec_id().empty()) return EncodeProcess(p, out);  // no identity to keep it by
  thread_local JsonMemo<64> memo;
  const uint64_t identity = (uint64_t{p.pid()} << 32) ^ static_cast<uint64_t>(p.start_time().seconds()) ^
                            static_cast<uint64_t>(p.start_time().nanos());
  return memo.Append(p, identity, EncodeProcess, out);
}

// In every event, as the process is.
bool EncodeWorkload(const v1::Workload& w, JsonOut& out) {
  static_assert(v1::Workload::kMetadataPendingFieldNumber == 14, "a field was added to Workload: add it here too");
  out.Put('{');
  bool first = true;
  if (w.cgroup_id() != 0) VIGIL_KEY("cgroupId"), AppendQuotedNumber(w.cgroup_id(), out);
  if (w.host()) VIGIL_KEY("host"), out.Put("true");
  if (!w.container_id().empty() && (VIGIL_KEY("containerId"), !AppendString(w.container_id(), out))) return false;
  if (!w.container_name().empty() && (VIGIL_KEY("containerName"), !AppendString(w.container_name(), out))) return false;
  if (!w.image().empty() && (VIGIL_KEY("image"), !AppendString(w.image(), out))) return false;
  if (!w.pod_name().empty() && (VIGIL_KEY("podName"), !AppendString(w.pod_name(), out))) return false;
  if (!w.pod_namespace().empty() && (VIGIL_KEY("podNamespace"), !AppendString(w.pod_namespace(), out))) return false;
  if (!w.pod_uid().empty() && (VIGIL_KEY("podUid"), !AppendString(w.pod_uid(), out))) return false;
  if (w.pid_ns() != 0) VIGIL_KEY("pidNs"), AppendNumber(w.pid_ns(), out);
  if (w.mnt_ns() != 0) VIGIL_KEY("mntNs"), AppendNumber(w.mnt_ns(), out);
  if (w.net_ns() != 0) VIGIL_KEY("netNs"), AppendNumber(w.net_ns(), out);
  if (!w.runtime().empty() && (VIGIL_KEY("runtime"), !AppendString(w.runtime(), out))) return false;
  if (!w.image_digest().empty() && (VIGIL_KEY("imageDigest"), !AppendString(w.image_digest(), out))) return false;
  if (w.metadata_pending()) VIGIL_KEY("metadataPending"), out.Put("true");
  out.Put('}');
  return true;
}

// A node's events come from a few cgroups at a time, each printing the same
// workload (five numbers on the host; a container's and its pod's names and
// ids in a container) on every event.
bool AppendWorkload(const v1::Workload& w, JsonOut& out) {
  thread_local JsonMemo<16> memo;
  return memo.Append(w, w.cgroup_id() ^ (uint64_t{w.mnt_ns()} << 32), EncodeWorkload, out);
}

// An enum value by name, or by number when the enum names none. The names
// of small non-negative numbers (every value Vigil's enums have) are looked
// up in a table: the descriptor's lookup, a hash probe, cost an event kind
// ~20 instructions and more cache misses than the rest of its line.
template <typename E>
void AppendEnum(E v, JsonOut& out) {
  static const google::protobuf::EnumDescriptor* const type = google::protobuf::GetEnumDescriptor<E>();
  static const std::vector<const std::string*> kNames = [] {
    std::vector<const std::string*> names;
    for (int i = 0; i < type->value_count(); ++i) {
      const int number = type->value(i)->number();
      if (number < 0 || number >= 1024) continue;
      if (names.size() <= static_cast<size_t>(number)) names.resize(number + 1, nullptr);
      if (names[number] == nullptr) names[number] = &type->value(i)->name();  // the first of aliases, as protobuf
    }
    return names;
  }();
  const auto number = static_cast<int>(v);
  const std::string* name = nullptr;
  if (number >= 0 && static_cast<size_t>(number) < kNames.size()) {
    name = kNames[number];
  } else if (const google::protobuf::EnumValueDescriptor* value = type->FindValueByNumber(number)) {
    name = &value->name();
  }
  if (name == nullptr) return AppendNumber(static_cast<int32_t>(v), out);
  out.Put('"');
  out.Put(*name);
  out.Put('"');
}

// The payloads of most events (exec, fork, exit, the file family's, TCP
// connections) and what they hold, as the process is: through the generated
// accessors. Reflection asked each field whether it was set, ~1,500
// instructions for a StdioFd of two fields.
bool AppendSocketAddress(const v1::SocketAddress& a, JsonOut& out) {
  static_assert(v1::SocketAddress::kPortFieldNumber == 2, "a field was added to SocketAddress: add it here too");
  out.Put('{');
  bool first = true;
  if (!a.ip().empty() && (VIGIL_KEY("ip"), !AppendString(a.ip(), out))) return false;
  if (a.port() != 0) VIGIL_KEY("port"), AppendNumber(a.port(), out);
  out.Put('}');
  return true;
}

bool AppendStdioFd(const v1::StdioFd& s, JsonOut& out) {
  static_assert(v1::StdioFd::kRemoteFieldNumber == 6, "a field was added to StdioFd: add it here too");
  out.Put('{');
  bool first = true;
  if (s.fd() != 0) VIGIL_KEY("fd"), AppendNumber(s.fd(), out);
  if (s.type() != 0) VIGIL_KEY("type"), AppendEnum(s.type(), out);
  if (!s.family().empty() && (VIGIL_KEY("family"), !AppendString(s.family(), out))) return false;
  if (!s.protocol().empty() && (VIGIL_KEY("protocol"), !AppendString(s.protocol(), out))) return false;
  if (s.has_local() && (VIGIL_KEY("local"), !AppendSocketAddress(s.local(), out))) return false;
  if (s.has_remote() && (VIGIL_KEY("remote"), !AppendSocketAddress(s.remote(), out))) return false;
  out.Put('}');
  return true;
}

bool AppendFork(const v1::Fork& f, JsonOut& out) {
  static_assert(v1::Fork::kParentTidFieldNumber == 1, "a field was added to Fork: add it here too");
  out.Put('{');
  bool first = true;
  if (f.parent_tid() != 0) VIGIL_KEY("parentTid"), AppendNumber(f.parent_tid(), out);
  out.Put('}');
  return true;
}

bool AppendExit(const v1::Exit& x, JsonOut& out) {
  static_assert(v1::Exit::kCoreDumpedFieldNumber == 3, "a field was added to Exit: add it here too");
  out.Put('{');
  bool first = true;
  if (x.has_exit_code()) VIGIL_KEY("exitCode"), AppendNumber(x.exit_code(), out);
  if (x.has_signal()) VIGIL_KEY("signal"), AppendNumber(x.signal(), out);
  if (x.core_dumped()) VIGIL_KEY("coreDumped"), out.Put("true");
  out.Put('}');
  return true;
}

bool AppendTcpConnect(const v1::TcpConnect& c, JsonOut& out) {
  static_assert(v1::TcpConnect::kRemoteNameFieldNumber == 6, "a field was added to TcpConnect: add it here too");
  out.Put('{');
  bool first = true;
  if (!c.family().empty() && (VIGIL_KEY("family"), !AppendString(c.family(), out))) return false;
  if (c.has_local() && (VIGIL_KEY("local"), !AppendSocketAddress(c.local(), out))) return false;
  if (c.has_remote() && (VIGIL_KEY("remote"), !AppendSocketAddress(c.remote(), out))) return false;
  if (c.result() != 0) VIGIL_KEY("result"), AppendEnum(c.result(), out);
  if (c.error() != 0) VIGIL_KEY("error"), AppendNumber(c.error(), out);
  if (!c.remote_name().empty() && (VIGIL_KEY("remoteName"), !AppendString(c.remote_name(), out))) return false;
  out.Put('}');
  return true;
}

bool AppendTcpAccept(const v1::TcpAccept& a, JsonOut& out) {
  static_assert(v1::TcpAccept::kRemoteFieldNumber == 3, "a field was added to TcpAccept: add it here too");
  out.Put('{');
  bool first = true;
  if (!a.family().empty() && (VIGIL_KEY("family"), !AppendString(a.family(), out))) return false;
  if (a.has_local() && (VIGIL_KEY("local"), !AppendSocketAddress(a.local(), out))) return false;
  if (a.has_remote() && (VIGIL_KEY("remote"), !AppendSocketAddress(a.remote(), out))) return false;
  out.Put('}');
  return true;
}

bool AppendTcpClose(const v1::TcpClose& c, JsonOut& out) {
  static_assert(v1::TcpClose::kBytesReceivedFieldNumber == 7, "a field was added to TcpClose: add it here too");
  out.Put('{');
  bool first = true;
  if (!c.family().empty() && (VIGIL_KEY("family"), !AppendString(c.family(), out))) return false;
  if (c.has_local() && (VIGIL_KEY("local"), !AppendSocketAddress(c.local(), out))) return false;
  if (c.has_remote() && (VIGIL_KEY("remote"), !AppendSocketAddress(c.remote(), out))) return false;
  if (c.inbound()) VIGIL_KEY("inbound"), out.Put("true");
  if (c.duration_ns() != 0) VIGIL_KEY("durationNs"), AppendQuotedNumber(c.duration_ns(), out);
  if (c.bytes_sent() != 0) VIGIL_KEY("bytesSent"), AppendQuotedNumber(c.bytes_sent(), out);
  if (c.bytes_received() != 0) VIGIL_KEY("bytesReceived"), AppendQuotedNumber(c.bytes_received(), out);
  out.Put('}');
  return true;
}

bool AppendExec(const v1::Exec& x, JsonOut& out) {
  static_assert(v1::Exec::kFileCapsFieldNumber == 10, "a field was added to Exec: add it here too");
  out.Put('{');
  bool first = true;
  if (!x.filename().empty() && (VIGIL_KEY("filename"), !AppendString(x.filename(), out))) return false;
  if (x.argc() != 0) VIGIL_KEY("argc"), AppendNumber(x.argc(), out);
  if (x.filename_truncated()) VIGIL_KEY("filenameTruncated"), out.Put("true");
  if (x.stdio_size() > 0) {
    VIGIL_KEY("stdio");
    out.Put('[');
    for (int i = 0; i < x.stdio_size(); ++i) {
      if (i > 0) out.Put(',');
      if (!AppendStdioFd(x.stdio(i), out)) return false;
    }
    out.Put(']');
  }
  if (x.upper_layer()) VIGIL_KEY("upperLayer"), out.Put("true");
  if (x.memfd()) VIGIL_KEY("memfd"), out.Put("true");
  if (x.deleted()) VIGIL_KEY("deleted"), out.Put("true");
  if (x.setuid()) VIGIL_KEY("setuid"), out.Put("true");
  if (x.setgid()) VIGIL_KEY("setgid"), out.Put("true");
  if (x.file_caps()) VIGIL_KEY("fileCaps"), out.Put("true");
  out.Put('}');
  return true;
}

bool AppendFile(const v1::File& f, JsonOut& out) {
  static_assert(v1::File::kPathTruncatedFieldNumber == 12, "a field was added to File: add it here too");
  out.Put('{');
  bool first = true;
  if (!f.path().empty() && (VIGIL_KEY("path"), !AppendString(f.path(), out))) return false;
  if (!f.new_path().empty() && (VIGIL_KEY("newPath"), !AppendString(f.new_path(), out))) return false;
  if (!f.syscall().empty() && (VIGIL_KEY("syscall"), !AppendString(f.syscall(), out))) return false;
  if (f.result() != 0) VIGIL_KEY("result"), AppendQuotedNumber(f.result(), out);
  if (!f.error().empty() && (VIGIL_KEY("error"), !AppendString(f.error(), out))) return false;
  if (f.flags() != 0) VIGIL_KEY("flags"), AppendNumber(f.flags(), out);
  if (f.open_flags_size() > 0) {
    VIGIL_KEY("openFlags");
    out.Put('[');
    for (int i = 0; i < f.open_flags_size(); ++i) {
      if (i > 0) out.Put(',');
      if (!AppendString(f.open_flags(i), out)) return false;
    }
    out.Put(']');
  }
  if (f.has_mode()) VIGIL_KEY("mode"), AppendNumber(f.mode(), out);
  if (f.has_uid()) VIGIL_KEY("uid"), AppendNumber(f.uid(), out);
  if (f.has_gid()) VIGIL_KEY("gid"), AppendNumber(f.gid(), out);
  if (f.sensitive()) VIGIL_KEY("sensitive"), out.Put("true");
  if (f.path_truncated()) VIGIL_KEY("pathTruncated"), out.Put("true");
  out.Put('}');
  return true;
}

bool AppendMessage(const Message& m, const MessageTable& table, JsonOut& out);

// The event's own fields through the generated accessors, and its payload,
// the one member of the oneof that is set, found by its case rather than by
// asking reflection about each of the oneof's members in turn; the common
// ones through their own encoders, the rest through reflection.
bool AppendEvent(const v1::Event& e, JsonOut& out) {
  static_assert(v1::Event::kAncestorsFieldNumber == 7, "a field was added to Event: add it here too");
  // The payloads by field number, from the reflection table.
  static const auto* payloads = [] {
    auto* by_number = new absl::flat_hash_map<int, const FieldEntry*>();
    for (const FieldEntry& f : TableFor(v1::Event::descriptor())->fields) {
      if (f.field->containing_oneof() != nullptr) (*by_number)[f.field->number()] = &f;
    }
    return by_number;
  }();
  out.Put('{');
  bool first = true;
  if (!e.id().empty() && (VIGIL_KEY("id"), !AppendString(e.id(), out))) return false;
  if (e.kind() != 0) VIGIL_KEY("kind"), AppendEnum(e.kind(), out);
  if (e.has_time() && (VIGIL_KEY("time"), !AppendTimestamp(e.time(), out))) return false;
  if (!e.node().empty() && (VIGIL_KEY("node"), !AppendString(e.node(), out))) return false;
  if (e.has_process() && (VIGIL_KEY("process"), !AppendProcess(e.process(), out))) return false;
  if (e.has_workload() && (VIGIL_KEY("workload"), !AppendWorkload(e.workload(), out))) return false;
  if (e.ancestors_size() > 0) {
    VIGIL_KEY("ancestors");
    out.Put('[');
    for (int i = 0; i < e.ancestors_size(); ++i) {
      if (i > 0) out.Put(',');
      if (!AppendProcess(e.ancestors(i), out)) return false;
    }
    out.Put(']');
  }
  switch (e.payload_case()) {
    case v1::Event::PAYLOAD_NOT_SET:
      break;
    case v1::Event::kExec:
      if (VIGIL_KEY("exec"), !AppendExec(e.exec(), out)) return false;
      break;
    case v1::Event::kExit:
      if (VIGIL_KEY("exit"), !AppendExit(e.exit(), out)) return false;
      break;
    case v1::Event::kFork:
      if (VIGIL_KEY("fork"), !AppendFork(e.fork(), out)) return false;
      break;
    case v1::Event::kTcpConnect:
      if (VIGIL_KEY("tcpConnect"), !AppendTcpConnect(e.tcp_connect(), out)) return false;
      break;
    case v1::Event::kTcpAccept:
      if (VIGIL_KEY("tcpAccept"), !AppendTcpAccept(e.tcp_accept(), out)) return false;
      break;
    case v1::Event::kTcpClose:
      if (VIGIL_KEY("tcpClose"), !AppendTcpClose(e.tcp_close(), out)) return false;
      break;
    case v1::Event::kFile:
      if (VIGIL_KEY("file"), !AppendFile(e.file(), out)) return false;
      break;
    default: {
      auto it = payloads->find(static_cast<int>(e.payload_case()));
      if (it == payloads->end()) return false;
      const FieldEntry& f = *it->second;
      if (!first) out.Put(',');
      out.Put(f.key);
      static const Reflection* const reflection = v1::Event::GetReflection();
      if (!AppendMessage(reflection->GetMessage(e, f.field), *f.message, out)) return false;
    }
  }
  out.Put('}');
  return true;
}
#undef VIGIL_KEY

// One value of a field: the field itself when singular, element `index` when repeated.
bool AppendValue(const Message& m, const Reflection* r, const FieldEntry& f, int index, JsonOut& out) {
  const FieldDescriptor* fd = f.field;
  const bool rep = index >= 0;
  switch (fd->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      AppendNumber(rep ? r->GetRepeatedInt32(m, fd, index) : r->GetInt32(m, fd), out);
      return true;
    case FieldDescriptor::CPPTYPE_UINT32:
      AppendNumber(rep ? r->GetRepeatedUInt32(m, fd, index) : r->GetUInt32(m, fd), out);
      return true;
    case FieldDescriptor::CPPTYPE_INT64:
      AppendQuotedNumber(rep ? r->GetRepeatedInt64(m, fd, index) : r->GetInt64(m, fd), out);
      return true;
    case FieldDescriptor::CPPTYPE_UINT64:
      AppendQuotedNumber(rep ? r->GetRepeatedUInt64(m, fd, index) : r->GetUInt64(m, fd), out);
      return true;
    case FieldDescriptor::CPPTYPE_BOOL:
      out.Put((rep ? r->GetRepeatedBool(m, fd, index) : r->GetBool(m, fd)) ? "true" : "false");
      return true;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(m, fd, index) : r->GetEnumValue(m, fd);
      if (const auto* ev = fd->enum_type()->FindValueByNumber(v)) {
        out.Put('"');
        out.Put(ev->name());
        out.Put('"');
      } else {
        AppendNumber(v, out);
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      if (fd->type() == FieldDescriptor::TYPE_BYTES) return false;  // base64: left to protobuf
      std::string scratch;  // unused for generated messages: they return a reference
      return AppendString(
          rep ? r->GetRepeatedStringReference(m, fd, index, &scratch) : r->GetStringReference(m, fd, &scratch), out);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = rep ? r->GetRepeatedMessage(m, fd, index) : r->GetMessage(m, fd);
      if (f.timestamp) return AppendTimestamp(static_cast<const google::protobuf::Timestamp&>(sub), out);
      if (f.process) return AppendProcess(static_cast<const v1::Process&>(sub), out);
      return AppendMessage(sub, *f.message, out);
    }
    default:  // float, double
      return false;
  }
}

bool AppendMap(const Message& m, const FieldEntry& f, int size, JsonOut& out) {
  const Reflection* r = m.GetReflection();
  const FieldEntry& key = f.message->fields[0];
  const FieldEntry& value = f.message->fields[1];
  if (key.field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) return false;
  out.Put('{');
  for (int i = 0; i < size; ++i) {
    if (i > 0) out.Put(',');
    const Message& e = r->GetRepeatedMessage(m, f.field, i);
    std::string scratch;
    if (!AppendString(e.GetReflection()->GetStringReference(e, key.field, &scratch), out)) return false;
    out.Put(':');
    if (!AppendValue(e, e.GetReflection(), value, -1, out)) return false;
  }
  out.Put('}');
  return true;
}

bool AppendMessage(const Message& m, const MessageTable& table, JsonOut& out) {
  const Reflection* r = m.GetReflection();
  out.Put('{');
  bool first = true;
  for (const FieldEntry& f : table.fields) {
    const FieldDescriptor* fd = f.field;
    if (fd->is_repeated()) {
      const int n = r->FieldSize(m, fd);
      if (n == 0) continue;
      if (!first) out.Put(',');
      first = false;
      out.Put(f.key);
      if (f.map) {
        if (!AppendMap(m, f, n, out)) return false;
        continue;
      }
      out.Put('[');
      for (int i = 0; i < n; ++i) {
        if (i > 0) out.Put(',');
        if (!AppendValue(m, r, f, i, out)) return false;
      }
      out.Put(']');
      continue;
    }
    // Proto3 without presence: set when not the default; with presence
    // (optional, messages, oneof members): when present.
    if (!r->HasField(m, fd)) continue;
    if (!first) out.Put(',');
    first = false;
    out.Put(f.key);
    if (!AppendValue(m, r, f, -1, out)) return false;
  }
  out.Put('}');
  return true;
}

// ---- From serialized bytes ----
//
// The same JSON, read straight from the wire: what AppendMessage prints after
// a parse, for bytes as protobuf's serializer writes them. Anything else
// (unknown fields, fields out of number order or repeated, two members of a
// oneof, a wire type that does not fit the field) returns false, and the
// caller parses instead.

// protobuf's default recursion limit.
constexpr int kMaxWireDepth = 100;

bool WireMessage(const MessageTable& table, absl::string_view in, JsonOut& out, int depth);

bool WireTimestamp(absl::string_view in, JsonOut& out) {
  int64_t seconds;
  int32_t nanos;
  return wire::ReadTimestamp(in, seconds, nanos) && AppendTimestamp(seconds, nanos, out);
}

// One value of field `f` with wire type `type`, packed elements aside.
// `is_default` says that it is its type's default (a proto3 field without
// presence then prints nothing).
bool WireValue(const FieldEntry& f, int type, wire::Reader& r, JsonOut& out, int depth, bool& is_default) {
  uint64_t v = 0;
  is_default = false;
  switch (f.type) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_SINT64:
    case FieldDescriptor::TYPE_BOOL:
    case FieldDescriptor::TYPE_ENUM:
      if (type != wire::kVarint || !r.ReadVarint(v)) return false;
      break;
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32: {
      uint32_t v32;
      if (type != wire::kFixed32 || !r.ReadFixed32(v32)) return false;
      v = v32;
      break;
    }
    case FieldDescriptor::TYPE_FIXED64:
    case FieldDescriptor::TYPE_SFIXED64:
      if (type != wire::kFixed64 || !r.ReadFixed64(v)) return false;
      break;
    case FieldDescriptor::TYPE_STRING: {
      absl::string_view text;
      if (type != wire::kLength || !r.ReadLength(text)) return false;
      is_default = text.empty();
      return AppendString(text, out);
    }
    case FieldDescriptor::TYPE_MESSAGE: {
      absl::string_view sub;
      if (type != wire::kLength || !r.ReadLength(sub)) return false;
      if (f.timestamp) return WireTimestamp(sub, out);
      return WireMessage(*f.message, sub, out, depth + 1);
    }
    default:  // float, double, bytes, groups: as AppendValue, left to protobuf
      return false;
  }
  // Integers as the parser stores them: 32-bit fields keep the low 32 bits.
  switch (f.type) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SFIXED32:
      is_default = static_cast<int32_t>(v) == 0;
      AppendNumber(static_cast<int32_t>(v), out);
      return true;
    case FieldDescriptor::TYPE_SINT32: {
      const uint32_t u = static_cast<uint32_t>(v);
      const int32_t i = static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
      is_default = i == 0;
      AppendNumber(i, out);
      return true;
    }
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
      is_default = static_cast<uint32_t>(v) == 0;
      AppendNumber(static_cast<uint32_t>(v), out);
      return true;
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SFIXED64:
      is_default = v == 0;
      AppendQuotedNumber(static_cast<int64_t>(v), out);
      return true;
    case FieldDescriptor::TYPE_SINT64: {
      const int64_t i = static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
      is_default = i == 0;
      AppendQuotedNumber(i, out);
      return true;
    }
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64:
      is_default = v == 0;
      AppendQuotedNumber(v, out);
      return true;
    case FieldDescriptor::TYPE_BOOL:
      is_default = v == 0;
      out.Put(v != 0 ? "true" : "false");
      return true;
    case FieldDescriptor::TYPE_ENUM: {
      const int32_t e = static_cast<int32_t>(v);
      is_default = e == 0;
      if (const auto* ev = f.field->enum_type()->FindValueByNumber(e)) {
        out.Put('"');
        out.Put(ev->name());
        out.Put('"');
      } else {
        AppendNumber(e, out);
      }
      return true;
    }
    default:
      return false;
  }
}

bool Packable(const FieldEntry& f) {
  return f.type != FieldDescriptor::TYPE_STRING && f.type != FieldDescriptor::TYPE_BYTES &&
         f.type != FieldDescriptor::TYPE_MESSAGE && f.type != FieldDescriptor::TYPE_GROUP;
}

// The elements of repeated field `f`: this one, and those right after it
// with the same number (packed or not, as the parser takes either).
bool WireRepeated(const FieldEntry& f, uint32_t number, int type, wire::Reader& r, JsonOut& out, int depth,
                  size_t& count) {
  bool is_default;
  for (;;) {
    if (type == wire::kLength && Packable(f)) {
      absl::string_view packed;
      if (!r.ReadLength(packed)) return false;
      const int element =
          f.type == FieldDescriptor::TYPE_FIXED32 || f.type == FieldDescriptor::TYPE_SFIXED32   ? wire::kFixed32
          : f.type == FieldDescriptor::TYPE_FIXED64 || f.type == FieldDescriptor::TYPE_SFIXED64 ? wire::kFixed64
                                                                                                : wire::kVarint;
      wire::Reader elements(packed);
      while (!elements.done()) {
        if (count++ > 0) out.Put(',');
        if (!WireValue(f, element, elements, out, depth, is_default)) return false;
      }
    } else {
      if (count++ > 0) out.Put(',');
      if (!WireValue(f, type, r, out, depth, is_default)) return false;
    }
    if (r.done()) return true;
    wire::Reader next = r;
    uint32_t n;
    if (!next.ReadTag(n, type) || n != number) return true;
    r = next;
  }
}

bool WireMessage(const MessageTable& table, absl::string_view in, JsonOut& out, int depth) {
  if (depth > kMaxWireDepth) return false;
  wire::Reader r(in);
  out.Put('{');
  bool first = true;
  size_t i = 0;              // fields come in number order, each once
  uint64_t oneofs_seen = 0;  // a bit per oneof: at most one member each
  uint32_t number;
  int type;
  while (!r.done()) {
    if (!r.ReadTag(number, type)) return false;
    while (i < table.fields.size() && table.fields[i].number < number) ++i;
    if (i == table.fields.size() || table.fields[i].number != number) return false;
    const FieldEntry& f = table.fields[i++];
    if (f.oneof >= 0) {
      if (f.oneof >= 64 || (oneofs_seen >> f.oneof & 1)) return false;
      oneofs_seen |= uint64_t{1} << f.oneof;
    }
    const size_t mark = out.Position();
    const bool was_first = first;
    if (!first) out.Put(',');
    first = false;
    out.Put(f.key);
    if (f.repeated) {
      if (f.map) return false;
      out.Put('[');
      size_t count = 0;
      if (!WireRepeated(f, number, type, r, out, depth, count)) return false;
      out.Put(']');
      if (count == 0) {  // an empty packed run: no elements, so no field
        out.Rewind(mark);
        first = was_first;
      }
      continue;
    }
    bool is_default;
    if (!WireValue(f, type, r, out, depth, is_default)) return false;
    if (is_default && !f.presence) {  // as the parser leaves it: unset
      out.Rewind(mark);
      first = was_first;
    }
  }
  out.Put('}');
  return true;
}

// Runs `encode` on a JsonOut over `out`; on failure `out` is left as it was.
template <typename Encode>
bool AppendOrRestore(std::string& out, Encode encode) {
  const size_t before = out.size();
  JsonOut w(out);
  const bool ok = encode(w);
  if (!ok) w.Rewind(before);
  return ok;
}

}  // namespace

void AppendJsonString(absl::string_view text, std::string& out) {
  JsonOut w(out);
  AppendString(text, w, /*replace_invalid=*/true);
}

bool AppendJsonFromWire(const Descriptor* type, absl::string_view wire, std::string& out) {
  static const Descriptor* const kTimestamp = google::protobuf::Timestamp::descriptor();
  return AppendOrRestore(out, [&](JsonOut& w) {
    return type == kTimestamp ? WireTimestamp(wire, w) : WireMessage(*TableFor(type), wire, w, 0);
  });
}

bool AppendJson(const v1::Event& event, std::string& out) {
  return AppendOrRestore(out, [&](JsonOut& w) { return AppendEvent(event, w); });
}

bool AppendJson(const Message& message, std::string& out) {
  // Descriptors looked up once: descriptor() checks every time that they
  // were assigned.
  static const Descriptor* const kEvent = v1::Event::descriptor();
  static const Descriptor* const kTimestamp = google::protobuf::Timestamp::descriptor();
  const Descriptor* d = message.GetDescriptor();
  if (d == kEvent) return AppendJson(static_cast<const v1::Event&>(message), out);
  return AppendOrRestore(out, [&](JsonOut& w) {
    return d == kTimestamp ? AppendTimestamp(static_cast<const google::protobuf::Timestamp&>(message), w)
                           : AppendMessage(message, *TableFor(d), w);
  });
}

}  // namespace vigil
