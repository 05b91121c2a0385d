#include "sink/json_encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "vigil/v1/collector.pb.h"
#include "vigil/v1/event.pb.h"
#include "vigil/v1/sensor_api.pb.h"

namespace vigil {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// What the sensor printed before: protobuf's own printer, default options.
std::string ProtobufJson(const Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &json, options).ok());
  return json;
}

std::string OurJson(const Message& m) {
  std::string json;
  EXPECT_TRUE(AppendJson(m, json)) << m.DebugString();
  return json;
}

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | cp >> 6);
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | cp >> 12);
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | cp >> 18);
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// Fills any message with random values: every field type, presence or not,
// one random member (or none) of each oneof, repeated and map fields of
// 0-3 elements, strings that need every kind of escaping.
class RandomFiller {
 public:
  explicit RandomFiller(uint64_t seed) : rng_(seed) {}

  void Fill(Message* m, int depth) {
    const Descriptor* d = m->GetDescriptor();
    const Reflection* r = m->GetReflection();
    for (int i = 0; i < d->real_oneof_decl_count(); ++i) {
      const auto* oneof = d->oneof_decl(i);
      const int pick = Uniform(0, oneof->field_count());  // field_count() = none
      if (pick < oneof->field_count()) Set(m, r, oneof->field(pick), depth);
    }
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->real_containing_oneof() != nullptr) continue;
      if (Uniform(0, 9) < 3) continue;
      Set(m, r, f, depth);
    }
  }

  // Payloads: one event of every kind a oneof member of Event names.
  const std::vector<const FieldDescriptor*>& Payloads() {
    if (payloads_.empty()) {
      const auto* oneof = v1::Event::descriptor()->FindOneofByName("payload");
      for (int i = 0; i < oneof->field_count(); ++i) payloads_.push_back(oneof->field(i));
    }
    return payloads_;
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::string RandomString() {
    static const std::vector<std::string> kFixed = {"",
                                                    "bash",
                                                    "/usr/bin/curl",
                                                    "quote\" backslash\\ slash/",
                                                    "\n\t\r\b\f\x01\x1f\x7f",
                                                    "<script>&amp;'x'</script>",
                                                    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
                                                    "\xe2\x80\xa8\xe2\x80\xa9\xc2\xad\xef\xbb\xbf",
                                                    "sha256:0123456789abcdef",
                                                    "host-1:123456789:4242"};
    if (Uniform(0, 2) == 0) return kFixed[Uniform(0, static_cast<int>(kFixed.size()) - 1)];
    std::string s;
    const int n = Uniform(0, 24);
    for (int i = 0; i < n; ++i) {
      switch (Uniform(0, 5)) {
        case 0:
          s += Utf8(Uniform(0, 0x7F));
          break;
        case 1:
          s += Utf8(Uniform(0x80, 0x7FF));
          break;
        case 2:
          s += Utf8(Uniform(0x800, 0xD7FF));
          break;
        case 3:
          s += Utf8(Uniform(0xE000, 0xFFFF));
          break;
        case 4:
          s += Utf8(Uniform(0x10000, 0x10FFFF));
          break;
        default:
          s += static_cast<char>(Uniform(0x20, 0x7E));
      }
    }
    return s;
  }

  template <typename T>
  T Integer() {
    switch (Uniform(0, 3)) {
      case 0:
        return 0;
      case 1:
        return static_cast<T>(Uniform(1, 1000));
      case 2:
        return std::numeric_limits<T>::max();
      default:
        return static_cast<T>(rng_());
    }
  }

  void Set(Message* m, const Reflection* r, const FieldDescriptor* f, int depth) {
    if (f->is_map()) {
      const int n = Uniform(0, 3);
      for (int i = 0; i < n; ++i) {
        Message* e = r->AddMessage(m, f);
        e->GetReflection()->SetString(e, f->message_type()->map_key(), RandomString());
        e->GetReflection()->SetString(e, f->message_type()->map_value(), RandomString());
      }
      return;
    }
    const int n = f->is_repeated() ? Uniform(0, 3) : 1;
    for (int i = 0; i < n; ++i) {
      const bool rep = f->is_repeated();
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          rep ? r->AddInt32(m, f, Integer<int32_t>()) : r->SetInt32(m, f, Integer<int32_t>());
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          rep ? r->AddUInt32(m, f, Integer<uint32_t>()) : r->SetUInt32(m, f, Integer<uint32_t>());
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          rep ? r->AddInt64(m, f, Integer<int64_t>()) : r->SetInt64(m, f, Integer<int64_t>());
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          rep ? r->AddUInt64(m, f, Integer<uint64_t>()) : r->SetUInt64(m, f, Integer<uint64_t>());
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          rep ? r->AddBool(m, f, Uniform(0, 1)) : r->SetBool(m, f, Uniform(0, 1));
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          // Now and then a number the enum does not name: far beyond its
          // values, or the first it skips (between them in a sparse enum).
          const auto* e = f->enum_type();
          int unnamed = 0;
          while (e->FindValueByNumber(unnamed) != nullptr) ++unnamed;
          const int v = Uniform(0, 9) == 0 ? (Uniform(0, 1) == 0 ? 999 : unnamed)
                                           : e->value(Uniform(0, e->value_count() - 1))->number();
          rep ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING:
          rep ? r->AddString(m, f, RandomString()) : r->SetString(m, f, RandomString());
          break;
        case FieldDescriptor::CPPTYPE_MESSAGE: {
          Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
          if (f->message_type()->full_name() == "google.protobuf.Timestamp") {
            const auto* sd = sub->GetDescriptor();
            // 0001-01-01 .. 9999-12-31, nanos of every precision.
            const int64_t seconds = std::uniform_int_distribution<int64_t>(-62135596800, 253402300799)(rng_);
            static const int32_t kNanos[] = {0, 120000000, 123456000, 123456789, 1, 999999999};
            sub->GetReflection()->SetInt64(sub, sd->field(0), Uniform(0, 3) == 0 ? 0 : seconds);
            sub->GetReflection()->SetInt32(sub, sd->field(1), kNanos[Uniform(0, 5)]);
          } else if (depth < 4) {
            Fill(sub, depth + 1);
          }
          break;
        }
        default:
          FAIL() << "field type the encoder does not know: " << f->full_name();
      }
    }
  }

  std::mt19937_64 rng_;
  std::vector<const FieldDescriptor*> payloads_;
};

