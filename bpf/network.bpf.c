// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Network family: TCP connect / accept / listen / close, bind, and DNS
 * messages to and from port 53 (UDP datagrams, TCP streams) as DNS queries
 * and responses.
 *
 * TCP and bind hooks are tracepoints, stable and present where kprobes are
 * compiled out: sock/inet_sock_set_state (4.16+) sees every TCP state change,
 * in process or softirq context; the syscalls/sys_{enter,exit}_* tracepoints
 * (CONFIG_FTRACE_SYSCALLS) give the syscall's caller, arguments and result.
 * Socket fields are read through CO-RE. No fentry/kprobe candidate: none would
 * add a field these cannot give (tcp_sock's byte counters are read at the
 * state change already). DNS is seen on the packets, by cgroup_skb programs
 * on the root cgroup2 (see "DNS on the wire" below for why), with the UDP
 * syscall tracepoints as the fallback.
 */
#include "vigil_common.bpf.h"
#include "vigil_sock.bpf.h"

#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115
#define ECONNREFUSED 111
#define ETIMEDOUT 110
#define DNS_PORT 53

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Who owns a TCP socket, from connect() or accept() to its close. Keyed by
 * the struct sock pointer: the state changes that end a connection mostly
 * happen in softirq context, where `current` is whoever was interrupted. */
struct tcp_owner {
	struct vigil_header hdr; /* the owning process; hdr.kind == 0 until known */
	__u64 established_ns;
	__u32 inbound;
	__u32 _pad0;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* placeholder: the loader sets the size from config */
	__type(key, __u64);
	__type(value, struct tcp_owner);
} vigil_tcp_owners SEC(".maps");

/* Per thread, between a syscall's enter and exit (or a state change inside
 * it and its exit). LRU: an exit that never comes must not leak. */
struct pending {
	__u64 sk;   /* connect/listen: the socket whose state changed */
	__u64 buf;  /* recvfrom: user buffer */
	__u64 addr; /* recvfrom: user source address */
	__u64 len;  /* recvfrom: user buffer size (MSG_TRUNC returns more) */
	__s32 fd;
	__u32 _pad0;
	__u8 sockaddr[28]; /* bind: the requested address (sockaddr_in6 size) */
	__u32 _pad1;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096); /* placeholder: the loader sets the size from config */
	__type(key, __u64);        /* vigil_call_key(PENDING_*) */
	__type(value, struct pending);
} vigil_net_pending SEC(".maps");

/* vigil_call_*() slots: a thread's bind never meets its listen. */
#define PENDING_CONNECT 1
#define PENDING_LISTEN 2
#define PENDING_BIND 3
#define PENDING_RECVFROM 4

