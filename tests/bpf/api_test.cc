// The sensor's local API and vigilctl on the real kernel: every tail filter
// against real events through the real unix socket, status, metrics over
// HTTP, socket handling and reconnects.
#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ctl_process.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"
#include "vigil/v1/sensor_api.pb.h"

namespace vigil::testing {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A child that waits, forked but not yet exec'd, until Release(): its pid is
// known before any of its events happen.
struct HeldProcess {
  pid_t pid = -1;
  int fd = -1;
  void Release() {
    (void)!write(fd, "x", 1);
    close(fd);
  }
  int Finish() {
    Release();
    return WaitExit(pid);
  }
};

HeldProcess SpawnHeld(const std::string& path, std::vector<std::string> argv) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe";
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(p[1]);
    char c;
    (void)!read(p[0], &c, 1);
    const int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    execv(path.c_str(), args.data());
    _exit(127);
  }
  close(p[0]);
  return {pid, p[1]};
}

std::string TempDir() {
  std::string templ = "/tmp/vigil-api-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp";
  return templ;
}

// The first event printed by `ctl` satisfying `pred`, polling.
std::optional<v1::Event> WaitEvent(const CtlProcess& ctl, const std::function<bool(const v1::Event&)>& pred,
                                   absl::Duration timeout = absl::Seconds(15)) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    for (const v1::Event& e : ctl.JsonEvents()) {
      if (pred(e)) return e;
    }
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

auto ExitOf(pid_t pid) {
  return [pid](const v1::Event& e) { return IsExit(e) && e.process().pid() == static_cast<uint32_t>(pid); };
}

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!BpfUnavailableReason().empty()) return;
    sensor_ = new SensorProcess();
    start_ = sensor_->Start();
  }
  static void TearDownTestSuite() {
    delete sensor_;
    sensor_ = nullptr;
  }
  void SetUp() override {
    RequireBpfOrSkip();
    ASSERT_OK(start_);
  }

  // vigilctl --socket <the sensor's> tail -o json <filter...>, once it is subscribed.
  static std::unique_ptr<CtlProcess> Tail(std::vector<std::string> filter, const std::string& output = "json") {
    std::vector<std::string> args = {"--socket", sensor_->api_socket(), "tail", "-o", output};
    args.insert(args.end(), filter.begin(), filter.end());
    auto ctl = std::make_unique<CtlProcess>(args);
    EXPECT_TRUE(ctl->WaitStderr("vigilctl: tailing")) << ctl->Stderr();
    return ctl;
  }

  static v1::StatusResponse Status() {
    std::string out, err;
    EXPECT_EQ(RunCtl({"--socket", sensor_->api_socket(), "status", "-o", "json"}, &out, &err), 0) << err;
    v1::StatusResponse r;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(out, &r).ok()) << out;
    return r;
  }

  static SensorProcess* sensor_;
  static absl::Status start_;
};

SensorProcess* ApiTest::sensor_ = nullptr;
absl::Status ApiTest::start_;

