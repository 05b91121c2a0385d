// Container and pod enrichment end to end: a real containerd (started here,
// with its own root, state and socket) runs containers with runc from a local
// busybox image, with the labels and kubepods cgroup paths the kubelet gives;
// the real vigil-sensor must label their events, the first exec included.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "container/runtime_clients.h"
#include "containerd_harness.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"
#include "support/hanging_socket.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kImage[] = "docker.io/vigil/busybox:e2e";

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(ts));
}

struct Pod {
  std::string name, ns, uid, container, id, qos_path;
};

Pod NewPod(const std::string& qos) {
  const std::string n = Nonce();
  Pod p;
  p.name = "web-" + n.substr(0, 6);
  p.ns = "prod";
  p.uid = absl::StrCat(n.substr(0, 8), "-1111-4222-8333-", std::string(12, 'a'));
  p.container = "app";
  p.id = (n + n + n + n + n + n + n + n).substr(0, 64);  // runtimes' ids are 64 hex digits
  p.qos_path = qos == "guaranteed" ? absl::StrCat("/kubepods/pod", p.uid, "/", p.id)
                                   : absl::StrCat("/kubepods/", qos, "/pod", p.uid, "/", p.id);
  return p;
}

std::string Labels(const Pod& p) {
  return absl::StrCat("--label io.kubernetes.pod.name=", p.name, " --label io.kubernetes.pod.namespace=", p.ns,
                      " --label io.kubernetes.pod.uid=", p.uid, " --label io.kubernetes.container.name=", p.container);
}

bool ArgvHas(const v1::Event& e, const std::string& s) {
  for (const auto& a : e.process().argv()) {
    if (absl::StrContains(a, s)) return true;
  }
  return false;
}

uint32_t NsInode(const std::string& which) {
  struct stat st {};
  return stat(("/proc/self/ns/" + which).c_str(), &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
}

class ContainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!E2eUnavailableReason().empty()) return;
    char tmpl[] = "/tmp/vigil-e2e-XXXXXX";
    dir_ = new std::string(mkdtemp(tmpl));
    containerd_ = new Containerd(*dir_);
    ASSERT_OK(containerd_->Start());
    // An OCI image made of busybox and its applet links, imported: no registry.
    ASSERT_EQ(Shell(absl::StrCat(VIGIL_SOURCE_DIR "/scripts/lib/busybox-image.sh ", containerd_->socket(), " ", kImage,
                                 " ", *dir_, "/image >", *dir_, "/digest")),
              0);
    std::ifstream(*dir_ + "/digest") >> digest_;
    sensor_ = new SensorProcess(SensorFlags());
    ASSERT_OK(sensor_->Start());
  }

  static void TearDownTestSuite() {
    if (sensor_ != nullptr) sensor_->Stop();
    delete sensor_;
    sensor_ = nullptr;
    if (containerd_ != nullptr && containerd_->running()) {
      // A test that failed half way may have left a container running.
      containerd_->Ctr("task ls -q 2>/dev/null | while read t; do /usr/bin/ctr -a " + containerd_->socket() +
                       " -n k8s.io task kill -s KILL $t; done >/dev/null 2>&1");
    }
    delete containerd_;
    containerd_ = nullptr;
    if (dir_ != nullptr) {
      if (!::testing::UnitTest::GetInstance()->Failed()) Shell("umount -R " + *dir_ + "/root 2>/dev/null; true");
      if (!::testing::UnitTest::GetInstance()->Failed()) fs::remove_all(*dir_);
    }
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    RequireE2eOrSkip();
    ASSERT_NE(sensor_, nullptr);
  }

  // The reader wakes once a second, not every 40 ms: every container here
  // has exited, and its cgroup is gone, before its first event is read. A
  // fast node meets that with the default too (CI once did), so the events
  // must name the container all the same.
  static std::vector<std::string> SensorFlags() {
    return {"--containerd_socket=" + containerd_->socket(), "--cri_socket=", "--docker_socket=", "--health_interval=1s",
            "--batch_interval=1s"};
  }

  // ctr run --rm: waits until the container's command is done.
  static int RunContainer(const Pod& p, const std::string& script) {
    return containerd_->Ctr(absl::StrCat("run --rm ", Labels(p), " --cgroup ", p.qos_path, " ", kImage, " ", p.id,
                                         " /bin/sh -c '", script, "' >/dev/null 2>&1"));
  }

  static void ExpectPod(const v1::Event& e, const Pod& p) {
    const v1::Workload& w = e.workload();
    EXPECT_FALSE(w.host());
    EXPECT_EQ(w.container_id(), p.id);
    EXPECT_EQ(w.pod_name(), p.name);
    EXPECT_EQ(w.pod_namespace(), p.ns);
    EXPECT_EQ(w.pod_uid(), p.uid);
    EXPECT_EQ(w.container_name(), p.container);
    EXPECT_EQ(w.image(), kImage);
    EXPECT_EQ(w.image_digest(), digest_);
    EXPECT_FALSE(w.metadata_pending());
  }

  static std::string* dir_;
  static Containerd* containerd_;
  static SensorProcess* sensor_;
  static std::string digest_;
};

