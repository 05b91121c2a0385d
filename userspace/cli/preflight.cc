#include "cli/preflight.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <grpcpp/grpcpp.h>
#include <linux/perf_event.h>
#include <netdb.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "container/unix_http.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "loader/kernel.h"

namespace vigil::cli {

namespace {

using v1::CheckResult;
using v1::PreflightCheck;

constexpr long kBpffsMagic = 0xcafe4a11;
constexpr long kTracefsMagic = 0x74726163;
constexpr long kCgroup2Magic = 0x63677270;
constexpr long kTmpfsMagic = 0x01021994;

PreflightCheck Check(std::string name, CheckResult result, std::string detail, std::string remedy = "") {
  PreflightCheck c;
  c.set_name(std::move(name));
  c.set_result(result);
  c.set_detail(std::move(detail));
  if (result != v1::CHECK_RESULT_PASS) c.set_remedy(std::move(remedy));
  return c;
}

bool FsIs(const char* path, long magic) {
  struct statfs st {};
  return statfs(path, &st) == 0 && st.f_type == magic;
}

// ---- Kernel -----------------------------------------------------------

std::pair<int, int> KernelVersion(const std::string& release) {
  std::vector<std::string> parts = absl::StrSplit(release, absl::ByAnyChar(".-"));
  int major = 0, minor = 0;
  if (parts.size() >= 2) {
    (void)absl::SimpleAtoi(parts[0], &major);
    (void)absl::SimpleAtoi(parts[1], &minor);
  }
  return {major, minor};
}

// ---- Hooks: tiny real programs ------------------------------------------

// r0 = 0; exit. Enough for the verifier and the attach path to say yes or no.
constexpr bpf_insn kReturnZero[] = {
    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
    {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
};

std::string ErrnoText(const char* what, int err) { return absl::StrCat(what, ": ", std::strerror(err)); }

// fd of the loaded program, or -errno with `why` set.
int LoadTiny(bpf_prog_type type, const bpf_prog_load_opts* opts, std::string& why) {
  const int fd = bpf_prog_load(type, "vigil_preflight", "GPL", kReturnZero, 2, opts);
  if (fd < 0) why = ErrnoText("program load", errno);
  return fd;
}

// A kernel function every supported kernel has and can hook: the openat path.
const char* HookableFunction(const btf* vmlinux) {
  for (const char* fn : {"do_sys_openat2", "do_sys_open"}) {
    if (btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC) > 0) return fn;
  }
  return nullptr;
}

PreflightCheck CheckRawTracepoint() {
  std::string why;
  const int prog = LoadTiny(BPF_PROG_TYPE_RAW_TRACEPOINT, nullptr, why);
  if (prog >= 0) {
    const int link = bpf_raw_tracepoint_open("sched_process_exec", prog);
    if (link < 0) why = ErrnoText("attach to sched_process_exec", errno);
    if (link >= 0) close(link);
    close(prog);
    if (link >= 0) {
      return Check("hook/tracepoint", v1::CHECK_RESULT_PASS, "raw tracepoint sched_process_exec loaded and attached");
    }
  }
  return Check("hook/tracepoint", v1::CHECK_RESULT_FAIL, why,
               "Vigil's probes need raw tracepoints (Linux 4.17+, CONFIG_BPF_EVENTS); check CAP_BPF/CAP_PERFMON and "
               "that no LSM or seccomp policy blocks bpf()");
}

PreflightCheck CheckTpBtf(const btf* vmlinux) {
  const int32_t id =
      vmlinux == nullptr ? -1 : btf__find_by_name_kind(vmlinux, "btf_trace_sched_process_exec", BTF_KIND_TYPEDEF);
  if (id <= 0) {
    return Check("hook/tp_btf", v1::CHECK_RESULT_WARN, "btf_trace_sched_process_exec not in kernel BTF",
                 "none needed: the probes fall back to raw tracepoints");
  }
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP,
              .attach_btf_id = static_cast<uint32_t>(id));
  std::string why;
  const int prog = LoadTiny(BPF_PROG_TYPE_TRACING, &opts, why);
  if (prog >= 0) {
    const int link = bpf_raw_tracepoint_open(nullptr, prog);
    if (link < 0) why = ErrnoText("attach", errno);
    if (link >= 0) close(link);
    close(prog);
    if (link >= 0) return Check("hook/tp_btf", v1::CHECK_RESULT_PASS, "BTF-typed tracepoint loaded and attached");
  }
  return Check("hook/tp_btf", v1::CHECK_RESULT_WARN, why, "none needed: the probes fall back to raw tracepoints");
}

PreflightCheck CheckFentry(const btf* vmlinux) {
  constexpr char kRemedy[] =
      "none needed: Vigil runs on tracepoints; fentry needs a kernel with BPF trampolines (5.5+, "
      "CONFIG_DEBUG_INFO_BTF) that allows them";
  const char* fn = vmlinux == nullptr ? nullptr : HookableFunction(vmlinux);
  if (fn == nullptr) return Check("hook/fentry", v1::CHECK_RESULT_WARN, "no hookable function in BTF", kRemedy);
  // The same probe the loader makes before it considers fentry programs.
  if (absl::Status s = ProbeFentry(vmlinux, fn); !s.ok()) {
    return Check("hook/fentry", v1::CHECK_RESULT_WARN, absl::StrCat("fentry on ", fn, ": ", s.message()), kRemedy);
  }
  return Check("hook/fentry", v1::CHECK_RESULT_PASS, absl::StrCat("fentry on ", fn, " attached"));
}

PreflightCheck CheckKprobe() {
  constexpr char kRemedy[] =
      "none needed: Vigil runs on tracepoints; kprobes need CONFIG_KPROBES and CONFIG_KPROBE_EVENTS";
  std::ifstream type_file("/sys/bus/event_source/devices/kprobe/type");
  int pmu_type = -1;
  if (!(type_file >> pmu_type)) {
    return Check("hook/kprobe", v1::CHECK_RESULT_WARN,
                 absl::StrCat("no kprobe PMU in /sys/bus/event_source/devices",
                              KprobesSupported() ? "" : ", no kprobe_events in tracefs"),
                 kRemedy);
  }
  std::string why;
  const int prog = LoadTiny(BPF_PROG_TYPE_KPROBE, nullptr, why);
  if (prog < 0) return Check("hook/kprobe", v1::CHECK_RESULT_WARN, why, kRemedy);
  absl::Cleanup close_prog = [prog] { close(prog); };
  static const char kFunction[] = "do_sys_openat2";
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = pmu_type;
  attr.config1 = reinterpret_cast<uint64_t>(kFunction);
  const int pfd = static_cast<int>(syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC));
  if (pfd < 0) {
    return Check("hook/kprobe", v1::CHECK_RESULT_WARN, ErrnoText("create kprobe on do_sys_openat2", errno), kRemedy);
  }
  absl::Cleanup close_pfd = [pfd] { close(pfd); };
  if (ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog) != 0) {
    return Check("hook/kprobe", v1::CHECK_RESULT_WARN, ErrnoText("attach program to kprobe", errno), kRemedy);
  }
  return Check("hook/kprobe", v1::CHECK_RESULT_PASS, "kprobe on do_sys_openat2 attached");
}

