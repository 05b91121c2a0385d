#pragma once

// Shared by the rules_*_test.cc files: events built in the test, rules
// written to a temporary directory, a detector over them.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rules/sigma_detector.h"
#include "vigil/v1/event.pb.h"

namespace vigil::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vigil-rules-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

inline void SetEventTime(v1::Event& e, absl::Time t) {
  int64_t ns = absl::ToUnixNanos(t);
  e.mutable_time()->set_seconds(ns / 1000000000);
  e.mutable_time()->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

inline absl::Time T0() { return absl::FromUnixSeconds(1800000000); }

// An event of `kind` by a process (exe, argv) on the host, at T0.
inline v1::Event ProcessEvent(v1::EventKind kind, const std::string& exe, const std::vector<std::string>& argv,
                              const std::string& exec_id = "node:1:100") {
  v1::Event e;
  e.set_id("ev-1");
  e.set_kind(kind);
  e.set_node("node");
  SetEventTime(e, T0());
  v1::Process* p = e.mutable_process();
  p->set_pid(100);
  p->set_ppid(1);
  p->set_uid(0);
  p->set_euid(0);
  p->set_gid(0);
  p->set_egid(0);
  p->set_comm(std::filesystem::path(exe).filename().string().substr(0, 15));
  p->set_exe(exe);
  for (const std::string& a : argv) p->add_argv(a);
  p->set_cwd("/root");
  p->set_exec_id(exec_id);
  p->set_parent_exec_id("node:1:1");
  e.mutable_workload()->set_host(true);
  return e;
}

inline v1::Event Exec(const std::string& exe, const std::vector<std::string>& argv,
                      const std::string& exec_id = "node:1:100") {
  v1::Event e = ProcessEvent(v1::EVENT_KIND_EXEC, exe, argv, exec_id);
  e.mutable_exec()->set_filename(exe);
  return e;
}

inline void InContainer(v1::Event& e, const std::string& id = "c0ffee", const std::string& image = "docker.io/app:1",
                        const std::string& ns = "prod", const std::string& pod = "web-1") {
  v1::Workload* w = e.mutable_workload();
  w->set_host(false);
  w->set_container_id(id);
  w->set_image(image);
  w->set_pod_namespace(ns);
  w->set_pod_name(pod);
}

inline SigmaDetectorOptions OptionsFor(const std::vector<std::string>& paths) {
  SigmaDetectorOptions o;
  o.rule_paths = paths;
  o.embedded_rules = false;
  o.node = "node";
  return o;
}

// A detector over one rules text.
struct Loaded {
  TempDir dir;
  std::unique_ptr<SigmaDetector> detector;
  absl::Status status;
};
inline std::unique_ptr<Loaded> LoadRules(const std::string& text, const ProcessView* processes = nullptr,
                                         SigmaDetectorOptions options = {}) {
  auto l = std::make_unique<Loaded>();
  std::string file = l->dir.Write("rules.yml", text);
  options.rule_paths = {file};
  options.embedded_rules = false;
  if (options.node.empty()) options.node = "node";
  auto d = SigmaDetector::Create(options, processes);
  l->status = d.status();
  if (d.ok()) l->detector = *std::move(d);
  return l;
}

inline std::vector<v1::Event> Alerts(Detector& d, const v1::Event& e) {
  std::vector<v1::Event> alerts;
  d.Evaluate(e, alerts);
  return alerts;
}

}  // namespace vigil::test
