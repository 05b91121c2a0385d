// Runs the real vigilctl binary for the bpf suites and reads what it prints.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vigil/v1/event.pb.h"

namespace vigil::testing {

class CtlProcess {
 public:
  // Starts `vigilctl <args>`, stdout and stderr to files in a temp dir.
  explicit CtlProcess(std::vector<std::string> args);
  ~CtlProcess();  // SIGKILL if still running
  CtlProcess(const CtlProcess&) = delete;
  CtlProcess& operator=(const CtlProcess&) = delete;

  std::string Stdout() const;
  std::string Stderr() const;
  std::vector<std::string> StdoutLines() const;
  // Each stdout line as the JSON mapping of vigil.v1.Event (strict).
  std::vector<v1::Event> JsonEvents() const;
  // Polls stderr/stdout until `text` appears.
  bool WaitStderr(const std::string& text, absl::Duration timeout = absl::Seconds(15)) const;
  bool WaitStdout(const std::string& text, absl::Duration timeout = absl::Seconds(15)) const;
  // Waits for the exit; returns the exit code, -1 on timeout or a signal.
  int Wait(absl::Duration timeout = absl::Seconds(30));
  void Kill();

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// Runs vigilctl to completion; stdout in `out`, returns the exit code.
int RunCtl(const std::vector<std::string>& args, std::string* out, std::string* err = nullptr);

}  // namespace vigil::testing
