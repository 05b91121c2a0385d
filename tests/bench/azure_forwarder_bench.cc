// Throughput of the azure-logs forwarder: rows per second and CPU per row
// for building rows, gzip and HTTPS, against vigil-azure-emulator run as a
// separate process so its own JSON parsing is not counted. Reports numbers;
// asserts nothing (not a ctest test).
//   build/tests/bench/azure_forwarder_bench [events=100000] [batch=1000]
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/azure/azure_logs_forwarder.h"
#include "test_pki.h"

namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

vigil::v1::Event Event(int i) {
  vigil::v1::Event e;
  e.set_id(absl::StrCat("bench-", i));
  e.set_kind(vigil::v1::EVENT_KIND_EXEC);
  e.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  e.set_node("node-bench-1");
  auto* p = e.mutable_process();
  p->set_pid(10000 + i % 30000);
  p->set_ppid(1);
  p->set_uid(0);
  p->set_comm("curl");
  p->set_exe("/usr/bin/curl");
  for (const char* a : {"curl", "-sS", "--retry", "3", "https://example.internal/api/v1/items"}) p->add_argv(a);
  p->add_argv(absl::StrCat("--header=X-Request-Id:", i * 2654435761u));
  p->set_cwd("/srv/app");
  p->set_exec_id(absl::StrCat("node-bench-1:", 1000000 + i, ":", 10000 + i % 30000));
  p->set_parent_exec_id("node-bench-1:1:1");
  auto* w = e.mutable_workload();
  w->set_cgroup_id(4242);
  w->set_container_id("3f4e1b2c9d8a7f6e5d4c3b2a19081726354433221100ffeeddccbbaa99887766");
  w->set_image("registry.example/app:1.2.3");
  w->set_pod_name("app-7d9f8c6b5-x2x9z");
  w->set_pod_namespace("prod");
  e.mutable_exec()->set_filename("/usr/bin/curl");
  e.mutable_exec()->set_argc(6);
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  int total = argc > 1 ? std::atoi(argv[1]) : 100000;
  int batch = argc > 2 ? std::atoi(argv[2]) : 1000;
  std::string dir = vigil::testing::MakeTempDir("vigil-azure-bench-");
  std::string port_file = dir + "/port";
  pid_t pid = fork();
  if (pid == 0) {
    std::string a1 = "--pki_dir=" + dir, a2 = "--port_file=" + port_file;
    execl(VIGIL_AZURE_EMULATOR_PATH, VIGIL_AZURE_EMULATOR_PATH, a1.c_str(), a2.c_str(), "--client_secret=pw",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int port = 0;
  for (int i = 0; i < 600 && port == 0; ++i) {
    std::ifstream(port_file) >> port;
    if (port == 0) absl::SleepFor(absl::Milliseconds(50));
  }
  if (port == 0) return 1;

  vigil::collector::AzureLogsConfig config;
  config.endpoint = config.authority_host = absl::StrCat("https://127.0.0.1:", port);
  config.dcr_immutable_id = "dcr-00000000000000000000000000000000";
  config.tenant_id = "test-tenant";
  config.client_id = "test-client";
  config.client_secret = "pw";
  config.ca_bundle = dir + "/ca.pem";
  config.dead_letter_dir = dir + "/dead-letter";
  auto forwarder = vigil::collector::MakeAzureLogsForwarder(config);
  if (!forwarder.ok()) return 1;

  std::vector<vigil::v1::Event> events;
  for (int j = 0; j < total; ++j) events.push_back(Event(j));
  std::vector<std::vector<const vigil::v1::Event*>> batches;
  for (int i = 0; i < total; i += batch) {
    batches.emplace_back();
    for (int j = i; j < std::min(total, i + batch); ++j) batches.back().push_back(&events[j]);
  }
  double cpu0 = CpuSeconds();
  absl::Time t0 = absl::Now();
  for (const auto& b : batches) {
    if (auto s = (*forwarder)->Send(b); !s.ok()) {
      std::fprintf(stderr, "send: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  double wall = absl::ToDoubleSeconds(absl::Now() - t0);
  double cpu = CpuSeconds() - cpu0;
  std::printf(
      "%d events in batches of %d: %.2f s wall, %.0f events/s, forwarder CPU %.2f s = %.1f us/event (%.0f events/s per "
      "core)\n",
      total, batch, wall, total / wall, cpu, cpu / total * 1e6, total / cpu);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::filesystem::remove_all(dir);
  return 0;
}
