// vigil-collector: receives every sensor's event stream over gRPC, keeps it
// durably, forwards it.
#include <signal.h>

#include <iostream>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/collector.h"
#include "collector/json_lines_forwarder.h"
#include "common/file.h"
#include "common/log.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:7443", "gRPC address sensors stream to (port 0: any free port)");
ABSL_FLAG(bool, plaintext, false, "accept sensors without TLS (only on a trusted network, e.g. loopback)");
ABSL_FLAG(std::string, ca, "", "PEM file: the CA whose client certificates are accepted (mTLS)");
ABSL_FLAG(std::string, cert, "", "PEM file: the collector's certificate");
ABSL_FLAG(std::string, key, "", "PEM file: the collector's private key");
ABSL_FLAG(std::string, spool_dir, "/var/lib/vigil/collector", "durable spool and forwarder cursors");
ABSL_FLAG(uint64_t, spool_max_bytes, 4ull << 30, "spool cap; when reached the oldest batches go (counted)");
ABSL_FLAG(uint64_t, max_batch_bytes, 8u << 20, "largest batch a sensor may send (gRPC max receive size)");
ABSL_FLAG(uint64_t, max_events_per_batch, 10000, "most events in one batch");
ABSL_FLAG(std::string, forwarders, "file", "comma-separated: file (JSON lines), stdout");
ABSL_FLAG(std::string, file_path, "/var/lib/vigil/collector/events.jsonl", "the file forwarder's output");
ABSL_FLAG(uint64_t, file_max_bytes, 100u << 20, "the file forwarder rotates its output at this size");
ABSL_FLAG(uint32_t, file_max_files, 5, "the file forwarder keeps this many files (current and rotated)");
ABSL_FLAG(std::string, port_file, "", "once listening, write the port number to this file");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Vigil collector: receives sensor streams, spools them durably, forwards them.");
  absl::ParseCommandLine(argc, argv);
  if (!vigil::SetLogLevel(absl::GetFlag(FLAGS_log_level))) {
    std::cerr << "vigil-collector: unknown --log_level " << absl::GetFlag(FLAGS_log_level) << "\n";
    return 2;
  }
  vigil::collector::CollectorConfig config;
  config.listen = absl::GetFlag(FLAGS_listen);
  config.plaintext = absl::GetFlag(FLAGS_plaintext);
  config.ca_file = absl::GetFlag(FLAGS_ca);
  config.cert_file = absl::GetFlag(FLAGS_cert);
  config.key_file = absl::GetFlag(FLAGS_key);
  config.spool_dir = absl::GetFlag(FLAGS_spool_dir);
  config.spool_max_bytes = absl::GetFlag(FLAGS_spool_max_bytes);
  config.max_batch_bytes = absl::GetFlag(FLAGS_max_batch_bytes);
  config.limits.max_events = absl::GetFlag(FLAGS_max_events_per_batch);
  if (absl::Status s = vigil::collector::Validate(config); !s.ok()) {
    std::cerr << "vigil-collector: " << s.message() << "\n";
    return 2;
  }

  std::vector<std::unique_ptr<vigil::collector::Forwarder>> forwarders;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_forwarders), ',', absl::SkipEmpty())) {
    absl::StatusOr<std::unique_ptr<vigil::collector::JsonLinesForwarder>> f;
    if (name == "file") {
      f = vigil::collector::JsonLinesForwarder::Open("file", absl::GetFlag(FLAGS_file_path),
                                                     absl::GetFlag(FLAGS_file_max_bytes),
                                                     absl::GetFlag(FLAGS_file_max_files));
    } else if (name == "stdout") {
      f = vigil::collector::JsonLinesForwarder::Open("stdout", "-", 0, 1);
    } else {
      std::cerr << "vigil-collector: unknown forwarder " << name << " (file, stdout)\n";
      return 2;
    }
    if (!f.ok()) {
      std::cerr << "vigil-collector: " << f.status().message() << "\n";
      return 1;
    }
    forwarders.push_back(*std::move(f));
  }

  // Signals are taken synchronously by the main thread; every thread the
  // collector starts inherits this mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto collector = vigil::collector::Collector::Start(config, std::move(forwarders));
  if (!collector.ok()) {
    std::cerr << "vigil-collector: " << collector.status().message() << "\n";
    return 1;
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    if (absl::Status s = vigil::WriteFileAtomically(port_file, absl::StrCat((*collector)->port(), "\n"), false);
        !s.ok()) {
      std::cerr << "vigil-collector: " << s.message() << "\n";
      return 1;
    }
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  vigil::Logger("collector")->info("received {}: stopping", strsignal(sig));
  (*collector)->Shutdown();
  return 0;
}
