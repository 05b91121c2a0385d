// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Security syscall family: ptrace, setns/unshare/clone with namespaces,
 * mount/umount, module loads, bpf() program loads, memfd_create, uid/gid and
 * capability changes, kill of another process.
 *
 * Hooks are the syscalls/sys_enter_<name> and sys_exit_<name> tracepoints
 * (CONFIG_FTRACE_SYSCALLS, 2.6.33+; stable where kprobes are compiled out).
 * Entry copies the arguments, strings from user memory included, into a
 * pending record keyed by thread id; exit adds the result and emits it, so
 * every event has both what was asked and what the kernel answered. What
 * they miss: 32-bit calls (compat tasks, or int 0x80 from a 64-bit one: x86
 * syscall tracepoints ignore them), calls from inside the kernel, and the
 * new mount API (fsopen/fsmount/move_mount, 5.2+) which is not watched yet.
 * An entry whose exit never fires (the thread died in the call) ages out of
 * the LRU map.
 */
#include "vigil_common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Records of at most this size wait in vigil_sec_calls, bigger ones (with
 * path-sized strings) in vigil_sec_big_calls. */
#define SEC_SMALL_SIZE sizeof(struct vigil_cred_change)
#define SEC_BIG_SIZE sizeof(struct vigil_mount)

struct sec_small {
	__u8 data[SEC_SMALL_SIZE];
};

struct sec_big {
	__u8 data[SEC_BIG_SIZE];
	__u64 retry[3]; /* user addresses of strings to read again at exit, by VIGIL_SEC_STR<n> */
};

_Static_assert(sizeof(struct vigil_ptrace) <= SEC_SMALL_SIZE, "ptrace record fits");
_Static_assert(sizeof(struct vigil_setns) <= SEC_SMALL_SIZE, "setns record fits");
_Static_assert(sizeof(struct vigil_ns_flags) <= SEC_SMALL_SIZE, "ns flags record fits");
_Static_assert(sizeof(struct vigil_bpf_prog_load) <= SEC_SMALL_SIZE, "bpf record fits");
_Static_assert(sizeof(struct vigil_kill) <= SEC_SMALL_SIZE, "kill record fits");
_Static_assert(sizeof(struct vigil_module_load) <= SEC_BIG_SIZE, "module record fits");
_Static_assert(sizeof(struct vigil_memfd_create) <= SEC_BIG_SIZE, "memfd record fits");

/* Calls between entry and exit (vigil_call_put). Sizes are placeholders: the
 * loader sets them. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct sec_small);
} vigil_sec_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct sec_big);
} vigil_sec_big_calls SEC(".maps");

/* Never written: the zeroes a pending record starts from. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sec_big);
} vigil_sec_zero SEC(".maps");

/* The common start of every record of the family. */
struct sec_prefix {
	struct vigil_header hdr;
	struct vigil_syscall call;
};

#define CLONE_NEWTIME 0x00000080
#define CLONE_NEWNS 0x00020000
#define CLONE_NEWCGROUP 0x02000000
#define CLONE_NEWUTS 0x04000000
#define CLONE_NEWIPC 0x08000000
#define CLONE_NEWUSER 0x10000000
#define CLONE_NEWPID 0x20000000
#define CLONE_NEWNET 0x40000000
/* clone() keeps the exit signal in the low byte, where CLONE_NEWTIME sits
 * for unshare and clone3. */
#define CLONE_NS_FLAGS \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

#define NSFS_MAGIC 0x6e736673
#define BPF_PROG_LOAD_CMD 5

/* Syscall numbers are per architecture: x86-64 has its own table, arm64 the
 * generic one (include/uapi/asm-generic/unistd.h). */
#if defined(__TARGET_ARCH_x86)
#define NR_INIT_MODULE 175
#define NR_FINIT_MODULE 313
#elif defined(__TARGET_ARCH_arm64)
#define NR_INIT_MODULE 105
#define NR_FINIT_MODULE 273
#else
#error "syscall numbers of init_module/finit_module for this architecture"
#endif

/* 6.18 moved the namespace type from proc_ns_operations into ns_common. */
struct ns_common___v618 {
	__u32 ns_type;
} __attribute__((preserve_access_index));

struct proc_ns_operations___old {
	int type;
} __attribute__((preserve_access_index));

/* Starts a pending record for this thread's call, zeroed; NULL when
 * a Vigil daemon made the call or the map refused the entry (counted). */
