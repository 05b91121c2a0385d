// The tail filter and the subscriber queue on recorded-style events: the
// workload fields (namespace, pod, container) that need container enrichment
// to appear in real events, and the queue's drop accounting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/filter.h"
#include "api/subscribers.h"
#include "status_matchers.h"

namespace vigil {
namespace {

using test::StatusIs;

v1::Event PodEvent(const std::string& ns, const std::string& pod, const std::string& id, const std::string& name) {
  v1::Event e;
  e.set_kind(v1::EVENT_KIND_EXEC);
  e.mutable_process()->set_pid(42);
  e.mutable_process()->set_comm("nginx");
  e.mutable_process()->set_exe("/usr/sbin/nginx");
  e.mutable_workload()->set_pod_namespace(ns);
  e.mutable_workload()->set_pod_name(pod);
  e.mutable_workload()->set_container_id(id);
  e.mutable_workload()->set_container_name(name);
  return e;
}

v1::Event HostEvent() {
  v1::Event e;
  e.set_kind(v1::EVENT_KIND_EXIT);
  e.mutable_process()->set_pid(7);
  e.mutable_process()->set_comm("sshd");
  e.mutable_workload()->set_host(true);
  return e;
}

bool Matches(const v1::TailFilter& f, const v1::Event& e) {
  auto filter = EventFilter::Create(f);
  EXPECT_TRUE(filter.ok()) << filter.status();
  return filter.ok() && filter->Matches(e);
}

TEST(EventFilter, EmptyMatchesEverything) {
  EXPECT_TRUE(Matches({}, PodEvent("prod", "web-1", "abcdef0123", "nginx")));
  EXPECT_TRUE(Matches({}, HostEvent()));
}

TEST(EventFilter, NamespaceIsExact) {
  v1::TailFilter f;
  f.add_namespaces("prod");
  EXPECT_TRUE(Matches(f, PodEvent("prod", "web-1", "abc", "nginx")));
  EXPECT_FALSE(Matches(f, PodEvent("production", "web-1", "abc", "nginx")));
  EXPECT_FALSE(Matches(f, HostEvent()));
}

TEST(EventFilter, PodIsAGlobAndNeedsAPod) {
  v1::TailFilter f;
  f.add_pods("web-*");
  EXPECT_TRUE(Matches(f, PodEvent("prod", "web-1", "abc", "nginx")));
  EXPECT_FALSE(Matches(f, PodEvent("prod", "api-1", "abc", "nginx")));
  v1::TailFilter any;
  any.add_pods("*");
  EXPECT_FALSE(Matches(any, HostEvent()));
}

TEST(EventFilter, ContainerByIdPrefixOrName) {
  v1::TailFilter by_id;
  by_id.add_containers("abcd");
  EXPECT_TRUE(Matches(by_id, PodEvent("prod", "web-1", "abcdef0123", "nginx")));
  EXPECT_FALSE(Matches(by_id, PodEvent("prod", "web-1", "0123abcd", "nginx")));
  v1::TailFilter by_name;
  by_name.add_containers("nginx");
  EXPECT_TRUE(Matches(by_name, PodEvent("prod", "web-1", "abcdef0123", "nginx")));
  EXPECT_FALSE(Matches(by_name, HostEvent()));
}

TEST(EventFilter, ScopeSplitsHostAndContainers) {
  v1::TailFilter host, containers;
  host.set_scope(v1::SCOPE_HOST);
  containers.set_scope(v1::SCOPE_CONTAINERS);
  EXPECT_TRUE(Matches(host, HostEvent()));
  EXPECT_FALSE(Matches(host, PodEvent("prod", "web-1", "abc", "nginx")));
  EXPECT_TRUE(Matches(containers, PodEvent("prod", "web-1", "abc", "nginx")));
  EXPECT_FALSE(Matches(containers, HostEvent()));
}

TEST(EventFilter, FieldsCombineWithAndListsWithOr) {
  v1::TailFilter f;
  f.add_kinds(v1::EVENT_KIND_EXEC);
  f.add_kinds(v1::EVENT_KIND_FORK);
  f.add_namespaces("prod");
  f.set_process("^ngin");
  EXPECT_TRUE(Matches(f, PodEvent("prod", "web-1", "abc", "nginx")));
  v1::Event exit = PodEvent("prod", "web-1", "abc", "nginx");
  exit.set_kind(v1::EVENT_KIND_EXIT);
  EXPECT_FALSE(Matches(f, exit));
  EXPECT_FALSE(Matches(f, PodEvent("dev", "web-1", "abc", "nginx")));
}

TEST(EventFilter, BadRegexIsInvalidArgument) {
  v1::TailFilter f;
  f.set_process("a(b");
  EXPECT_THAT(EventFilter::Create(f), StatusIs(absl::StatusCode::kInvalidArgument, "process regex 'a(b'"));
}

TEST(EventFilter, DescribeNamesEveryField) {
  v1::TailFilter f;
  f.add_kinds(v1::EVENT_KIND_EXEC);
  f.add_pods("web-*");
  f.add_pids(3);
  f.set_scope(v1::SCOPE_CONTAINERS);
  auto filter = EventFilter::Create(f);
  ASSERT_TRUE(filter.ok());
  EXPECT_EQ(filter->Describe(), "kinds=exec pod=web-* pid=3 containers-only");
  EXPECT_EQ(EventFilter::Create({})->Describe(), "all");
}

TEST(SubscriberHub, AFullQueueDropsAndCountsWithoutBlocking) {
  SubscriberHub hub;
  std::unique_ptr<Sink> sink = hub.MakeSink();
  auto slow = hub.Subscribe(*EventFilter::Create({}), {.events = 2});
  v1::TailFilter exits;
  exits.add_kinds(v1::EVENT_KIND_EXIT);
  auto only_exits = hub.Subscribe(*EventFilter::Create(exits), {.events = 100});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sink->Write(PodEvent("prod", "web-1", "abc", "nginx")).ok());
  ASSERT_TRUE(sink->Write(HostEvent()).ok());