// From the serialized bytes, as the collector's file forwarder prints events:
// what AppendJson prints after parsing them, or false. Never different output.
std::string WireJson(const Message& m) {
  std::string json = "[";  // appends: what was there stays
  EXPECT_TRUE(AppendJsonFromWire(m.GetDescriptor(), m.SerializeAsString(), json)) << m.DebugString();
  return json.substr(1);
}

TEST(JsonEncoderTest, RandomEventsOfEveryPayloadKindMatchProtobuf) {
  RandomFiller filler(20261204);
  for (const FieldDescriptor* payload : filler.Payloads()) {
    for (int i = 0; i < 300; ++i) {
      v1::Event e;
      filler.Fill(&e, 0);
      // The payload under test, filled again, whatever Fill picked.
      Message* p = e.GetReflection()->MutableMessage(&e, payload);
      filler.Fill(p, 1);
      ASSERT_EQ(OurJson(e), ProtobufJson(e)) << payload->name() << " #" << i;
      ASSERT_EQ(WireJson(e), OurJson(e)) << payload->name() << " #" << i;
    }
  }
}

TEST(JsonEncoderTest, OtherMessagesMatchProtobuf) {
  RandomFiller filler(7);
  for (int i = 0; i < 300; ++i) {
    v1::PublishRequest batch;
    filler.Fill(&batch, 0);
    ASSERT_EQ(OurJson(batch), ProtobufJson(batch)) << "#" << i;
    ASSERT_EQ(WireJson(batch), OurJson(batch)) << "#" << i;
    v1::TailResponse tail;
    filler.Fill(&tail, 0);
    ASSERT_EQ(OurJson(tail), ProtobufJson(tail)) << "#" << i;
    ASSERT_EQ(WireJson(tail), OurJson(tail)) << "#" << i;
  }
}

