#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "vigil/v1/sensor_api.pb.h"

namespace vigil::cli {

enum class Output { kText, kJson };  // text: compact lines for tail, a table for status

struct TailOptions {
  std::string socket = "/run/vigil/sensor.sock";
  v1::TailFilter filter;
  Output output = Output::kText;
  bool color = false;
  bool reconnect = true;        // wait for the sensor (again) when it is not there
  uint64_t count = 0;           // exit after this many events; 0: never
  uint32_t queue_capacity = 0;  // 0: the sensor's default
};

// Streams events to `out`, notices (connected, drops, reconnecting) to
// `err`. Returns the process exit code.
int RunTail(const TailOptions& options, FILE* out, FILE* err);

struct StatusOptions {
  std::string socket = "/run/vigil/sensor.sock";
  Output output = Output::kText;
};

int RunStatus(const StatusOptions& options, FILE* out, FILE* err);

// `vigilctl rules list`: what the running sensor has loaded, a table or
// the JSON mapping of v1::ListRulesResponse.
int RunRulesList(const StatusOptions& options, FILE* out, FILE* err);

}  // namespace vigil::cli