/* fd of the current process -> its struct sock, or NULL if not a socket. */
static __always_inline struct sock *sock_of_fd(int fd)
{
	struct file *file = vigil_fd_file(vigil_current_task(), fd);
	struct socket *socket;

	if (!file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	socket = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(socket, sk);
}

static __always_inline int is_inet(__u16 family)
{
	return family == AF_INET || family == AF_INET6;
}

/* A user sockaddr_in / sockaddr_in6 into one end of a tuple; 0 when it is one. */
static __always_inline int sockaddr_into(const __u8 *sa, __u8 addr[16], __u16 *port, __u16 *family)
{
	__u16 f = *(const __u16 *)sa;

	if (!is_inet(f))
		return -1;
	*family = f;
	*port = bpf_ntohs(*(const __u16 *)(sa + 2));
	if (f == AF_INET)
		__builtin_memcpy(addr, sa + 4, 4); /* sin_addr */
	else
		__builtin_memcpy(addr, sa + 8, 16); /* sin6_addr, after sin6_flowinfo */
	return 0;
}

/* ---- TCP state changes ---- */

static __always_inline void emit_connect(struct tcp_owner *owner, const struct vigil_sock_tuple *t, __u32 result,
					 __s32 error)
{
	struct vigil_tcp_connect e;

	e.hdr = owner->hdr;
	e.hdr.kind = VIGIL_KIND_TCP_CONNECT;
	e.hdr.size = sizeof(e);
	e.hdr.boot_ns = bpf_ktime_get_boot_ns();
	e.tuple = *t;
	e.result = result;
	e.error = error;
	vigil_emit(&e, sizeof(e), VIGIL_KIND_TCP_CONNECT);
}

static __always_inline void emit_close(struct tcp_owner *owner, const struct vigil_sock_tuple *t, struct sock *sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct vigil_tcp_close e;
	__u64 now = bpf_ktime_get_boot_ns();

	e.hdr = owner->hdr;
	e.hdr.kind = VIGIL_KIND_TCP_CLOSE;
	e.hdr.size = sizeof(e);
	e.hdr.boot_ns = now;
	e.tuple = *t;
	e.duration_ns = owner->established_ns ? now - owner->established_ns : 0;
	e.flags = owner->inbound ? VIGIL_CLOSE_INBOUND : 0;
	e._pad0 = 0;
	/* RFC 4898 counters of tcp_sock: bytes_sent (4.19+) counts payload,
	 * retransmissions included; bytes_received (4.1+) counts sequence space,
	 * so the peer's FIN (which set SOCK_DONE) is one byte too many. */
	if (bpf_core_field_exists(tp->bytes_sent) && bpf_core_field_exists(tp->bytes_received)) {
		e.bytes_sent = BPF_CORE_READ(tp, bytes_sent);
		e.bytes_received = BPF_CORE_READ(tp, bytes_received);
		if (e.bytes_received && (BPF_CORE_READ(sk, __sk_common.skc_flags) & (1ul << SOCK_DONE)))
			e.bytes_received--;
	} else {
		e.bytes_sent = 0;
		e.bytes_received = 0;
		e.flags |= VIGIL_CLOSE_NO_BYTES;
	}
	vigil_emit(&e, sizeof(e), VIGIL_KIND_TCP_CLOSE);
}

/*
 * sock/inet_sock_set_state (4.16+): every TCP state change, with the 4-tuple
 * as the kernel has it then. Connect: CLOSE -> SYN_SENT runs in connect()
 * (the caller is current, remembered here); SYN_SENT -> ESTABLISHED / CLOSE
 * is the outcome, often in softirq. Accept side: SYN_RECV -> ESTABLISHED in
 * softirq (the process comes at accept()). Listen: CLOSE -> LISTEN inside
 * listen(). Misses: connections set up before the sensor started have no
 * owner, so their close is not reported.
 */
SEC("tracepoint/sock/inet_sock_set_state")
int vigil_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	struct vigil_sock_tuple t;
	struct tcp_owner *owner;
	int oldstate = ctx->oldstate, newstate = ctx->newstate;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;

	if (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN) {
		struct pending p = {.sk = sk};

		/* In the caller's context here (connect/listen), and nowhere
		 * else below: a daemon's socket then has no owner, so nothing
		 * of it is reported. Softirq changes must not check current. */
		if (vigil_current_is_daemon())
			return 0;
		if (newstate == TCP_SYN_SENT) {
			struct tcp_owner o = {};

			vigil_fill_header_current(&o.hdr, VIGIL_KIND_TCP_CONNECT, 0);
			bpf_map_update_elem(&vigil_tcp_owners, &sk, &o, BPF_ANY);
		}
		/* The syscall's exit reports the result with the final tuple: the
		 * source port is picked after this state change. */
		vigil_call_put(&vigil_net_pending, newstate == TCP_SYN_SENT ? PENDING_CONNECT : PENDING_LISTEN, &p);
		return 0;
	}

	/* Half of a connection's changes report nothing (FIN_WAIT1, FIN_WAIT2,
	 * CLOSE_WAIT, LAST_ACK, the child's LISTEN -> SYN_RECV): out before
	 * the tuple and the owner lookup. */
	if (oldstate != TCP_SYN_SENT && newstate != TCP_CLOSE &&
	    !(oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED))
		return 0;

	__builtin_memset(&t, 0, sizeof(t));
	t.family = ctx->family;
	t.protocol = IPPROTO_TCP;
	t.local_port = ctx->sport;
	t.remote_port = ctx->dport;
	/* A helper copies the arrays: the verifier refuses loads through a
	 * moved context pointer, which is what an inline memcpy becomes. */
	if (t.family == AF_INET6) {
		bpf_probe_read_kernel(t.local_addr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(t.remote_addr, 16, ctx->daddr_v6);
	} else {
		bpf_probe_read_kernel(t.local_addr, 4, ctx->saddr);
		bpf_probe_read_kernel(t.remote_addr, 4, ctx->daddr);
	}

	owner = bpf_map_lookup_elem(&vigil_tcp_owners, &sk);
	if (oldstate == TCP_SYN_SENT) {
		if (!owner)
			return 0;
		if (newstate == TCP_ESTABLISHED) {
			emit_connect(owner, &t, VIGIL_CONNECT_ESTABLISHED, 0);
			owner->established_ns = bpf_ktime_get_boot_ns();
		} else if (newstate == TCP_CLOSE) {
			/* tcp_done_with_error() sets sk_err before the state change. */
			__s32 err = BPF_CORE_READ((struct sock *)sk, sk_err);

			emit_connect(owner, &t,
				     err == ECONNREFUSED ? VIGIL_CONNECT_REFUSED
				     : err == ETIMEDOUT  ? VIGIL_CONNECT_TIMED_OUT
							 : VIGIL_CONNECT_FAILED,
				     err);
			bpf_map_delete_elem(&vigil_tcp_owners, &sk);
		}
		return 0;
	}
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		/* A child socket waiting for accept(): the owner comes then. */
		struct tcp_owner o = {.established_ns = bpf_ktime_get_boot_ns(), .inbound = 1};

		bpf_map_update_elem(&vigil_tcp_owners, &sk, &o, BPF_NOEXIST);
		return 0;
	}
	if (newstate == TCP_CLOSE && oldstate != TCP_LISTEN && oldstate != TCP_SYN_RECV) {
		if (owner && owner->hdr.kind != 0)
			emit_close(owner, &t, (struct sock *)sk);
		if (owner)
			bpf_map_delete_elem(&vigil_tcp_owners, &sk);
	}
	return 0;
}

