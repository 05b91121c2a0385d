#include "collector/validate.h"

#include "absl/strings/str_cat.h"

namespace vigil::collector {

absl::Status ValidateRequest(const v1::PublishRequest& request, const BatchLimits& limits, StreamState& state) {
  auto bad = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat("batch ", request.sequence(), ": ", parts...));
  };
  if (!state.identified) {
    if (!request.has_sensor() || request.sensor().node().empty() || request.sensor().instance_id().empty()) {
      return bad("the first request of a stream must carry the sensor identity (node and instance id)");
    }
  }
  if (request.sequence() == 0) return bad("sequence must be > 0");
  if (request.sequence() <= state.last_sequence) {
    return bad("sequence does not increase (previous was ", state.last_sequence, ")");
  }
  if (request.events_size() == 0) return bad("no events");
  if (static_cast<size_t>(request.events_size()) > limits.max_events) {
    return bad(request.events_size(), " events, more than the limit of ", limits.max_events);
  }
  for (int i = 0; i < request.events_size(); ++i) {
    const v1::Event& e = request.events(i);
    if (e.id().empty()) return bad("event ", i, " has no id");
    if (e.kind() == v1::EVENT_KIND_UNSPECIFIED) return bad("event ", i, " (", e.id(), ") has no kind");
  }
  state.identified = true;
  state.last_sequence = request.sequence();
  return absl::OkStatus();
}

}  // namespace vigil::collector
