#include "container/cgroup_path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "status_matchers.h"

namespace vigil {
namespace {

using test::IsOk;
using test::StatusIs;

constexpr char kId[] = "4f1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
constexpr char kUid[] = "0c5e7a1e-3b2d-4c8e-9f10-2a3b4c5d6e7f";
constexpr char kUidSystemd[] = "0c5e7a1e_3b2d_4c8e_9f10_2a3b4c5d6e7f";

CgroupContainer Parsed(const std::string& path) {
  auto c = ParseCgroupPath(path);
  EXPECT_THAT(c, IsOk()) << path;
  return c.ok() ? *c : CgroupContainer{};
}

CgroupContainer Want(std::string runtime, std::string id, std::string pod_uid = "", std::string qos = "") {
  return {.runtime = std::move(runtime),
          .container_id = std::move(id),
          .pod_uid = std::move(pod_uid),
          .qos = std::move(qos)};
}

CgroupContainer Pod(std::string runtime, std::string qos) {
  return Want(std::move(runtime), kId, kUid, std::move(qos));
}

TEST(CgroupPathTest, ContainerdCriCgroupfsEveryQosClass) {
  EXPECT_EQ(Parsed(absl::StrCat("/kubepods/besteffort/pod", kUid, "/", kId)), Pod("", "besteffort"));
  EXPECT_EQ(Parsed(absl::StrCat("/kubepods/burstable/pod", kUid, "/", kId)), Pod("", "burstable"));
  EXPECT_EQ(Parsed(absl::StrCat("/kubepods/pod", kUid, "/", kId)), Pod("", "guaranteed"));
}

TEST(CgroupPathTest, ContainerdCriSystemdEveryQosClass) {
  EXPECT_EQ(Parsed(absl::StrCat("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod", kUidSystemd,
                                ".slice/cri-containerd-", kId, ".scope")),
            Pod("containerd", "besteffort"));
  EXPECT_EQ(Parsed(absl::StrCat("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod", kUidSystemd,
                                ".slice/cri-containerd-", kId, ".scope")),
            Pod("containerd", "burstable"));
  EXPECT_EQ(Parsed(absl::StrCat("/kubepods.slice/kubepods-pod", kUidSystemd, ".slice/cri-containerd-", kId, ".scope")),
            Pod("containerd", "guaranteed"));
}

TEST(CgroupPathTest, CriOSystemdAndCgroupfs) {
  EXPECT_EQ(Parsed(absl::StrCat("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod", kUidSystemd,
                                ".slice/crio-", kId, ".scope")),
            Pod("cri-o", "burstable"));
  EXPECT_EQ(Parsed(absl::StrCat("/kubepods/besteffort/pod", kUid, "/crio-", kId)), Pod("cri-o", "besteffort"));
}

TEST(CgroupPathTest, CriOConmonIsInThePodButNoContainer) {
  CgroupContainer c = Parsed(absl::StrCat("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod",
                                          kUidSystemd, ".slice/crio-conmon-", kId, ".scope"));
  EXPECT_EQ(c.container_id, "");
  EXPECT_EQ(c.pod_uid, kUid);
  EXPECT_FALSE(c.host());
}

TEST(CgroupPathTest, DockerUnderKubernetes) {
  EXPECT_EQ(Parsed(absl::StrCat("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod", kUidSystemd,
                                ".slice/docker-", kId, ".scope")),
            Pod("docker", "besteffort"));
}

TEST(CgroupPathTest, PodCgroupItself) {
  CgroupContainer c = Parsed(absl::StrCat("/kubepods/burstable/pod", kUid));
  EXPECT_EQ(c, Want("", "", kUid, "burstable"));
  EXPECT_FALSE(c.host());
}

TEST(CgroupPathTest, NestedCgroupsInsideAContainerBelongToIt) {
  EXPECT_EQ(Parsed(absl::StrCat("/kubepods.slice/kubepods-pod", kUidSystemd, ".slice/cri-containerd-", kId,
                                ".scope/init.scope")),
            Pod("containerd", "guaranteed"));
  EXPECT_EQ(Parsed(absl::StrCat("/docker/", kId, "/nested/", std::string(64, 'a'))), Want("docker", kId));
}

TEST(CgroupPathTest, KubepodsBelowAnotherRoot) {
  // kind and other nested setups put the kubelet's cgroups under their own.
  EXPECT_EQ(Parsed(absl::StrCat("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
                                "kubelet-kubepods-besteffort-pod",
                                kUidSystemd, ".slice/cri-containerd-", kId, ".scope")),
            Pod("containerd", "besteffort"));
}

// Issue 15, defect 7: a cgroup's owner names its children at will. A user
// (below user@UID.service) or a container (below its own scope) cannot make a
// process look like a pod, or like another runtime's container.
TEST(CgroupPathTest, NamesInCgroupsOthersControlAreNotBelieved) {
  const std::string user = "/user.slice/user-1000.slice/user@1000.service/app.slice";
  EXPECT_TRUE(Parsed(absl::StrCat(user, "/kubepods/besteffort/pod", kUid, "/", kId)).host());
  EXPECT_TRUE(
      Parsed(absl::StrCat(user, "/kubepods.slice/kubepods-pod", kUidSystemd, ".slice/cri-containerd-", kId, ".scope"))
          .host());
  EXPECT_TRUE(Parsed(absl::StrCat(user, "/docker-", kId, ".scope")).host());
  EXPECT_TRUE(Parsed(absl::StrCat(user, "/cri-containerd-", kId, ".scope")).host());
  EXPECT_TRUE(Parsed(absl::StrCat(user, "/docker/", kId)).host());
  // A container that made cgroups of its own is still that container.
  const std::string other(64, 'b');
  EXPECT_EQ(Parsed(absl::StrCat("/system.slice/docker-", kId, ".scope/kubepods/besteffort/pod", kUid, "/", other)),
            Want("docker", kId));
}

TEST(CgroupPathTest, PlainDocker) {
  const CgroupContainer want = Want("docker", kId);
  EXPECT_EQ(Parsed(absl::StrCat("/system.slice/docker-", kId, ".scope")), want);
  EXPECT_EQ(Parsed(absl::StrCat("/docker/", kId)), want);
}

TEST(CgroupPathTest, Podman) {
  const CgroupContainer want = Want("podman", kId);
  EXPECT_EQ(Parsed(absl::StrCat("/machine.slice/libpod-", kId, ".scope")), want);
  EXPECT_EQ(Parsed(absl::StrCat("/machine.slice/libpod-", kId, ".scope/container")), want);
  EXPECT_EQ(Parsed(absl::StrCat("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-", kId, ".scope")),
            want);
  EXPECT_EQ(Parsed(absl::StrCat("/libpod_parent/libpod-", kId)), want);
  EXPECT_TRUE(Parsed(absl::StrCat("/machine.slice/libpod-conmon-", kId, ".scope")).host());
}

TEST(CgroupPathTest, PlainContainerd) {
  EXPECT_EQ(Parsed(absl::StrCat("/default/", kId)), Want("", kId));
  EXPECT_EQ(Parsed(absl::StrCat("/system.slice/containerd-", kId, ".scope")), Want("containerd", kId));
  EXPECT_EQ(Parsed(absl::StrCat("/system.slice/nerdctl-", kId, ".scope")), Want("containerd", kId));
}

TEST(CgroupPathTest, HostCgroups) {
  for (const char* path : {"/", "/init.scope", "/system.slice/containerd.service", "/system.slice/docker.service",
                           "/user.slice/user-0.slice/session-1.scope", "/kubepods", "/kubepods/besteffort",
                           "/kubepods.slice/kubepods-burstable.slice", "/system.slice/docker-abc.scope"}) {
    EXPECT_TRUE(Parsed(path).host()) << path;
  }
}

TEST(CgroupPathTest, MalformedPaths) {
  EXPECT_THAT(ParseCgroupPath(""), StatusIs(absl::StatusCode::kInvalidArgument, "not absolute"));
  EXPECT_THAT(ParseCgroupPath("kubepods/pod1/x"), StatusIs(absl::StatusCode::kInvalidArgument, "not absolute"));
  EXPECT_THAT(ParseCgroupPath("/../../kubepods/besteffort"), StatusIs(absl::StatusCode::kInvalidArgument, "relative"));
  EXPECT_THAT(ParseCgroupPath("/kubepods/besteffort/pod/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty pod uid"));
  EXPECT_THAT(ParseCgroupPath("/kubepods/besteffort/notapod/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "expected a pod cgroup"));
  EXPECT_THAT(ParseCgroupPath("/kubepods/besteffort/podzz-not-hex/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a uid"));
  EXPECT_THAT(ParseCgroupPath("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort.slice/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "no pod uid"));
  EXPECT_THAT(ParseCgroupPath(absl::StrCat("/kubepods/pod", kUid, "/weird.service")),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a container"));
}

TEST(CgroupPathTest, ProcFileOfACgroupV2Node) {
  EXPECT_EQ(*CgroupPathFromProcFile(absl::StrCat("0::/kubepods/besteffort/pod", kUid, "/", kId, "\n")),
            absl::StrCat("/kubepods/besteffort/pod", kUid, "/", kId));
}

TEST(CgroupPathTest, ProcFileOfAHybridNodePrefersV2) {
  const std::string v1 = absl::StrCat("/kubepods/besteffort/pod", kUid, "/", kId);
  EXPECT_EQ(*CgroupPathFromProcFile(absl::StrCat("12:memory:", v1, "\n1:name=systemd:", v1, "\n0::", v1, "\n")), v1);
}

TEST(CgroupPathTest, ProcFileOfACgroupV1Node) {
  const std::string v1 = absl::StrCat("/docker/", kId);
  EXPECT_EQ(*CgroupPathFromProcFile(absl::StrCat("11:cpu,cpuacct:/other\n4:memory:", v1, "\n")), v1);
  EXPECT_EQ(*CgroupPathFromProcFile(absl::StrCat("4:memory:/x\n1:name=systemd:", v1, "\n")), v1);
}

TEST(CgroupPathTest, ProcFileWithoutHierarchy) {
  EXPECT_THAT(CgroupPathFromProcFile("garbage\n"), StatusIs(absl::StatusCode::kNotFound, "no cgroup hierarchy"));
}

}  // namespace
}  // namespace vigil
