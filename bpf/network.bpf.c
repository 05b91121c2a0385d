// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Network family: TCP connect / accept / listen / close, bind, and UDP
 * datagrams to and from port 53 as DNS queries and responses.
 *
 * Hooks are tracepoints only, stable and present where kprobes are compiled
 * out: sock/inet_sock_set_state (4.16+) sees every TCP state change, in
 * process or softirq context; the syscalls/sys_{enter,exit}_* tracepoints
 * (CONFIG_FTRACE_SYSCALLS) give the syscall's caller, arguments and result.
 * Socket fields are read through CO-RE. No fentry/kprobe candidate: none would
 * add a field these cannot give (tcp_sock's byte counters are read at the
 * state change already).
 */
#include "vigil_common.bpf.h"

#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
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
	__u64 sk;         /* connect/listen: the socket whose state changed */
	__u64 buf;        /* recvfrom: user buffer */
	__u64 addr;       /* recvfrom: user source address */
	__u64 len;        /* recvfrom: user buffer size (MSG_TRUNC returns more) */
	__s32 fd;
	__u32 _pad0;
	__u8 sockaddr[28]; /* bind: the requested address (sockaddr_in6 size) */
	__u32 _pad1;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096); /* placeholder: the loader sets the size from config */
	__type(key, __u64);        /* (PENDING_* << 32) | tid */
	__type(value, struct pending);
} vigil_net_pending SEC(".maps");

static __always_inline __u64 pending_key(__u32 nr)
{
	return ((__u64)nr << 32) | (__u32)bpf_get_current_pid_tgid();
}

/* Distinct keys per syscall family, so a thread's bind never meets its listen. */
#define PENDING_CONNECT 1
#define PENDING_LISTEN 2
#define PENDING_BIND 3
#define PENDING_RECVFROM 4

static __always_inline struct task_struct *current_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

/* fd of the current process -> its struct sock, or NULL if not a socket. */
static __always_inline struct sock *sock_of_fd(int fd)
{
	struct files_struct *files = BPF_CORE_READ(current_task(), files);
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	struct socket *socket;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	socket = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(socket, sk);
}

static __always_inline void tuple_of_sock(struct vigil_sock_tuple *t, struct sock *sk)
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
	__u64 key;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;

	if (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN) {
		struct pending p = {.sk = sk};

		/* In the caller's context here (connect/listen), and nowhere
		 * else below: a daemon's socket then has no owner, so nothing
		 * of it is reported. Softirq changes must not check current. */
		if (vigil_is_daemon(current_task()))
			return 0;
		if (newstate == TCP_SYN_SENT) {
			struct tcp_owner o = {};

			vigil_fill_header(&o.hdr, VIGIL_KIND_TCP_CONNECT, 0, current_task());
			bpf_map_update_elem(&vigil_tcp_owners, &sk, &o, BPF_ANY);
		}
		/* The syscall's exit reports the result with the final tuple: the
		 * source port is picked after this state change. */
		key = pending_key(newstate == TCP_SYN_SENT ? PENDING_CONNECT : PENDING_LISTEN);
		bpf_map_update_elem(&vigil_net_pending, &key, &p, BPF_ANY);
		return 0;
	}

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
				     : err == ETIMEDOUT ? VIGIL_CONNECT_TIMED_OUT
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
	__u64 key = pending_key(PENDING_CONNECT);
	struct pending *p = bpf_map_lookup_elem(&vigil_net_pending, &key);
	struct vigil_sock_tuple t;
	struct tcp_owner *owner;
	__u64 sk;

	if (!p)
		return 0;
	sk = p->sk;
	bpf_map_delete_elem(&vigil_net_pending, &key);
	if (ctx->ret != -EINPROGRESS)
		return 0;
	owner = bpf_map_lookup_elem(&vigil_tcp_owners, &sk);
	if (!owner)
		return 0;
	tuple_of_sock(&t, (struct sock *)sk);
	emit_connect(owner, &t, VIGIL_CONNECT_IN_PROGRESS, 0);
	return 0;
}

static __always_inline int handle_accept_exit(long ret)
{
	struct sock *sk;
	struct vigil_tcp_accept e;
	struct tcp_owner *owner;
	__u64 key;

	if (ret < 0 || vigil_is_daemon(current_task()))
		return 0;
	sk = sock_of_fd((int)ret);
	if (!sk)
		return 0;
	tuple_of_sock(&e.tuple, sk);
	if (e.tuple.protocol != IPPROTO_TCP || !is_inet(e.tuple.family))
		return 0;
	vigil_fill_header(&e.hdr, VIGIL_KIND_TCP_ACCEPT, sizeof(e), current_task());
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
	__u64 key = pending_key(PENDING_LISTEN);
	struct pending *p = bpf_map_lookup_elem(&vigil_net_pending, &key);
	struct vigil_listen e;
	struct sock *sk;

	if (!p)
		return 0;
	sk = (struct sock *)p->sk;
	bpf_map_delete_elem(&vigil_net_pending, &key);
	tuple_of_sock(&e.tuple, sk);
	e.backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	e.error = ctx->ret < 0 ? (__s32)-ctx->ret : 0;
	vigil_fill_header(&e.hdr, VIGIL_KIND_LISTEN, sizeof(e), current_task());
	vigil_emit(&e, sizeof(e), VIGIL_KIND_LISTEN);
	return 0;
}

