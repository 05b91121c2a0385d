#include "selftest/runner.h"

#include <sys/utsname.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "common/log.h"
#include "selftest/event_hub.h"
#include "sensor/sensor.h"

namespace vigil::selftest {

namespace {

// A reason as one quoted value: the line stays one line and parseable.
std::string Quoted(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// What the kernel and the pipeline counted for the probe's own kind and for
// every kind that lost events: tells a lost or garbled record from a probe
// that never fired.
std::string CountersOf(const v1::SensorHealth& h, absl::string_view probe) {
  std::string out = absl::StrCat("decode_errors ", h.decode_errors());
  for (const v1::KindCounters& k : h.kinds()) {
    if (k.kind() != probe && k.dropped_ringbuf() + k.dropped_scratch() + k.dropped_queue() == 0) continue;
    absl::StrAppend(&out, "; ", k.kind(), ": sent ", k.sent(), ", received ", k.received(), ", dropped ringbuf ",
                    k.dropped_ringbuf(), " scratch ", k.dropped_scratch(), " queue ", k.dropped_queue());
  }
  return out;
}

std::string KernelRelease() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

}  // namespace

int RunSelfTest(const SensorConfig& config, const std::vector<Check>& checks, std::ostream& out) {
  const char* mode = config.loader.hooks == HookPolicy::kTracepointOnly ? "tracepoint" : "auto";
  auto summary = [&](int pass, int fail, int unavailable, absl::string_view result) {
    out << "VIGIL-SELFTEST-SUMMARY kernel=" << KernelRelease() << " hooks=" << mode
        << " probes=" << pass + fail + unavailable << " pass=" << pass << " fail=" << fail
        << " unavailable=" << unavailable << " result=" << result << std::endl;
  };

  auto hub = std::make_unique<EventHub>();
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<EventHubSink>(hub.get()));
  auto sensor = Sensor::Create(config, std::move(sinks));
  if (!sensor.ok()) {
    out << "VIGIL-SELFTEST-ERROR reason=" << Quoted(sensor.status().message()) << std::endl;
    summary(0, 0, 0, "fail");
    return 1;
  }
  absl::Notification stop;
  absl::Status run_status;
  std::thread runner([&] {
    run_status = (*sensor)->Run([&](absl::Duration timeout) { return stop.WaitForNotificationWithTimeout(timeout); });
  });

  int pass = 0, fail = 0, unavailable = 0;
  std::vector<bool> used(checks.size(), false);
  for (const ProbeState& probe : (*sensor)->probes()) {
    std::string line = absl::StrCat("VIGIL-SELFTEST probe=", probe.name, " family=", probe.family,
                                    " hook=", probe.hook.empty() ? "none" : probe.hook);
    for (size_t i = 0; i < checks.size(); ++i) used[i] = used[i] || checks[i].probe == probe.name;
    if (!probe.attached) {
      ++unavailable;
      out << line << " result=unavailable reason="
          << Quoted(probe.notes.empty() ? "no candidate hook" : absl::StrJoin(probe.notes, "; ")) << std::endl;
      continue;
    }
    absl::StrAppend(&line, " program=", probe.program, " insns=", probe.verified_insns);
    absl::Status status = absl::NotFoundError("no self-test check for this probe");
    const absl::Time start = absl::Now();
    hub->SetMissed([&sensor, &probe] {
      for (const ProbeState& p : (*sensor)->probes()) {
        if (p.name == probe.name) return p.missed;
      }
      return uint64_t{0};
    });
    for (size_t i = 0; i < checks.size(); ++i) {
      if (checks[i].probe != probe.name || (!checks[i].hook.empty() && checks[i].hook != probe.hook)) continue;
      hub->Reset();
      status = checks[i].run(*hub);
      if (!status.ok()) break;
    }
    absl::StrAppend(&line, " ms=", absl::ToInt64Milliseconds(absl::Now() - start));
    if (const uint64_t missed = hub->Missed(); missed > 0) absl::StrAppend(&line, " missed=", missed);
    if (status.ok()) {
      ++pass;
      // Why a better hook was passed over (auto on a kernel without it).
      if (!probe.notes.empty()) absl::StrAppend(&line, " passed_over=", Quoted(absl::StrJoin(probe.notes, "; ")));
      out << line << " result=pass" << std::endl;
    } else {
      ++fail;
      out << line << " result=fail reason="
          << Quoted(absl::StrCat(status.message(),
                                 " (counters: ", CountersOf((*sensor)->StatusReport().counters(), probe.name), ")"))
          << std::endl;
    }
  }
  for (size_t i = 0; i < checks.size(); ++i) {
    if (used[i]) continue;
    ++fail;
    out << "VIGIL-SELFTEST probe=" << checks[i].probe
        << " family=? hook=none result=fail reason=" << Quoted("a check names a probe the sensor does not have")
        << std::endl;
  }

  stop.Notify();
  runner.join();
  if (!run_status.ok()) Logger("selftest")->error("sensor: {}", run_status.message());
  summary(pass, fail, unavailable, fail == 0 && run_status.ok() ? "pass" : "fail");
  return fail == 0 && run_status.ok() ? 0 : 1;
}

}  // namespace vigil::selftest
