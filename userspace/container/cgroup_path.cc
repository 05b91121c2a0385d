#include "container/cgroup_path.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace vigil {

namespace {

using absl::string_view;

struct ScopeRuntime {
  string_view prefix;   // before "-<id>.scope" (systemd) or "-<id>" (cgroupfs)
  string_view runtime;  // empty: runtime infrastructure, not a container
};

// Longest prefixes first: "crio-conmon-" must win over "crio-".
constexpr ScopeRuntime kScopes[] = {
    {"cri-containerd", "containerd"},
    {"crio-conmon", ""},
    {"libpod-conmon", ""},
    {"crio", "cri-o"},
    {"docker", "docker"},
    {"libpod", "podman"},
    {"containerd", "containerd"},
    {"nerdctl", "containerd"},
};

bool IsHex(string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  return !s.empty();
}

bool IsHexId(string_view s) { return s.size() == 64 && IsHex(s); }

// Ids that runtimes accept: ctr and the CRI take any of these, not only hex.
bool IsPlainId(string_view s) {
  if (s.empty() || !absl::ascii_isalnum(s[0])) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return !absl::EndsWith(s, ".slice") && !absl::EndsWith(s, ".scope") && !absl::EndsWith(s, ".service");
}

// Cgroups only root creates: systemd's slices outside the users' hierarchy.
bool IsRootSlice(string_view name) {
  return absl::EndsWith(name, ".slice") && name != "user.slice" && !absl::StartsWith(name, "user-");
}

// A user's systemd manager: the subtree below is delegated to that user, who
// names cgroups in it at will.
bool IsUserManager(string_view name) { return absl::StartsWith(name, "user@") && absl::EndsWith(name, ".service"); }

enum class Match { kNo, kContainer, kInfrastructure };

// "<prefix>-<id>.scope" (systemd driver) or "<prefix>-<id>" (cgroupfs driver).
Match MatchRuntimeName(string_view name, bool any_id, CgroupContainer& out) {
  absl::ConsumeSuffix(&name, ".scope");
  for (const ScopeRuntime& s : kScopes) {
    string_view id = name;
    if (!absl::ConsumePrefix(&id, s.prefix) || !absl::ConsumePrefix(&id, "-")) continue;
    if (!(any_id ? IsPlainId(id) : IsHexId(id))) return Match::kNo;
    if (s.runtime.empty()) return Match::kInfrastructure;
    out.runtime = std::string(s.runtime);
    out.container_id = std::string(id);
    return Match::kContainer;
  }
  return Match::kNo;
}

// The pod's cgroup: "pod<uid>" (cgroupfs) or "kubepods[-<qos>]-pod<uid_with_underscores>.slice".
absl::StatusOr<std::string> PodUid(string_view name) {
  string_view uid;
  if (absl::ConsumeSuffix(&name, ".slice")) {
    const size_t at = name.rfind("-pod");
    if (at == string_view::npos) return absl::InvalidArgumentError(absl::StrCat("no pod uid in slice ", name));
    uid = name.substr(at + 4);
  } else if (absl::StartsWith(name, "pod")) {
    uid = name.substr(3);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("expected a pod cgroup, found ", name));
  }
  std::string out = absl::StrReplaceAll(uid, {{"_", "-"}});
  for (char c : out) {
    if (!absl::ascii_isxdigit(c) && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat("pod uid ", uid, " is not a uid"));
    }
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("empty pod uid in ", name));
  return absl::AsciiStrToLower(out);
}