TEST(JsonEncoderTest, FromWireAMapIsLeftToTheParse) {
  v1::ComponentStatus status;
  status.set_name("uplink");
  (*status.mutable_details())["collector"] = "up";
  std::string json;
  EXPECT_FALSE(AppendJsonFromWire(v1::ComponentStatus::descriptor(), status.SerializeAsString(), json));
  EXPECT_EQ(json, "");
}

// Bytes protobuf's serializer would not write: refused, or, where the parse
// would read them the same, printed as it reads them.
TEST(JsonEncoderTest, FromWireNonCanonicalBytes) {
  v1::Event e;
  e.set_id("e1");
  e.set_kind(v1::EVENT_KIND_EXEC);
  e.set_node("n");
  e.mutable_process()->set_pid(7);
  e.mutable_exec()->set_filename("/bin/true");
  const std::string bytes = e.SerializeAsString();
  auto field = [](uint32_t number, absl::string_view value) {  // a length-delimited field, short
    std::string f;
    for (uint32_t tag = number << 3 | 2; tag != 0; tag >>= 7)
      f += static_cast<char>((tag & 0x7F) | (tag > 0x7F ? 0x80 : 0));
    f += static_cast<char>(value.size());
    f.append(value.data(), value.size());
    return f;
  };
  const std::string id = field(1, "e1"), node = field(4, "n");
  auto wire_json = [](absl::string_view wire, std::string& out) {
    return AppendJsonFromWire(v1::Event::descriptor(), wire, out);
  };
  auto parsed_json = [](absl::string_view wire) {
    v1::Event parsed;
    EXPECT_TRUE(parsed.ParseFromString(std::string(wire)));
    return OurJson(parsed);
  };
  std::string out = "x";
  for (const std::string& refused : {
           bytes + field(1000, "unknown"),                               // unknown field
           node + id,                                                    // out of number order
           id + id,                                                      // a singular field twice
           bytes + field(17, ""),                                        // exec and exit: two members of the oneof
           bytes.substr(0, bytes.size() - 1),                            // truncated
           std::string("\x0b\x0c"),                                      // a group
           std::string("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"),  // varint over 64 bits
           field(1, "\xc3\x28"),                                         // not UTF-8
       }) {
    EXPECT_FALSE(wire_json(refused, out)) << absl::CEscape(refused);
    EXPECT_EQ(out, "x");
  }
  // Defaults written out anyway (kind 0, an empty id) read as unset: left out.
  const std::string defaults = std::string("\x0a\x00\x10\x00", 4) + node;
  ASSERT_TRUE(wire_json(defaults, out));
  EXPECT_EQ(out, "x" + parsed_json(defaults));
  EXPECT_EQ(out, R"(x{"node":"n"})");
  // 32-bit fields keep the low 32 bits of a longer varint, as the parser does.
  const std::string wide_pid = field(5, std::string("\x08\xff\xff\xff\xff\x1f", 6));
  out.clear();
  ASSERT_TRUE(wire_json(wide_pid, out));
  EXPECT_EQ(out, parsed_json(wide_pid));
}

TEST(JsonEncoderTest, DefaultsAndEmptyMessages) {
  v1::Event e;
  EXPECT_EQ(OurJson(e), "{}");
  e.mutable_fork();                 // present, all fields default
  e.mutable_process()->set_uid(0);  // optional: 0 shows
  EXPECT_EQ(OurJson(e), ProtobufJson(e));
  EXPECT_EQ(OurJson(e), R"({"process":{"uid":0},"fork":{}})");
}

