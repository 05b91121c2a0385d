// The sensor's userspace cost per event, one core: raw ring-buffer records
// go through decode -> lineage (process cache) -> container -> DNS names ->
// detection (the embedded default ruleset) -> JSON encoding, as the pipeline
// thread runs them. The records are built from the ABI structs (Corpus), or
// recorded from the probes on this host (VIGIL_BENCH_RECORDS, written by
// bench_record). Not a test:
//   ninja -C build -j2 vigil_pipeline_bench && build/tests/bench/vigil_pipeline_bench
//   sudo scripts/bench-pipeline.sh   # records, then runs it on the records
#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "collector/json_lines_forwarder.h"
#include "common/exec_id.h"
#include "container/container_enricher.h"
#include "decode/decoder.h"
#include "dns/dns_names.h"
#include "google/protobuf/util/json_util.h"
#include "pipeline/pipeline.h"
#include "process/process_cache.h"
#include "records.h"
#include "rules/sigma_detector.h"
#include "sink/json_encoder.h"
#include "sink/json_lines_sink.h"

namespace vigil {
namespace {

using test::Record;

vigil_proc Proc(uint32_t pid, uint32_t ppid, uint64_t start_ticks, uint64_t parent_start_ticks) {
  vigil_proc p = test::TestProc(pid);
  p.tid = pid;
  p.ppid = ppid;
  p.start_boottime_ns = start_ticks * kNsPerTick;
  p.parent_start_boottime_ns = parent_start_ticks * kNsPerTick;
  std::strncpy(p.comm, "curl", sizeof(p.comm));
  return p;
}

// What a busy node sends: a chain of shells (so exec events carry
// ancestors), then many short processes below it, each a fork, an exec with
// a real-looking command line, two file writes and an exit. Per process:
// 5 records, of which the exec is the largest.
std::vector<Record> Corpus(size_t processes) {
  std::vector<Record> out;
  constexpr uint32_t kShells = 4;
  for (uint32_t i = 0; i < kShells; ++i) {
    test::ExecSpec s = test::ExecOf({"/bin/bash", "-c", "while true; do ./job.sh; done"});
    s.proc = Proc(100 + i, i == 0 ? 1 : 99 + i, 1000 + i, i == 0 ? 1 : 999 + i);
    s.filename = "/bin/bash";
    s.cwd = "/srv/app";
    out.push_back(test::ForkRecord(100 + i, s.proc));
    out.push_back(test::ExecRecord(s));
  }
  const uint32_t shell = 100 + kShells - 1;
  const uint64_t shell_start = 1000 + kShells - 1;
  for (uint32_t i = 0; i < processes; ++i) {
    const uint32_t pid = 10000 + i;
    const vigil_proc p = Proc(pid, shell, 20000 + i, shell_start);
    out.push_back(test::ForkRecord(shell, p));
    test::ExecSpec s = test::ExecOf(
        {"curl", "-sS", "--max-time", "5", "-o", "/tmp/out.json", "https://api.example.internal/v1/items?page=2"});
    s.proc = p;
    s.filename = "/usr/bin/curl";
    s.cwd = "/srv/app";
    out.push_back(test::ExecRecord(s));
    test::FileSpec f;
    f.proc = p;
    f.flags = 01101;  // O_WRONLY | O_CREAT | O_TRUNC
    f.path = "/tmp/out.json";
    out.push_back(test::FileRecord(f));
    f.path = "/srv/app/logs/job.log";
    out.push_back(test::FileRecord(f));
    out.push_back(test::ExitRecord(0, p));
  }
  return out;
}

// The stages as the pipeline thread holds them. Built records name cgroups
// of an empty tree; recorded ones name this host's, which the container
// stage then walks as the sensor's does (no runtime is asked).
struct Stages {
  explicit Stages(bool host_cgroups = false)
      : decoder(DecoderOptions{.node = test::kNode}, &clock),
        cache(ProcessCacheOptions{.node = test::kNode, .proc_root = "/nonexistent"}) {
    ContainerEnricherOptions options;
    if (!host_cgroups) {
      options.cgroup_root = dir;
      std::filesystem::create_directories(dir);
    }
    container = *ContainerEnricher::Create(options, {});
  }
  ~Stages() { std::filesystem::remove_all(dir); }