/* sys_enter_bind: remembers the fd and the requested address, for the exit. */
SEC("tracepoint/syscalls/sys_enter_bind")
int vigil_bind_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct pending p = {.fd = (int)ctx->args[0]};
	__u64 key = pending_key(PENDING_BIND);
	const void *addr = (const void *)ctx->args[1];

	if (vigil_is_daemon(current_task()))
		return 0;
	/* sockaddr_in is 16 bytes, sockaddr_in6 28: read what the family needs. */
	if (bpf_probe_read_user(p.sockaddr, 16, addr) || !is_inet(*(__u16 *)p.sockaddr))
		return 0;
	if (*(__u16 *)p.sockaddr == AF_INET6 && bpf_probe_read_user(p.sockaddr, sizeof(p.sockaddr), addr))
		return 0;
	bpf_map_update_elem(&vigil_net_pending, &key, &p, BPF_ANY);
	return 0;
}

/* sys_exit_bind (syscall tracepoints: 2.6.37+): the result, and on success
 * the bound address as the socket has it (port 0 resolved). */
SEC("tracepoint/syscalls/sys_exit_bind")
int vigil_bind_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 key = pending_key(PENDING_BIND);
	struct pending *p = bpf_map_lookup_elem(&vigil_net_pending, &key);
	struct vigil_bind e;
	struct sock *sk;

	if (!p)
		return 0;
	sk = sock_of_fd(p->fd);
	if (ctx->ret == 0 && sk) {
		tuple_of_sock(&e.tuple, sk);
	} else {
		__builtin_memset(&e.tuple, 0, sizeof(e.tuple));
		sockaddr_into(p->sockaddr, e.tuple.local_addr, &e.tuple.local_port, &e.tuple.family);
		e.tuple.protocol = sk ? BPF_CORE_READ(sk, sk_protocol) : 0;
	}
	bpf_map_delete_elem(&vigil_net_pending, &key);
	e.error = ctx->ret < 0 ? (__s32)-ctx->ret : 0;
	e._pad0 = 0;
	vigil_fill_header(&e.hdr, VIGIL_KIND_BIND, sizeof(e), current_task());
	vigil_emit(&e, sizeof(e), VIGIL_KIND_BIND);
	return 0;
}

/* ---- DNS over UDP ---- */

/* Copies one DNS datagram into a record and emits it. `remote` is the user
 * sockaddr given with the datagram, or NULL for a connected socket. */
static __always_inline void emit_dns(__u32 kind, struct sock *sk, const void *remote, const void *buf, __u64 total)
{
	struct vigil_dns *e;
	__u8 sa[28] = {};
	__u64 len = total;

	if (vigil_is_daemon(current_task()))
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

	e = vigil_scratch_get(kind);
	if (!e)
		return;
	tuple_of_sock(&e->tuple, sk);
	if (remote)
		sockaddr_into(sa, e->tuple.remote_addr, &e->tuple.remote_port, &e->tuple.family);
	if (len > VIGIL_DNS_MAX)
		len = VIGIL_DNS_MAX;
	vigil_barrier_var(len);
	if (len > VIGIL_DNS_MAX)
		return;
	if (len && bpf_probe_read_user(e + 1, len, buf)) {
		vigil_count(kind, VIGIL_CNT_READ_ERROR);
		len = 0;
	}
	e->payload_len = len;
	e->payload_total = total > 0xffffffffu ? 0xffffffffu : total;
	vigil_fill_header(&e->hdr, kind, sizeof(*e) + len, current_task());
	vigil_emit(e, sizeof(*e) + len, kind);
}

/* The socket behind fd when it is a UDP one. */
static __always_inline struct sock *udp_sock_of_fd(int fd)
{
	struct sock *sk = sock_of_fd(fd);

	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP ||
	    !is_inet(BPF_CORE_READ(sk, __sk_common.skc_family)))
		return NULL;
	return sk;
}

/* Query sends: sendto (also send(), which glibc implements with it), sendmsg
 * and sendmmsg (glibc's resolver, A + AAAA at once). The datagram is copied
 * at syscall entry, before the kernel has it. Misses: write() on a connected
 * UDP socket, io_uring, and whether the send succeeded. */
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
 * buffer, exit copies what arrived. Misses: recvmsg/recvmmsg/read. */
SEC("tracepoint/syscalls/sys_enter_recvfrom")
int vigil_dns_recvfrom_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct pending p = {.fd = (int)ctx->args[0], .buf = ctx->args[1], .len = ctx->args[2], .addr = ctx->args[4]};
	__u64 key = pending_key(PENDING_RECVFROM);

	if (!udp_sock_of_fd(p.fd))
		return 0;
	bpf_map_update_elem(&vigil_net_pending, &key, &p, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int vigil_dns_recvfrom_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 key = pending_key(PENDING_RECVFROM);
	struct pending *p = bpf_map_lookup_elem(&vigil_net_pending, &key);
	struct sock *sk;
	struct pending copy;

	if (!p)
		return 0;
	copy = *p;
	bpf_map_delete_elem(&vigil_net_pending, &key);
	if (ctx->ret <= 0)
		return 0;
	sk = udp_sock_of_fd(copy.fd);
	if (sk)
		emit_dns(VIGIL_KIND_DNS_RESPONSE, sk, (void *)copy.addr, (void *)copy.buf,
			 (__u64)ctx->ret < copy.len ? (__u64)ctx->ret : copy.len);
	return 0;
}