TEST(JsonEncoderTest, EveryEscapedCodePointRangeEdgeMatchesProtobuf) {
  // The ranges protobuf escapes, each with its neighbours, and all of ASCII.
  std::vector<uint32_t> cps;
  for (uint32_t c = 0; c < 0x80; ++c) cps.push_back(c);
  for (uint32_t edge : {0x80u,    0x9Fu,    0xADu,    0x600u,   0x603u,   0x6DDu,  0x70Fu,   0x17B4u,  0x17B5u, 0x200Bu,
                        0x200Fu,  0x2028u,  0x202Eu,  0x2060u,  0x2064u,  0x206Au, 0x206Fu,  0xFEFFu,  0xFFF9u, 0xFFFBu,
                        0x1D173u, 0x1D17Au, 0xE0001u, 0xE0020u, 0xE007Fu, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    cps.push_back(edge - 1);
    cps.push_back(edge);
    cps.push_back(edge + 1);
  }
  for (uint32_t cp : cps) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (cp > 0x10FFFF) continue;
    v1::Event e;
    e.set_node("a" + Utf8(cp) + "b");
    ASSERT_EQ(OurJson(e), ProtobufJson(e)) << std::hex << cp;
  }
}

// Plain ASCII is skipped eight bytes at a time: an escaped or non-ASCII
// character at every offset of a longer string, in each of the eight lanes
// of several words and in the byte-wise tail; twice in one word; and two
// different ones in one word.
TEST(JsonEncoderTest, EscapesAtEveryOffsetOfALongStringMatchProtobuf) {
  std::vector<uint32_t> cps = {0x7E, 0x80, 0xAD, 0xE9, 0x2028, 0x1F600};
  for (uint32_t c = 0; c < 0x80; ++c) cps.push_back(c);
  for (uint32_t cp : cps) {
    for (size_t offset = 0; offset <= 45; ++offset) {
      v1::Event e;
      e.set_node(std::string(offset, 'a') + Utf8(cp) + std::string(46 - offset, 'z'));
      ASSERT_EQ(OurJson(e), ProtobufJson(e)) << std::hex << cp << " at " << std::dec << offset;
      ASSERT_EQ(WireJson(e), OurJson(e)) << std::hex << cp << " at " << std::dec << offset;
      e.set_node(std::string(offset % 16, 'a') + Utf8(cp) + "b" + Utf8(cp) + std::string(40, 'z'));
      ASSERT_EQ(OurJson(e), ProtobufJson(e)) << std::hex << cp << " at " << std::dec << offset;
      ASSERT_EQ(WireJson(e), OurJson(e)) << std::hex << cp << " at " << std::dec << offset;
    }
  }
  // The word test jumps to its lowest flagged byte. A byte that borrows
  // (a control, a quote) flags its neighbour above too when that one sits
  // just above a boundary the test subtracts (a space, a '#'): both in one
  // word, at every pair of lanes.
  for (char first : {'\0', '\x1f', '"', '\\', '<', '\x7f'}) {
    for (char second : {' ', '!', '#', ']', '=', '?', '~', '"'}) {
      for (size_t offset = 0; offset < 16; ++offset) {
        for (size_t gap = 0; gap < 8; ++gap) {
          v1::Event e;
          e.set_node(std::string(offset, 'a') + first + std::string(gap, 'b') + second + std::string(20, 'z'));
          ASSERT_EQ(OurJson(e), ProtobufJson(e)) << int{first} << " " << int{second} << " at " << offset << "+" << gap;
          ASSERT_EQ(WireJson(e), OurJson(e)) << int{first} << " " << int{second} << " at " << offset << "+" << gap;
        }
      }
    }
  }
  v1::Event e;
  e.mutable_process()->set_comm(std::string(15, 'a') + "\xff");  // invalid after a plain word
  std::string out;
  EXPECT_FALSE(AppendJson(e, out));
}