  v1::Event& Decode(const Record& r) {
    v1::Event& e = scratch[Decoder::PeekKind(r) % VIGIL_KIND_MAX];
    if (!decoder.Decode(r, e).ok()) std::abort();
    return e;
  }

  std::string dir = "/tmp/vigil-pipeline-bench-cgroup";
  BootClock clock;
  Decoder decoder;
  ProcessCache cache;
  std::unique_ptr<ContainerEnricher> container;
  DnsNames dns{DnsNamesOptions{}};
  std::array<v1::Event, VIGIL_KIND_MAX> scratch;  // one per kind, as Pipeline keeps them
};

constexpr size_t kProcesses = 2000;

void BM_Decode(benchmark::State& state) {
  const auto corpus = Corpus(kProcesses);
  Stages s;
  for (auto _ : state) {
    for (const Record& r : corpus) benchmark::DoNotOptimize(s.Decode(r));
  }
  state.SetItemsProcessed(state.iterations() * corpus.size());
}
BENCHMARK(BM_Decode);

void BM_DecodeLineage(benchmark::State& state) {
  const auto corpus = Corpus(kProcesses);
  Stages s;
  for (auto _ : state) {
    for (const Record& r : corpus) s.cache.Enrich(s.Decode(r));
  }
  state.SetItemsProcessed(state.iterations() * corpus.size());
}
BENCHMARK(BM_DecodeLineage);

// The whole per-event path: decode -> lineage -> container -> DNS names ->
// [detection with the default ruleset, as the sensor runs by default] ->
// encode (alerts raised are encoded too).
void RunWholePath(benchmark::State& state, const std::vector<Record>& corpus, Stages& s, bool detection) {
  std::unique_ptr<SigmaDetector> detector;
  if (detection) {
    auto d = SigmaDetector::Create(SigmaDetectorOptions{.node = test::kNode}, &s.cache);
    if (!d.ok()) std::abort();
    detector = *std::move(d);
  }
  std::vector<v1::Event> alerts;
  std::string out;
  size_t bytes = 0;
  size_t alerted = 0;
  for (auto _ : state) {
    for (const Record& r : corpus) {
      v1::Event& e = s.Decode(r);
      s.cache.Enrich(e);
      s.container->Enrich(e);
      s.dns.Enrich(e);
      if (detector != nullptr) detector->Evaluate(e, alerts);
      if (!AppendJsonLine(e, out).ok()) std::abort();
      for (const v1::Event& a : alerts) {
        if (!AppendJsonLine(a, out).ok()) std::abort();
      }
      alerted += alerts.size();
      alerts.clear();
      bytes += out.size();
      out.clear();
    }
  }
  state.SetItemsProcessed(state.iterations() * corpus.size());
  state.SetBytesProcessed(bytes);
  state.counters["alerts_per_event"] =
      benchmark::Counter(static_cast<double>(alerted) / (state.iterations() * corpus.size()));
}

void BM_DecodeLineageContainerEncode(benchmark::State& state) {
  Stages s;
  RunWholePath(state, Corpus(kProcesses), s, false);
}
BENCHMARK(BM_DecodeLineageContainerEncode);

void BM_DecodeLineageContainerDetectEncode(benchmark::State& state) {
  Stages s;
  RunWholePath(state, Corpus(kProcesses), s, true);
}
BENCHMARK(BM_DecodeLineageContainerDetectEncode);

// Records the probes wrote on a running node (VIGIL_BENCH_RECORDS, from
// bench_record): a real mix of kinds, command lines, ancestors and cgroups.
// Empty, with the benchmark marked skipped, when there are none.
std::vector<Record> RecordedRecords(benchmark::State& state) {
  std::vector<Record> records;
  const char* path = std::getenv("VIGIL_BENCH_RECORDS");
  if (path == nullptr) {
    state.SkipWithError("VIGIL_BENCH_RECORDS is not set");
    return records;
  }
  std::ifstream in(path, std::ios::binary);
  for (uint32_t size; in.read(reinterpret_cast<char*>(&size), sizeof(size));) {
    Record& r = records.emplace_back(size);
    if (!in.read(reinterpret_cast<char*>(r.data()), size)) std::abort();
  }
  if (records.empty()) state.SkipWithError("no records in VIGIL_BENCH_RECORDS");
  return records;
}

// What the sensor learns from /proc at start: the processes that were
// running before the recording began, known from their first record, so
// that their events find them as the sensor's would.
void SeedProcesses(const std::vector<Record>& records, Stages& s) {
  for (const Record& r : records) {
    v1::Event& e = s.Decode(r);
    if (!e.has_process() || e.process().exec_id().empty()) continue;
    if (e.kind() == v1::EVENT_KIND_FORK || s.cache.Lookup(e.process().exec_id()) != nullptr) {
      s.cache.Enrich(e);
      continue;
    }
    v1::Event exec = e;  // stored as an exec of what it runs
    exec.set_kind(v1::EVENT_KIND_EXEC);
    s.cache.Enrich(exec);
  }
}

void RunRecordedPath(benchmark::State& state, bool detection) {
  const std::vector<Record> records = RecordedRecords(state);
  if (records.empty()) return;
  Stages s(/*host_cgroups=*/true);
  SeedProcesses(records, s);
  RunWholePath(state, records, s, detection);
}

void BM_RecordedDecodeLineageContainerEncode(benchmark::State& state) { RunRecordedPath(state, false); }
BENCHMARK(BM_RecordedDecodeLineageContainerEncode);

void BM_RecordedDecodeLineageContainerDetectEncode(benchmark::State& state) { RunRecordedPath(state, true); }
BENCHMARK(BM_RecordedDecodeLineageContainerDetectEncode);

// The same records through a running Pipeline as the sensor's reader feeds
// it: Submit() per record, Publish() after every `range(0)` records (a poll
// of the ring buffer; ~190 at 1,600 execs/s and the 40 ms interval), with
// the stages the sensor builds by default and JSON lines to /dev/null. What
// the path above leaves out: taking the records from the reader, the work's
// hand-off, the sinks' flush per poll. Its time includes the pipeline
// thread's whenever the reader hands records over.
void BM_RecordedPipelinePolls(benchmark::State& state) {
  const std::vector<Record> records = RecordedRecords(state);
  if (records.empty()) return;
  BootClock clock;
  auto cache = std::make_unique<ProcessCache>(ProcessCacheOptions{.node = test::kNode, .proc_root = "/nonexistent"});
  ProcessCache* view = cache.get();
  std::vector<std::unique_ptr<Enricher>> enrichers;
  enrichers.push_back(std::move(cache));
  enrichers.push_back(std::make_unique<DnsNames>(DnsNamesOptions{}));
  enrichers.push_back(*ContainerEnricher::Create(ContainerEnricherOptions{}, {}));
  auto detector = SigmaDetector::Create(SigmaDetectorOptions{.node = test::kNode}, view);
  auto sink = JsonLinesSink::Open("/dev/null");
  if (!detector.ok() || !sink.ok()) std::abort();
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(*std::move(sink));
  // A clock that stands still, past every deadline: no event waits for a
  // container runtime (none answers here), and no poll slowed by this shared
  // host (or by valgrind) sends the next second's to the pipeline thread.
  const absl::Time still = absl::FromUnixSeconds(int64_t{1} << 40);
  Pipeline pipeline(PipelineOptions{.instance_id = "bench", .now = [still] { return still; }},
                    Decoder(DecoderOptions{.node = test::kNode}, &clock), std::move(enrichers), *std::move(detector),
                    std::move(sinks));
  pipeline.Start();
  const size_t poll = static_cast<size_t>(state.range(0));
  size_t in_poll = 0;
  for (auto _ : state) {
    for (const Record& r : records) {
      pipeline.Submit(r);
      if (++in_poll == poll) {
        pipeline.Publish();
        in_poll = 0;
        // The kernel, not a loop, sets the reader's pace: a poll comes once
        // the ones before are done (else, once records are handed over,
        // this loop fills the queue at the speed of a copy).
        while (pipeline.Counters().queue_depth > 0) std::this_thread::yield();
      }
    }
  }
  pipeline.Publish();
  pipeline.Stop();
  state.SetItemsProcessed(state.iterations() * records.size());
  const PipelineCounters c = pipeline.Counters();
  uint64_t dropped = 0;
  for (uint64_t d : c.dropped_queue) dropped += d;
  state.counters["dropped"] = benchmark::Counter(static_cast<double>(dropped));
}
BENCHMARK(BM_RecordedPipelinePolls)->Arg(190);

// Detection alone, on the enriched events.
void BM_Detect(benchmark::State& state) {
  const auto corpus = Corpus(kProcesses);
  Stages s;
  std::vector<v1::Event> events;
  for (const Record& r : corpus) {
    v1::Event& e = s.Decode(r);
    s.cache.Enrich(e);
    s.container->Enrich(e);
    events.push_back(e);
  }
  auto detector = SigmaDetector::Create(SigmaDetectorOptions{.node = test::kNode}, &s.cache);
  if (!detector.ok()) std::abort();
  std::vector<v1::Event> alerts;
  for (auto _ : state) {
    for (const v1::Event& e : events) {
      (*detector)->Evaluate(e, alerts);
      alerts.clear();
    }
  }
  state.SetItemsProcessed(state.iterations() * events.size());
}
BENCHMARK(BM_Detect);

// Encoding alone, of the enriched events: Vigil's encoder and, for the
// comparison, protobuf's printer that it replaces (same bytes out).
std::vector<v1::Event> Enriched() {
  const auto corpus = Corpus(kProcesses);
  Stages s;
  std::vector<v1::Event> events;
  for (const Record& r : corpus) {
    v1::Event& e = s.Decode(r);
    s.cache.Enrich(e);
    s.container->Enrich(e);
    events.push_back(e);
  }
  return events;
}

void BM_EncodeVigil(benchmark::State& state) {
  const auto events = Enriched();
  std::string out;
  for (auto _ : state) {
    for (const v1::Event& e : events) {
      if (!AppendJson(e, out)) std::abort();
      out.clear();
    }
  }
  state.SetItemsProcessed(state.iterations() * events.size());
}
BENCHMARK(BM_EncodeVigil);

// Events a running sensor wrote (its JSON lines, in VIGIL_BENCH_EVENTS): a
// real node's mix of kinds, command lines and ancestors, with the quotes and
// long arguments the built corpus does not have. For example:
//   vigil-sensor --output=/tmp/recorded.json &  bench_workload exec-rate 400 5
// Empty, with the benchmark marked skipped, when there are none.
std::vector<v1::Event> Recorded(benchmark::State& state) {
  std::vector<v1::Event> events;
  const char* path = std::getenv("VIGIL_BENCH_EVENTS");
  if (path == nullptr) {
    state.SkipWithError("VIGIL_BENCH_EVENTS is not set");
    return events;
  }
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!google::protobuf::util::JsonStringToMessage(line, &events.emplace_back()).ok()) std::abort();
  }
  if (events.empty()) state.SkipWithError("no events in VIGIL_BENCH_EVENTS");
  return events;
}