static __always_inline void *call_begin(void *map, __u32 kind, __u32 nr)
{
	__u32 zero = 0;
	struct sec_prefix *p;
	void *z;

	if (vigil_current_is_daemon())
		return NULL;
	z = bpf_map_lookup_elem(&vigil_sec_zero, &zero);
	if (!z || vigil_call_put(map, 0, z)) {
		vigil_count(kind, VIGIL_CNT_DROP_SCRATCH);
		return NULL;
	}
	p = vigil_call_get(map, 0);
	if (p)
		p->call.nr = nr;
	return p;
}

/* This thread's pending record of syscall `nr` with the result filled in, or
 * NULL (entry not seen: the call began before attach, or was filtered). */
static __always_inline void *call_end(void *map, __u32 nr, long ret)
{
	struct sec_prefix *p = vigil_call_get(map, 0);

	if (!p)
		return NULL;
	if (p->call.nr != nr) {
		vigil_call_done(map, 0);
		return NULL;
	}
	p->call.result = ret;
	return p;
}

static __always_inline void call_emit(void *map, void *rec, __u32 kind, __u32 size)
{
	vigil_fill_header_current(rec, kind, size);
	vigil_emit(rec, size, kind);
	vigil_call_done(map, 0);
}

static __always_inline void call_finish(void *map, __u32 nr, long ret, __u32 kind, __u32 size)
{
	void *rec = call_end(map, nr, ret);

	if (rec)
		call_emit(map, rec, kind, size);
}

/* Copies string number `idx` of a record (VIGIL_SEC_STR<idx>) from user
 * memory; false when that memory is not readable now. A string that fills
 * `size` is cut when the source goes on past it. */
static __always_inline bool copy_user_str(char *dst, __u32 size, const char *src, struct vigil_syscall *call, __u32 idx)
{
	char next = 0;
	long n = bpf_probe_read_user_str(dst, size, src);

	if (n < 0) {
		dst[0] = 0;
		return false;
	}
	if (n == size && (bpf_probe_read_user(&next, 1, src + size - 1) || next))
		call->flags |= VIGIL_SEC_STR0_TRUNCATED << idx;
	return true;
}

/* At entry. A string the caller has not touched yet (a literal in a page
 * never faulted in) cannot be read: tracepoint programs cannot fault. Its
 * address is kept and read again at exit, after the kernel has copied it in
 * (reread_user_str). NULL is an empty string. */
static __always_inline void read_user_str(char *dst, __u32 size, const char *src, void *rec, __u32 idx)
{
	struct sec_prefix *p = rec;

	if (src && !copy_user_str(dst, size, src, &p->call, idx))
		((struct sec_big *)rec)->retry[idx] = (__u64)src;
}

static __always_inline void reread_user_str(char *dst, __u32 size, void *rec, __u32 idx, __u32 kind)
{
	const char *src = (const char *)((struct sec_big *)rec)->retry[idx];
	struct sec_prefix *p = rec;

	if (src && !copy_user_str(dst, size, src, &p->call, idx)) {
		p->call.flags |= VIGIL_SEC_READ_ERROR;
		vigil_count(kind, VIGIL_CNT_READ_ERROR);
	}
}

/* ---- ptrace ---- */

/* Attaching and writing into another process; the read requests a debugger
 * or strace issues for every step would flood. */
static __always_inline bool ptrace_request_watched(long request)
{
	switch (request) {
	case 0:      /* PTRACE_TRACEME */
	case 4:      /* PTRACE_POKETEXT */
	case 5:      /* PTRACE_POKEDATA */
	case 6:      /* PTRACE_POKEUSER */
	case 13:     /* PTRACE_SETREGS */
	case 15:     /* PTRACE_SETFPREGS */
	case 16:     /* PTRACE_ATTACH */
	case 0x4205: /* PTRACE_SETREGSET */
	case 0x4206: /* PTRACE_SEIZE */
		return true;
	default:
		return false;
	}
}

