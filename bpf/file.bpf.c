// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * File family: opens for write/create/truncate and of sensitive paths,
 * unlink, rename, chmod, chown, utimensat.
 *
 * Hooks are the syscalls/sys_{enter,exit}_* tracepoints (2.6.37+, need
 * CONFIG_FTRACE_SYSCALLS, which every distribution kernel has): they exist
 * where kprobes and fentry do not (this host's 6.18), and give the syscall's
 * own arguments and result. The enter half drops the bulk, read-only opens,
 * and keeps any other call; the exit half resolves the path the process
 * named (against its cwd or dirfd), applies the filters, so a filtered call
 * costs one path walk and never reaches the ring buffer, and emits the rest
 * with the result. What they miss: io_uring opens (IORING_OP_OPENAT
 * never enters a syscall), files changed through mmap, and 32-bit compat
 * syscalls, which have their own tracepoint-less entry on x86_64.
 *
 * Where the kernel has BPF trampolines, fexit programs take their place:
 * on do_sys_openat2 for opens (vigil_file_open_fexit) and on each other
 * syscall's own function (FILE_SYSCALL), below.
 */
#include "vigil_common.bpf.h"
#include "vigil_path.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load. */
const volatile __u32 vigil_file_writes_only = 1; /* drop read-only opens of non-sensitive paths */
const volatile __u32 vigil_file_has_include = 0; /* the include map is non-empty */
const volatile __u32 vigil_file_has_exclude = 0; /* the exclude map is non-empty */
/* The sensitive prefixes' heads (vigil_abi.h): their length, masks, bitmap. */
const volatile __u32 vigil_file_head_len = 0;
const volatile __u64 vigil_file_head_mask[2] = {};
const volatile __u64 vigil_file_heads[VIGIL_HEAD_BITS / 64] = {};

#define O_ACCMODE 00000003
#define O_RDONLY 00000000
#define O_WRONLY 00000001
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define AT_REMOVEDIR 0x200
/* Added by the open syscalls on 64-bit kernels; its value differs per arch. */
#if defined(__TARGET_ARCH_arm64)
#define O_LARGEFILE 00400000
#else
#define O_LARGEFILE 00100000
#endif

/*
 * Path prefix lists. LPM tries: one lookup finds the longest configured
 * prefix of a path in O(key length), whatever the number of prefixes; a hash
 * map would need one lookup per distinct prefix length. The value is unused.
 * The loader sets the sizes and fills them before attaching.
 */
#define VIGIL_PREFIX_MAP(name)                        \
	struct {                                      \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);  \
		__uint(max_entries, 1);               \
		__uint(map_flags, BPF_F_NO_PREALLOC); \
		__type(key, struct vigil_prefix_key); \
		__type(value, __u8);                  \
	} name SEC(".maps")

VIGIL_PREFIX_MAP(vigil_file_sensitive);
VIGIL_PREFIX_MAP(vigil_file_include);
VIGIL_PREFIX_MAP(vigil_file_exclude);

/* What the enter half saw, kept until the exit half adds the result. */
struct file_call {
	__u64 name; /* user pointers */
	__u64 name2;
	__s32 dfd;
	__s32 dfd2;
	__u32 kind;
	__u32 op;
	__u32 flags;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 fd_only; /* the path is the file of descriptor dfd */
};

/* Calls kept at enter (vigil_call_put); the loader sets the size from config. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct file_call);
} vigil_file_calls SEC(".maps");

/*
 * The same, in the thread's own storage, where the kernel has task storage
 * for tracing programs and bpf_get_current_task_btf() (both 5.11+:
 * vigil_task_btf; the loader creates this map only then). A thread's slot
 * is found from its task without a hash lookup, and reused by its next
 * call: no insert, no delete, and none of the hash's locks, which disable
 * interrupts (costly on a paravirtualised node). The kernel frees it with
 * the thread.
 */
struct file_slot {
	struct file_call c;
	__u32 kept; /* c waits for this thread's exit half */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct file_slot);
} vigil_file_slots SEC(".maps");