// Encoding alone, of recorded events.
void BM_EncodeRecorded(benchmark::State& state) {
  const std::vector<v1::Event> events = Recorded(state);
  if (events.empty()) return;
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    for (const v1::Event& e : events) {
      if (!AppendJson(e, out)) std::abort();
      bytes += out.size();
      out.clear();
    }
  }
  state.SetItemsProcessed(state.iterations() * events.size());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_EncodeRecorded);

// Detection alone, with the default rules, on recorded events: how often a
// real node's events hold a rule's literals, where the built corpus has every
// process match one. Their processes are in the process cache first, as the
// sensor's would be, for the rules that look at a parent.
void BM_DetectRecorded(benchmark::State& state) {
  const std::vector<v1::Event> events = Recorded(state);
  if (events.empty()) return;
  ProcessCache cache(ProcessCacheOptions{.node = test::kNode, .proc_root = "/nonexistent"});
  for (v1::Event e : events) cache.Enrich(e);
  auto detector = SigmaDetector::Create(SigmaDetectorOptions{.node = test::kNode}, &cache);
  if (!detector.ok()) std::abort();
  std::vector<v1::Event> alerts;
  size_t alerted = 0;
  for (auto _ : state) {
    for (const v1::Event& e : events) {
      (*detector)->Evaluate(e, alerts);
      alerted += alerts.size();
      alerts.clear();
    }
  }
  state.SetItemsProcessed(state.iterations() * events.size());
  state.counters["alerts_per_event"] =
      benchmark::Counter(static_cast<double>(alerted) / (state.iterations() * events.size()));
}
BENCHMARK(BM_DetectRecorded);

