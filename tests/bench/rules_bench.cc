// Rule evaluation throughput: events per second per core through
// SigmaDetector::Evaluate, on one thread.
//
// Rules: VIGIL_BENCH_RULES (comma-separated files/dirs), else the repo's
// rules/ directory when it holds rules (with its lists/, or
// VIGIL_BENCH_LISTS), else a small set written here.
// Events: VIGIL_BENCH_EVENTS (JSON lines as vigil-sensor writes them), else a
// constructed mix of a busy node (file opens, execs, exits, connections, DNS).

#include <benchmark/benchmark.h>
#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "rules/sigma_detector.h"

namespace vigil {
namespace {

// A few rules in the style of the default ruleset, for a checkout without it.
constexpr char kFallbackRules[] = R"(title: Reverse shell
id: bench-1
logsource: {category: process_creation}
detection:
  shell: {Image|endswith: [/sh, /bash, /dash, /zsh, /ash]}
  sock: {StdinType: socket, StdoutType: socket}
  condition: shell and sock
level: critical
---
title: Miner
id: bench-2
logsource: {category: process_creation}
detection:
  name: {Image|endswith: [/xmrig, /xmr-stak, /minerd, /cpuminer]}
  args: {CommandLine|contains: ['stratum+tcp://', 'stratum+ssl://', '--donate-level', '-o pool.']}
  condition: 1 of them
level: high
---
title: Download and run
id: bench-3
logsource: {category: process_creation}
detection:
  dl: {Image|endswith: [/curl, /wget]}
  pipe: {CommandLine|contains: ['| sh', '| bash', '|sh', '|bash']}
  condition: dl and pipe
level: high
---
title: Exec from tmp
id: bench-4
logsource: {category: process_creation}
detection:
  sel: {Image|startswith: [/tmp/, /dev/shm/, /var/tmp/]}
  filter: {ParentImage|endswith: /dpkg}
  condition: sel and not filter
level: medium
---
title: Shadow read
id: bench-5
logsource: {category: file_access}
detection:
  sel: {TargetFilename: [/etc/shadow, /etc/gshadow]}
  filter: {Image: [/usr/sbin/sshd, /usr/bin/passwd, /usr/sbin/unix_chkpwd]}
  condition: sel and not filter
level: high
---
title: Token read
id: bench-6
logsource: {category: file_access}
detection:
  sel: {TargetFilename|endswith: /serviceaccount/token}
  filter: {Image|endswith: [/kubelet, /coredns]}
  condition: sel and not filter
level: medium
---
title: Preload write
id: bench-7
logsource: {category: file_event}
detection:
  sel: {TargetFilename: /etc/ld.so.preload}
  condition: sel
level: high
---
title: Metadata
id: bench-8
logsource: {category: network_connection}
detection:
  sel: {DestinationIp: [169.254.169.254, 'fd00:ec2::254']}
  host: {Host: 'true'}
  condition: sel and not host
level: medium
---
title: Pool port
id: bench-9
logsource: {category: network_connection}
detection:
  sel: {DestinationPort: [3333, 4444, 5555, 7777, 14444, 45700]}
  condition: sel
level: medium
---
title: Recon in web server
id: bench-10
logsource: {category: process_creation}
detection:
  parent: {ParentImage|endswith: [/nginx, /httpd, /apache2, /php-fpm, /node, /java]}
  child: {Image|endswith: [/sh, /bash, /id, /whoami, /uname, /cat]}
  condition: parent and child
level: high
---
title: Mining domain
id: bench-11
logsource: {category: dns_query}
detection:
  sel: {QueryName|contains: [minexmr, nanopool, supportxmr, 2miners, hashvault]}
  condition: sel
level: high
---
title: Kill security
id: bench-12
logsource: {category: process_creation}
detection:
  sel: {CommandLine|re: '(pkill|killall|systemctl stop) .*(falco|auditd|vigil)'}
  condition: sel
level: high
)";

std::vector<std::string> RulePaths(std::string& scratch) {
  if (const char* env = std::getenv("VIGIL_BENCH_RULES"); env != nullptr && *env != 0)
    return absl::StrSplit(env, ',', absl::SkipEmpty());
  std::string repo = VIGIL_SOURCE_DIR "/rules";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(repo, ec)) {
    if (e.path().extension() == ".yml") return {repo};
  }
  scratch = (std::filesystem::temp_directory_path() / "vigil-rules-bench.yml").string();
  std::ofstream(scratch) << kFallbackRules;
  return {scratch};
}

v1::Event Base(v1::EventKind kind, int i, const std::string& exe, std::vector<std::string> argv) {
  v1::Event e;
  e.set_id(absl::StrCat(i));
  e.set_kind(kind);
  e.set_node("node-1");
  e.mutable_time()->set_seconds(1800000000 + i / 1000);
  v1::Process* p = e.mutable_process();
  p->set_pid(1000 + i % 97);
  p->set_ppid(900);
  p->set_uid(i % 3 == 0 ? 0 : 1000);
  p->set_euid(p->uid());
  p->set_exe(exe);
  p->set_comm(std::filesystem::path(exe).filename().string());
  for (auto& a : argv) p->add_argv(a);
  p->set_cwd("/app");
  p->set_exec_id(absl::StrCat("node-1:", 1000 + i % 97));
  p->set_parent_exec_id("node-1:900");
  v1::Workload* w = e.mutable_workload();
  if (i % 4 == 0) {
    w->set_host(true);
  } else {
    w->set_container_id("3f2a9c1b7d5e");
    w->set_image("registry.example/shop/web:1.4.2");
    w->set_pod_name("web-7d9f8-x2k4q");
    w->set_pod_namespace("shop");
  }
  v1::Process* parent = e.add_ancestors();
  parent->set_exe(i % 2 ? "/usr/bin/bash" : "/usr/local/bin/python3");
  parent->add_argv("python3");
  parent->add_argv("/app/server.py");
  return e;
}