/* sys_exit_connect: only a non-blocking connect's "in progress" is reported
 * here; every other outcome is a state change above. Misses: connects that
 * fail before SYN_SENT (no route, bad address). */
SEC("tracepoint/syscalls/sys_exit_connect")
int vigil_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct pending *p = vigil_call_get(&vigil_net_pending, PENDING_CONNECT);
	struct vigil_sock_tuple t;
	struct tcp_owner *owner;
	__u64 sk;

	if (!p)
		return 0;
	sk = p->sk;
	vigil_call_done(&vigil_net_pending, PENDING_CONNECT);
	if (ctx->ret != -EINPROGRESS)
		return 0;
	owner = bpf_map_lookup_elem(&vigil_tcp_owners, &sk);
	if (!owner)
		return 0;
	vigil_sock_tuple_of(&t, (struct sock *)sk);
	emit_connect(owner, &t, VIGIL_CONNECT_IN_PROGRESS, 0);
	return 0;
}

static __always_inline int handle_accept_exit(long ret)
{
	struct sock *sk;
	struct vigil_tcp_accept e;
	struct tcp_owner *owner;
	__u64 key;

	if (ret < 0 || vigil_current_is_daemon())
		return 0;
	sk = sock_of_fd((int)ret);
	if (!sk)
		return 0;
	vigil_sock_tuple_of(&e.tuple, sk);
	if (e.tuple.protocol != IPPROTO_TCP || !is_inet(e.tuple.family))
		return 0;
	vigil_fill_header_current(&e.hdr, VIGIL_KIND_TCP_ACCEPT, sizeof(e));
	vigil_emit(&e, sizeof(e), VIGIL_KIND_TCP_ACCEPT);

	/* The accepting process owns the connection from now on. */
	key = (__u64)sk;
	owner = bpf_map_lookup_elem(&vigil_tcp_owners, &key);
	if (owner) {
		owner->hdr = e.hdr;
	} else {
		struct tcp_owner o = {.hdr = e.hdr, .inbound = 1};

		bpf_map_update_elem(&vigil_tcp_owners, &key, &o, BPF_ANY);
	}
	return 0;
}