SEC("tracepoint/syscalls/sys_enter_ptrace")
int vigil_ptrace_enter(struct trace_event_raw_sys_enter *ctx)
{
	long request = (long)ctx->args[0];
	struct vigil_ptrace *e;

	if (!ptrace_request_watched(request))
		return 0;
	e = call_begin(&vigil_sec_calls, VIGIL_KIND_PTRACE, VIGIL_SYS_PTRACE);
	if (!e)
		return 0;
	e->request = request;
	e->target_pid = (__u32)ctx->args[1];
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int vigil_ptrace_exit(struct trace_event_raw_sys_exit *ctx)
{
	call_finish(&vigil_sec_calls, VIGIL_SYS_PTRACE, ctx->ret, VIGIL_KIND_PTRACE, sizeof(struct vigil_ptrace));
	return 0;
}

/* ---- namespaces ---- */

SEC("tracepoint/syscalls/sys_enter_setns")
int vigil_setns_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct vigil_setns *e = call_begin(&vigil_sec_calls, VIGIL_KIND_SETNS, VIGIL_SYS_SETNS);
	struct ns_common *ns;
	struct inode *inode;
	struct file *f;

	if (!e)
		return 0;
	e->fd = (int)ctx->args[0];
	e->nstype = (__u32)ctx->args[1];
	/* nstype may be 0 ("any"): the namespace file says which one it is.
	 * A pidfd (5.8+) is no nsfs file and leaves ns_type 0. */
	f = vigil_fd_file(vigil_current_task(), e->fd);
	inode = BPF_CORE_READ(f, f_inode);
	if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != NSFS_MAGIC)
		return 0;
	ns = BPF_CORE_READ(inode, i_private);
	e->ns_inum = BPF_CORE_READ(ns, inum);
	if (bpf_core_field_exists(((struct ns_common___v618 *)0)->ns_type)) {
		e->ns_type = BPF_CORE_READ((struct ns_common___v618 *)ns, ns_type);
	} else {
		struct proc_ns_operations___old *ops = (void *)BPF_CORE_READ(ns, ops);

		e->ns_type = BPF_CORE_READ(ops, type);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_setns")
int vigil_setns_exit(struct trace_event_raw_sys_exit *ctx)
{
	call_finish(&vigil_sec_calls, VIGIL_SYS_SETNS, ctx->ret, VIGIL_KIND_SETNS, sizeof(struct vigil_setns));
	return 0;
}

static __always_inline void ns_flags_begin(__u32 kind, __u32 nr, __u64 flags)
{
	struct vigil_ns_flags *e = call_begin(&vigil_sec_calls, kind, nr);

	if (e)
		e->flags = flags;
}

/* unshare() without a CLONE_NEW* flag (CLONE_FILES, CLONE_FS) only detaches
 * the caller's own tables: not reported. */
SEC("tracepoint/syscalls/sys_enter_unshare")
int vigil_unshare_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags = ctx->args[0];

	if (flags & (CLONE_NS_FLAGS | CLONE_NEWTIME))
		ns_flags_begin(VIGIL_KIND_UNSHARE, VIGIL_SYS_UNSHARE, flags);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_unshare")
int vigil_unshare_exit(struct trace_event_raw_sys_exit *ctx)
{
	call_finish(&vigil_sec_calls, VIGIL_SYS_UNSHARE, ctx->ret, VIGIL_KIND_UNSHARE, sizeof(struct vigil_ns_flags));
	return 0;
}

/* Every fork goes through here; only clones into new namespaces are kept.
 * The exit fires in the child too, under its own tid: it finds nothing. */
SEC("tracepoint/syscalls/sys_enter_clone")
int vigil_clone_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags = ctx->args[0];

	if (flags & CLONE_NS_FLAGS)
		ns_flags_begin(VIGIL_KIND_CLONE_NS, VIGIL_SYS_CLONE, flags);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_clone")
int vigil_clone_exit(struct trace_event_raw_sys_exit *ctx)
{
	call_finish(&vigil_sec_calls, VIGIL_SYS_CLONE, ctx->ret, VIGIL_KIND_CLONE_NS, sizeof(struct vigil_ns_flags));
	return 0;
}

/* clone3 (5.3+) passes its flags in a struct clone_args in user memory. */
SEC("tracepoint/syscalls/sys_enter_clone3")
int vigil_clone3_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags = 0;

	if (bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[0]))
		return 0;
	if (flags & (CLONE_NS_FLAGS | CLONE_NEWTIME))
		ns_flags_begin(VIGIL_KIND_CLONE_NS, VIGIL_SYS_CLONE3, flags);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_clone3")