TEST_F(ApiTest, SocketIsRootOnly) {
  struct stat st {};
  ASSERT_EQ(stat(sensor_->api_socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(ApiTest, KindFilter) {
  auto tail = Tail({"--kind", "exit"});
  const pid_t pid = Spawn({"/bin/true", "kind-" + Nonce()});
  WaitExit(pid);
  ASSERT_TRUE(WaitEvent(*tail, ExitOf(pid)).has_value()) << tail->Stdout();
  for (const v1::Event& e : tail->JsonEvents()) EXPECT_EQ(e.kind(), v1::EVENT_KIND_EXIT) << e.ShortDebugString();
}

TEST_F(ApiTest, KindFilterTakesSeveralKinds) {
  auto tail = Tail({"--kind", "exec,exit"});
  HeldProcess held = SpawnHeld("/bin/true", {"/bin/true", "kinds-" + Nonce()});
  held.Finish();
  ASSERT_TRUE(WaitEvent(*tail, ExitOf(held.pid)).has_value());
  std::set<v1::EventKind> kinds;
  for (const v1::Event& e : tail->JsonEvents()) kinds.insert(e.kind());
  EXPECT_EQ(kinds, (std::set<v1::EventKind>{v1::EVENT_KIND_EXEC, v1::EVENT_KIND_EXIT}));
}

TEST_F(ApiTest, UnknownKindIsRefusedNamingTheKnownOnes) {
  std::string out, err;
  EXPECT_EQ(RunCtl({"--socket", sensor_->api_socket(), "tail", "--kind", "nosuchkind"}, &out, &err), 2);
  EXPECT_THAT(err, AllOf(HasSubstr("nosuchkind"), HasSubstr("exec"), HasSubstr("alert")));
}

TEST_F(ApiTest, PidFilter) {
  HeldProcess held = SpawnHeld("/bin/true", {"/bin/true", "pid-" + Nonce()});
  auto tail = Tail({"--pid", absl::StrCat(held.pid)});
  vigil::testing::Run({"/bin/true", "other-" + Nonce()});
  held.Finish();
  ASSERT_TRUE(WaitEvent(*tail, ExitOf(held.pid)).has_value()) << tail->Stdout();
  const std::vector<v1::Event> events = tail->JsonEvents();
  EXPECT_THAT(events, Contains(::testing::Truly(IsExec)));
  for (const v1::Event& e : events) EXPECT_EQ(e.process().pid(), static_cast<uint32_t>(held.pid));
}

TEST_F(ApiTest, ProcessRegexMatchesTheProcessName) {
  const std::string dir = TempDir();
  const std::string name = "vt-" + Nonce().substr(0, 8);
  std::filesystem::create_symlink("/bin/true", dir + "/" + name);
  auto tail = Tail({"--process", "^" + name + "$"});
  vigil::testing::Run({"/bin/true", name});  // the name only in argv: no match
  const pid_t pid = Spawn({dir + "/" + name});
  WaitExit(pid);
  ASSERT_TRUE(WaitEvent(*tail, ExitOf(pid)).has_value()) << tail->Stdout();
  for (const v1::Event& e : tail->JsonEvents()) {
    EXPECT_EQ(e.process().pid(), static_cast<uint32_t>(pid)) << e.ShortDebugString();
    EXPECT_EQ(e.process().comm(), name);
  }
  std::filesystem::remove_all(dir);
}

TEST_F(ApiTest, ProcessRegexMatchesTheExecutablePath) {
  const std::string dir = TempDir();
  std::filesystem::create_symlink("/bin/true", dir + "/tool");
  auto tail = Tail({"--kind", "exec", "--process", dir + "/"});
  vigil::testing::Run({"/bin/true", dir + "/"});  // the path only in argv: no match
  const pid_t pid = Spawn({dir + "/tool", "x"});
  WaitExit(pid);
  auto exec = WaitEvent(*tail, [&](const v1::Event& e) { return e.process().pid() == static_cast<uint32_t>(pid); });
  ASSERT_TRUE(exec.has_value()) << tail->Stdout();
  EXPECT_EQ(exec->process().exe(), dir + "/tool");
  for (const v1::Event& e : tail->JsonEvents()) EXPECT_THAT(e.process().exe(), HasSubstr(dir + "/"));
  std::filesystem::remove_all(dir);
}

TEST_F(ApiTest, BadRegexIsRefused) {
  std::string out, err;
  EXPECT_EQ(RunCtl({"--socket", sensor_->api_socket(), "tail", "--process", "(unclosed"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("process regex '(unclosed'"));
}

TEST_F(ApiTest, HostOnlyAndContainersOnly) {
  HeldProcess held = SpawnHeld("/bin/true", {"/bin/true", "scope-" + Nonce()});
  const std::string pid = absl::StrCat(held.pid);
  auto host = Tail({"--host-only", "--pid", pid});
  auto containers = Tail({"--containers-only", "--pid", pid});
  held.Finish();
  ASSERT_TRUE(WaitEvent(*host, ExitOf(held.pid)).has_value()) << host->Stdout();
  // Every subscriber is offered each event in the same pipeline step: the
  // other tail has decided by now; a moment for its write to land.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_THAT(containers->StdoutLines(), IsEmpty()) << "the test's processes run on the host";
  for (const v1::Event& e : host->JsonEvents()) EXPECT_THAT(e.workload().container_id(), IsEmpty());
}

// This branch has no container resolver yet, so real events carry no pod or
// container: these filters must exclude every host process. (Positive
// matches on enriched events: tests/unit/api_filter_test.cc.)
TEST_F(ApiTest, WorkloadFiltersExcludeHostProcesses) {
  HeldProcess held = SpawnHeld("/bin/true", {"/bin/true", "workload-" + Nonce()});
  const std::string pid = absl::StrCat(held.pid);
  auto all = Tail({"--pid", pid});
  auto ns = Tail({"--namespace", "prod", "--pid", pid});
  auto pod = Tail({"--pod", "*", "--pid", pid});
  auto container = Tail({"--container", "0", "--pid", pid});
  held.Finish();
  ASSERT_TRUE(WaitEvent(*all, ExitOf(held.pid)).has_value());
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_THAT(ns->StdoutLines(), IsEmpty());
  EXPECT_THAT(pod->StdoutLines(), IsEmpty());
  EXPECT_THAT(container->StdoutLines(), IsEmpty());
}

TEST_F(ApiTest, CompactOutputIsPlainWhenPiped) {
  HeldProcess held = SpawnHeld("/bin/true", {"/bin/true", "compact-" + Nonce()});
  auto tail = Tail({"--pid", absl::StrCat(held.pid), "--kind", "exec"}, "compact");
  held.Finish();
  ASSERT_TRUE(tail->WaitStdout("/bin/true compact-")) << tail->Stdout();
  const std::vector<std::string> lines = tail->StdoutLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], Not(HasSubstr("\033")));
  EXPECT_TRUE(std::regex_search(lines[0], std::regex(absl::StrCat(R"(^\d\d:\d\d:\d\d\.\d{3} exec +)", held.pid,
                                                                  R"( true +host +/bin/true compact-)"))))
      << lines[0];
}

TEST_F(ApiTest, CountExitsAfterThatManyEvents) {
  HeldProcess held = SpawnHeld("/bin/true", {"/bin/true", "count-" + Nonce()});
  CtlProcess tail(
      {"--socket", sensor_->api_socket(), "tail", "-o", "json", "--count", "2", "--pid", absl::StrCat(held.pid)});
  ASSERT_TRUE(tail.WaitStderr("vigilctl: tailing"));
  held.Finish();
  EXPECT_EQ(tail.Wait(absl::Seconds(15)), 0);
  EXPECT_EQ(tail.JsonEvents().size(), 2u);
}

TEST_F(ApiTest, StatusReportsProbesCountersAndSubscribers) {
  auto tail = Tail({"--pid", "1", "--kind", "exec"});
  const v1::StatusResponse s = Status();
  EXPECT_FALSE(s.version().empty());
  EXPECT_EQ(s.node(), kTestNode);
  EXPECT_TRUE(s.ready());
  EXPECT_EQ(s.btf(), "/sys/kernel/btf/vmlinux");
  ASSERT_GE(s.probes_size(), 3);
  // A probe this kernel cannot give (module loads on a kernel without
  // modules) is listed with its reason; the others name their hook.
  for (const v1::ProbeStatus& p : s.probes()) {
    if (p.attached()) {
      EXPECT_THAT(p.hook(), ::testing::AnyOf("tp_btf", "raw_tp", "tracepoint", "fentry", "kprobe", "cgroup_skb"));
    } else {
      EXPECT_FALSE(p.notes().empty()) << p.ShortDebugString();
    }
  }
  for (const char* probe : {"exec", "fork", "exit"}) {
    EXPECT_TRUE(std::any_of(s.probes().begin(), s.probes().end(), [&](const v1::ProbeStatus& p) {
      return p.name() == probe && p.attached();
    })) << probe;
  }
  EXPECT_GT(KindCountersOf(
                [&] {
                  v1::Event e;
                  *e.mutable_health() = s.counters();
                  return e;
                }(),
                "exec")
                .received(),
            0u);
  EXPECT_FALSE(s.metrics_address().empty());
  bool found = false;
  for (const v1::SubscriberStatus& sub : s.subscribers()) found |= sub.filter() == "kinds=exec pid=1";
  EXPECT_TRUE(found) << s.ShortDebugString();

  std::string text, err;
  ASSERT_EQ(RunCtl({"--socket", sensor_->api_socket(), "status"}, &text, &err), 0) << err;
  EXPECT_THAT(text, AllOf(HasSubstr("ready"), HasSubstr("PROBES"), HasSubstr("attached"), HasSubstr("EVENTS"),
                          HasSubstr("COMPONENTS")));
}

TEST_F(ApiTest, StatusWithoutASensorFailsNamingTheSocket) {
  std::string out, err;
  EXPECT_EQ(RunCtl({"--socket", "/nonexistent-vigil/sensor.sock", "status"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("/nonexistent-vigil/sensor.sock"));
}

// ---- Metrics --------------------------------------------------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the Prometheus text format; fails the test on a malformed line.
std::vector<Sample> ParseMetrics(const std::string& text, std::map<std::string, std::string>* types) {
  static const std::regex kSample(R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)re");
  static const std::regex kLabel(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)")re");
  std::vector<Sample> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      if (parts.size() == 4) (*types)[parts[2]] = parts[3];
      continue;
    }
    if (absl::StartsWith(line, "# HELP ")) continue;
    std::smatch m;
    const std::string l(line);
    if (!std::regex_match(l, m, kSample)) {
      ADD_FAILURE() << "malformed metrics line: " << l;
      continue;
    }
    Sample s;
    s.name = m[1];
    const std::string labels = m[3];
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), kLabel); it != std::sregex_iterator(); ++it) {
      s.labels[(*it)[1]] = (*it)[2];
    }
    if (m[4] == "+Inf") {
      s.value = std::numeric_limits<double>::infinity();
    } else if (!absl::SimpleAtod(std::string(m[4]), &s.value)) {
      ADD_FAILURE() << "bad value in " << l;
    }
    out.push_back(std::move(s));
  }
  return out;
}

