#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "re2/re2.h"
#include "vigil/v1/event.pb.h"
#include "vigil/v1/sensor_api.pb.h"

namespace vigil {

// A compiled vigil.v1.TailFilter: what one `vigilctl tail` wants to see.
class EventFilter {
 public:
  // InvalidArgument when the process regex does not compile.
  static absl::StatusOr<EventFilter> Create(const v1::TailFilter& filter);

  bool Matches(const v1::Event& event) const;
  // One line for `status`: "kinds=exec,exit pod=web-*".
  std::string Describe() const;

 private:
  EventFilter(v1::TailFilter filter, std::shared_ptr<const RE2> process)
      : filter_(std::move(filter)), process_(std::move(process)) {}

  v1::TailFilter filter_;
  std::shared_ptr<const RE2> process_;  // null when not set; RE2 is immutable and thread-safe
};

}  // namespace vigil