int vigil_clone3_exit(struct trace_event_raw_sys_exit *ctx)
{
	call_finish(&vigil_sec_calls, VIGIL_SYS_CLONE3, ctx->ret, VIGIL_KIND_CLONE_NS, sizeof(struct vigil_ns_flags));
	return 0;
}

/* ---- mount ---- */

SEC("tracepoint/syscalls/sys_enter_mount")
int vigil_mount_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct vigil_mount *e = call_begin(&vigil_sec_big_calls, VIGIL_KIND_MOUNT, VIGIL_SYS_MOUNT);

	if (!e)
		return 0;
	e->flags = ctx->args[3];
	read_user_str(e->source, sizeof(e->source), (const char *)ctx->args[0], e, 0);
	read_user_str(e->target, sizeof(e->target), (const char *)ctx->args[1], e, 1);
	read_user_str(e->fstype, sizeof(e->fstype), (const char *)ctx->args[2], e, 2);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mount")
int vigil_mount_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vigil_mount *e = call_end(&vigil_sec_big_calls, VIGIL_SYS_MOUNT, ctx->ret);

	if (!e)
		return 0;
	reread_user_str(e->source, sizeof(e->source), e, 0, VIGIL_KIND_MOUNT);
	reread_user_str(e->target, sizeof(e->target), e, 1, VIGIL_KIND_MOUNT);
	reread_user_str(e->fstype, sizeof(e->fstype), e, 2, VIGIL_KIND_MOUNT);
	call_emit(&vigil_sec_big_calls, e, VIGIL_KIND_MOUNT, sizeof(*e));
	return 0;
}

/* umount2(); its tracepoint is named after the kernel's sys_umount. */
SEC("tracepoint/syscalls/sys_enter_umount")
int vigil_umount_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct vigil_mount *e = call_begin(&vigil_sec_big_calls, VIGIL_KIND_UMOUNT, VIGIL_SYS_UMOUNT2);

	if (!e)
		return 0;
	e->flags = ctx->args[1];
	read_user_str(e->target, sizeof(e->target), (const char *)ctx->args[0], e, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_umount")
int vigil_umount_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vigil_mount *e = call_end(&vigil_sec_big_calls, VIGIL_SYS_UMOUNT2, ctx->ret);

	if (!e)
		return 0;
	reread_user_str(e->target, sizeof(e->target), e, 1, VIGIL_KIND_UMOUNT);
	call_emit(&vigil_sec_big_calls, e, VIGIL_KIND_UMOUNT, sizeof(*e));
	return 0;
}

/* ---- kernel modules ---- */

/* The module's own name is inside the image (.gnu.linkonce.this_module),
 * not cheap to find here: init_module reports the image size, finit_module
 * the file's name. */
static __always_inline void init_module_begin(__u64 len, const char *uargs)
{
	struct vigil_module_load *e = call_begin(&vigil_sec_big_calls, VIGIL_KIND_MODULE_LOAD, VIGIL_SYS_INIT_MODULE);

	if (!e)
		return;
	e->image_len = len;
	e->fd = -1;
	read_user_str(e->params, sizeof(e->params), uargs, e, 1);
}

static __always_inline void finit_module_begin(int fd, const char *uargs, __u32 flags)
{
	struct vigil_module_load *e = call_begin(&vigil_sec_big_calls, VIGIL_KIND_MODULE_LOAD, VIGIL_SYS_FINIT_MODULE);
	struct file *f;

	if (!e)
		return;
	e->fd = fd;
	e->load_flags = flags;
	read_user_str(e->params, sizeof(e->params), uargs, e, 1);
	f = vigil_fd_file(vigil_current_task(), fd);
	if (f && bpf_probe_read_kernel_str(e->name, sizeof(e->name), BPF_CORE_READ(f, f_path.dentry, d_name.name)) < 0)
		e->name[0] = 0;
}

static __always_inline void module_finish(__u32 nr, long ret)
{
	struct vigil_module_load *e = call_end(&vigil_sec_big_calls, nr, ret);

	if (!e)
		return;
	reread_user_str(e->params, sizeof(e->params), e, 1, VIGIL_KIND_MODULE_LOAD);
	call_emit(&vigil_sec_big_calls, e, VIGIL_KIND_MODULE_LOAD, sizeof(*e));
}

