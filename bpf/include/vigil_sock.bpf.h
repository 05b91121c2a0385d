/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reading a socket's ends, shared by the network family and the exec
 * probe's stdio facts. */
#ifndef VIGIL_SOCK_BPF_H
#define VIGIL_SOCK_BPF_H

#include "vigil_common.bpf.h"

#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10

static __always_inline void vigil_sock_tuple_of(struct vigil_sock_tuple *t, struct sock *sk)
{
	__builtin_memset(t, 0, sizeof(*t));
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	/* u16 since 5.6 (a bitfield before, below the 5.8 floor). */
	t->protocol = BPF_CORE_READ(sk, sk_protocol);
	t->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)t->local_addr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->remote_addr, sk, __sk_common.skc_daddr);
	}
}

#endif /* VIGIL_SOCK_BPF_H */