// The encoders write through a buffer of their own: output longer than it,
// a string longer than it, and failing or going back after it was emptied
// into the caller's string.
TEST(JsonEncoderTest, OutputLongerThanTheEncodersBuffer) {
  v1::Event e;
  e.set_id(std::string(10000, 'i'));
  for (int i = 0; i < 300; ++i) e.mutable_process()->add_argv(absl::StrCat("--argument-", i, "=\"quoted\"\n"));
  e.mutable_process()->set_cwd(std::string(5000, '<'));
  ASSERT_EQ(OurJson(e), ProtobufJson(e));
  ASSERT_EQ(WireJson(e), OurJson(e));

  std::string out = "before";
  EXPECT_FALSE(AppendJsonFromWire(v1::Event::descriptor(), e.SerializeAsString() + "\xc2\x3e\x00", out))
      << "field 1000, unknown, after the rest";
  e.mutable_process()->set_exe("bad \xff");
  EXPECT_FALSE(AppendJson(e, out));
  EXPECT_EQ(out, "before");

  // A default written out after 10,000 bytes: left out, as the parse reads it.
  const std::string wire = v1::Event().SerializeAsString() + "\x0a\x90\x4e" + std::string(10000, 'i') +
                           std::string("\x10\x00", 2) + "\x22\x01n";
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  out.clear();
  ASSERT_TRUE(AppendJsonFromWire(v1::Event::descriptor(), wire, out));
  EXPECT_EQ(out, OurJson(parsed));
  EXPECT_EQ(out, absl::StrCat(R"({"id":")", std::string(10000, 'i'), R"(","node":"n"})"));
}

TEST(JsonEncoderTest, InvalidUtf8IsLeftToProtobuf) {
  v1::Event e;
  e.set_node("ok");
  std::string out = "prefix";
  e.mutable_process()->set_comm("bad \xff byte");
  EXPECT_FALSE(AppendJson(e, out));
  EXPECT_EQ(out, "prefix");
  e.mutable_process()->set_comm("cut \xe6\x97");
  EXPECT_FALSE(AppendJson(e, out));
  e.mutable_process()->set_comm("surrogate \xed\xa0\x80");
  EXPECT_FALSE(AppendJson(e, out));
  e.mutable_process()->set_comm("overlong \xc0\xaf");
  EXPECT_FALSE(AppendJson(e, out));
}

// A process with every field set, presence fields to their default: the
// encoder keeps what it printed of a process, and must see any change.
v1::Process FullProcess() {
  v1::Process p;
  p.set_pid(4242);
  p.set_tid(4243);
  p.set_ppid(1);
  p.set_uid(0);
  p.set_gid(0);
  p.set_euid(1000);
  p.set_egid(1000);
  p.set_comm("bash");
  p.set_exe("/usr/bin/bash");
  p.add_argv("bash");
  p.add_argv("-c");
  p.add_argv("echo \"hi\" > /tmp/x");
  p.set_argv_truncated(true);
  p.set_cwd("/root");
  p.set_exec_id("node-a:1234567:4242");
  p.set_parent_exec_id("node-a:1:1");
  p.mutable_start_time()->set_seconds(1764979200);
  p.mutable_start_time()->set_nanos(120000000);
  p.set_ns_pid(7);
  return p;
}