/* sys_exit_accept4 / sys_exit_accept: the new fd is the accepted socket and
 * current is the server process. Misses: io_uring accepts. */
SEC("tracepoint/syscalls/sys_exit_accept4")
int vigil_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return handle_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int vigil_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return handle_accept_exit(ctx->ret);
}

/* sys_exit_listen, after the CLOSE -> LISTEN state change inside it: by now
 * the port is chosen and the backlog set. Misses: listen() that fails before
 * the state change (socket not TCP, bad state). */
SEC("tracepoint/syscalls/sys_exit_listen")
int vigil_listen_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct pending *p = vigil_call_get(&vigil_net_pending, PENDING_LISTEN);
	struct vigil_listen e;
	struct sock *sk;

	if (!p)
		return 0;
	sk = (struct sock *)p->sk;
	vigil_call_done(&vigil_net_pending, PENDING_LISTEN);
	vigil_sock_tuple_of(&e.tuple, sk);
	e.backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	e.error = ctx->ret < 0 ? (__s32)-ctx->ret : 0;
	vigil_fill_header_current(&e.hdr, VIGIL_KIND_LISTEN, sizeof(e));
	vigil_emit(&e, sizeof(e), VIGIL_KIND_LISTEN);
	return 0;
}

/* sys_enter_bind: remembers the fd and the requested address, for the exit. */
SEC("tracepoint/syscalls/sys_enter_bind")
int vigil_bind_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct pending p = {.fd = (int)ctx->args[0]};
	const void *addr = (const void *)ctx->args[1];

	if (vigil_current_is_daemon())
		return 0;
	/* sockaddr_in is 16 bytes, sockaddr_in6 28: read what the family needs. */
	if (bpf_probe_read_user(p.sockaddr, 16, addr) || !is_inet(*(__u16 *)p.sockaddr))
		return 0;
	if (*(__u16 *)p.sockaddr == AF_INET6 && bpf_probe_read_user(p.sockaddr, sizeof(p.sockaddr), addr))
		return 0;
	vigil_call_put(&vigil_net_pending, PENDING_BIND, &p);
	return 0;
}

/* sys_exit_bind (syscall tracepoints: 2.6.37+): the result, and on success
 * the bound address as the socket has it (port 0 resolved). */
SEC("tracepoint/syscalls/sys_exit_bind")
int vigil_bind_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct pending *p = vigil_call_get(&vigil_net_pending, PENDING_BIND);
	struct vigil_bind e;
	struct sock *sk;

	if (!p)
		return 0;
	sk = sock_of_fd(p->fd);
	if (ctx->ret == 0 && sk) {
		vigil_sock_tuple_of(&e.tuple, sk);
	} else {
		__builtin_memset(&e.tuple, 0, sizeof(e.tuple));
		sockaddr_into(p->sockaddr, e.tuple.local_addr, &e.tuple.local_port, &e.tuple.family);
		e.tuple.protocol = sk ? BPF_CORE_READ(sk, sk_protocol) : 0;
	}
	vigil_call_done(&vigil_net_pending, PENDING_BIND);
	e.error = ctx->ret < 0 ? (__s32)-ctx->ret : 0;
	e._pad0 = 0;
	vigil_fill_header_current(&e.hdr, VIGIL_KIND_BIND, sizeof(e));
	vigil_emit(&e, sizeof(e), VIGIL_KIND_BIND);
	return 0;
}

/* ---- DNS, fallback: UDP syscalls ----
 *
 * Where the packet hooks below cannot be used (--hooks=tracepoint, no cgroup2
 * mounted, or a verifier that refuses them), DNS is seen at the syscalls that
 * glibc's and musl's resolvers use. Every sendto/sendmsg/sendmmsg/recvfrom on
 * the node pays for these programs, whatever the socket. */

/* Copies one DNS datagram into a record and emits it. `remote` is the user
 * sockaddr given with the datagram, or NULL for a connected socket. */