  uint64_t dropped = 0;
  EXPECT_EQ(slow->Take(absl::ZeroDuration(), dropped).size(), 2u);
  EXPECT_EQ(dropped, 4u);
  EXPECT_EQ(only_exits->Take(absl::ZeroDuration(), dropped).size(), 1u);
  EXPECT_EQ(dropped, 0u);
  ASSERT_EQ(hub.Status().size(), 2u);
  EXPECT_EQ(hub.Status()[0].dropped(), 4u);
  EXPECT_EQ(hub.Status()[0].sent(), 2u);

  hub.Unsubscribe(slow);
  EXPECT_EQ(hub.Status().size(), 1u);
  EXPECT_EQ(hub.dropped_total(), 4u) << "kept after the subscriber left";
}

TEST(SubscriberHub, QueueIsBoundedInBytesToo) {
  SubscriberHub hub;
  std::unique_ptr<Sink> sink = hub.MakeSink();
  v1::Event big = PodEvent("prod", "web-1", "abc", "nginx");
  big.mutable_process()->add_argv(std::string(10000, 'a'));
  auto s = hub.Subscribe(*EventFilter::Create({}), {.events = 1000, .bytes = 25000});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sink->Write(big).ok());
  uint64_t dropped = 0;
  EXPECT_EQ(s->Take(absl::ZeroDuration(), dropped).size(), 2u);
  EXPECT_EQ(dropped, 3u);
  // One event larger than the whole budget still gets through an empty queue.
  auto tiny = hub.Subscribe(*EventFilter::Create({}), {.events = 10, .bytes = 100});
  ASSERT_TRUE(sink->Write(big).ok());
  EXPECT_EQ(tiny->Take(absl::ZeroDuration(), dropped).size(), 1u);
}

}  // namespace
}  // namespace vigil
