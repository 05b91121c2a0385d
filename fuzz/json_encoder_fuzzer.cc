// What the collector does with each event of a batch a sensor published (and
// the sensor with its own, for --output): Vigil's JSON encoder must print
// exactly what protobuf's JSON mapping prints, or say it cannot. The input is
// a PublishRequest; each of its events is printed both ways.
#include <google/protobuf/util/json_util.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "sink/json_encoder.h"
#include "vigil/v1/collector.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
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