static __always_inline void emit_dns(__u32 kind, struct sock *sk, const void *remote, const void *buf, __u64 total)
{
	struct vigil_dns *e;
	__u8 sa[28] = {};
	__u64 len = total;

	if (vigil_current_is_daemon())
		return;
	if (remote) {
		if (bpf_probe_read_user(sa, 8, remote))
			return;
		if (*(__u16 *)sa == AF_INET6 && bpf_probe_read_user(sa, sizeof(sa), remote))
			return;
		if (!is_inet(*(__u16 *)sa) || bpf_ntohs(*(__u16 *)(sa + 2)) != DNS_PORT)
			return;
	} else if (bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)) != DNS_PORT) {
		return;
	}

	vigil_hold_cpu();
	e = vigil_scratch_get(kind);
	if (!e)
		goto out;
	vigil_sock_tuple_of(&e->tuple, sk);
	if (remote)
		sockaddr_into(sa, e->tuple.remote_addr, &e->tuple.remote_port, &e->tuple.family);
	if (len > VIGIL_DNS_MAX)
		len = VIGIL_DNS_MAX;
	vigil_barrier_var(len);
	if (len > VIGIL_DNS_MAX)
		goto out;
	if (len && bpf_probe_read_user(e + 1, len, buf)) {
		vigil_count(kind, VIGIL_CNT_READ_ERROR);
		len = 0;
	}
	e->payload_len = len;
	e->payload_total = total > 0xffffffffu ? 0xffffffffu : total;
	vigil_fill_header_current(&e->hdr, kind, sizeof(*e) + len);
	vigil_emit(e, sizeof(*e) + len, kind);
out:
	vigil_release_cpu();
}

/* The socket behind fd when it is a UDP one. */
static __always_inline struct sock *udp_sock_of_fd(int fd)
{
	struct sock *sk = sock_of_fd(fd);

	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP || !is_inet(BPF_CORE_READ(sk, __sk_common.skc_family)))
		return NULL;
	return sk;
}

/* Query sends: sendto (also send(), which glibc implements with it), sendmsg
 * and sendmmsg (glibc's resolver, A + AAAA at once). The datagram is copied
 * at syscall entry, before the kernel has it. Misses: write() on a connected
 * UDP socket (Go's resolver, busybox), DNS over TCP, io_uring, and whether the
 * send succeeded. */
SEC("tracepoint/syscalls/sys_enter_sendto")
int vigil_dns_sendto(struct trace_event_raw_sys_enter *ctx)
{
	struct sock *sk = udp_sock_of_fd((int)ctx->args[0]);

	if (sk)
		emit_dns(VIGIL_KIND_DNS_QUERY, sk, (void *)ctx->args[4], (void *)ctx->args[1], ctx->args[2]);
	return 0;
}

static __always_inline void emit_dns_msghdr(struct sock *sk, const struct user_msghdr *umsg)
{
	struct user_msghdr msg;
	struct iovec iov;

	if (bpf_probe_read_user(&msg, sizeof(msg), umsg) || msg.msg_iovlen < 1)
		return;
	/* Resolvers send a query as one buffer; the first iovec is it. */
	if (bpf_probe_read_user(&iov, sizeof(iov), msg.msg_iov))
		return;
	emit_dns(VIGIL_KIND_DNS_QUERY, sk, msg.msg_name, iov.iov_base, iov.iov_len);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int vigil_dns_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct sock *sk = udp_sock_of_fd((int)ctx->args[0]);

	if (sk)
		emit_dns_msghdr(sk, (const struct user_msghdr *)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int vigil_dns_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct sock *sk = udp_sock_of_fd((int)ctx->args[0]);
	const struct mmsghdr *vec = (const struct mmsghdr *)ctx->args[1];
	__u32 vlen = (__u32)ctx->args[2];

	if (!sk)
		return 0;
	for (int i = 0; i < VIGIL_DNS_MMSG_MAX; i++) {
		if (i >= vlen)
			break;
		emit_dns_msghdr(sk, &vec[i].msg_hdr);
	}
	return 0;
}

/* Response receives: recvfrom (glibc's resolver), enter remembers the
 * buffer, exit copies what arrived (recv() is recvfrom too). Misses:
 * recvmsg/recvmmsg/read. */
SEC("tracepoint/syscalls/sys_enter_recvfrom")
int vigil_dns_recvfrom_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct pending p = {.fd = (int)ctx->args[0], .buf = ctx->args[1], .len = ctx->args[2], .addr = ctx->args[4]};

	if (!udp_sock_of_fd(p.fd))
		return 0;
	vigil_call_put(&vigil_net_pending, PENDING_RECVFROM, &p);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int vigil_dns_recvfrom_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct pending *p = vigil_call_get(&vigil_net_pending, PENDING_RECVFROM);
	struct sock *sk;
	struct pending copy;

	if (!p)
		return 0;
	copy = *p;
	vigil_call_done(&vigil_net_pending, PENDING_RECVFROM);
	if (ctx->ret <= 0)
		return 0;
	sk = udp_sock_of_fd(copy.fd);
	if (sk)
		emit_dns(VIGIL_KIND_DNS_RESPONSE, sk, (void *)copy.addr, (void *)copy.buf,
			 (__u64)ctx->ret < copy.len ? (__u64)ctx->ret : copy.len);
	return 0;
}