// Every way a field can change: cleared (`change` 0), or set to something
// else (1): a number one more (a 64-bit one in its high half), a boolean
// flipped, a string one character longer, one more element in a list (even
// an empty one), a timestamp a nanosecond later. False for another type.
bool ChangeField(google::protobuf::Message& m, const FieldDescriptor* f, int change) {
  const Reflection* r = m.GetReflection();
  if (change == 0) {
    r->ClearField(&m, f);
    return true;
  }
  if (f->is_repeated()) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_STRING) return false;
    r->AddString(&m, f, "");
    return true;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_UINT32:
      r->SetUInt32(&m, f, r->GetUInt32(m, f) + 1);
      return true;
    case FieldDescriptor::CPPTYPE_UINT64:
      r->SetUInt64(&m, f, r->GetUInt64(m, f) + (uint64_t{1} << 32));
      return true;
    case FieldDescriptor::CPPTYPE_BOOL:
      r->SetBool(&m, f, !r->GetBool(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(&m, f, r->GetString(m, f) + "x");
      return true;
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      if (f->message_type() != google::protobuf::Timestamp::descriptor()) return false;
      auto& t = static_cast<google::protobuf::Timestamp&>(*r->MutableMessage(&m, f));
      t.set_nanos(t.nanos() + 1);
      return true;
    }
    default:
      return false;
  }
}

// The event as the sensor prints it, through the encoder, and by protobuf.
void ExpectPrintedAsProtobuf(const v1::Process& process, const v1::Process& ancestor, const std::string& what) {
  v1::Event e;
  e.set_kind(v1::EVENT_KIND_EXEC);
  *e.mutable_process() = process;
  *e.add_ancestors() = ancestor;
  EXPECT_EQ(OurJson(e), ProtobufJson(e)) << what;
}

TEST(JsonEncoderTest, AProcessPrintedAgainShowsAnyChangeOfAnyField) {
  const v1::Process base = FullProcess();
  const Descriptor* d = v1::Process::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    for (int change = 0; change < 2; ++change) {
      v1::Process changed = base;
      ASSERT_TRUE(ChangeField(changed, f, change)) << "a field of a type this test does not change: " << f->name();
      // Printed first as it was, then changed, then as it was again: as the
      // event's own process and as an ancestor.
      const std::string what = absl::StrCat(f->name(), change == 0 ? " cleared" : " changed");
      ExpectPrintedAsProtobuf(base, base, what);
      ExpectPrintedAsProtobuf(changed, base, what);
      ExpectPrintedAsProtobuf(base, changed, what);
      ExpectPrintedAsProtobuf(changed, changed, what);
    }
  }
}

TEST(JsonEncoderTest, AProcessWhoseStringsShiftBytesPrintsTheShift) {
  v1::Process p = FullProcess();
  ExpectPrintedAsProtobuf(p, p, "as it was");
  // The same bytes in all, split differently between fields.
  p.set_comm("bas");
  p.set_exe("h/usr/bin/bash");
  ExpectPrintedAsProtobuf(p, p, "comm -> exe");
  p.set_argv(0, "bash-");
  p.set_argv(1, "c");
  ExpectPrintedAsProtobuf(p, p, "argv[1] -> argv[0]");
}

TEST(JsonEncoderTest, ManyProcessesPrintedInTurnMatchProtobuf) {
  // Far more processes than the encoder keeps, printed in random order,
  // some changed on the way (a setuid, an exec under the same exec id).
  std::mt19937_64 rng(6);
  std::vector<v1::Process> processes;
  for (uint32_t i = 0; i < 500; ++i) {
    v1::Process p = FullProcess();
    p.set_pid(1000 + i % 250);  // pairs share a pid: a pid reused later
    p.mutable_start_time()->set_seconds(1764979200 + i / 250);
    p.set_exec_id(absl::StrCat("node-a:", i / 250, ":", p.pid()));
    processes.push_back(p);
  }
  for (int n = 0; n < 20000; ++n) {
    v1::Process& p = processes[rng() % processes.size()];
    if (rng() % 10 == 0) p.set_euid(p.euid() + 1);
    if (rng() % 20 == 0) p.set_argv(2, absl::StrCat("run ", n));
    ASSERT_NO_FATAL_FAILURE(ExpectPrintedAsProtobuf(p, processes[rng() % processes.size()], absl::StrCat("#", n)));
  }
}