// Below kubepods: [qos/] pod/ [container/ [anything the container made]].
absl::StatusOr<CgroupContainer> ParseKubepods(const std::vector<string_view>& parts, size_t i) {
  CgroupContainer out;
  if (i >= parts.size()) return out;  // the kubepods cgroup itself: kubelet's own
  out.qos = "guaranteed";
  for (string_view q : {"besteffort", "burstable"}) {
    if (parts[i] == q || absl::EndsWith(parts[i], absl::StrCat("-", q, ".slice"))) {
      out.qos = std::string(q);
      ++i;
      break;
    }
  }
  if (i >= parts.size()) return CgroupContainer{};  // a QoS class's own cgroup
  auto uid = PodUid(parts[i]);
  if (!uid.ok()) return uid.status();
  out.pod_uid = *std::move(uid);
  if (++i >= parts.size()) return out;  // the pod's cgroup (CRI-O's conmon runs here)
  switch (MatchRuntimeName(parts[i], /*any_id=*/true, out)) {
    case Match::kContainer:
    case Match::kInfrastructure:
      return out;
    case Match::kNo:
      break;
  }
  if (!IsPlainId(parts[i])) {
    return absl::InvalidArgumentError(absl::StrCat("pod cgroup child ", parts[i], " is not a container"));
  }
  out.container_id = std::string(parts[i]);  // cgroupfs driver: the bare id, runtime unnamed
  return out;
}

}  // namespace

absl::StatusOr<CgroupContainer> ParseCgroupPath(string_view path) {
  if (!absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("cgroup path \"", path, "\" is not absolute"));
  }
  std::vector<string_view> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  for (string_view p : parts) {
    // A process in another cgroup namespace sees ".." above its root.
    if (p == "." || p == "..") return absl::InvalidArgumentError(absl::StrCat("cgroup path ", path, " is relative"));
  }
  // The kubelet's cgroups are at the top, or below root's slices (kubelet's
  // --cgroup-root). Anywhere else (a user's delegated subtree, a container
  // that made its own sub-cgroups) the name proves nothing: whoever owns
  // that cgroup could make a process look like any pod.
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "kubepods" || absl::EndsWith(parts[i], "kubepods.slice")) return ParseKubepods(parts, i + 1);
    if (!IsRootSlice(parts[i])) break;
  }
  // Outside Kubernetes the outermost container wins: a container may nest cgroups.
  CgroupContainer out;
  bool delegated = false;  // below a user's manager
  for (size_t i = 0; i < parts.size(); ++i) {
    delegated |= IsUserManager(parts[i]);
    const Match m = MatchRuntimeName(parts[i], /*any_id=*/false, out);
    // A user may name a scope after any runtime; only rootless podman runs
    // containers there, and its containers are that user's processes anyway.
    if (delegated && m == Match::kContainer && out.runtime != "podman") {
      out = CgroupContainer{};
      continue;
    }
    switch (m) {
      case Match::kContainer:
        return out;
      case Match::kInfrastructure:
        return CgroupContainer{};
      case Match::kNo:
        break;
    }
    if (IsHexId(parts[i]) && !delegated) {  // cgroupfs driver: /docker/<id>, /<containerd namespace>/<id>
      if (i > 0 && parts[i - 1] == "docker") out.runtime = "docker";
      out.container_id = std::string(parts[i]);
      return out;
    }
  }
  return out;
}

absl::StatusOr<std::string> CgroupPathFromProcFile(string_view contents) {
  // Lower rank wins.
  int best_rank = 100;
  string_view best;
  for (string_view line : absl::StrSplit(contents, '\n', absl::SkipEmpty())) {
    std::vector<string_view> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    int rank = 100;
    if (f[0] == "0" && f[1].empty()) {
      rank = 0;
    } else {
      const std::vector<string_view> controllers = absl::StrSplit(f[1], ',');
      int r = 1;
      for (string_view want : {"name=systemd", "memory", "pids", "cpu"}) {
        for (string_view c : controllers) {
          if (c == want) rank = std::min(rank, r);
        }
        ++r;
      }
    }
    if (rank < best_rank) {
      best_rank = rank;
      best = f[2];
    }
  }
  if (best_rank == 100) return absl::NotFoundError("no cgroup hierarchy in the cgroup file");
  return std::string(best);
}

}  // namespace vigil