/* ---- DNS on the wire: cgroup_skb on the root cgroup2 ----
 *
 * Why this hook: resolvers send and receive with every syscall there is
 * (glibc: connect + sendmmsg + recvfrom; Go and busybox: connect + write +
 * read; dig: sendmsg/recvmsg; DNS over TCP: any of them on a stream), and
 * hooking write/read/recvmsg/recvmmsg at enter and exit would charge every
 * write() and read() on the node, files and pipes included, a program run
 * and an fd-table walk just to learn that the fd is not a DNS socket. A
 * cgroup_skb program on the root cgroup2 (4.10+; sk storage 5.2+) instead
 * runs once per IP packet of a local socket, whatever syscall moved it, and
 * costs nothing to syscalls that move no packet. Non-DNS packets leave after
 * one load from the socket (its peer port) for connected sockets, and after
 * reading the IP and transport headers for unconnected UDP ones.
 *
 * Who: a UDP query leaves in the sending syscall (the egress hook runs in
 * ip_finish_output, before any queue), so `current` is the sender; a TCP
 * socket's owner is whoever sent its SYN, inside connect(). The owner is kept
 * in the socket's local storage (freed with the socket) and names the process
 * of responses, which arrive in softirq context where `current` is anyone.
 *
 * Misses: packets of sockets in cgroups outside the hierarchy attached to
 * (a sensor in its own cgroup namespace sees only that subtree), responses on
 * sockets that sent nothing since the sensor started, TCP streams whose
 * length prefix is split between two segments or whose segments arrive out of
 * order, and server-side traffic (queries to a local port 53 are not
 * reported, as before).
 */

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define TCP_FLAG_SYN 0x02
/* Messages looked at per TCP segment (pipelined queries). */
#define DNS_TCP_MSGS 4
/* Programs that can nest on one CPU: egress in a syscall, interrupted by a
 * softirq's ingress or egress (a TCP timer), interrupted by nothing else. */
#define DNS_NEST_MAX 3

/* One direction of a TCP connection: where the next length prefix is. */
struct dns_stream {
	__u32 next; /* sequence number of the next 2-byte length prefix */
	__u32 body; /* sequence number of the message that prefix announced */
	__u16 body_len;
	__u8 pending; /* body announced, not seen yet */
	__u8 valid;   /* `next` is known */
};

struct dns_sock {
	struct vigil_header owner; /* owner.kind == 0 until known */
	struct dns_stream tx, rx;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct dns_sock);
} vigil_dns_socks SEC(".maps");

struct dns_record {
	struct vigil_dns e;
	__u8 payload[VIGIL_DNS_MAX];
};

/* One record buffer per CPU and nesting level (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DNS_NEST_MAX);
	__type(key, __u32);
	__type(value, struct dns_record);
} vigil_dns_records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vigil_dns_nest SEC(".maps");

/* A packet to or from port 53, as far as the headers say. */
struct dns_packet {
	struct vigil_sock_tuple t; /* local = this host's socket */
	__u32 data;                /* offset of the transport payload */
	__u32 seq;                 /* TCP: sequence number of the first payload byte */
	__u8 flags;                /* TCP flags */
};

