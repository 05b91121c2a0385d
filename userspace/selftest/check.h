#pragma once

// `vigil-sensor --self-test`: each probe family proves its probes on the
// running kernel by causing the activity they watch and checking that the
// expected event arrives with the right fields. Each family's checks live in
// their own file (process_checks.cc, network_checks.cc, ...).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "vigil/v1/event.pb.h"

namespace vigil::selftest {

// How long a check waits for its event. An event normally arrives within
// milliseconds, and WaitFor returns as soon as it does; the margin is for
// TCG-emulated VMs of the kernel matrix, where a loaded host has delayed one
// by more than 5 s.
inline constexpr absl::Duration kEventTimeout = absl::Seconds(20);

// The sensor's event stream, as a check sees it.
class EventWaiter {
 public:
  virtual ~EventWaiter() = default;
  // The first event since the check started that `match` accepts, or
  // nullopt once `timeout` has passed.
  virtual std::optional<v1::Event> WaitFor(const std::function<bool(const v1::Event&)>& match,
                                           absl::Duration timeout) = 0;
  // Runs of the probe under test that the kernel skipped so far
  // (ProbeState::missed): events lost, but counted.
  virtual uint64_t Missed() { return 0; }
};

struct Check {
  std::string probe;  // the ProbeSpec name it proves ("exec", "tcp_connect", ...)
  // Causes the activity, waits for the event, compares field by field: OK,
  // or an error that says what was missing or wrong.
  std::function<absl::Status(EventWaiter&)> run;
  // Only when the probe attached with this hook ("cgroup_skb"): what a
  // fallback hook is known not to see. Empty: whatever the hook.
  std::string hook = "";
};

std::vector<Check> ProcessChecks();
std::vector<Check> SecurityChecks();
std::vector<Check> NetworkChecks();
std::vector<Check> FileChecks();

}  // namespace vigil::selftest
