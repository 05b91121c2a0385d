#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace vigil {

namespace v1 {
class Event;
}  // namespace v1

// Appends `message` in the protobuf JSON mapping, byte for byte as
// google::protobuf::util::MessageToJsonString prints it with default
// JsonPrintOptions: lowerCamelCase names, fields in number order, defaults
// left out, 64-bit integers quoted, enums by name, Timestamps in RFC 3339.
//
// Protobuf's printer serializes the message to binary and parses it back
// through a type resolver, with several allocations per field; this walks
// the message once through reflection, with per-type field tables built on
// first use, and allocates nothing once `out` has grown.
//
// Returns false, with `out` as it was, for what it does not print itself
// (floating point, bytes, strings that are not valid UTF-8, Timestamps out of
// range): the caller then uses protobuf's printer.
bool AppendJson(const google::protobuf::Message& message, std::string& out);
// The same, for the message nearly all output is.
bool AppendJson(const v1::Event& event, std::string& out);

// The same for a message of `type` still in its serialized form `wire`, as
// AppendJson would print it after a parse, without the parse (the collector's
// file forwarder prints what its spool holds). Returns false, with `out` as
// it was, for anything AppendJson leaves to protobuf and for bytes protobuf's
// serializer would not have written (unknown fields, fields out of number
// order or repeated, two members of one oneof): the caller then parses.
bool AppendJsonFromWire(const google::protobuf::Descriptor* type, absl::string_view wire, std::string& out);

// Appends `text` as a JSON string, quoted and escaped as AppendJson escapes
// strings; a byte that starts no valid UTF-8 sequence becomes U+FFFD.
void AppendJsonString(absl::string_view text, std::string& out);

}  // namespace vigil