// ---- Sockets --------------------------------------------------------------

// grpc.health.v1.Health/Check with an empty service name: "" when serving,
// else why not.
std::string GrpcHealth(const std::string& target, absl::Duration timeout,
                       std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials()) {
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(target, creds));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&ctx, request, &response);
  if (!status.ok()) return absl::StrCat("health check failed: ", status.error_message());
  if (response.status() == grpc::health::v1::HealthCheckResponse::SERVING) return "";
  return absl::StrCat("not serving (", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()),
                      ")");
}

// "" when the Docker API answers GET /_ping.
std::string DockerPing(const std::string& path, absl::Duration timeout) {
  absl::StatusOr<HttpReply> reply = UnixSocketGet(path, "/_ping", timeout, 4096);
  if (!reply.ok()) return std::string(reply.status().message());
  return reply->status == 200 ? "" : absl::StrCat("answered HTTP ", reply->status);
}

std::vector<PreflightCheck> CheckRuntimes(const std::vector<RuntimeSocket>& sockets, absl::Duration timeout) {
  std::vector<PreflightCheck> out;
  for (const RuntimeSocket& rs : sockets) {
    if (access(rs.path.c_str(), F_OK) != 0) continue;
    const std::string name = absl::StrCat("runtime/", rs.runtime);
    const std::string why =
        rs.runtime == "docker" ? DockerPing(rs.path, timeout) : GrpcHealth(absl::StrCat("unix:", rs.path), timeout);
    if (why.empty()) {
      out.push_back(Check(name, v1::CHECK_RESULT_PASS, absl::StrCat(rs.path, " answers")));
    } else {
      out.push_back(Check(name, v1::CHECK_RESULT_FAIL, absl::StrCat(rs.path, ": ", why),
                          absl::StrCat("start ", rs.runtime,
                                       " or remove its stale socket; without it events from "
                                       "its containers carry no container or pod")));
    }
  }
  if (out.empty()) {
    std::string paths;
    for (const RuntimeSocket& rs : sockets) absl::StrAppend(&paths, paths.empty() ? "" : ", ", rs.path);
    out.push_back(Check("runtime", v1::CHECK_RESULT_WARN, absl::StrCat("no container runtime socket (", paths, ")"),
                        "on a Kubernetes node, mount the runtime's socket into the sensor pod; on a plain host "
                        "events are reported as host"));
  }
  return out;
}