/* IP and transport headers into `p`; 0 when the remote end is port 53. */
static __always_inline int dns_parse(struct __sk_buff *skb, int egress, struct dns_packet *p)
{
	__u8 h[40];
	__u32 l4;
	__u16 sport, dport;

	__builtin_memset(&p->t, 0, sizeof(p->t));
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, 0, h, 20))
			return -1;
		l4 = (h[0] & 0x0f) * 4;
		p->t.family = AF_INET;
		p->t.protocol = h[9];
		__builtin_memcpy(egress ? p->t.local_addr : p->t.remote_addr, h + 12, 4);
		__builtin_memcpy(egress ? p->t.remote_addr : p->t.local_addr, h + 16, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		/* Extension headers before the transport one: not DNS as resolvers send it. */
		if (bpf_skb_load_bytes(skb, 0, h, 40))
			return -1;
		l4 = 40;
		p->t.family = AF_INET6;
		p->t.protocol = h[6];
		__builtin_memcpy(egress ? p->t.local_addr : p->t.remote_addr, h + 8, 16);
		__builtin_memcpy(egress ? p->t.remote_addr : p->t.local_addr, h + 24, 16);
	} else {
		return -1;
	}
	if (p->t.protocol == IPPROTO_UDP) {
		if (bpf_skb_load_bytes(skb, l4, h, 8))
			return -1;
		p->data = l4 + 8;
	} else if (p->t.protocol == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, l4, h, 14))
			return -1;
		p->data = l4 + (h[12] >> 4) * 4;
		p->seq = bpf_ntohl(*(__u32 *)(h + 4));
		p->flags = h[13];
	} else {
		return -1;
	}
	sport = bpf_ntohs(*(__u16 *)h);
	dport = bpf_ntohs(*(__u16 *)(h + 2));
	p->t.local_port = egress ? sport : dport;
	p->t.remote_port = egress ? dport : sport;
	return p->t.remote_port == DNS_PORT ? 0 : -1;
}

/* Copies `len` bytes of a `total`-byte message at `off` and emits it. */
static __always_inline void dns_emit(struct __sk_buff *skb, __u32 kind, const struct vigil_header *owner,
				     const struct dns_packet *p, __u32 off, __u32 len, __u32 total)
{
	__u32 zero = 0, level;
	__u32 *nest = bpf_map_lookup_elem(&vigil_dns_nest, &zero);
	struct dns_record *r;
	__u64 n = len; /* one 64-bit register, checked where it is used */

	if (!nest)
		return;
	level = (*nest)++;
	r = bpf_map_lookup_elem(&vigil_dns_records, &level);
	if (!r) {
		vigil_count(kind, VIGIL_CNT_DROP_SCRATCH);
		goto out;
	}
	if (n > VIGIL_DNS_MAX)
		n = VIGIL_DNS_MAX;
	vigil_barrier_var(n);
	if (n == 0 || n > VIGIL_DNS_MAX)
		goto out;
	if (bpf_skb_load_bytes(skb, off, r->payload, n)) {
		vigil_count(kind, VIGIL_CNT_READ_ERROR);
		goto out;
	}
	r->e.hdr = *owner;
	r->e.hdr.kind = kind;
	r->e.hdr.size = sizeof(r->e) + n;
	r->e.hdr.boot_ns = bpf_ktime_get_boot_ns();
	r->e.tuple = p->t;
	r->e.payload_len = n;
	r->e.payload_total = total;
	vigil_emit(r, sizeof(r->e) + n, kind);
out:
	(*nest)--;
}

/*
 * DNS over TCP (RFC 7766): each message follows a 2-byte length. `st` says
 * where the next prefix is in this direction's sequence space (from the SYN;
 * on a connection seen first mid-way, the first payload is taken to start
 * with one). A message cut across segments is copied from its first one,
 * with payload_total its full length. Retransmitted bytes are behind `next`
 * and are not reported twice.
 */
