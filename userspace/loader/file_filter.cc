#include "loader/file_filter.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vigil {

std::vector<std::string> FileFilterConfig::DefaultSensitivePaths() {
  return {
      "/etc/shadow",
      "/etc/gshadow",
      "/etc/sudoers",
      "/etc/sudoers.d/",
      "/etc/ld.so.preload",
      // Service account tokens mounted into pods (/var/run is a link to /run
      // on most nodes, but not inside every container image).
      "/var/run/secrets/kubernetes.io/serviceaccount/",
      "/run/secrets/kubernetes.io/serviceaccount/",
      "/var/lib/kubelet/kubeconfig",
      "/var/lib/kubelet/pki/",
      "/etc/kubernetes/",
      "/root/.ssh/",
      "/etc/ssh/ssh_host_",
      ".ssh/",
      ".aws/credentials",
      ".azure/",
      ".config/gcloud/",
      ".kube/config",
      // Credential stores of developer tools: reads by other programs are
      // what the default rules look for.
      ".git-credentials",
      ".netrc",
      ".docker/config.json",
      ".npmrc",
      ".pypirc",
      ".vault-token",
      ".config/gh/hosts.yml",
  };
}

namespace {

// The first `len` bytes of `s` as the program loads them, two host-order
// words, the rest left zero.
std::array<uint64_t, 2> HeadWords(std::string_view s, size_t len) {
  char bytes[VIGIL_HEAD_MAX] = {};
  std::memcpy(bytes, s.data(), std::min({len, s.size(), sizeof(bytes)}));
  std::array<uint64_t, 2> w;
  std::memcpy(w.data(), bytes, sizeof(bytes));
  return w;
}

}  // namespace

SensitiveHeads SensitiveHeads::Of(const std::vector<std::string>& prefixes) {
  SensitiveHeads h;
  if (prefixes.empty()) return h;  // nothing is sensitive: every bit clear
  size_t len = VIGIL_HEAD_MAX;
  for (const std::string& p : prefixes) len = std::min(len, p.size());
  h.len = static_cast<uint32_t>(len);
  h.mask = HeadWords(std::string(len, '\xff'), len);
  for (const std::string& p : prefixes) {
    const auto w = HeadWords(p, len);
    const uint32_t bit = vigil_head_hash(w[0], w[1]);
    h.bits[bit / 64] |= uint64_t{1} << (bit % 64);
  }
  return h;
}

bool SensitiveHeads::MayMatch(std::string_view path) const {
  if (path.size() < len) return false;
  const auto w = HeadWords(path, VIGIL_HEAD_MAX);
  const uint32_t bit = vigil_head_hash(w[0] & mask[0], w[1] & mask[1]);
  return (bits[bit / 64] >> (bit % 64)) & 1;
}

std::vector<std::string> ExpandHomePaths(const std::vector<std::string>& paths, const std::string& passwd_path,
                                         const std::string& home_root) {
  std::set<std::string> homes{"/root"};
  std::ifstream passwd(passwd_path);
  for (std::string line; std::getline(passwd, line);) {
    std::vector<std::string> fields = absl::StrSplit(line, ':');
    std::error_code ec;
    if (fields.size() >= 6 && fields[5].size() > 1 && fields[5][0] == '/' &&
        std::filesystem::is_directory(fields[5], ec)) {
      homes.insert(fields[5]);
    }
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(home_root, ec)) {
    if (entry.is_directory(ec)) homes.insert(entry.path().string());
  }
  std::vector<std::string> out;
  for (const std::string& p : paths) {
    if (p.empty()) continue;
    if (p[0] == '/') {
      out.push_back(p);
      continue;
    }
    for (const std::string& home : homes) out.push_back(absl::StrCat(home, "/", p));
  }
  return out;
}

}  // namespace vigil