SEC("tracepoint/syscalls/sys_enter_init_module")
int vigil_init_module_enter(struct trace_event_raw_sys_enter *ctx)
{
	init_module_begin(ctx->args[1], (const char *)ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_init_module")
int vigil_init_module_exit(struct trace_event_raw_sys_exit *ctx)
{
	module_finish(VIGIL_SYS_INIT_MODULE, ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int vigil_finit_module_enter(struct trace_event_raw_sys_enter *ctx)
{
	finit_module_begin((int)ctx->args[0], (const char *)ctx->args[1], (__u32)ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_finit_module")
int vigil_finit_module_exit(struct trace_event_raw_sys_exit *ctx)
{
	module_finish(VIGIL_SYS_FINIT_MODULE, ctx->ret);
	return 0;
}

/*
 * Kernels built without CONFIG_MODULES have no module tracepoints, but the
 * syscalls still exist as -ENOSYS stubs, and an attempt to load a module is
 * worth reporting there too. The raw sys_enter/sys_exit tracepoints (4.17+)
 * see every syscall; these programs are the fallback for that case, attached
 * only on request (--module_syscall_fallback) since they run on every
 * syscall, and handle both module syscalls in one pair.
 */
/* The syscall number sys_exit's registers keep: orig_ax on x86, syscallno
 * on arm64 (the return value has overwritten the register it came in).
 * CO-RE keeps the one the running kernel's pt_regs has. */
struct pt_regs___vigil_x86 {
	unsigned long orig_ax;
} __attribute__((preserve_access_index));

struct pt_regs___vigil_arm64 {
	int syscallno;
} __attribute__((preserve_access_index));

static __always_inline long exit_syscall_nr(struct pt_regs *regs)
{
	if (bpf_core_field_exists(struct pt_regs___vigil_x86, orig_ax))
		return BPF_CORE_READ((struct pt_regs___vigil_x86 *)regs, orig_ax);
	return BPF_CORE_READ((struct pt_regs___vigil_arm64 *)regs, syscallno);
}

/* The arguments through bpf_tracing.h's per-architecture register names. */
SEC("raw_tp/sys_enter")
int BPF_PROG(vigil_module_enter_raw, struct pt_regs *regs, long id)
{
	if (id == NR_FINIT_MODULE)
		finit_module_begin((int)PT_REGS_PARM1_CORE(regs), (const char *)PT_REGS_PARM2_CORE(regs),
				   (__u32)PT_REGS_PARM3_CORE(regs));
	else if (id == NR_INIT_MODULE)
		init_module_begin(PT_REGS_PARM2_CORE(regs), (const char *)PT_REGS_PARM3_CORE(regs));
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(vigil_module_exit_raw, struct pt_regs *regs, long ret)
{
	long id = exit_syscall_nr(regs);

	if (id == NR_FINIT_MODULE)
		module_finish(VIGIL_SYS_FINIT_MODULE, ret);
	else if (id == NR_INIT_MODULE)
		module_finish(VIGIL_SYS_INIT_MODULE, ret);
	return 0;
}

/* ---- bpf() ---- */

/* The leading fields of union bpf_attr for BPF_PROG_LOAD (stable uapi). */
struct prog_load_attr {
	__u32 prog_type;
	__u32 insn_cnt;
	__u64 insns;
	__u64 license;
	__u32 log_level;
	__u32 log_size;
	__u64 log_buf;
	__u32 kern_version;
	__u32 prog_flags;
	char prog_name[VIGIL_BPF_NAME_LEN];
	__u32 prog_ifindex;
	__u32 expected_attach_type;
};

/* Only program loads: map reads and the like are constant traffic. */
SEC("tracepoint/syscalls/sys_enter_bpf")
int vigil_bpf_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct prog_load_attr attr = {};
	struct vigil_bpf_prog_load *e;
	__u64 size = ctx->args[2];

	if (ctx->args[0] != BPF_PROG_LOAD_CMD)
		return 0;
	e = call_begin(&vigil_sec_calls, VIGIL_KIND_BPF_PROG_LOAD, VIGIL_SYS_BPF);
	if (!e)
		return 0;
	/* The kernel reads min(size, sizeof(attr)) and zeroes the rest; so do we. */
	if (size > sizeof(attr))
		size = sizeof(attr);
	if (size && bpf_probe_read_user(&attr, size, (void *)ctx->args[1])) {
		e->call.flags |= VIGIL_SEC_READ_ERROR;
		vigil_count(VIGIL_KIND_BPF_PROG_LOAD, VIGIL_CNT_READ_ERROR);
		return 0;
	}
	e->prog_type = attr.prog_type;
	e->insn_cnt = attr.insn_cnt;
	e->expected_attach_type = attr.expected_attach_type;
	e->prog_flags = attr.prog_flags;
	__builtin_memcpy(e->name, attr.prog_name, sizeof(e->name));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bpf")
int vigil_bpf_exit(struct trace_event_raw_sys_exit *ctx)
{
	call_finish(&vigil_sec_calls, VIGIL_SYS_BPF, ctx->ret, VIGIL_KIND_BPF_PROG_LOAD,
		    sizeof(struct vigil_bpf_prog_load));
	return 0;
}

/* ---- memfd_create ---- */

SEC("tracepoint/syscalls/sys_enter_memfd_create")
int vigil_memfd_create_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct vigil_memfd_create *e =
		call_begin(&vigil_sec_big_calls, VIGIL_KIND_MEMFD_CREATE, VIGIL_SYS_MEMFD_CREATE);

	if (!e)
		return 0;
	e->flags = (__u32)ctx->args[1];
	read_user_str(e->name, sizeof(e->name), (const char *)ctx->args[0], e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_memfd_create")
int vigil_memfd_create_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vigil_memfd_create *e = call_end(&vigil_sec_big_calls, VIGIL_SYS_MEMFD_CREATE, ctx->ret);

	if (!e)
		return 0;
	reread_user_str(e->name, sizeof(e->name), e, 0, VIGIL_KIND_MEMFD_CREATE);
	call_emit(&vigil_sec_big_calls, e, VIGIL_KIND_MEMFD_CREATE, sizeof(*e));
	return 0;
}

/* ---- credentials ---- */

static __always_inline void read_creds(struct vigil_ids *ids, struct vigil_caps *caps)
{
	const struct cred *c = BPF_CORE_READ(vigil_current_task(), cred);

	ids->uid = BPF_CORE_READ(c, uid.val);
	ids->euid = BPF_CORE_READ(c, euid.val);
	ids->suid = BPF_CORE_READ(c, suid.val);
	ids->fsuid = BPF_CORE_READ(c, fsuid.val);
	ids->gid = BPF_CORE_READ(c, gid.val);
	ids->egid = BPF_CORE_READ(c, egid.val);
	ids->sgid = BPF_CORE_READ(c, sgid.val);
	ids->fsgid = BPF_CORE_READ(c, fsgid.val);
	/* kernel_cap_t is __u32 cap[2] before 6.3 and a __u64 since: the same
	 * 8 bytes either way on little-endian. */
	bpf_core_read(&caps->effective, sizeof(caps->effective), &c->cap_effective);
	bpf_core_read(&caps->permitted, sizeof(caps->permitted), &c->cap_permitted);
	bpf_core_read(&caps->inheritable, sizeof(caps->inheritable), &c->cap_inheritable);
}

static __always_inline void cred_begin(__u32 kind, __u32 nr, __u32 a0, __u32 a1, __u32 a2)
{
	struct vigil_cred_change *e = call_begin(&vigil_sec_calls, kind, nr);

	if (!e)
		return;
	e->args[0] = a0;
	e->args[1] = a1;
	e->args[2] = a2;
	read_creds(&e->old_ids, &e->old_caps);
}

static __always_inline void cred_finish(__u32 kind, __u32 nr, long ret)
{
	struct vigil_cred_change *e = call_end(&vigil_sec_calls, nr, ret);

	if (!e)
		return;
	read_creds(&e->new_ids, &e->new_caps);
	call_emit(&vigil_sec_calls, e, kind, sizeof(*e));
}

/* Arguments a call does not take are reported as -1 ("unchanged" for the
 * setre*id family). */
#define VIGIL_SETID_PROBES(name, NR, a0, a1, a2)                        \
	SEC("tracepoint/syscalls/sys_enter_" #name)                     \
	int vigil_##name##_enter(struct trace_event_raw_sys_enter *ctx) \
	{                                                               \
		cred_begin(VIGIL_KIND_SETID, NR, a0, a1, a2);           \
		return 0;                                               \
	}                                                               \
	SEC("tracepoint/syscalls/sys_exit_" #name)                      \
	int vigil_##name##_exit(struct trace_event_raw_sys_exit *ctx)   \
	{                                                               \
		cred_finish(VIGIL_KIND_SETID, NR, ctx->ret);            \
		return 0;                                               \
	}

VIGIL_SETID_PROBES(setuid, VIGIL_SYS_SETUID, ctx->args[0], -1, -1)
VIGIL_SETID_PROBES(setgid, VIGIL_SYS_SETGID, ctx->args[0], -1, -1)
VIGIL_SETID_PROBES(setreuid, VIGIL_SYS_SETREUID, ctx->args[0], ctx->args[1], -1)
VIGIL_SETID_PROBES(setregid, VIGIL_SYS_SETREGID, ctx->args[0], ctx->args[1], -1)
VIGIL_SETID_PROBES(setresuid, VIGIL_SYS_SETRESUID, ctx->args[0], ctx->args[1], ctx->args[2])
VIGIL_SETID_PROBES(setresgid, VIGIL_SYS_SETRESGID, ctx->args[0], ctx->args[1], ctx->args[2])
VIGIL_SETID_PROBES(setgroups, VIGIL_SYS_SETGROUPS, ctx->args[0], -1, -1)

/* capset(header, data): header->pid is the target (0: the caller; others
 * are refused since 2.6.25). The sets come from the credentials around the
 * call, not from the user's buffer. */
SEC("tracepoint/syscalls/sys_enter_capset")
int vigil_capset_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct {
		__u32 version;
		__s32 pid;
	} header = {};

	bpf_probe_read_user(&header, sizeof(header), (void *)ctx->args[0]);
	cred_begin(VIGIL_KIND_CAPSET, VIGIL_SYS_CAPSET, header.pid, header.version, -1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_capset")
int vigil_capset_exit(struct trace_event_raw_sys_exit *ctx)
{
	cred_finish(VIGIL_KIND_CAPSET, VIGIL_SYS_CAPSET, ctx->ret);
	return 0;
}

/* ---- signals to other processes ---- */

/* Signal 0 only asks whether a process exists (supervisors poll with it)
 * and delivers nothing; a process signalling itself (raise, abort) attacks
 * nobody. Pids are compared in the caller's pid namespace, as it named them. */
static __always_inline void kill_begin(__u32 nr, __s32 pid, __s32 tid, __s32 sig)
{
	struct vigil_kill *e;

	if (sig == 0)
		return;
	if (nr == VIGIL_SYS_TKILL ? (__u32)tid == BPF_CORE_READ(vigil_task_upid(vigil_current_task(), false), nr)
				  : (__u32)pid == BPF_CORE_READ(vigil_task_upid(vigil_current_task(), true), nr))
		return;
	e = call_begin(&vigil_sec_calls, VIGIL_KIND_KILL, nr);
	if (!e)
		return;
	e->pid = pid;
	e->tid = tid;
	e->sig = sig;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int vigil_kill_enter(struct trace_event_raw_sys_enter *ctx)
{
	kill_begin(VIGIL_SYS_KILL, (__s32)ctx->args[0], 0, (__s32)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_kill")
int vigil_kill_exit(struct trace_event_raw_sys_exit *ctx)
{
	call_finish(&vigil_sec_calls, VIGIL_SYS_KILL, ctx->ret, VIGIL_KIND_KILL, sizeof(struct vigil_kill));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int vigil_tgkill_enter(struct trace_event_raw_sys_enter *ctx)
{
	kill_begin(VIGIL_SYS_TGKILL, (__s32)ctx->args[0], (__s32)ctx->args[1], (__s32)ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int vigil_tgkill_exit(struct trace_event_raw_sys_exit *ctx)
{
	call_finish(&vigil_sec_calls, VIGIL_SYS_TGKILL, ctx->ret, VIGIL_KIND_KILL, sizeof(struct vigil_kill));
	return 0;
}

/* tkill names a thread only; one of the caller's other threads cannot be
 * told apart from another process's here, only the caller itself. */
SEC("tracepoint/syscalls/sys_enter_tkill")
int vigil_tkill_enter(struct trace_event_raw_sys_enter *ctx)
{
	kill_begin(VIGIL_SYS_TKILL, 0, (__s32)ctx->args[0], (__s32)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int vigil_tkill_exit(struct trace_event_raw_sys_exit *ctx)
{
	call_finish(&vigil_sec_calls, VIGIL_SYS_TKILL, ctx->ret, VIGIL_KIND_KILL, sizeof(struct vigil_kill));
	return 0;
}