static __always_inline void dns_tcp(struct __sk_buff *skb, __u32 kind, struct dns_sock *ds, struct dns_stream *st,
				    const struct dns_packet *p)
{
	__u32 n = skb->len > p->data ? skb->len - p->data : 0;
	__u16 prefix;
	__s32 d;

	if (n == 0)
		return;
	if (!st->valid) {
		st->next = p->seq;
		st->valid = 1;
	}
	for (int i = 0; i < DNS_TCP_MSGS; i++) {
		if (!st->pending) {
			d = (__s32)(st->next - p->seq);
			if (d < 0 || (__u32)d + 2 > n)
				return; /* in a later segment, or went by unseen */
			if (bpf_skb_load_bytes(skb, p->data + d, &prefix, 2))
				return;
			st->body = st->next + 2;
			st->body_len = bpf_ntohs(prefix);
			st->next = st->body + st->body_len;
			st->pending = 1;
		}
		d = (__s32)(st->body - p->seq);
		if (d >= 0 && (__u32)d >= n)
			return; /* the message starts in a later segment */
		st->pending = 0;
		if (d >= 0 && st->body_len)
			dns_emit(skb, kind, &ds->owner, p, p->data + d, n - d < st->body_len ? n - d : st->body_len,
				 st->body_len);
	}
}

static __always_inline void dns_packet(struct __sk_buff *skb, int egress)
{
	__u32 kind = egress ? VIGIL_KIND_DNS_QUERY : VIGIL_KIND_DNS_RESPONSE;
	struct bpf_sock *sk = skb->sk;
	struct dns_packet p;
	struct dns_sock *ds;
	__u32 peer;

	if (!sk)
		return;
	/* The socket's peer port, zero-extended network order; a 4-byte load,
	 * the only width every kernel allows (16-bit field since 5.19). The
	 * cheap exit for every connected socket that is not talking to port 53. */
	peer = *(volatile __u32 *)((void *)sk + __builtin_offsetof(struct bpf_sock, dst_port));
	if (peer != 0 && peer != bpf_htons(DNS_PORT))
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk || (sk->protocol != IPPROTO_UDP && sk->protocol != IPPROTO_TCP))
		return;
	if (dns_parse(skb, egress, &p))
		return;

	if (p.t.protocol == IPPROTO_UDP) {
		__u32 n = skb->len > p.data ? skb->len - p.data : 0;

		if (egress) {
			struct vigil_header h;

			vigil_fill_header(&h, kind, 0, vigil_current_task());
			ds = bpf_sk_storage_get(&vigil_dns_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
			if (ds)
				ds->owner = h;
			dns_emit(skb, kind, &h, &p, p.data, n, n);
		} else {
			ds = bpf_sk_storage_get(&vigil_dns_socks, sk, 0, 0);
			if (ds && ds->owner.kind)
				dns_emit(skb, kind, &ds->owner, &p, p.data, n, n);
		}
		return;
	}

	/* TCP: the SYN (sent inside connect()) names the owner and where each
	 * direction's stream starts; data then follows the length prefixes. */
	if (p.flags & TCP_FLAG_SYN) {
		ds = bpf_sk_storage_get(&vigil_dns_socks, sk, 0, egress ? BPF_SK_STORAGE_GET_F_CREATE : 0);
		if (!ds)
			return;
		if (egress && !ds->owner.kind)
			vigil_fill_header(&ds->owner, kind, 0, vigil_current_task());
		p.seq++; /* the SYN takes one sequence number; Fast Open data follows it */
		if (egress) {
			ds->tx.next = p.seq;
			ds->tx.valid = 1;
		} else {
			ds->rx.next = p.seq;
			ds->rx.valid = 1;
		}
	} else {
		ds = bpf_sk_storage_get(&vigil_dns_socks, sk, 0, 0);
		if (!ds)
			return;
	}
	if (ds->owner.kind)
		dns_tcp(skb, kind, ds, egress ? &ds->tx : &ds->rx, &p);
}

/* cgroup_skb programs must let every packet through: always 1. */
SEC("cgroup_skb/egress")
int vigil_dns_egress(struct __sk_buff *skb)
{
	dns_packet(skb, 1);
	return 1;
}

SEC("cgroup_skb/ingress")
int vigil_dns_ingress(struct __sk_buff *skb)
{
	dns_packet(skb, 0);
	return 1;
}
