// Load generator for vigil-collector: N simulated sensors, each its own gRPC
// connection and Publish stream, send batches of synthetic but realistic
// exec events (argv, lineage, workload) as fast as the collector
// acknowledges them (up to --in_flight batches unacknowledged per stream).
// Reports acknowledged events/s, per collector CPU core (its CPU time from
// /proc/<pid>/stat), and the collector's memory. Numbers are reported, not
// asserted. Run through scripts/bench-collector.sh.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "vigil/v1/collector.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7443", "collector address (plaintext)");
ABSL_FLAG(int, streams, 32, "simulated sensors");
ABSL_FLAG(int, seconds, 20, "how long to send");
ABSL_FLAG(int, batch_events, 512,
          "events per batch (512 in docs/BENCHMARKS.md's figures; a busy sensor sends up to 2,048, at most 1 MiB)");
ABSL_FLAG(int, in_flight, 16, "unacknowledged batches per stream");
ABSL_FLAG(bool, gzip, false, "gzip the batches, as a sensor run with --collector_gzip does (off: its default)");
ABSL_FLAG(int, collector_pid, 0, "pid of the collector, for CPU time and memory");
ABSL_FLAG(std::string, cursor_file, "",
          "a forwarder's cursor file in the collector's spool: when set, also wait until that forwarder has "
          "caught up and report the CPU time of receiving and forwarding");

namespace {

using vigil::v1::PublishRequest;
using vigil::v1::PublishResponse;

PublishRequest MakeBatch(int sensor, uint64_t sequence, int events) {
  PublishRequest r;
  r.set_sequence(sequence);
  const std::string node = absl::StrCat("bench-node-", sensor);
  for (int i = 0; i < events; ++i) {
    vigil::v1::Event* e = r.add_events();
    const uint64_t n = sequence * 100000 + i;
    e->set_id(absl::StrCat("bench", sensor, "-", n));
    e->set_kind(vigil::v1::EVENT_KIND_EXEC);
    e->mutable_time()->set_seconds(1764571200 + static_cast<int64_t>(n / 1000));
    e->set_node(node);
    vigil::v1::Process* p = e->mutable_process();
    p->set_pid(10000 + i);
    p->set_tid(10000 + i);
    p->set_ppid(9000);
    p->set_uid(1000);
    p->set_gid(1000);
    p->set_comm("curl");
    p->set_exe("/usr/bin/curl");
    for (const char* a : {"/usr/bin/curl", "-sS", "--max-time", "5", "https://api.internal.example/v1/health"}) {
      p->add_argv(a);
    }
    p->set_cwd("/srv/app");
    p->set_exec_id(absl::StrCat(node, ":", 348991 + i, ":", 10000 + i));
    p->set_parent_exec_id(absl::StrCat(node, ":348789:9000"));
    vigil::v1::Workload* w = e->mutable_workload();
    w->set_cgroup_id(4242);
    w->set_container_id("3f4e9a7c1b2d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071");
    w->set_container_name("api");
    w->set_image("registry.example/api:1.42.0");
    w->set_pod_name("api-7c9f8d6b5-x2x9q");
    w->set_pod_namespace("prod");
    for (const char* c : {"sh", "node", "containerd-shim"}) {
      vigil::v1::Process* a = e->add_ancestors();
      a->set_pid(9000);
      a->set_comm(c);
      a->set_exe(absl::StrCat("/usr/bin/", c));
    }
    e->mutable_exec()->set_filename("/usr/bin/curl");
    e->mutable_exec()->set_argc(5);
  }
  return r;
}

struct CpuMem {
  double cpu_seconds = 0;
  long rss_kb = 0;
  long hwm_kb = 0;
};

CpuMem Sample(int pid) {
  CpuMem m;
  if (pid <= 0) return m;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string s((std::istreambuf_iterator<char>(stat)), {});
  const size_t close = s.rfind(')');
  if (close != std::string::npos) {
    std::vector<std::string> f = absl::StrSplit(s.substr(close + 2), ' ');
    uint64_t utime = 0, stime = 0;
    if (f.size() > 13 && absl::SimpleAtoi(f[11], &utime) && absl::SimpleAtoi(f[12], &stime)) {
      m.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) m.rss_kb = std::stol(line.substr(6));
    if (line.starts_with("VmHWM:")) m.hwm_kb = std::stol(line.substr(6));
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int streams = absl::GetFlag(FLAGS_streams);
  const int batch_events = absl::GetFlag(FLAGS_batch_events);
  const int in_flight = absl::GetFlag(FLAGS_in_flight);
  const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_seconds));