// ---- Network ----------------------------------------------------------------

struct HostPort {
  std::string host;
  std::string port;
};

// "https://host[:port]/path" or "host:port" -> host, port (443 by default).
HostPort ParseEndpoint(absl::string_view url) {
  absl::ConsumePrefix(&url, "https://") || absl::ConsumePrefix(&url, "http://");
  url = url.substr(0, url.find('/'));
  HostPort hp{std::string(url), "443"};
  if (absl::StartsWith(url, "[")) {
    const size_t close = url.find(']');
    hp.host = std::string(url.substr(1, close - 1));
    if (close + 1 < url.size() && url[close + 1] == ':') hp.port = std::string(url.substr(close + 2));
  } else if (const size_t colon = url.rfind(':'); colon != absl::string_view::npos) {
    hp.host = std::string(url.substr(0, colon));
    hp.port = std::string(url.substr(colon + 1));
  }
  return hp;
}

// A TCP connection to host:port within `timeout`; fd, or "" in `why`.
int ConnectTcp(const HostPort& hp, absl::Duration timeout, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &res); rc != 0) {
    why = absl::StrCat("cannot resolve ", hp.host, ": ", gai_strerror(rc));
    return -1;
  }
  absl::Cleanup free_res = [res] { freeaddrinfo(res); };
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    timeval tv = absl::ToTimeval(timeout);
    // Linux honours SO_SNDTIMEO for connect().
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
    why = ErrnoText(absl::StrCat("connect ", hp.host, ":", hp.port).c_str(), errno == EINPROGRESS ? ETIMEDOUT : errno);
    close(fd);
  }
  return -1;
}

PreflightCheck CheckEndpoint(const std::string& name, const std::string& url, const std::string& proxy,
                             absl::Duration timeout) {
  const HostPort target = ParseEndpoint(url);
  const std::string remedy = proxy.empty()
                                 ? absl::StrCat("allow outbound HTTPS to ", target.host, ":", target.port,
                                                " (DNS and firewall), or set --proxy / HTTPS_PROXY")
                                 : absl::StrCat("check that the proxy ", proxy, " is up and allows CONNECT to ",
                                                target.host, ":", target.port);
  std::string why;
  if (proxy.empty()) {
    const int fd = ConnectTcp(target, timeout, why);
    if (fd < 0) return Check(name, v1::CHECK_RESULT_FAIL, why, remedy);
    close(fd);
    return Check(name, v1::CHECK_RESULT_PASS, absl::StrCat(target.host, ":", target.port, " reachable"));
  }
  // Through the proxy, as the uplink's HTTPS client will go: the proxy
  // resolves the name.
  const int fd = ConnectTcp(ParseEndpoint(proxy), timeout, why);
  if (fd < 0) return Check(name, v1::CHECK_RESULT_FAIL, absl::StrCat("proxy: ", why), remedy);
  absl::Cleanup close_fd = [fd] { close(fd); };
  const std::string hostport = absl::StrCat(target.host, ":", target.port);
  const std::string connect = absl::StrCat("CONNECT ", hostport, " HTTP/1.1\r\nHost: ", hostport, "\r\n\r\n");
  if (write(fd, connect.data(), connect.size()) < 0) {
    return Check(name, v1::CHECK_RESULT_FAIL, ErrnoText("write to proxy", errno), remedy);
  }
  char buf[128] = {};
  const ssize_t n = read(fd, buf, sizeof(buf) - 1);
  const std::string reply(buf, n > 0 ? static_cast<size_t>(n) : 0);
  const std::string status_line = reply.substr(0, reply.find('\r'));
  if (absl::StartsWith(status_line, "HTTP/1.") && absl::StrContains(status_line, " 200")) {
    return Check(name, v1::CHECK_RESULT_PASS, absl::StrCat(hostport, " reachable through ", proxy));
  }
  return Check(name, v1::CHECK_RESULT_FAIL,
               absl::StrCat("proxy ", proxy, " refused CONNECT ", hostport, ": ",
                            status_line.empty() ? "no answer" : status_line),
               remedy);
}

}  // namespace