// A busy node's mix: mostly file opens, then process and network activity.
std::vector<v1::Event> ConstructedMix() {
  std::vector<v1::Event> events;
  const char* files[] = {"/app/logs/access.log", "/tmp/upload-1234.part",        "/etc/hosts",
                         "/etc/resolv.conf",     "/var/lib/app/cache/ab/cd.bin", "/proc/self/status"};
  const char* execs[][3] = {{"/usr/bin/ls", "ls", "-la"},
                            {"/usr/bin/git", "git", "status"},
                            {"/usr/bin/python3", "python3", "/app/worker.py"},
                            {"/bin/sh", "sh", "-c"},
                            {"/usr/bin/curl", "curl", "-s http://api.internal/health"},
                            {"/usr/bin/grep", "grep", "-r TODO /app/src"}};
  for (int i = 0; i < 4096; ++i) {
    int r = i % 20;
    if (r < 8) {
      v1::Event e = Base(v1::EVENT_KIND_FILE_OPEN, i, "/usr/local/bin/python3", {"python3", "/app/server.py"});
      e.mutable_file()->set_path(files[i % 6]);
      e.mutable_file()->set_flags(i % 3 == 0 ? 0 : 01 | 0100);
      events.push_back(std::move(e));
    } else if (r < 12) {
      const auto& x = execs[i % 6];
      v1::Event e = Base(v1::EVENT_KIND_EXEC, i, x[0], {x[1], x[2]});
      for (uint32_t fd = 0; fd < 3; ++fd) {
        v1::StdioFd* s = e.mutable_exec()->add_stdio();
        s->set_fd(fd);
        s->set_type(fd == 0 ? v1::FD_TYPE_DEVICE : v1::FD_TYPE_PIPE);
      }
      events.push_back(std::move(e));
    } else if (r < 15) {
      events.push_back(Base(v1::EVENT_KIND_EXIT, i, execs[i % 6][0], {execs[i % 6][1]}));
    } else if (r < 18) {
      v1::Event e = Base(v1::EVENT_KIND_TCP_CONNECT, i, "/usr/local/bin/python3", {"python3", "/app/server.py"});
      e.mutable_tcp_connect()->mutable_remote()->set_ip(i % 2 ? "10.96.12.7" : "10.244.1.19");
      e.mutable_tcp_connect()->mutable_remote()->set_port(i % 2 ? 5432 : 8080);
      e.mutable_tcp_connect()->mutable_local()->set_ip("10.244.3.4");
      events.push_back(std::move(e));
    } else {
      v1::Event e = Base(v1::EVENT_KIND_DNS_QUERY, i, "/usr/local/bin/python3", {"python3", "/app/server.py"});
      e.mutable_dns_query()->set_name(i % 2 ? "postgres.shop.svc.cluster.local" : "api.github.com");
      e.mutable_dns_query()->set_type_name("A");
      events.push_back(std::move(e));
    }
  }
  return events;
}

std::vector<v1::Event> RecordedEvents(const char* path) {
  std::vector<v1::Event> events;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    v1::Event e;
    if (google::protobuf::util::JsonStringToMessage(line, &e).ok() && e.kind() != v1::EVENT_KIND_ALERT) {
      events.push_back(std::move(e));
    }
  }
  return events;
}

void BM_Evaluate(benchmark::State& state) {
  std::string scratch;
  SigmaDetectorOptions options;
  options.rule_paths = RulePaths(scratch);
  options.embedded_rules = false;
  if (const char* lists = std::getenv("VIGIL_BENCH_LISTS")) {
    options.lists_dir = lists;
  } else if (options.rule_paths == std::vector<std::string>{VIGIL_SOURCE_DIR "/rules"}) {
    options.lists_dir = VIGIL_SOURCE_DIR "/rules/lists";  // the default ruleset's value lists
  }
  auto detector = SigmaDetector::Create(options, nullptr);
  if (!detector.ok()) {
    state.SkipWithError(std::string(detector.status().message()).c_str());
    return;
  }
  const char* recorded = std::getenv("VIGIL_BENCH_EVENTS");
  std::vector<v1::Event> events = recorded ? RecordedEvents(recorded) : ConstructedMix();
  if (events.empty()) {
    state.SkipWithError("no events");
    return;
  }
  std::vector<v1::Event> alerts;
  size_t i = 0, total_alerts = 0;
  for (auto _ : state) {
    (*detector)->Evaluate(events[i], alerts);
    total_alerts += alerts.size();
    alerts.clear();
    if (++i == events.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["rules"] = static_cast<double>((*detector)->Stats().rules.rules_size());
  state.counters["alerts"] = static_cast<double>(total_alerts);
}
BENCHMARK(BM_Evaluate);

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();
