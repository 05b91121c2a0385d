// Benchmark: latency from a syscall to its alert on the sensor's output, and
// with --collector=BINARY to its event in the collector's output too.
// Starts the real sensor (stdout piped here) with one extra rule matching
// `/bin/true <marker>-<i>`, runs COUNT such processes at INTERVAL_MS apart,
// and reads the sensor's JSON lines as they are written. Per alert:
//   event -> output: read time - the alert's time (the exec event's kernel
//                    timestamp: the end of the execve syscall);
//   spawn -> output: read time - just before posix_spawn (fork and exec
//                    included: what a user would see).
// With a collector (its own, on loopback, file forwarder), the sensor also
// streams every event to it, and per exec event:
//   event -> collector: the time its line was read from the collector's JSON
//                    file (polled every millisecond) - the exec's timestamp:
//                    the sensor's pipeline, spool and uplink, the
//                    collector's spool and its file forwarder.
// Prints p50/p90/p99/max of each. Needs root. Not a test: numbers are
// reported (scripts/bench-alert-latency.sh), never asserted.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "vigil/v1/event.pb.h"

extern char** environ;

namespace {

pid_t SpawnTrue(const std::string& arg) {
  std::string path = "/bin/true";
  std::string a = arg;
  char* argv[] = {path.data(), a.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100 * static_cast<double>(v.size())));
  return v[i];
}

// Where each marker process (by index; -1: warm-up) was seen, and its exec
// event's time.
struct Sightings {
  std::mutex mu;
  std::map<int, absl::Time> read_at;
  std::map<int, int64_t> event_time_ns;
};

// Records a JSON line of kind `kind` about a marker process, read at `now`.
// True for the warm-up process.
bool Record(const std::string& line, const std::string& kind, const std::string& marker, absl::Time now,
            Sightings& seen) {
  if (line.find(kind) == std::string::npos || line.find(marker) == std::string::npos) return false;
  vigil::v1::Event e;
  if (!google::protobuf::util::JsonStringToMessage(line, &e).ok()) return false;
  bool warm_up = false;
  for (const std::string& arg : e.process().argv()) {
    int index = 0;
    if (arg.rfind(marker + "-", 0) != 0 || !absl::SimpleAtoi(arg.substr(marker.size() + 1), &index)) continue;
    std::lock_guard<std::mutex> lock(seen.mu);
    seen.read_at.emplace(index, now);
    seen.event_time_ns.emplace(index, google::protobuf::util::TimeUtil::TimestampToNanoseconds(e.time()));
    warm_up |= index < 0;
  }
  return warm_up;
}

// Spawns `binary args...` and returns its pid (stdout to `out_fd` unless -1).
pid_t Start(std::vector<std::string> args, int out_fd) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (out_fd >= 0) dup2(out_fd, 1);
    std::vector<char*> a;
    for (std::string& s : args) a.push_back(s.data());
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  return pid;
}