/* Keeps this thread's call for its exit half; 0 on success. */
static __always_inline long file_keep(const struct file_call *c)
{
	struct file_slot *s;

	if (!vigil_task_btf)
		return vigil_call_put(&vigil_file_calls, 0, c);
	s = bpf_task_storage_get(&vigil_file_slots, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return -1;
	s->c = *c;
	s->kept = 1;
	return 0;
}

/* Calls kept at enter whose exit has not run yet (an upper bound: a thread
 * killed in between, or an LRU eviction, leaves it high, which only costs
 * the lookup below). At 0, an exit half has nothing to look up. */
__u64 vigil_file_pending = 0;

/* Takes this thread's kept call into `c`; 0 when there was one. */
static __always_inline long file_take(struct file_call *c)
{
	struct file_call *kept;
	struct file_slot *s;

	if (!vigil_file_pending)
		return -1;
	if (vigil_task_btf) {
		s = bpf_task_storage_get(&vigil_file_slots, bpf_get_current_task_btf(), 0, 0);
		if (!s || !s->kept)
			return -1;
		*c = s->c;
		s->kept = 0;
		__sync_fetch_and_add(&vigil_file_pending, -1);
		return 0;
	}
	kept = vigil_call_get(&vigil_file_calls, 0);
	if (!kept)
		return -1;
	*c = *kept;
	if (vigil_call_done(&vigil_file_calls, 0) == 0)
		__sync_fetch_and_add(&vigil_file_pending, -1);
	return 0;
}

/* Loads the lookup key from the path once; every prefix map then takes it.
 * Returns the key's length in bytes. */
static __always_inline __u32 prefix_key_fill(struct vigil_path_buf *pb, struct vigil_path_ref *ref)
{
	__u32 len = ref->len ? ref->len - 1 : 0; /* without the NUL */

	if (len > VIGIL_PREFIX_MAX)
		len = VIGIL_PREFIX_MAX;
	pb->key.prefixlen = len * 8;
	bpf_probe_read_kernel(pb->key.data, VIGIL_PREFIX_MAX, pb->data + (ref->start & (2 * VIGIL_PATH_MAX - 1)));
	return len;
}

static __always_inline int prefix_match(void *map, struct vigil_path_buf *pb)
{
	return bpf_map_lookup_elem(map, &pb->key) != NULL;
}

/* Whether the `len`-byte path in the key may have a sensitive prefix: the
 * check in front of the trie (vigil_head_hash). */
static __always_inline int sensitive_head(struct vigil_path_buf *pb, __u32 len)
{
	__u64 w[2];
	__u32 h;

	if (len < vigil_file_head_len)
		return 0;
	__builtin_memcpy(w, pb->key.data, sizeof(w));
	h = vigil_head_hash(w[0] & vigil_file_head_mask[0], w[1] & vigil_file_head_mask[1]);
	return (vigil_file_heads[h / 64] >> (h % 64)) & 1;
}

static __always_inline int sensitive_match(struct vigil_path_buf *pb, __u32 len)
{
	return sensitive_head(pb, len) && prefix_match(&vigil_file_sensitive, pb);
}

/*
 * Whether one resolved path of the call is reported; marks it sensitive.
 * Exclude wins over everything. The sensitive lookup comes first because a
 * read-only open, the bulk of all file syscalls, is then decided by it alone.
 */
static __always_inline int path_wanted(const struct file_call *c, struct vigil_path_buf *pb, struct vigil_path_ref *ref,
				       __u32 *vflags)
{
	int sensitive;

	sensitive = sensitive_match(pb, prefix_key_fill(pb, ref));
	if (!sensitive && vigil_file_writes_only && c->kind == VIGIL_KIND_FILE_OPEN &&
	    (c->flags & O_ACCMODE) == O_RDONLY && !(c->flags & (O_CREAT | O_TRUNC)))
		return 0;
	if (vigil_file_has_exclude && prefix_match(&vigil_file_exclude, pb))
		return 0;
	if (sensitive) {
		*vflags |= VIGIL_FILE_SENSITIVE;
		return 1;
	}
	if (vigil_file_has_include && !prefix_match(&vigil_file_include, pb))
		return 0;
	return 1;
}

static __always_inline int read_only_open(const struct file_call *c)
{
	return vigil_file_writes_only && c->kind == VIGIL_KIND_FILE_OPEN && (c->flags & O_ACCMODE) == O_RDONLY &&
	       !(c->flags & (O_CREAT | O_TRUNC));
}

/*
 * The bulk of all file syscalls is a read-only open of an absolute path that
 * is not sensitive. It is decided here, with the name read straight into the
 * per-CPU lookup key and one prefix lookup: nothing kept, no path buffer,
 * and nothing left for the exit half. For an absolute name the full filter
 * sees the same bytes (vigil_path_at takes it as is), so the decision is the
 * same. Anything else (a relative name, a name not paged in yet, one longer
 * than the key) is decided by the full filter at exit.
 */
static __always_inline int read_only_open_dropped(const struct file_call *c)
{
	struct vigil_path_buf *pb;
	long n;

	if (!read_only_open(c) || c->fd_only)
		return 0;
	pb = vigil_path_buf_get(0);
	if (!pb)
		return 0;
	n = bpf_probe_read_user_str(pb->key.data, VIGIL_PREFIX_MAX, (const char *)c->name);
	if (n <= 1 || n >= VIGIL_PREFIX_MAX || pb->key.data[0] != '/')
		return 0;
	pb->key.prefixlen = (n - 1) * 8;
	return !sensitive_match(pb, n - 1);
}

/* read_only_open_dropped(), holding the CPU for its path buffer. */
static __always_inline int read_only_open_dropped_held(const struct file_call *c)
{
	int dropped;

	vigil_hold_cpu();
	dropped = read_only_open_dropped(c);
	vigil_release_cpu();
	return dropped;
}

/*
 * A tracepoint's enter half keeps the call for its exit half, which filters
 * it and reports it: the paths are built once, after the call, when the
 * kernel has paged the names in (tracepoints cannot fault them in at enter).
 * The call is kept under the thread's key: a per-CPU slot could be
 * overwritten by another task's call while this one sleeps in the syscall.
 */
static __always_inline int file_enter(struct file_call *c)
{
	/* The bulk first: a dropped open needs no daemon check. */
	if (read_only_open_dropped_held(c) || vigil_current_is_daemon())
		return 0;
	if (file_keep(c) != 0)
		return 0;
	__sync_fetch_and_add(&vigil_file_pending, 1);
	return 0;
}

/*
 * Builds the record of a call that has run: its path(s) and its result, and
 * emits it when the filters keep one of its paths (or a path could not be
 * read, reported flagged). A one-path call they drop costs no copy.
 */
static __always_inline int file_report(const struct file_call *c, long ret)
{
	struct vigil_path_buf *pb;
	struct vigil_path_ref ref;
	struct vigil_file *e;
	__u32 kind = c->kind, len, len2 = 0;
	char *dst;

	e = vigil_scratch_get(kind);
	pb = vigil_path_buf_get(0);
	if (!e || !pb)
		return 0;
	e->result = ret;
	e->op = c->op;
	e->flags = c->flags;
	e->mode = c->mode;
	e->uid = c->uid;
	e->gid = c->gid;
	e->vflags = 0;
	/* In map memory: see vigil_path_buf.pos. */
	pb->keep = 0;

	ref = vigil_path_at(c->dfd, c->fd_only ? NULL : (const char *)c->name, pb);
	if (ref.len == 0 || path_wanted(c, pb, &ref, &e->vflags))
		pb->keep = 1;
	if (!pb->keep && !c->name2)
		return 0;
	dst = (char *)(e + 1);
	len = vigil_path_copy(dst, pb->data, &ref);
	if (len == 0) {
		e->vflags |= VIGIL_FILE_READ_ERROR;
		vigil_count(kind, VIGIL_CNT_READ_ERROR);
	}
	if (ref.truncated)
		e->vflags |= VIGIL_FILE_PATH_TRUNCATED;
	if (c->name2) {
		ref = vigil_path_at(c->dfd2, (const char *)c->name2, pb);
		if (ref.len == 0 || path_wanted(c, pb, &ref, &e->vflags))
			pb->keep = 1;
		vigil_barrier_var(len);
		if (len > VIGIL_PATH_MAX)
			len = VIGIL_PATH_MAX;
		len2 = vigil_path_copy(dst + len, pb->data, &ref);
		if (len2 == 0) {
			e->vflags |= VIGIL_FILE_READ_ERROR;
			vigil_count(kind, VIGIL_CNT_READ_ERROR);
		}
		if (ref.truncated)
			e->vflags |= VIGIL_FILE_PATH2_TRUNCATED;
	}
	if (!pb->keep)
		return 0;
	e->path_len = len;
	e->path2_len = len2;
	vigil_fill_header_current(&e->hdr, kind, sizeof(*e) + len + len2);
	vigil_emit(e, sizeof(*e) + len + len2, kind);
	return 0;
}

static __always_inline int file_exit(long ret)
{
	struct file_call c;

	if (file_take(&c) != 0)
		return 0;
	vigil_hold_cpu();
	file_report(&c, ret);
	vigil_release_cpu();
	return 0;
}

/* An fexit program's call, which has run: filtered and reported at once. */
static __always_inline int file_after(struct file_call *c, long ret)
{
	if (vigil_current_is_daemon())
		return 0;
	vigil_hold_cpu();
	file_report(c, ret);
	vigil_release_cpu();
	return 0;
}

#define FILE_CALL(k, o)                                       \
	struct file_call c = {.kind = (k),                    \
			      .op = (o),                      \
			      .dfd = VIGIL_AT_FDCWD,          \
			      .dfd2 = VIGIL_AT_FDCWD,         \
			      .uid = VIGIL_FILE_ID_UNCHANGED, \
			      .gid = VIGIL_FILE_ID_UNCHANGED}

/* Every syscall's exit half is the same: one program, which the loader
 * attaches to each sys_exit_* tracepoint (they share one layout), so the
 * verifier checks it once rather than once per syscall. */
SEC("tracepoint")
int vigil_file_exit(struct trace_event_raw_sys_exit *ctx)
{
	return file_exit(ctx->ret);
}

/*
 * Each syscall is described once, by a macro that fills the call from
 * A(i), its argument i, and is given two programs: a sys_enter_*
 * tracepoint program (A = the tracepoint's args), and, where the syscall's
 * own kernel function can take one, an fexit program on that function.
 *
 * ---- fexit on the syscall functions ----
 *
 * Where the kernel has BPF trampolines (5.5+ on x86_64, 6.0+ on arm64, with
 * BTF), --hooks=auto puts unlink, rename, chmod, chown and utimes on fexit
 * programs on each syscall's entry function, __x64_sys_<name> or
 * __arm64_sys_<name> (the architecture's syscall wrappers, 4.17+ / 4.19+,
 * which Debian's BTF lists from 5.10 on). They see exactly what the
 * tracepoints see: the syscall (so the op is known), its arguments (from the
 * user registers the entry saved: A(i) reads them through CO-RE, which
 * knows each architecture's registers) and its result, in one program run
 * after the call. So nothing waits in a map between two halves, the names
 * are paged in by then, and only these syscalls pay for a trampoline,
 * rather than every syscall of the node going through the tracepoint path.
 * The deeper VFS functions are not used: their arguments changed across
 * these kernels (do_renameat2 took user pointers until 5.12) and the
 * kernel's copy of a name (struct filename) is freed before fexit runs.
 * Misses, as the tracepoints do: io_uring's unlinkat, renameat (5.11+),
 * and 32-bit compat syscalls.
 */
#if defined(__TARGET_ARCH_arm64)
#define SYSCALL_FN(sys) "__arm64_sys_" #sys
#else
#define SYSCALL_FN(sys) "__x64_sys_" #sys
#endif

/* Argument i of a syscall, from the user registers its entry saved. */
static __always_inline __u64 sys_arg(const struct pt_regs *regs, int i)
{
	switch (i) {
	case 0:
		return PT_REGS_PARM1_CORE_SYSCALL(regs);
	case 1:
		return PT_REGS_PARM2_CORE_SYSCALL(regs);
	case 2:
		return PT_REGS_PARM3_CORE_SYSCALL(regs);
	case 3:
		return PT_REGS_PARM4_CORE_SYSCALL(regs);
	default:
		return PT_REGS_PARM5_CORE_SYSCALL(regs);
	}
}

#define TP_ARG(i) (ctx->args[i])
#define REGS_ARG(i) sys_arg(regs, i)

#define FILE_SYSCALL_TP(sys, k, o, fill)                            \
	SEC("tracepoint/syscalls/sys_enter_" #sys)                  \
	int vigil_file_##sys(struct trace_event_raw_sys_enter *ctx) \
	{                                                           \
		FILE_CALL(k, o);                                    \
		fill(TP_ARG);                                       \
		return file_enter(&c);                              \
	}

#define FILE_SYSCALL(sys, k, o, fill)                                                \
	FILE_SYSCALL_TP(sys, k, o, fill)                                             \
	SEC("fexit/" SYSCALL_FN(sys))                                                \
	int BPF_PROG(vigil_file_##sys##_fexit, const struct pt_regs *regs, long ret) \
	{                                                                            \
		FILE_CALL(k, o);                                                     \
		fill(REGS_ARG);                                                      \
		return file_after(&c, ret);                                          \
	}

/* ---- open: openat (2.6.16), openat2 (5.6), open, creat ---- */

#define OPENAT_ARGS(A)  \
	c.dfd = A(0);   \
	c.name = A(1);  \
	c.flags = A(2); \
	c.mode = A(3)
#define OPENAT2_ARGS(A)                                             \
	struct open_how how = {};                                   \
	c.dfd = A(0);                                               \
	c.name = A(1);                                              \
	bpf_probe_read_user(&how, sizeof(how), (const void *)A(2)); \
	c.flags = how.flags;                                        \
	c.mode = how.mode
#define OPEN_ARGS(A)    \
	c.name = A(0);  \
	c.flags = A(1); \
	c.mode = A(2)
#define CREAT_ARGS(A)                                                    \
	c.name = A(0);                                                   \
	c.flags = O_CREAT | O_WRONLY | O_TRUNC; /* what creat() means */ \
	c.mode = A(1)

FILE_SYSCALL_TP(openat, VIGIL_KIND_FILE_OPEN, VIGIL_FILE_OP_OPENAT, OPENAT_ARGS)
FILE_SYSCALL_TP(openat2, VIGIL_KIND_FILE_OPEN, VIGIL_FILE_OP_OPENAT2, OPENAT2_ARGS)
FILE_SYSCALL_TP(open, VIGIL_KIND_FILE_OPEN, VIGIL_FILE_OP_OPEN, OPEN_ARGS)
FILE_SYSCALL_TP(creat, VIGIL_KIND_FILE_OPEN, VIGIL_FILE_OP_CREAT, CREAT_ARGS)

/*
 * ---- open on the VFS path: fexit on do_sys_openat2 ----
 *
 * Where the kernel has BPF trampolines (5.5+, with BTF) and its BTF has the
 * function, --hooks=auto uses this program instead of the open tracepoints
 * (the loader probes both first). Every open(2) flavour ends up in
 * do_sys_openat2() (5.6+; static, but kept out of line in every Debian
 * kernel from 5.10 on): open, openat, creat, openat2 and their 32-bit compat
 * entries, which the syscall tracepoints miss. It sees the same facts as
 * the enter and exit tracepoints together (dfd, the user's name, flags,
 * mode, the result), in one program run after the call, so nothing waits in
 * a map between two halves and the name is always paged in by then. It
 * costs a trampoline on opens only, where a syscall tracepoint puts every
 * syscall of the node on the slow path and runs both halves through perf's
 * trace buffer. Read-only opens of non-sensitive paths are still dropped
 * first, by the flags and one prefix lookup, before any path walk.
 *
 * What it cannot tell: which syscall the caller used. open() and creat()
 * are openat(AT_FDCWD, ...) with fixed flags, and are reported as openat;
 * openat2() as openat2 only when it asks for RESOLVE_* flags, else as the
 * openat it then equals. Misses, as the tracepoints do: io_uring opens
 * (IORING_OP_OPENAT calls do_filp_open() directly).
 */
SEC("fexit/do_sys_openat2")
int BPF_PROG(vigil_file_open_fexit, int dfd, const char *filename, struct open_how *how, long ret)
{
	FILE_CALL(VIGIL_KIND_FILE_OPEN, VIGIL_FILE_OP_OPENAT);

	c.dfd = dfd;
	c.name = (__u64)filename;
	/* As the caller passed them, as the tracepoints see them: every open
	 * syscall adds O_LARGEFILE itself on a 64-bit kernel (openat2 unless
	 * O_PATH), and 64-bit callers do not pass it. */
	c.flags = BPF_CORE_READ(how, flags) & ~O_LARGEFILE;
	c.mode = BPF_CORE_READ(how, mode);
	if (BPF_CORE_READ(how, resolve))
		c.op = VIGIL_FILE_OP_OPENAT2;
	if (read_only_open_dropped_held(&c))
		return 0;
	/* One path walk, for the filters and the record alike. */
	return file_after(&c, ret);
}

/* ---- unlink: unlinkat, unlink, rmdir ---- */

#define UNLINKAT_ARGS(A) \
	c.dfd = A(0);    \
	c.name = A(1);   \
	c.flags = A(2)
#define UNLINK_ARGS(A) c.name = A(0)
#define RMDIR_ARGS(A)  \
	c.name = A(0); \
	c.flags = AT_REMOVEDIR

FILE_SYSCALL(unlinkat, VIGIL_KIND_FILE_UNLINK, VIGIL_FILE_OP_UNLINKAT, UNLINKAT_ARGS)
FILE_SYSCALL(unlink, VIGIL_KIND_FILE_UNLINK, VIGIL_FILE_OP_UNLINK, UNLINK_ARGS)
FILE_SYSCALL(rmdir, VIGIL_KIND_FILE_UNLINK, VIGIL_FILE_OP_RMDIR, RMDIR_ARGS)

/* ---- rename: renameat2 (3.15), renameat, rename ---- */

#define RENAMEAT2_ARGS(A) \
	c.dfd = A(0);     \
	c.name = A(1);    \
	c.dfd2 = A(2);    \
	c.name2 = A(3);   \
	c.flags = A(4)
#define RENAMEAT_ARGS(A) \
	c.dfd = A(0);    \
	c.name = A(1);   \
	c.dfd2 = A(2);   \
	c.name2 = A(3)
#define RENAME_ARGS(A) \
	c.name = A(0); \
	c.name2 = A(1)

FILE_SYSCALL(renameat2, VIGIL_KIND_FILE_RENAME, VIGIL_FILE_OP_RENAMEAT2, RENAMEAT2_ARGS)
FILE_SYSCALL(renameat, VIGIL_KIND_FILE_RENAME, VIGIL_FILE_OP_RENAMEAT, RENAMEAT_ARGS)
FILE_SYSCALL(rename, VIGIL_KIND_FILE_RENAME, VIGIL_FILE_OP_RENAME, RENAME_ARGS)

/* ---- chmod: fchmodat, fchmodat2 (6.6), chmod, fchmod ---- */

#define FCHMODAT_ARGS(A) \
	c.dfd = A(0);    \
	c.name = A(1);   \
	c.mode = A(2)
#define FCHMODAT2_ARGS(A) \
	c.dfd = A(0);     \
	c.name = A(1);    \
	c.mode = A(2);    \
	c.flags = A(3)
#define CHMOD_ARGS(A)  \
	c.name = A(0); \
	c.mode = A(1)
#define FCHMOD_ARGS(A) \
	c.dfd = A(0);  \
	c.fd_only = 1; \
	c.mode = A(1)

FILE_SYSCALL(fchmodat, VIGIL_KIND_FILE_CHMOD, VIGIL_FILE_OP_FCHMODAT, FCHMODAT_ARGS)
FILE_SYSCALL(fchmodat2, VIGIL_KIND_FILE_CHMOD, VIGIL_FILE_OP_FCHMODAT2, FCHMODAT2_ARGS)
FILE_SYSCALL(chmod, VIGIL_KIND_FILE_CHMOD, VIGIL_FILE_OP_CHMOD, CHMOD_ARGS)
FILE_SYSCALL(fchmod, VIGIL_KIND_FILE_CHMOD, VIGIL_FILE_OP_FCHMOD, FCHMOD_ARGS)

/* ---- chown: fchownat, chown, lchown, fchown ---- */

#define FCHOWNAT_ARGS(A) \
	c.dfd = A(0);    \
	c.name = A(1);   \
	c.uid = A(2);    \
	c.gid = A(3);    \
	c.flags = A(4)
#define CHOWN_ARGS(A)  \
	c.name = A(0); \
	c.uid = A(1);  \
	c.gid = A(2)
#define FCHOWN_ARGS(A) \
	c.dfd = A(0);  \
	c.fd_only = 1; \
	c.uid = A(1);  \
	c.gid = A(2)

FILE_SYSCALL(fchownat, VIGIL_KIND_FILE_CHOWN, VIGIL_FILE_OP_FCHOWNAT, FCHOWNAT_ARGS)
FILE_SYSCALL(chown, VIGIL_KIND_FILE_CHOWN, VIGIL_FILE_OP_CHOWN, CHOWN_ARGS)
FILE_SYSCALL(lchown, VIGIL_KIND_FILE_CHOWN, VIGIL_FILE_OP_LCHOWN, CHOWN_ARGS)
FILE_SYSCALL(fchown, VIGIL_KIND_FILE_CHOWN, VIGIL_FILE_OP_FCHOWN, FCHOWN_ARGS)

/* ---- timestamps: utimensat (2.6.22; also what utimes/futimens use in glibc) ---- */

#define UTIMENSAT_ARGS(A)                                                     \
	c.dfd = A(0);                                                         \
	c.name = A(1);                                                        \
	c.fd_only = c.name == 0; /* futimens(): NULL name means dfd itself */ \
	c.flags = A(3)

FILE_SYSCALL(utimensat, VIGIL_KIND_FILE_UTIMES, VIGIL_FILE_OP_UTIMENSAT, UTIMENSAT_ARGS)