  // Pre-serialised batches per stream: the generator's own CPU goes to gRPC,
  // not to building events.
  std::atomic<uint64_t> acked_events{0};
  std::atomic<uint64_t> stored_batches{0};  // acknowledged, so in the spool
  std::atomic<uint64_t> failed_streams{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const CpuMem before = Sample(absl::GetFlag(FLAGS_collector_pid));
  const absl::Time start = absl::Now();
  for (int s = 0; s < streams; ++s) {
    threads.emplace_back([&, s] {
      grpc::ChannelArguments args;
      args.SetCompressionAlgorithm(absl::GetFlag(FLAGS_gzip) ? GRPC_COMPRESS_GZIP : GRPC_COMPRESS_NONE);
      args.SetInt("vigil.bench.stream", s);  // one connection per simulated sensor
      auto channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args);
      auto stub = vigil::v1::Collector::NewStub(channel);
      grpc::ClientContext context;
      auto stream = stub->Publish(&context);
      absl::Mutex mu;
      uint64_t acked = 0;
      bool broken = false;
      std::thread reader([&] {
        PublishResponse r;
        while (stream->Read(&r)) {
          // Cumulative: one acknowledgement may cover several batches.
          absl::MutexLock lock(&mu);
          const uint64_t batches = r.sequence() - acked;
          acked_events.fetch_add(batches * batch_events, std::memory_order_relaxed);
          stored_batches.fetch_add(batches, std::memory_order_relaxed);
          acked = r.sequence();
        }
        absl::MutexLock lock(&mu);
        broken = true;
      });
      PublishRequest batch = MakeBatch(s, 1, batch_events);
      batch.mutable_sensor()->set_node(absl::StrCat("bench-node-", s));
      batch.mutable_sensor()->set_instance_id(absl::StrCat("bench", s));
      for (uint64_t seq = 1; !stop; ++seq) {
        {
          absl::MutexLock lock(&mu);
          auto room = [&] { return broken || seq <= acked + in_flight; };
          mu.Await(absl::Condition(&room));
          if (broken) break;
        }
        batch.set_sequence(seq);
        if (seq == 2) batch.clear_sensor();
        if (!stream->Write(batch)) break;
      }
      stream->WritesDone();
      reader.join();
      if (!stream->Finish().ok()) failed_streams.fetch_add(1);
    });
  }
  absl::SleepFor(duration);
  stop = true;
  const uint64_t events = acked_events.load();
  const absl::Duration elapsed = absl::Now() - start;
  const CpuMem after = Sample(absl::GetFlag(FLAGS_collector_pid));
  for (auto& t : threads) t.join();

  // The forwarder lags behind ingestion; wait for it (its cursor is the next
  // spool index it will read) so its CPU time is counted too.
  const std::string cursor_file = absl::GetFlag(FLAGS_cursor_file);
  absl::Duration forward_lag;
  CpuMem done = after;
  if (!cursor_file.empty()) {
    const uint64_t total = stored_batches.load();
    const absl::Time wait_start = absl::Now();
    for (;;) {
      std::ifstream in(cursor_file);
      uint64_t cursor = 0;
      in >> cursor;
      if (cursor > total || absl::Now() - wait_start > absl::Minutes(10)) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    forward_lag = absl::Now() - wait_start;
    done = Sample(absl::GetFlag(FLAGS_collector_pid));
  }

  const double secs = absl::ToDoubleSeconds(elapsed);
  const double cpu = after.cpu_seconds - before.cpu_seconds;
  std::cout << "streams " << streams << ", batch " << batch_events << " events, " << secs << " s\n"
            << "acknowledged events: " << events << " (" << static_cast<uint64_t>(events / secs) << " events/s)\n";
  if (absl::GetFlag(FLAGS_collector_pid) > 0) {
    std::cout << "collector CPU: " << cpu << " s (" << cpu / secs << " cores busy)\n"
              << "events/s per collector core: " << static_cast<uint64_t>(cpu > 0 ? events / cpu : 0) << "\n"
              << "collector RSS: " << after.rss_kb / 1024 << " MiB (peak " << after.hwm_kb / 1024 << " MiB)\n";
  }
  if (!cursor_file.empty()) {
    const uint64_t all = acked_events.load();
    const double total_cpu = done.cpu_seconds - before.cpu_seconds;
    std::cout << "forwarder caught up " << absl::FormatDuration(forward_lag) << " after the load stopped\n"
              << "received + forwarded: " << all << " events in " << total_cpu
              << " s of collector CPU = " << static_cast<uint64_t>(total_cpu > 0 ? all / total_cpu : 0)
              << " events/s per core\n"
              << "collector RSS then: " << done.rss_kb / 1024 << " MiB (peak " << done.hwm_kb / 1024 << " MiB)\n";
  }
  std::cout << "streams ended with an error: " << failed_streams.load() << "\n";
  return 0;
}