std::string* ContainerTest::dir_ = nullptr;
Containerd* ContainerTest::containerd_ = nullptr;
SensorProcess* ContainerTest::sensor_ = nullptr;
std::string ContainerTest::digest_;

TEST_F(ContainerTest, FirstExecOfEachContainerCarriesItsPodInEveryQosClass) {
  for (const std::string qos : {"besteffort", "burstable", "guaranteed"}) {
    SCOPED_TRACE(qos);
    const Pod pod = NewPod(qos);
    const std::string nonce = Nonce();
    ASSERT_EQ(RunContainer(pod, absl::StrCat("/bin/echo ", nonce)), 0);
    // runc's init execs the container's command: the first exec in the container.
    auto first = sensor_->WaitFor([&](const v1::Event& e) {
      return IsExec(e) && e.workload().container_id() == pod.id && e.exec().filename() == "/bin/sh";
    });
    ASSERT_TRUE(first.has_value()) << "no exec of /bin/sh in container " << pod.id;
    ExpectPod(*first, pod);
    EXPECT_TRUE(ArgvHas(*first, nonce));
    EXPECT_EQ(first->process().ns_pid(), 1u) << "the container's command is pid 1 in its pid namespace";
    auto echo = sensor_->WaitFor([&](const v1::Event& e) {
      return IsExec(e) && e.workload().container_id() == pod.id && ArgvHas(e, nonce) &&
             e.exec().filename() == "/bin/echo";
    });
    ASSERT_TRUE(echo.has_value());
    ExpectPod(*echo, pod);
    EXPECT_EQ(echo->workload().runtime(), "containerd");
  }
}

TEST_F(ContainerTest, ContainerNamespacesAreNotTheHosts) {
  const Pod pod = NewPod("besteffort");
  const std::string nonce = Nonce();
  ASSERT_EQ(RunContainer(pod, absl::StrCat("/bin/true ", nonce)), 0);
  auto e = sensor_->WaitFor(
      [&](const v1::Event& e) { return IsExec(e) && e.workload().container_id() == pod.id && ArgvHas(e, nonce); });
  ASSERT_TRUE(e.has_value());
  const v1::Workload& w = e->workload();
  EXPECT_NE(w.pid_ns(), 0u);
  EXPECT_NE(w.pid_ns(), NsInode("pid"));
  EXPECT_NE(w.mnt_ns(), 0u);
  EXPECT_NE(w.mnt_ns(), NsInode("mnt"));
  EXPECT_NE(w.net_ns(), 0u);
  EXPECT_NE(w.net_ns(), NsInode("net"));
  EXPECT_NE(e->process().ns_pid(), e->process().pid()) << "a container pid differs from the host pid";
}

