#pragma once

#include <vector>

#include "vigil/v1/event.pb.h"

namespace vigil::testing {

// Forwarder::Send takes the events by pointer (the collector's live in the
// batches they were parsed into); the tests build theirs by value.
inline std::vector<const v1::Event*> Pointers(const std::vector<v1::Event>& events) {
  std::vector<const v1::Event*> pointers;
  pointers.reserve(events.size());
  for (const v1::Event& e : events) pointers.push_back(&e);
  return pointers;
}

}  // namespace vigil::testing