TEST_F(ApiTest, MetricsOverHttpFollowPrometheusConventions) {
  const std::string address = Status().metrics_address();
  ASSERT_TRUE(absl::StartsWith(address, "127.0.0.1:")) << address;
  httplib::Client http(absl::StrCat("http://", address));
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));

  std::map<std::string, std::string> types;
  const std::vector<Sample> samples = ParseMetrics(res->body, &types);
  ASSERT_FALSE(samples.empty());
  for (const auto& [family, type] : types) {
    EXPECT_TRUE(absl::StartsWith(family, "vigil_")) << family;
    EXPECT_TRUE(std::regex_match(family, std::regex("[a-z_][a-z0-9_]*"))) << family;
    EXPECT_EQ(type == "counter", absl::EndsWith(family, "_total")) << family << " is a " << type;
    // Base units only: seconds and bytes, never ms or KiB.
    EXPECT_FALSE(std::regex_search(family, std::regex("_(ms|milliseconds|us|kb|kib|mb|mib)(_|$)"))) << family;
  }
  auto value = [&](const std::string& name, const std::map<std::string, std::string>& labels) -> std::optional<double> {
    for (const Sample& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nullopt;
  };
  EXPECT_GT(value("vigil_events_received_total", {{"kind", "exec"}}).value_or(0), 0);
  EXPECT_EQ(value("vigil_events_dropped_total", {{"kind", "exec"}, {"reason", "queue"}}), 0);
  EXPECT_EQ(value("vigil_ready", {}), 1);
  EXPECT_EQ(types["vigil_event_latency_seconds"], "histogram");
  EXPECT_GT(value("vigil_event_latency_seconds_count", {}).value_or(0), 0);
  EXPECT_EQ(value("vigil_event_latency_seconds_bucket", {{"le", "+Inf"}}),
            value("vigil_event_latency_seconds_count", {}));
  const v1::StatusResponse status = Status();
  for (const v1::ProbeStatus& p : status.probes()) {
    EXPECT_EQ(value("vigil_probe_attached",
                    {{"family", p.family()}, {"probe", p.name()}, {"hook", p.hook().empty() ? "none" : p.hook()}}),
              p.attached() ? 1 : 0)
        << p.name();
  }

  // docs/metrics.md is the reference users read: every family is there.
  std::ifstream doc(VIGIL_METRICS_DOC);
  ASSERT_TRUE(doc) << VIGIL_METRICS_DOC;
  const std::string reference((std::istreambuf_iterator<char>(doc)), std::istreambuf_iterator<char>());
  for (const auto& [family, type] : types) {
    EXPECT_THAT(reference, HasSubstr(absl::StrCat("`", family, "`"))) << family << " is not in docs/metrics.md";
  }

  for (const char* path : {"/healthz", "/readyz"}) {
    auto r = http.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
  }
}