TEST_F(ContainerTest, HostProcessesAreMarkedHost) {
  const std::string nonce = Nonce();
  ASSERT_EQ(vigil::testing::Run({"/bin/true", nonce}), 0);
  auto e = sensor_->WaitFor([&](const v1::Event& e) { return IsExec(e) && ArgvHas(e, nonce); });
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->workload().host());
  EXPECT_EQ(e->workload().container_id(), "");
  EXPECT_EQ(e->workload().pod_name(), "");
  EXPECT_EQ(e->workload().pid_ns(), NsInode("pid"));
  EXPECT_EQ(e->workload().mnt_ns(), NsInode("mnt"));
  EXPECT_EQ(e->workload().net_ns(), NsInode("net"));
  EXPECT_EQ(e->process().ns_pid(), e->process().pid());
}

TEST_F(ContainerTest, RuntimeGoesAwayAndComesBack) {
  const Pod pod = NewPod("burstable");
  const std::string nonce = Nonce();
  // Detached: the container keeps running without containerd (its shim stays).
  ASSERT_EQ(containerd_->Ctr(absl::StrCat("run -d ", Labels(pod), " --cgroup ", pod.qos_path, " ", kImage, " ", pod.id,
                                          " /bin/sh -c 'while :; do /bin/true ", nonce,
                                          "; sleep 0.2; done' >/dev/null 2>&1")),
            0);
  auto in_pod = [&](SensorProcess& s, bool with_pod, absl::Time after) {
    return s.WaitFor(
        [&](const v1::Event& e) {
          return IsExec(e) && ArgvHas(e, nonce) && e.workload().container_id() == pod.id &&
                 (e.workload().pod_name() == pod.name) == with_pod && ToTime(e.time()) > after;
        },
        absl::Seconds(20));
  };
  ASSERT_TRUE(in_pod(*sensor_, true, absl::InfinitePast()).has_value());

  containerd_->Stop();
  const absl::Time stopped = absl::Now();
  // The running sensor keeps going, and keeps what it knew.
  auto still = in_pod(*sensor_, true, stopped);
  ASSERT_TRUE(still.has_value()) << "events of the container stopped flowing without containerd";
  ExpectPod(*still, pod);

  // A sensor that starts now cannot ask anyone: the container id comes from
  // the cgroup path, the rest is pending.
  SensorProcess fresh(SensorFlags());
  ASSERT_OK(fresh.Start());
  auto pending = in_pod(fresh, false, stopped);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->workload().container_id(), pod.id);
  EXPECT_EQ(pending->workload().pod_uid(), pod.uid) << "the pod uid is in the cgroup path";
  EXPECT_TRUE(pending->workload().metadata_pending());

  ASSERT_OK(containerd_->Start());
  const absl::Time restarted = absl::Now();
  auto resumed = in_pod(fresh, true, restarted);
  ASSERT_TRUE(resumed.has_value()) << "metadata did not come back with containerd";
  ExpectPod(*resumed, pod);
  auto health = fresh.WaitFor([](const v1::Event& e) { return e.has_health(); });
  ASSERT_TRUE(health.has_value());
  fresh.Stop();
  auto final_health = fresh.FinalHealth();
  ASSERT_TRUE(final_health.has_value());
  EXPECT_GT(final_health->health().container_runtime_errors(), 0u);
  EXPECT_GT(final_health->health().container_metadata_timeouts(), 0u);
  EXPECT_GT(final_health->health().container_cache_size(), 0u);

  containerd_->Ctr(absl::StrCat("task kill -s KILL ", pod.id, " >/dev/null 2>&1"));
  for (int i = 0; i < 50 && containerd_->Ctr(absl::StrCat("task rm ", pod.id, " >/dev/null 2>&1")) != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(containerd_->Ctr(absl::StrCat("containers rm ", pod.id, " >/dev/null 2>&1")), 0);
}