v1::PreflightReport RunPreflight(const PreflightOptions& o) {
  std::vector<PreflightCheck> checks;

  utsname u{};
  uname(&u);
  const auto [major, minor] = KernelVersion(u.release);
  const bool new_enough = major > 5 || (major == 5 && minor >= 8);
  checks.push_back(Check("kernel", new_enough ? v1::CHECK_RESULT_PASS : v1::CHECK_RESULT_FAIL,
                         absl::StrCat("Linux ", u.release, " ", u.machine),
                         "Vigil needs Linux 5.8 or later (BPF ring buffer, CO-RE); upgrade the node image"));

  const std::string btf_path = o.kernel_btf.empty() ? "/sys/kernel/btf/vmlinux" : o.kernel_btf;
  const absl::Status btf_ok = CheckBtf(btf_path);
  checks.push_back(Check("btf", btf_ok.ok() ? v1::CHECK_RESULT_PASS : v1::CHECK_RESULT_FAIL,
                         btf_ok.ok() ? absl::StrCat(btf_path, " readable") : std::string(btf_ok.message()),
                         "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (every major distro since 2021), or give "
                         "the sensor --kernel-btf with BTF for this kernel (BTFHub)"));

  const absl::Status caps = CheckCapabilities();
  checks.push_back(
      Check("capabilities", caps.ok() ? v1::CHECK_RESULT_PASS : v1::CHECK_RESULT_FAIL,
            caps.ok() ? "CAP_BPF+CAP_PERFMON (or CAP_SYS_ADMIN) and CAP_SYS_PTRACE held" : std::string(caps.message()),
            "run the sensor as root, or grant CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE (and CAP_SYS_RESOURCE on kernels "
            "before 5.11) in the pod's securityContext"));

  checks.push_back(FsIs("/sys/fs/bpf", kBpffsMagic)
                       ? Check("bpffs", v1::CHECK_RESULT_PASS, "mounted on /sys/fs/bpf")
                       : Check("bpffs", v1::CHECK_RESULT_WARN, "not mounted on /sys/fs/bpf",
                               "the sensor mounts it at start when it may; else mount -t bpf bpf /sys/fs/bpf"));
  const bool tracefs = FsIs("/sys/kernel/tracing", kTracefsMagic) || FsIs("/sys/kernel/debug/tracing", kTracefsMagic);
  checks.push_back(tracefs ? Check("tracefs", v1::CHECK_RESULT_PASS, "mounted")
                           : Check("tracefs", v1::CHECK_RESULT_WARN, "not mounted on /sys/kernel/tracing",
                                   "the sensor mounts it at start when it may; else mount -t tracefs tracefs "
                                   "/sys/kernel/tracing"));

  rlimit lim{};
  getrlimit(RLIMIT_MEMLOCK, &lim);
  const bool memcg = major > 5 || (major == 5 && minor >= 11);
  const std::string limit_text = lim.rlim_cur == RLIM_INFINITY ? "unlimited" : absl::StrCat(lim.rlim_cur >> 10, " KiB");
  if (memcg || lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= (64u << 20)) {
    checks.push_back(Check("memlock", v1::CHECK_RESULT_PASS,
                           absl::StrCat("RLIMIT_MEMLOCK ", limit_text,
                                        memcg ? " (not used: this kernel charges BPF memory to the cgroup)" : "")));
  } else {
    checks.push_back(Check("memlock", lim.rlim_max == RLIM_INFINITY ? v1::CHECK_RESULT_WARN : v1::CHECK_RESULT_FAIL,
                           absl::StrCat("RLIMIT_MEMLOCK ", limit_text, " and kernel before 5.11"),
                           "the sensor lifts the limit at start with CAP_SYS_RESOURCE; else raise LimitMEMLOCK "
                           "(systemd) or the container runtime's memlock ulimit to unlimited"));
  }

  if (FsIs("/sys/fs/cgroup", kCgroup2Magic)) {
    checks.push_back(Check("cgroup", v1::CHECK_RESULT_PASS, "v2 (unified) on /sys/fs/cgroup"));
  } else if (FsIs("/sys/fs/cgroup/unified", kCgroup2Magic)) {
    checks.push_back(
        Check("cgroup", v1::CHECK_RESULT_PASS, "hybrid: v1 controllers, cgroup2 on /sys/fs/cgroup/unified"));
  } else {
    checks.push_back(Check("cgroup", v1::CHECK_RESULT_WARN,
                           FsIs("/sys/fs/cgroup", kTmpfsMagic) ? "v1 only" : "no cgroup hierarchy found",
                           "container attribution uses cgroup v2 ids: boot with systemd.unified_cgroup_hierarchy=1 "
                           "(or a hybrid layout)"));
  }

  btf* vmlinux =
      btf_ok.ok() ? (o.kernel_btf.empty() ? btf__load_vmlinux_btf() : btf__parse(btf_path.c_str(), nullptr)) : nullptr;
  if (vmlinux != nullptr && libbpf_get_error(vmlinux) != 0) vmlinux = nullptr;
  checks.push_back(CheckRawTracepoint());
  checks.push_back(CheckTpBtf(vmlinux));
  checks.push_back(CheckFentry(vmlinux));
  checks.push_back(CheckKprobe());
  btf__free(vmlinux);

  for (PreflightCheck& c : CheckRuntimes(o.runtime_sockets, o.timeout)) checks.push_back(std::move(c));

  std::shared_ptr<grpc::ChannelCredentials> collector_creds = grpc::InsecureChannelCredentials();
  std::string tls_error;
  if (o.collector_tls || !o.collector_ca.empty() || !o.collector_cert.empty()) {
    grpc::SslCredentialsOptions ssl;
    auto read = [&tls_error](const std::string& path, std::string& out) {
      if (path.empty()) return;
      std::ifstream in(path);
      if (!in) tls_error = absl::StrCat("cannot read ", path);
      out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    };
    read(o.collector_ca, ssl.pem_root_certs);
    read(o.collector_cert, ssl.pem_cert_chain);
    read(o.collector_key, ssl.pem_private_key);
    collector_creds = grpc::SslCredentials(ssl);
  }
  if (!tls_error.empty()) {
    checks.push_back(Check("collector", v1::CHECK_RESULT_FAIL, tls_error,
                           "give readable PEM files to --collector-ca, --collector-cert and --collector-key"));
  } else if (o.collector.empty()) {
    checks.push_back(Check("collector", v1::CHECK_RESULT_WARN, "not checked (no --collector)",
                           "give --collector host:port of vigil-collector to check it answers"));
  } else if (const std::string why = GrpcHealth(o.collector, o.timeout, collector_creds); why.empty()) {
    checks.push_back(Check("collector", v1::CHECK_RESULT_PASS, absl::StrCat(o.collector, " serving (gRPC health)")));
  } else {
    checks.push_back(Check("collector", v1::CHECK_RESULT_FAIL, absl::StrCat(o.collector, ": ", why),
                           "check --collector (the collector Service's host:port, default port 7443), that "
                           "vigil-collector runs, that network policy lets this node reach it, and that TLS "
                           "matches the collector's (--collector-ca, --collector-cert, --collector-key)"));
  }

  if (o.azure) {
    checks.push_back(CheckEndpoint("azure/login", o.azure_login_endpoint, o.proxy, o.timeout));
    if (!o.azure_ingestion_endpoint.empty()) {
      checks.push_back(CheckEndpoint("azure/ingestion", o.azure_ingestion_endpoint, o.proxy, o.timeout));
    }
  }

  v1::PreflightReport report;
  CheckResult worst = v1::CHECK_RESULT_PASS;
  for (PreflightCheck& c : checks) {
    worst = std::max(worst, c.result());
    *report.add_checks() = std::move(c);
  }
  report.set_result(worst);
  return report;
}

void PrintPreflightTable(const v1::PreflightReport& report, FILE* out, bool color) {
  auto word = [color](CheckResult r) -> std::string {
    const char* text = r == v1::CHECK_RESULT_PASS ? "PASS" : r == v1::CHECK_RESULT_WARN ? "WARN" : "FAIL";
    if (!color) return text;
    const char* code = r == v1::CHECK_RESULT_PASS ? "\033[32m" : r == v1::CHECK_RESULT_WARN ? "\033[33m" : "\033[1;31m";
    return absl::StrCat(code, text, "\033[0m");
  };
  absl::FPrintF(out, "%-18s %-6s %s\n", "CHECK", "RESULT", "DETAIL");
  for (const PreflightCheck& c : report.checks()) {
    absl::FPrintF(out, "%-18s %s   %s\n", c.name(), word(c.result()), c.detail());
    if (!c.remedy().empty()) absl::FPrintF(out, "%-18s        remedy: %s\n", "", c.remedy());
  }
  absl::FPrintF(out, "\npreflight: %s\n", word(report.result()));
}

}  // namespace vigil::cli