// Every stage reports itself: status lists it with its counters, and the
// same values are in /metrics.
TEST_F(ApiTest, StatusAndMetricsShowEveryStage) {
  const v1::StatusResponse status = Status();
  std::map<std::string, v1::ComponentStatus> components;
  for (const v1::ComponentStatus& c : status.components()) components[c.name()] = c;
  for (const char* stage :
       {"pipeline", "decoder", "process-cache", "dns-names", "containers", "detector", "local-api"}) {
    ASSERT_TRUE(components.count(stage)) << stage << " missing from status";
    EXPECT_FALSE(components[stage].state().empty()) << stage;
  }
  const auto& pipeline = components["pipeline"].details();
  for (const char* key : {"received", "queue_depth", "queue_bytes", "dropped_queue"}) {
    EXPECT_TRUE(pipeline.count(key)) << key;
  }
  uint64_t received = 0;
  ASSERT_TRUE(absl::SimpleAtoi(pipeline.at("received"), &received)) << pipeline.at("received");
  EXPECT_GT(received, 0u);
  // Seeded from /proc at start: this test's own process at least.
  uint64_t processes = 0;
  ASSERT_TRUE(absl::SimpleAtoi(components["process-cache"].details().at("entries"), &processes));
  EXPECT_GT(processes, 0u);
  EXPECT_EQ(components["detector"].state(), "ok");
  EXPECT_TRUE(components["detector"].details().count("rules"));

  // The text form users read.
  std::string out, err;
  ASSERT_EQ(RunCtl({"--socket", sensor_->api_socket(), "status"}, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("process-cache"));
  EXPECT_THAT(out, HasSubstr("queue_bytes="));

  httplib::Client http(absl::StrCat("http://", status.metrics_address()));
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  for (const char* family : {"vigil_pipeline_queue_bytes", "vigil_process_cache_entries", "vigil_dns_names_entries",
                             "vigil_rules_loaded", "vigil_decode_errors_total", "vigil_tail_subscribers"}) {
    EXPECT_THAT(res->body, HasSubstr(absl::StrCat("\n", family, " "))) << family;
  }
}

// --output=/dev/null, as the DaemonSet runs it (events go to the collector):
// no output stage at all, so nothing is encoded for it, while the pipeline
// and the API still see every event.
TEST(ApiOutput, DevNullMeansNoOutputAtAll) {
  RequireBpfOrSkip();
  const std::string dir = TempDir();
  const std::string socket = dir + "/sensor.sock";
  SensorProcess sensor(SensorOptions{.flags = {"--output=/dev/null", "--api_socket=" + socket,
                                               "--metrics_address=", "--log_level=warn", "--node_name=test-node"},
                                     .harness_flags = false});
  ASSERT_OK(sensor.Launch());
  std::string out, err;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (RunCtl({"--socket", socket, "status", "-o", "json"}, &out, &err) != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  CtlProcess tail({"--socket", socket, "tail", "-o", "json", "--kind", "exec"});
  ASSERT_TRUE(tail.WaitStderr("vigilctl: tailing")) << tail.Stderr();
  const std::string marker = absl::StrCat("devnull-", getpid());
  std::optional<v1::Event> exec;
  while (!exec && absl::Now() < deadline) {
    SpawnHeld("/bin/true", {"/bin/true", marker}).Finish();
    exec = WaitEvent(
        tail, [&](const v1::Event& e) { return e.process().argv_size() == 2 && e.process().argv(1) == marker; },
        absl::Seconds(1));
  }
  ASSERT_TRUE(exec.has_value()) << "the API saw no exec of /bin/true " << marker;
  ASSERT_EQ(RunCtl({"--socket", socket, "status", "-o", "json"}, &out, &err), 0) << err;
  v1::StatusResponse status;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &status).ok()) << out;
  std::set<std::string> names;
  for (const v1::ComponentStatus& c : status.components()) names.insert(c.name());
  EXPECT_TRUE(names.contains("pipeline"));
  EXPECT_FALSE(names.contains("output")) << out;
  sensor.Stop();
  std::filesystem::remove_all(dir);
}