// Issue 11: a runtime that accepts connections and never answers (a wedged
// containerd) holds up its containers' events, parked until --container-wait,
// and nothing else: host execs made meanwhile arrive long before that wait
// ends, ahead of the container's parked exec, which then goes on without
// its metadata and is counted.
TEST_F(ContainerTest, AHungRuntimeDoesNotDelayHostEvents) {
  test::HangingSocket hung(*dir_ + "/hung-containerd.sock");
  ASSERT_TRUE(hung.ok());
  const absl::Duration kWait = absl::Seconds(5);  // the longest the sensor takes
  SensorProcess sensor({"--containerd_socket=" + hung.path(), "--cri_socket=", "--docker_socket=",
                        "--container_wait=5s", "--runtime_timeout=20s", "--health_interval=1s"});
  ASSERT_OK(sensor.Start());

  const Pod pod = NewPod("besteffort");
  const std::string nonce = Nonce();
  ASSERT_EQ(RunContainer(pod, absl::StrCat("/bin/echo ", nonce)), 0);
  const absl::Time container_done = absl::Now();
  auto is_container_exec = [&](const v1::Event& e) {
    return IsExec(e) && ArgvHas(e, nonce) && e.exec().filename() == "/bin/echo";
  };

  // Host execs while the container's events wait for the hung runtime.
  std::vector<absl::Duration> latencies;
  std::string last_host;
  for (int i = 0; i < 5; ++i) {
    const std::string mark = Nonce();
    const absl::Time spawned = absl::Now();
    ASSERT_EQ(vigil::testing::Run({"/bin/true", mark}), 0);
    auto e = sensor.WaitFor([&](const v1::Event& e) { return IsExec(e) && ArgvHas(e, mark); }, kWait);
    ASSERT_TRUE(e.has_value()) << "host exec " << i << " did not arrive within the container wait";
    latencies.push_back(absl::Now() - spawned);
    EXPECT_TRUE(e->workload().host());
    last_host = mark;
  }
  const absl::Time hosts_done = absl::Now();
  std::cout << "host exec arrival with the runtime hung (container wait " << kWait << "):";
  for (absl::Duration d : latencies) std::cout << " " << d;
  std::cout << "; container command done " << (hosts_done - container_done) << " before the last\n";
  for (absl::Duration d : latencies) EXPECT_LT(d, kWait / 3) << "a host exec waited on the container's runtime";
  ASSERT_LT(hosts_done - container_done, kWait) << "too slow a machine to tell: the container's wait is over";

  // The container's exec comes after them, without its metadata, once its wait is over.
  auto parked = sensor.WaitFor(is_container_exec, kWait + absl::Seconds(10));
  ASSERT_TRUE(parked.has_value()) << "the container's exec never came out";
  EXPECT_EQ(parked->workload().container_id(), pod.id);
  EXPECT_EQ(parked->workload().pod_uid(), pod.uid) << "what the cgroup path says is there";
  EXPECT_TRUE(parked->workload().metadata_pending());
  EXPECT_EQ(parked->workload().pod_name(), "");
  size_t host_at = 0, container_at = 0;
  const std::vector<v1::Event>& events = sensor.Events();
  for (size_t i = 0; i < events.size(); ++i) {
    if (IsExec(events[i]) && ArgvHas(events[i], last_host)) host_at = i;
    if (is_container_exec(events[i])) container_at = i;
  }
  EXPECT_LT(host_at, container_at) << "host execs made after the container's went out before it";

  auto health =
      sensor.WaitFor([](const v1::Event& e) { return e.has_health() && e.health().container_metadata_timeouts() > 0; },
                     absl::Seconds(10));
  EXPECT_TRUE(health.has_value()) << "no health event counted the events sent without their metadata";
  EXPECT_GE(hung.accepted(), 1) << "the sensor did reach the hung runtime";
}

// containerd's CRI plugin only knows the containers made through the CRI
// (none here: no kubelet, no pause image), so this checks the wire: the
// RuntimeService method and messages of cri/runtime_v1_subset.proto are the
// real ones (a wrong name would be UNIMPLEMENTED, not NOT_FOUND).
TEST_F(ContainerTest, CriClientSpeaksToContainerdsCriPlugin) {
  auto cri = NewCriClient(containerd_->socket(), absl::Seconds(5));
  auto md = cri->Lookup(std::string(64, 'f'));
  EXPECT_TRUE(absl::IsNotFound(md.status())) << md.status();
  auto none = NewCriClient(*dir_ + "/no-such.sock", absl::Seconds(2))->Lookup(std::string(64, 'f'));
  EXPECT_TRUE(absl::IsUnavailable(none.status())) << none.status();
}

}  // namespace
}  // namespace vigil::testing
