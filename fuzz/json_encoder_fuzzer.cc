// What the collector does with each event of a batch a sensor published (and
// the sensor with its own, for --output): Vigil's JSON encoder must print
// exactly what protobuf's JSON mapping prints, or say it cannot. The input is
// a PublishRequest; each of its events is printed both ways. And the
// collector's file forwarder prints events straight from their serialized
// bytes: for any input it prints, that must be what a parse then AppendJson
// prints.
#include <google/protobuf/util/json_util.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "sink/json_encoder.h"
#include "vigil/v1/collector.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::string from_wire = "[";
  if (vigil::AppendJsonFromWire(vigil::v1::PublishRequest::descriptor(), bytes, from_wire)) {
    vigil::v1::PublishRequest parsed;
    std::string after_parse = "[";
    if (!parsed.ParseFromString(bytes) || !vigil::AppendJson(parsed, after_parse) || after_parse != from_wire) {
      __builtin_trap();
    }
  } else if (from_wire != "[") {
    __builtin_trap();
  }
  vigil::v1::PublishRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  for (const vigil::v1::Event& event : request.events()) {
    std::string ours = "[";  // appends: what was there stays
    if (!vigil::AppendJson(event, ours)) {
      if (ours != "[") __builtin_trap();
      continue;
    }
    std::string theirs;
    if (!google::protobuf::util::MessageToJsonString(event, &theirs, {}).ok()) __builtin_trap();
    if (ours.substr(1) != theirs) __builtin_trap();
  }
  return 0;
}