// The collector's file forwarder: the same events as its spool holds them,
// serialized, printed straight from the wire.
void BM_EncodeFromWire(benchmark::State& state) {
  std::vector<std::string> wire;
  for (const v1::Event& e : Enriched()) wire.push_back(e.SerializeAsString());
  std::string out;
  for (auto _ : state) {
    for (const std::string& bytes : wire) {
      if (!AppendJsonFromWire(v1::Event::descriptor(), bytes, out)) std::abort();
      out.clear();
    }
  }
  state.SetItemsProcessed(state.iterations() * wire.size());
}
BENCHMARK(BM_EncodeFromWire);

// The collector's file lane past the spool: the same events, serialized, in
// batches as one spool read hands them over (~4 MiB), to a JSON-lines file
// in a temporary directory, fdatasync included. CPU time of this thread,
// the kernel's copy into the page cache included.
void BM_FileForwarder(benchmark::State& state) {
  std::vector<std::string> wire;
  size_t bytes = 0;
  while (bytes < (4u << 20)) {
    for (const v1::Event& e : Enriched()) {
      wire.push_back(e.SerializeAsString());
      bytes += wire.back().size();
    }
  }
  const std::vector<absl::string_view> views(wire.begin(), wire.end());
  char dir[] = "/tmp/vigil-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) std::abort();
  {
    auto f = collector::JsonLinesForwarder::Open("file", std::string(dir) + "/events.jsonl", 256u << 20, 2);
    if (!f.ok()) std::abort();
    for (auto _ : state) {
      if (!(*f)->SendSerialized(views).ok()) std::abort();
    }
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations() * views.size());
}
BENCHMARK(BM_FileForwarder);

void BM_EncodeProtobuf(benchmark::State& state) {
  const auto events = Enriched();
  std::string out;
  for (auto _ : state) {
    for (const v1::Event& e : events) {
      if (!google::protobuf::util::MessageToJsonString(e, &out).ok()) std::abort();
      out.clear();
    }
  }
  state.SetItemsProcessed(state.iterations() * events.size());
}
BENCHMARK(BM_EncodeProtobuf);

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) {
  // As vigil-sensor runs (its main turns absl's deadlock detection off).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