TEST(JsonEncoderTest, AProcessThatFailedToPrintIsPrintedRightAfter) {
  const v1::Process good = FullProcess();
  ExpectPrintedAsProtobuf(good, good, "before");
  v1::Event bad;
  *bad.mutable_process() = good;
  bad.mutable_process()->set_cwd("bad \xff byte");
  std::string out;
  EXPECT_FALSE(AppendJson(bad, out));
  EXPECT_EQ(out, "");
  ExpectPrintedAsProtobuf(good, good, "after");
  bad.mutable_process()->set_cwd("/ok");
  ExpectPrintedAsProtobuf(bad.process(), good, "the same process, mended");
}

TEST(JsonEncoderTest, LongProcessesMatchProtobufEveryTime) {
  v1::Process p = FullProcess();
  for (int i = 0; i < 3; ++i) {
    p.set_argv(2, std::string(3000 + i, 'a'));  // too long to keep
    ExpectPrintedAsProtobuf(p, p, absl::StrCat("long #", i));
    p.set_argv(2, "short");
    ExpectPrintedAsProtobuf(p, p, absl::StrCat("short #", i));
  }
}

v1::Workload FullWorkload() {
  v1::Workload w;
  w.set_cgroup_id(0x1234567890);
  w.set_container_id("3f1c9a6e2b7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f");
  w.set_container_name("api");
  w.set_image("registry.example/api:1.4");
  w.set_pod_name("api-7d9f8-x2k4q");
  w.set_pod_namespace("shop");
  w.set_pod_uid("6c0e3a52-1b9d-4f0e-9d1a-2c3b4d5e6f70");
  w.set_pid_ns(4026532001);
  w.set_mnt_ns(4026532002);
  w.set_net_ns(4026532003);
  w.set_runtime("containerd");
  w.set_image_digest("sha256:0123456789abcdef");
  return w;
}

void ExpectWorkloadPrintedAsProtobuf(const v1::Workload& workload, const std::string& what) {
  v1::Event e;
  e.set_kind(v1::EVENT_KIND_EXEC);
  *e.mutable_workload() = workload;
  EXPECT_EQ(OurJson(e), ProtobufJson(e)) << what;
}

TEST(JsonEncoderTest, AWorkloadPrintedAgainShowsAnyChangeOfAnyField) {
  const v1::Workload base = FullWorkload();
  const Descriptor* d = v1::Workload::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    for (int change = 0; change < 2; ++change) {
      v1::Workload changed = base;
      ASSERT_TRUE(ChangeField(changed, f, change)) << "a field of a type this test does not change: " << f->name();
      const std::string what = absl::StrCat(f->name(), change == 0 ? " cleared" : " changed");
      ExpectWorkloadPrintedAsProtobuf(base, what);
      ExpectWorkloadPrintedAsProtobuf(changed, what);
      ExpectWorkloadPrintedAsProtobuf(base, what);
    }
  }
}

TEST(JsonEncoderTest, AWorkloadWhoseStringsShiftBytesPrintsTheShift) {
  v1::Workload w = FullWorkload();
  ExpectWorkloadPrintedAsProtobuf(w, "as it was");
  w.set_pod_name("api-7d9f8-x2k4qs");
  w.set_pod_namespace("hop");
  ExpectWorkloadPrintedAsProtobuf(w, "namespace -> pod name");
}

TEST(JsonEncoderTest, ManyWorkloadsPrintedInTurnMatchProtobuf) {
  // More cgroups than the encoder keeps, in random order; some learn their
  // pod's metadata on the way, as the container stage does.
  std::mt19937_64 rng(7);
  std::vector<v1::Workload> workloads;
  for (uint64_t i = 0; i < 100; ++i) {
    v1::Workload w = FullWorkload();
    w.set_cgroup_id(1000 + i);
    w.set_mnt_ns(4026532002 + i % 3);
    if (i % 2 == 0) {
      w.clear_pod_name();
      w.set_metadata_pending(true);
    }
    workloads.push_back(w);
  }
  for (int n = 0; n < 20000; ++n) {
    v1::Workload& w = workloads[rng() % workloads.size()];
    if (w.metadata_pending() && rng() % 10 == 0) {
      w.set_metadata_pending(false);
      w.set_pod_name(absl::StrCat("pod-", n));
    }
    ASSERT_NO_FATAL_FAILURE(ExpectWorkloadPrintedAsProtobuf(w, absl::StrCat("#", n)));
  }
}

