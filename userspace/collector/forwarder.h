#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "vigil/v1/event.pb.h"

namespace vigil::collector {

// A destination the collector forwards stored events to (file, azure-logs,
// stdout). Each forwarder reads the collector's durable spool through its own
// cursor, so a slow one never stalls the others.
class Forwarder {
 public:
  virtual ~Forwarder() = default;
  virtual const std::string& name() const = 0;
  // Delivers `events` in order. OK means every event is delivered or parked
  // durably (dead letter) and the cursor may move past them. An error means
  // nothing may be assumed delivered: the collector retries the same batch
  // later (events carry unique ids, so a retried batch is identifiable).
  // The events are the caller's (parsed in place from its spool, so not
  // contiguous) and live until Send returns.
  virtual absl::Status Send(absl::Span<const v1::Event* const> events) = 0;

  // A forwarder that can write events from their serialized bytes, as the
  // spool holds them, says so; the collector then calls SendSerialized
  // instead of parsing them for Send. Same contract as Send.
  virtual bool TakesSerialized() const { return false; }
  virtual absl::Status SendSerialized(absl::Span<const absl::string_view> /*events*/) {
    return absl::UnimplementedError("this forwarder takes parsed events");
  }
};

}  // namespace vigil::collector
