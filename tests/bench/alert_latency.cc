// Benchmark: latency from a syscall to its alert on the sensor's output.
// Starts the real sensor (stdout piped here) with one extra rule matching
// `/bin/true <marker>-<i>`, runs COUNT such processes at INTERVAL_MS apart,
// and reads the sensor's JSON lines as they are written. Per alert:
//   event -> output: read time - the alert's time (the exec event's kernel
//                    timestamp: the end of the execve syscall);
//   spawn -> output: read time - just before posix_spawn (fork and exec
//                    included: what a user would see).
// Prints p50/p90/p99/max of both. Needs root. Not a test: numbers are
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

void Report(const char* what, const std::vector<double>& ms) {
  std::printf("%-16s n=%zu  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, ms.size(),
              Percentile(ms, 50), Percentile(ms, 90), Percentile(ms, 99), Percentile(ms, 100));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s SENSOR COUNT INTERVAL_MS [sensor flags...]\n", argv[0]);
    return 2;
  }
  const std::string sensor = argv[1];
  int count = 0, interval_ms = 0;
  if (!absl::SimpleAtoi(argv[2], &count) || !absl::SimpleAtoi(argv[3], &interval_ms)) {
    std::fprintf(stderr, "COUNT and INTERVAL_MS are integers\n");
    return 2;
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

  int out[2];
  if (pipe(out) != 0) return 1;
  std::vector<std::string> args = {sensor,
                                   "--output=-",
                                   "--rules=" + rule,
                                   "--api_socket=",
                                   "--metrics_address=",
                                   "--log_level=warn",
                                   "--rules_exceptions=" + dir + "/none.yml",
                                   "--rules_lists_dir=" + dir + "/lists"};
  for (int i = 4; i < argc; ++i) args.push_back(argv[i]);
  const pid_t sensor_pid = fork();
  if (sensor_pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    std::vector<char*> a;
    for (std::string& s : args) a.push_back(s.data());
    a.push_back(nullptr);
    execv(sensor.c_str(), a.data());
    _exit(127);
  }
  close(out[1]);

  // Reader: every alert of the benchmark rule, with the time it was read.
  std::mutex mu;
  std::map<int, absl::Time> read_at;     // by index; -1: warm-up
  std::map<int, int64_t> event_time_ns;  // the alert's (exec event's) time
  std::atomic<bool> ready{false};
  std::thread reader([&] {
    FILE* f = fdopen(out[0], "r");
    char* line = nullptr;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
      const absl::Time now = absl::Now();
      const std::string l(line);
      if (l.find("EVENT_KIND_ALERT") == std::string::npos || l.find(marker) == std::string::npos) continue;
      vigil::v1::Event e;
      if (!google::protobuf::util::JsonStringToMessage(l, &e).ok()) continue;
      for (const std::string& arg : e.process().argv()) {
        int index = 0;
        if (arg.rfind(marker + "-", 0) != 0 || !absl::SimpleAtoi(arg.substr(marker.size() + 1), &index)) continue;
        std::lock_guard<std::mutex> lock(mu);
        read_at[index] = now;
        event_time_ns[index] = google::protobuf::util::TimeUtil::TimestampToNanoseconds(e.time());
        if (index < 0) ready = true;
      }
    }
    free(line);
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
    reader.detach();
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

  std::vector<double> from_event, from_spawn;
  for (int i = 0; i < count; ++i) {
    auto r = read_at.find(i);
    if (r == read_at.end()) continue;
    from_event.push_back(absl::ToDoubleMilliseconds(r->second - absl::FromUnixNanos(event_time_ns[i])));
    from_spawn.push_back(absl::ToDoubleMilliseconds(r->second - spawned[i]));
  }
  std::printf("alerts %zu of %d\n", from_event.size(), count);
  Report("event -> output", from_event);
  Report("spawn -> output", from_spawn);
  std::filesystem::remove_all(dir);
  return from_event.size() == static_cast<size_t>(count) ? 0 : 1;
}