void Report(const char* what, const std::vector<double>& ms) {
  std::printf("%-19s n=%zu  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, ms.size(),
              Percentile(ms, 50), Percentile(ms, 90), Percentile(ms, 99), Percentile(ms, 100));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s SENSOR COUNT INTERVAL_MS [--collector=BINARY] [sensor flags...]\n", argv[0]);
    return 2;
  }
  const std::string sensor = argv[1];
  int count = 0, interval_ms = 0;
  if (!absl::SimpleAtoi(argv[2], &count) || !absl::SimpleAtoi(argv[3], &interval_ms)) {
    std::fprintf(stderr, "COUNT and INTERVAL_MS are integers\n");
    return 2;
  }
  int next_arg = 4;
  std::string collector;
  if (argc > next_arg && absl::StartsWith(argv[next_arg], "--collector=")) {
    collector = std::string(argv[next_arg++]).substr(sizeof("--collector=") - 1);
  }
  char templ[] = "/tmp/vigil-bench-alert-XXXXXX";
  const std::string dir = mkdtemp(templ);
  const std::string marker = absl::StrCat("vigil-latency-", getpid());
  const std::string rule = dir + "/latency.yml";
  std::ofstream(rule) << "title: Alert latency benchmark\n"
                         "id: 7b0c3f5e-1d2a-4e6b-9c8d-000000000001\n"
                         "status: test\n"
                         "logsource:\n  category: process_creation\n  product: linux\n"
                         "detection:\n  selection:\n    Image|endswith: /true\n"
                         "    CommandLine|contains: "
                      << marker << "\n  condition: selection\nlevel: low\n";

  std::vector<std::string> args = {sensor,
                                   "--output=-",
                                   "--rules=" + rule,
                                   "--api_socket=",
                                   "--metrics_address=",
                                   "--log_level=warn",
                                   "--rules_exceptions=" + dir + "/none.yml",
                                   "--rules_lists_dir=" + dir + "/lists"};
  pid_t collector_pid = -1;
  const std::string collector_file = dir + "/collector.jsonl";
  if (!collector.empty()) {
    collector_pid = Start({collector, "--listen=127.0.0.1:0", "--plaintext", "--port_file=" + dir + "/port",
                           "--spool_dir=" + dir + "/collector-spool", "--file_path=" + collector_file,
                           "--metrics_address=", "--log_level=warn"},
                          -1);
    std::string port;
    for (int i = 0; i < 100 && port.empty(); ++i) {
      absl::SleepFor(absl::Milliseconds(100));
      std::ifstream(dir + "/port") >> port;
    }
    if (port.empty()) {
      std::fprintf(stderr, "the collector wrote no port file within 10s\n");
      kill(collector_pid, SIGKILL);
      return 1;
    }
    args.push_back("--collector=127.0.0.1:" + port);
    args.push_back("--collector-plaintext=true");
    args.push_back("--spool-dir=" + dir + "/sensor-spool");
  }
  for (int i = next_arg; i < argc; ++i) args.push_back(argv[i]);
  int out[2];
  if (pipe(out) != 0) return 1;
  const pid_t sensor_pid = Start(args, out[1]);
  close(out[1]);

  // Readers: every alert of the benchmark rule on the sensor's output, and
  // every exec event of a marker process in the collector's file.
  Sightings alerts, delivered;
  std::atomic<bool> ready{false}, stop{false};
  std::thread reader([&] {
    FILE* f = fdopen(out[0], "r");
    char* line = nullptr;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
      if (Record(line, "EVENT_KIND_ALERT", marker, absl::Now(), alerts)) ready = true;
    }
    free(line);
    fclose(f);
  });
  std::thread tail([&] {
    if (collector.empty()) return;
    FILE* f = nullptr;
    char* line = nullptr;
    size_t cap = 0;
    std::string partial;
    while (!stop) {
      if (f == nullptr) f = std::fopen(collector_file.c_str(), "r");
      ssize_t n = f == nullptr ? -1 : getline(&line, &cap, f);
      if (n <= 0) {
        if (f != nullptr) clearerr(f);
        absl::SleepFor(absl::Milliseconds(1));
        continue;
      }
      partial.append(line, static_cast<size_t>(n));
      if (partial.back() != '\n') continue;  // the forwarder is mid-line
      Record(partial, "EVENT_KIND_EXEC", marker, absl::Now(), delivered);
      partial.clear();
    }
    free(line);
    if (f != nullptr) std::fclose(f);
  });

  // Warm-up: until the first alert arrives the probes may not be attached.
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (!ready && absl::Now() < give_up) {
    const pid_t p = SpawnTrue(marker + "--1");
    waitpid(p, nullptr, 0);
    absl::SleepFor(absl::Milliseconds(200));
  }
  if (!ready) {
    std::fprintf(stderr, "no alert from the sensor within 60s\n");
    kill(sensor_pid, SIGKILL);
    if (collector_pid > 0) kill(collector_pid, SIGKILL);
    reader.detach();
    stop = true;
    tail.join();
    return 1;
  }

  std::vector<absl::Time> spawned(count);
  for (int i = 0; i < count; ++i) {
    spawned[i] = absl::Now();
    const pid_t p = SpawnTrue(absl::StrCat(marker, "-", i));
    waitpid(p, nullptr, 0);
    absl::SleepFor(absl::Milliseconds(interval_ms));
  }
  absl::SleepFor(absl::Seconds(2));
  kill(sensor_pid, SIGTERM);
  waitpid(sensor_pid, nullptr, 0);
  reader.join();
  stop = true;
  tail.join();
  if (collector_pid > 0) {
    kill(collector_pid, SIGTERM);
    waitpid(collector_pid, nullptr, 0);
  }

  // Latencies (ms) of the marker processes `seen` has, from their event's
  // time and from their spawn.
  auto latencies = [&](const Sightings& seen, std::vector<double>& from_event, std::vector<double>* from_spawn) {
    for (int i = 0; i < count; ++i) {
      auto r = seen.read_at.find(i);
      if (r == seen.read_at.end()) continue;
      from_event.push_back(absl::ToDoubleMilliseconds(r->second - absl::FromUnixNanos(seen.event_time_ns.at(i))));
      if (from_spawn != nullptr) from_spawn->push_back(absl::ToDoubleMilliseconds(r->second - spawned[i]));
    }
  };
  std::vector<double> from_event, from_spawn, to_collector;
  latencies(alerts, from_event, &from_spawn);
  latencies(delivered, to_collector, nullptr);
  std::printf("alerts %zu of %d\n", from_event.size(), count);
  Report("event -> output", from_event);
  Report("spawn -> output", from_spawn);
  bool complete = from_event.size() == static_cast<size_t>(count);
  if (!collector.empty()) {
    std::printf("exec events in the collector's file %zu of %d\n", to_collector.size(), count);
    Report("event -> collector", to_collector);
    complete &= to_collector.size() == static_cast<size_t>(count);
  }
  std::filesystem::remove_all(dir);
  return complete ? 0 : 1;
}