// ---- Socket handling and restarts -------------------------------------------

TEST(ApiSocket, StaleSocketIsReplacedAndALiveOneRefused) {
  RequireBpfOrSkip();
  const std::string dir = TempDir();
  const std::string path = dir + "/run/vigil/sensor.sock";  // parent directories created by the sensor
  std::filesystem::create_directories(dir + "/run/vigil");
  {
    // What a killed sensor leaves: a socket file nobody listens on.
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
  }
  SensorProcess first({"--api_socket=" + path});
  ASSERT_OK(first.Start());
  std::string out, err;
  EXPECT_EQ(RunCtl({"--socket", path, "status"}, &out, &err), 0) << err;

  SensorProcess second({"--api_socket=" + path});
  ASSERT_OK(second.Launch());
  const int status = second.WaitExit(absl::Seconds(30));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << SensorProcess::DescribeStatus(status);
  EXPECT_THAT(second.Stderr(), HasSubstr("another process serves the API on " + path));
  // The first one still serves.
  EXPECT_EQ(RunCtl({"--socket", path, "status"}, &out, &err), 0) << err;
  first.Stop();
  EXPECT_FALSE(std::filesystem::exists(path)) << "removed at a clean stop";
  std::filesystem::remove_all(dir);
}

TEST(ApiSocket, TailReconnectsWhenTheSensorRestarts) {
  RequireBpfOrSkip();
  const std::string dir = TempDir();
  const std::string path = dir + "/sensor.sock";
  const std::string name = "rc-" + Nonce().substr(0, 8);
  std::filesystem::create_symlink("/bin/true", dir + "/" + name);
  auto first = std::make_unique<SensorProcess>(std::vector<std::string>{"--api_socket=" + path});
  ASSERT_OK(first->Start());
  CtlProcess tail({"--socket", path, "tail", "-o", "json", "--kind", "exec", "--process", "^" + name + "$"});
  ASSERT_TRUE(tail.WaitStderr("vigilctl: tailing"));
  const pid_t before = Spawn({dir + "/" + name});
  WaitExit(before);
  ASSERT_TRUE(tail.WaitStdout(absl::StrCat("\"pid\":", before)));

  first->Stop();
  first.reset();
  ASSERT_TRUE(tail.WaitStderr("waiting for the sensor")) << tail.Stderr();
  SensorProcess second({"--api_socket=" + path});
  ASSERT_OK(second.Start());
  // Re-subscribed: the notice again, then events from the new sensor.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  pid_t after = -1;
  bool seen = false;
  while (!seen && absl::Now() < deadline) {
    after = Spawn({dir + "/" + name});
    WaitExit(after);
    seen = tail.WaitStdout(absl::StrCat("\"pid\":", after), absl::Seconds(1));
  }
  EXPECT_TRUE(seen) << tail.Stderr();
  const std::string err = tail.Stderr();
  const size_t first_notice = err.find("vigilctl: tailing");
  EXPECT_NE(err.find("vigilctl: tailing", first_notice + 1), std::string::npos) << "no second subscription: " << err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::testing
