#pragma once

#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace vigil::wire {

// Protobuf wire types.
enum Type : int { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

// Reads serialized protobuf bytes field by field, for code that handles a
// message without parsing it (the collector's file forwarder). Strict: every
// Read* returns false on truncated input and on encodings protobuf's own
// serializer never writes (groups, overlong varints), so a caller can fall
// back to a real parse whenever it is not sure.
class Reader {
 public:
  explicit Reader(absl::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

  bool done() const { return p_ == end_; }

  bool ReadVarint(uint64_t& v) {
    if (p_ < end_ && (*p_ & 0x80) == 0) {  // one byte: most tags and lengths
      v = static_cast<uint8_t>(*p_++);
      return true;
    }
    v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      const uint8_t byte = static_cast<uint8_t>(*p_++);
      // The tenth byte holds bit 63 only.
      if (shift == 63 && byte > 1) return false;
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // A field's number (1 .. 2^29-1) and wire type (groups refused).
  bool ReadTag(uint32_t& number, int& type) {
    uint64_t tag;
    if (!ReadVarint(tag) || tag > UINT32_MAX) return false;
    number = static_cast<uint32_t>(tag >> 3);
    type = static_cast<int>(tag & 7);
    return number != 0 && (type == kVarint || type == kFixed64 || type == kLength || type == kFixed32);
  }

  bool ReadFixed32(uint32_t& v) { return ReadRaw(&v, sizeof(v)); }
  bool ReadFixed64(uint64_t& v) { return ReadRaw(&v, sizeof(v)); }

  bool ReadLength(absl::string_view& v) {
    uint64_t n;
    if (!ReadVarint(n) || n > static_cast<uint64_t>(end_ - p_) || n > INT32_MAX) return false;
    v = absl::string_view(p_, n);
    p_ += n;
    return true;
  }

  bool Skip(int type) {
    uint64_t u64;
    uint32_t u32;
    absl::string_view bytes;
    switch (type) {
      case kVarint:
        return ReadVarint(u64);
      case kFixed64:
        return ReadFixed64(u64);
      case kLength:
        return ReadLength(bytes);
      case kFixed32:
        return ReadFixed32(u32);
      default:
        return false;
    }
  }

 private:
  // Little-endian on the wire, as on every target Vigil builds for.
  bool ReadRaw(void* v, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    std::memcpy(v, p_, n);
    p_ += n;
    return true;
  }

  const char* p_;
  const char* end_;
};

// A google.protobuf.Timestamp from its serialized bytes: seconds and nanos
// as the parser stores them (nanos keeps the low 32 bits); false for
// anything else in it.
inline bool ReadTimestamp(absl::string_view in, int64_t& seconds, int32_t& nanos) {
  Reader r(in);
  uint64_t s = 0, n = 0;
  uint32_t number;
  int type;
  while (!r.done()) {
    if (!r.ReadTag(number, type) || type != kVarint || (number != 1 && number != 2)) return false;
    if (!r.ReadVarint(number == 1 ? s : n)) return false;
  }
  seconds = static_cast<int64_t>(s);
  nanos = static_cast<int32_t>(n);
  return true;
}

}  // namespace vigil::wire
