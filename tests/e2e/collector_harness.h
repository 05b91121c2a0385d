// Runs the real vigil-collector binary for the uplink e2e tests and reads
// back what its file forwarder wrote.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "vigil/v1/event.pb.h"

namespace vigil::testing {

// A temporary directory, removed at destruction unless the test failed or
// VIGIL_KEEP_TEST_FILES is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class CollectorProcess {
 public:
  // Spool, output and log go under `dir`. `flags` come after the harness's
  // own (--listen, --spool_dir, --file_path, --port_file).
  CollectorProcess(std::string dir, std::vector<std::string> flags);
  ~CollectorProcess();
  CollectorProcess(const CollectorProcess&) = delete;
  CollectorProcess& operator=(const CollectorProcess&) = delete;

  // Starts on `port` (0: any free port, then port() tells which) and waits
  // until it listens.
  absl::Status Start(int port = 0);
  // Sends `sig` and reaps it.
  void Stop(int sig);
  int port() const { return port_; }
  std::string address() const;
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // The file forwarder's output (rotated files included), every line parsed.
  std::vector<v1::Event> Events() const;
  // Event id -> how often it arrived.
  std::map<std::string, int> IdCounts() const;
  std::string Log() const;
  const std::string& output_path() const { return output_path_; }

 private:
  std::string dir_;
  std::vector<std::string> flags_;
  std::string output_path_;
  std::string port_file_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// openssl-made PEM files under `dir`: ca.pem / ca.key (the collector's and
// sensors' CA), server.pem / server.key (for 127.0.0.1), client.pem /
// client.key (signed by ca), other-ca.pem and other-client.pem / .key
// (signed by another CA).
absl::Status MakeCertificates(const std::string& dir);

std::string ReadWholeFile(const std::string& path);

// The sensor flags that stream to `c` in plaintext, spooling under `spool`,
// retrying quickly and reporting health often.
std::vector<std::string> UplinkFlags(const CollectorProcess& c, const std::string& spool);

// Runs /bin/true <tag>-<i> again and again on a thread, `pause` apart, so
// events keep coming.
class Load {
 public:
  Load(std::string tag, absl::Duration pause);
  ~Load() { Stop(); }
  void Stop();

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// What a wait for delivery found: of `expected` event ids, how many never
// arrived and how many arrived more than once.
struct Delivery {
  size_t expected = 0;
  size_t missing = 0;
  size_t duplicated = 0;
  std::string first_missing;  // "" if nothing is missing or the waiter does not tell
};

class SensorProcess;
// Waits until every event id the sensors wrote locally is at the collector
// (at most `allowed_missing` of them missing, for a test that knows what was
// lost) or `timeout` passes. Generous: the sensor sees every process on this
// shared machine, so a busy neighbour can make it 100k events, and the file
// forwarder's JSON encoding (~7k events/s on a loaded 2-core machine) then
// takes a while.
Delivery WaitDelivered(std::vector<SensorProcess*> sensors, const CollectorProcess& collector,
                       absl::Duration timeout = absl::Seconds(180), size_t allowed_missing = 0);

}  // namespace vigil::testing
