// Network family: TCP connect/accept/listen/close, bind, DNS to and from port 53.
#include <bpf/libbpf.h>

#include "common/status.h"
#include "loader/families.h"
#include "loader/skeleton.h"
#include "network.skel.h"

namespace vigil {

FamilySpec NetworkFamily() {
  using NetworkSkel = Skeleton<network_bpf, network_bpf__open_opts, network_bpf__destroy>;
  // TCP and bind: tracepoints only (see bpf/network.bpf.c for why no other
  // hook adds data). DNS: the packets of every local socket, or where cgroup
  // hooks are not available the UDP syscalls resolvers use most.
  auto tp = [](const char* name, const char* program, const char* target) {
    return ProbeSpec{name, {{program, Hook::kTracepoint, target}}};
  };
  return FamilySpec{
      "network",
      {
          tp("tcp_state", "vigil_tcp_state", "sock/inet_sock_set_state"),
          tp("tcp_connect", "vigil_connect_exit", "syscalls/sys_exit_connect"),
          tp("tcp_accept4", "vigil_accept4_exit", "syscalls/sys_exit_accept4"),
          tp("tcp_accept", "vigil_accept_exit", "syscalls/sys_exit_accept"),
          tp("listen", "vigil_listen_exit", "syscalls/sys_exit_listen"),
          tp("bind_enter", "vigil_bind_enter", "syscalls/sys_enter_bind"),
          tp("bind", "vigil_bind_exit", "syscalls/sys_exit_bind"),
          {"dns",
           {{"vigil_dns_egress", Hook::kCgroupSkb, "egress", {{"vigil_dns_ingress", "ingress"}}},
            {"vigil_dns_sendto",
             Hook::kTracepoint,
             "syscalls/sys_enter_sendto",
             {{"vigil_dns_sendmsg", "syscalls/sys_enter_sendmsg"},
              {"vigil_dns_sendmmsg", "syscalls/sys_enter_sendmmsg"},
              {"vigil_dns_recvfrom_enter", "syscalls/sys_enter_recvfrom"},
              {"vigil_dns_recvfrom_exit", "syscalls/sys_exit_recvfrom"}}}}},
      },
      [](const bpf_object_open_opts* opts, const LoaderConfig& config) -> absl::StatusOr<std::unique_ptr<BpfObject>> {
        auto skel = NetworkSkel::Make(opts);
        if (!skel.ok()) return skel.status();
        network_bpf* s = (*skel)->skel();
        if (int err = bpf_map__set_max_entries(s->maps.vigil_tcp_owners, config.tcp_socket_entries); err != 0)
          return LibbpfStatus(err, "size vigil_tcp_owners");
        if (int err = bpf_map__set_max_entries(s->maps.vigil_net_pending, config.net_pending_entries); err != 0)
          return LibbpfStatus(err, "size vigil_net_pending");
        return std::unique_ptr<BpfObject>(*std::move(skel));
      }};
}

}  // namespace vigil
