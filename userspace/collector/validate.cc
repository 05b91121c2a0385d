#include "collector/validate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"

namespace vigil::collector {

absl::Status ValidateRequest(const v1::PublishRequest& request, const BatchLimits& limits, StreamState& state) {
  auto bad = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat("batch ", request.sequence(), ": ", parts...));
  };
  auto denied = [&](auto&&... parts) {
    return absl::PermissionDeniedError(absl::StrCat("batch ", request.sequence(), ": ", parts...));
  };
  if (request.has_sensor()) {
    const v1::SensorIdentity& id = request.sensor();
    for (const std::string* field :
         {&id.node(), &id.cluster(), &id.cloud(), &id.instance_id(), &id.sensor_version(), &id.kernel()}) {
      if (field->size() > limits.max_identity_bytes) {
        return bad("a sensor identity field of ", field->size(), " bytes, more than ", limits.max_identity_bytes);
      }
    }
    if (state.identified) {
      // Later requests may repeat the identity, never change it.
      if (!google::protobuf::util::MessageDifferencer::Equals(id, state.identity)) {
        return denied("the sensor identity changed mid-stream (node ", state.identity.node(), " -> ", id.node(), ")");
      }
    } else {
      if (id.node().empty() || id.instance_id().empty()) {
        return bad("the first request of a stream must carry the sensor identity (node and instance id)");
      }
      if (!state.certificate_names.empty() && std::find(state.certificate_names.begin(), state.certificate_names.end(),
                                                        id.node()) == state.certificate_names.end()) {
        return denied("node ", id.node(), " is not named by the client certificate");
      }
    }
  } else if (!state.identified) {
    return bad("the first request of a stream must carry the sensor identity (node and instance id)");
  }
  const std::string& node = state.identified ? state.identity.node() : request.sensor().node();
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
    if (!e.node().empty() && e.node() != node) return denied("event ", i, " (", e.id(), ") is of node ", e.node());
  }
  if (!state.identified) state.identity = request.sensor();
  state.identified = true;
  state.last_sequence = request.sequence();
  return absl::OkStatus();
}

}  // namespace vigil::collector
