#pragma once

#include "absl/strings/string_view.h"
#include "vigil/v1/event.pb.h"

namespace vigil {

// Read-only lookups into what the process cache knows, for later stages
// (the detector asks about a process's ancestors on any event kind, not only
// on exec events, which carry them). Pipeline thread only; a returned
// pointer is valid until the cache is next changed (the next event).
class ProcessView {
 public:
  virtual ~ProcessView() = default;
  // The process with this exec id (exe, argv, cwd, parent_exec_id), or null.
  virtual const v1::Process* Lookup(absl::string_view exec_id) const = 0;
};

}  // namespace vigil