TEST(JsonEncoderTest, AWorkloadThatFailedToPrintIsPrintedRightAfter) {
  const v1::Workload good = FullWorkload();
  ExpectWorkloadPrintedAsProtobuf(good, "before");
  v1::Event bad;
  *bad.mutable_workload() = good;
  bad.mutable_workload()->set_image("bad \xff byte");
  std::string out;
  EXPECT_FALSE(AppendJson(bad, out));
  EXPECT_EQ(out, "");
  ExpectWorkloadPrintedAsProtobuf(good, "after");
}

// Every digit count, both sides of each power of ten, and the limits, for
// each integer type a Vigil message has.
template <typename T>
std::vector<T> EdgeNumbers() {
  std::vector<T> out = {0, 1, std::numeric_limits<T>::max(), std::numeric_limits<T>::min()};
  for (T p = 10; p <= std::numeric_limits<T>::max() / 10; p *= 10) {
    out.insert(out.end(), {static_cast<T>(p - 1), p, static_cast<T>(p + 1)});
    if constexpr (std::is_signed_v<T>) out.insert(out.end(), {static_cast<T>(-p), static_cast<T>(1 - p)});
  }
  return out;
}

TEST(JsonEncoderTest, NumbersOfEveryLengthMatchProtobuf) {
  std::vector<const FieldDescriptor*> fields(FieldDescriptor::MAX_CPPTYPE + 1);
  const Descriptor* event = v1::Event::descriptor();
  for (int i = 0; i < event->field_count(); ++i) {
    const Descriptor* d = event->field(i)->message_type();
    if (d == nullptr || d->file()->package() != "vigil.v1") continue;  // a Timestamp has its own range
    for (int j = 0; j < d->field_count(); ++j) {
      const FieldDescriptor* f = d->field(j);
      if (!f->is_repeated() && fields[f->cpp_type()] == nullptr) fields[f->cpp_type()] = f;
    }
  }
  // Each value of T, set through `set` on a message with field `f`.
  auto check = [&fields]<typename T>(FieldDescriptor::CppType type,
                                     void (Reflection::*set)(Message*, const FieldDescriptor*, T) const) {
    const FieldDescriptor* f = fields[type];
    ASSERT_NE(f, nullptr) << "no payload field of C++ type " << type;
    for (T v : EdgeNumbers<T>()) {
      std::unique_ptr<Message> m(
          google::protobuf::MessageFactory::generated_factory()->GetPrototype(f->containing_type())->New());
      (m->GetReflection()->*set)(m.get(), f, v);
      EXPECT_EQ(OurJson(*m), ProtobufJson(*m)) << f->full_name() << " = " << v;
    }
  };
  check(FieldDescriptor::CPPTYPE_INT32, &Reflection::SetInt32);
  check(FieldDescriptor::CPPTYPE_UINT32, &Reflection::SetUInt32);
  check(FieldDescriptor::CPPTYPE_INT64, &Reflection::SetInt64);
  check(FieldDescriptor::CPPTYPE_UINT64, &Reflection::SetUInt64);
}

TEST(JsonEncoderTest, AppendsToWhatIsThere) {
  v1::Event e;
  e.set_id("x");
  std::string out = "{}\n";
  ASSERT_TRUE(AppendJson(e, out));
  EXPECT_EQ(out, "{}\n{\"id\":\"x\"}");
}

}  // namespace
}  // namespace vigil
