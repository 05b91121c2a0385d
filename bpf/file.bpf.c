// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * File family: opens for write/create/truncate and of sensitive paths,
 * unlink, rename, chmod, chown, utimensat.
 *
 * Hooks are the syscalls/sys_{enter,exit}_* tracepoints (2.6.37+, need
 * CONFIG_FTRACE_SYSCALLS, which every distribution kernel has): they exist
 * where kprobes and fentry do not (this host's 6.18), and give the syscall's
 * own arguments and result. The enter half resolves the path the process
 * named (against its cwd or dirfd) and applies the filters, so a filtered
 * call costs one path walk and never reaches the ring buffer; the exit half
 * adds the result and emits. What they miss: io_uring opens (IORING_OP_OPENAT
 * never enters a syscall), files changed through mmap, and 32-bit compat
 * syscalls, which have their own tracepoint-less entry on x86_64.
 *
 * Opens have a better hook where the kernel has BPF trampolines: see
 * vigil_file_open_fexit below.
 */
#include "vigil_common.bpf.h"
#include "vigil_path.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load. */
const volatile __u32 vigil_file_writes_only = 1; /* drop read-only opens of non-sensitive paths */
const volatile __u32 vigil_file_has_include = 0; /* the include map is non-empty */

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
	__u32 vflags;
	__u32 fd_only; /* the path is the file of descriptor dfd */
	__u32 recheck; /* a path was unreadable at enter: filter again at exit */
};

/* Calls kept at enter (vigil_call_put); the loader sets the size from config. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct file_call);
} vigil_file_calls SEC(".maps");

/* Loads the lookup key from the path once; every prefix map then takes it. */
static __always_inline void prefix_key_fill(struct vigil_path_buf *pb, struct vigil_path_ref *ref)
{
	__u32 len = ref->len ? ref->len - 1 : 0; /* without the NUL */

	if (len > VIGIL_PREFIX_MAX)
		len = VIGIL_PREFIX_MAX;
	pb->key.prefixlen = len * 8;
	bpf_probe_read_kernel(pb->key.data, VIGIL_PREFIX_MAX, pb->data + (ref->start & (2 * VIGIL_PATH_MAX - 1)));
}

static __always_inline int prefix_match(void *map, struct vigil_path_buf *pb)
{
	return bpf_map_lookup_elem(map, &pb->key) != NULL;
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

	prefix_key_fill(pb, ref);
	sensitive = prefix_match(&vigil_file_sensitive, pb);
	if (!sensitive && vigil_file_writes_only && c->kind == VIGIL_KIND_FILE_OPEN &&
	    (c->flags & O_ACCMODE) == O_RDONLY && !(c->flags & (O_CREAT | O_TRUNC)))
		return 0;
	if (prefix_match(&vigil_file_exclude, pb))
		return 0;
	if (sensitive) {
		*vflags |= VIGIL_FILE_SENSITIVE;
		return 1;
	}
	if (vigil_file_has_include && !prefix_match(&vigil_file_include, pb))
		return 0;
	return 1;
}

/*
 * Resolves the call's path(s) and decides; 1 to report it. A name the
 * process has not touched yet may not be paged in at enter (tracepoints
 * cannot fault it in); such a call is kept with `recheck` and decided at
 * exit, after the kernel itself has read the name.
 */
static __always_inline int file_filter(struct file_call *c)
{
	int keep = 0;

	c->recheck = 0;
	c->vflags = 0;
	for (__u32 i = 0; i < 2; i++) {
		struct vigil_path_buf *pb = vigil_path_buf_get(0);
		struct vigil_path_ref ref;

		if (!pb)
			return 0;
		if (i == 0) {
			ref = vigil_path_at(c->dfd, c->fd_only ? NULL : (const char *)c->name, pb);
		} else {
			if (!c->name2)
				break;
			ref = vigil_path_at(c->dfd2, (const char *)c->name2, pb);
		}
		if (ref.len == 0) {
			c->recheck = 1;
			keep = 1;
			continue;
		}
		keep |= path_wanted(c, pb, &ref, &c->vflags);
	}
	return keep;
}

/* Calls kept at enter whose exit has not run yet (an upper bound: a thread
 * killed in between, or an LRU eviction, leaves it high, which only costs
 * the lookup below). At 0, an exit half has nothing to look up. */
__u64 vigil_file_pending = 0;

/*
 * The enter half common to every syscall, in one program that each
 * syscall's enter program tail-calls (with the call in a per-CPU slot), so
 * the verifier checks the path walk and the filters once, not once per
 * syscall: that keeps start-up in seconds. Tracing programs do not nest on
 * a CPU (bpf_prog_active), so the slot is not overwritten in between.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_call);
} vigil_file_args SEC(".maps");

/* Slot 0: vigil_file_filter, set by the loader after load. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vigil_file_tail SEC(".maps");

SEC("tracepoint")
int vigil_file_filter(void *ctx)
{
	__u32 zero = 0;
	struct file_call *slot = bpf_map_lookup_elem(&vigil_file_args, &zero);
	struct file_call c;

	if (!slot)
		return 0;
	c = *slot;
	if (!file_filter(&c))
		return 0;
	if (vigil_call_put(&vigil_file_calls, 0, &c) == 0)
		__sync_fetch_and_add(&vigil_file_pending, 1);
	return 0;
}

static __always_inline int read_only_open(const struct file_call *c)
{
	return vigil_file_writes_only && c->kind == VIGIL_KIND_FILE_OPEN && (c->flags & O_ACCMODE) == O_RDONLY &&
	       !(c->flags & (O_CREAT | O_TRUNC));
}

/*
 * The bulk of all file syscalls is a read-only open of an absolute path that
 * is not sensitive. It is decided here, with the name read straight into the
 * per-CPU lookup key and one prefix lookup: no copy into the argument slot,
 * no tail call, no path buffer, and nothing left for the exit half. For an
 * absolute name the full filter sees the same bytes (vigil_path_at takes it
 * as is), so the decision is the same. Anything else (a relative name, a
 * name not paged in yet, one longer than the key) takes the full filter.
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
	return !prefix_match(&vigil_file_sensitive, pb);
}

static __always_inline int file_enter(void *ctx, struct file_call *c)
{
	__u32 zero = 0;

	if (vigil_is_daemon(vigil_current_task()))
		return 0;
	if (read_only_open_dropped(c))
		return 0;
	if (bpf_map_update_elem(&vigil_file_args, &zero, c, BPF_ANY) == 0)
		bpf_tail_call(ctx, &vigil_file_tail, 0);
	/* Only when the loader did not fill the slot: nothing is reported. */
	return 0;
}

static __always_inline int file_exit(long ret)
{
	struct file_call *pending;
	struct vigil_path_buf *pb;
	struct vigil_path_ref ref;
	struct vigil_file *e;
	struct file_call c;
	__u32 kind, len, len2 = 0;
	char *dst;

	if (!vigil_file_pending)
		return 0;
	pending = vigil_call_get(&vigil_file_calls, 0);
	if (!pending)
		return 0;
	c = *pending;
	if (vigil_call_done(&vigil_file_calls, 0) == 0)
		__sync_fetch_and_add(&vigil_file_pending, -1);
	kind = c.kind;

	e = vigil_scratch_get(kind);
	pb = vigil_path_buf_get(0);
	if (!e || !pb)
		return 0;
	e->result = ret;
	e->op = c.op;
	e->flags = c.flags;
	e->mode = c.mode;
	e->uid = c.uid;
	e->gid = c.gid;
	e->vflags = c.vflags;
	/* With recheck, the filters run here on the paths as built below (a
	 * path still unreadable is reported, flagged). In map memory: see
	 * vigil_path_buf.pos. */
	pb->keep = !c.recheck;

	/* Resolved again rather than kept from enter: a path is 8 KiB of
	 * map value per call in flight, and only kept calls get here. */
	ref = vigil_path_at(c.dfd, c.fd_only ? NULL : (const char *)c.name, pb);
	dst = (char *)(e + 1);
	len = vigil_path_copy(dst, pb->data, &ref);
	if (len == 0) {
		e->vflags |= VIGIL_FILE_READ_ERROR;
		vigil_count(kind, VIGIL_CNT_READ_ERROR);
	}
	if (ref.truncated)
		e->vflags |= VIGIL_FILE_PATH_TRUNCATED;
	if (c.recheck && (len == 0 || path_wanted(&c, pb, &ref, &e->vflags)))
		pb->keep = 1;
	if (c.name2) {
		ref = vigil_path_at(c.dfd2, (const char *)c.name2, pb);
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
		if (c.recheck && (len2 == 0 || path_wanted(&c, pb, &ref, &e->vflags)))
			pb->keep = 1;
	}
	if (!pb->keep)
		return 0;
	e->path_len = len;
	e->path2_len = len2;
	vigil_fill_header(&e->hdr, kind, sizeof(*e) + len + len2, vigil_current_task());
	vigil_emit(e, sizeof(*e) + len + len2, kind);
	return 0;
}

/* Argument i of a sys_enter_* tracepoint. */
#define ARG(i) (ctx->args[i])

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

/* ---- open: openat (2.6.16), openat2 (5.6), open, creat ---- */

SEC("tracepoint/syscalls/sys_enter_openat")
int vigil_file_openat(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_OPEN, VIGIL_FILE_OP_OPENAT);
	c.dfd = ARG(0);
	c.name = ARG(1);
	c.flags = ARG(2);
	c.mode = ARG(3);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int vigil_file_openat2(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_OPEN, VIGIL_FILE_OP_OPENAT2);
	struct open_how how = {};

	c.dfd = ARG(0);
	c.name = ARG(1);
	bpf_probe_read_user(&how, sizeof(how), (void *)ARG(2));
	c.flags = how.flags;
	c.mode = how.mode;
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_open")
int vigil_file_open(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_OPEN, VIGIL_FILE_OP_OPEN);
	c.name = ARG(0);
	c.flags = ARG(1);
	c.mode = ARG(2);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int vigil_file_creat(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_OPEN, VIGIL_FILE_OP_CREAT);
	c.name = ARG(0);
	c.flags = O_CREAT | O_WRONLY | O_TRUNC; /* what creat() means */
	c.mode = ARG(1);
	return file_enter(ctx, &c);
}

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
	struct vigil_path_buf *pb;
	struct vigil_path_ref ref;
	struct vigil_file *e;
	__u32 len, vflags = 0;

	c.dfd = dfd;
	c.name = (__u64)filename;
	/* As the caller passed them, as the tracepoints see them: every open
	 * syscall adds O_LARGEFILE itself on a 64-bit kernel (openat2 unless
	 * O_PATH), and 64-bit callers do not pass it. */
	c.flags = BPF_CORE_READ(how, flags) & ~O_LARGEFILE;
	c.mode = BPF_CORE_READ(how, mode);
	if (BPF_CORE_READ(how, resolve))
		c.op = VIGIL_FILE_OP_OPENAT2;
	if (vigil_is_daemon(vigil_current_task()))
		return 0;
	if (read_only_open_dropped(&c))
		return 0;

	/* One path walk, for the filters and the record alike. */
	pb = vigil_path_buf_get(0);
	if (!pb)
		return 0;
	ref = vigil_path_at(c.dfd, (const char *)c.name, pb);
	if (ref.len != 0 && !path_wanted(&c, pb, &ref, &vflags))
		return 0;
	e = vigil_scratch_get(c.kind);
	if (!e)
		return 0;
	e->result = ret;
	e->op = c.op;
	e->flags = c.flags;
	e->mode = c.mode;
	e->uid = c.uid;
	e->gid = c.gid;
	e->vflags = vflags;
	e->path2_len = 0;
	len = vigil_path_copy((char *)(e + 1), pb->data, &ref);
	if (len == 0) {
		/* Unreadable (evicted since the kernel read it): reported, flagged. */
		e->vflags |= VIGIL_FILE_READ_ERROR;
		vigil_count(c.kind, VIGIL_CNT_READ_ERROR);
	}
	if (ref.truncated)
		e->vflags |= VIGIL_FILE_PATH_TRUNCATED;
	e->path_len = len;
	vigil_fill_header(&e->hdr, c.kind, sizeof(*e) + len, vigil_current_task());
	vigil_emit(e, sizeof(*e) + len, c.kind);
	return 0;
}

/* ---- unlink: unlinkat, unlink, rmdir ---- */

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int vigil_file_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_UNLINK, VIGIL_FILE_OP_UNLINKAT);
	c.dfd = ARG(0);
	c.name = ARG(1);
	c.flags = ARG(2);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int vigil_file_unlink(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_UNLINK, VIGIL_FILE_OP_UNLINK);
	c.name = ARG(0);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_rmdir")
int vigil_file_rmdir(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_UNLINK, VIGIL_FILE_OP_RMDIR);
	c.name = ARG(0);
	c.flags = AT_REMOVEDIR;
	return file_enter(ctx, &c);
}

/* ---- rename: renameat2 (3.15), renameat, rename ---- */

SEC("tracepoint/syscalls/sys_enter_renameat2")
int vigil_file_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_RENAME, VIGIL_FILE_OP_RENAMEAT2);
	c.dfd = ARG(0);
	c.name = ARG(1);
	c.dfd2 = ARG(2);
	c.name2 = ARG(3);
	c.flags = ARG(4);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int vigil_file_renameat(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_RENAME, VIGIL_FILE_OP_RENAMEAT);
	c.dfd = ARG(0);
	c.name = ARG(1);
	c.dfd2 = ARG(2);
	c.name2 = ARG(3);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_rename")
int vigil_file_rename(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_RENAME, VIGIL_FILE_OP_RENAME);
	c.name = ARG(0);
	c.name2 = ARG(1);
	return file_enter(ctx, &c);
}

/* ---- chmod: fchmodat, fchmodat2 (6.6), chmod, fchmod ---- */

SEC("tracepoint/syscalls/sys_enter_fchmodat")
int vigil_file_fchmodat(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_CHMOD, VIGIL_FILE_OP_FCHMODAT);
	c.dfd = ARG(0);
	c.name = ARG(1);
	c.mode = ARG(2);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_fchmodat2")
int vigil_file_fchmodat2(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_CHMOD, VIGIL_FILE_OP_FCHMODAT2);
	c.dfd = ARG(0);
	c.name = ARG(1);
	c.mode = ARG(2);
	c.flags = ARG(3);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_chmod")
int vigil_file_chmod(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_CHMOD, VIGIL_FILE_OP_CHMOD);
	c.name = ARG(0);
	c.mode = ARG(1);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_fchmod")
int vigil_file_fchmod(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_CHMOD, VIGIL_FILE_OP_FCHMOD);
	c.dfd = ARG(0);
	c.fd_only = 1;
	c.mode = ARG(1);
	return file_enter(ctx, &c);
}

/* ---- chown: fchownat, chown, lchown, fchown ---- */

SEC("tracepoint/syscalls/sys_enter_fchownat")
int vigil_file_fchownat(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_CHOWN, VIGIL_FILE_OP_FCHOWNAT);
	c.dfd = ARG(0);
	c.name = ARG(1);
	c.uid = ARG(2);
	c.gid = ARG(3);
	c.flags = ARG(4);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_chown")
int vigil_file_chown(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_CHOWN, VIGIL_FILE_OP_CHOWN);
	c.name = ARG(0);
	c.uid = ARG(1);
	c.gid = ARG(2);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_lchown")
int vigil_file_lchown(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_CHOWN, VIGIL_FILE_OP_LCHOWN);
	c.name = ARG(0);
	c.uid = ARG(1);
	c.gid = ARG(2);
	return file_enter(ctx, &c);
}

SEC("tracepoint/syscalls/sys_enter_fchown")
int vigil_file_fchown(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_CHOWN, VIGIL_FILE_OP_FCHOWN);
	c.dfd = ARG(0);
	c.fd_only = 1;
	c.uid = ARG(1);
	c.gid = ARG(2);
	return file_enter(ctx, &c);
}

/* ---- timestamps: utimensat (2.6.22; also what utimes/futimens use in glibc) ---- */

SEC("tracepoint/syscalls/sys_enter_utimensat")
int vigil_file_utimensat(struct trace_event_raw_sys_enter *ctx)
{
	FILE_CALL(VIGIL_KIND_FILE_UTIMES, VIGIL_FILE_OP_UTIMENSAT);
	c.dfd = ARG(0);
	c.name = ARG(1);
	c.fd_only = c.name == 0; /* futimens(): NULL name means dfd itself */
	c.flags = ARG(3);
	return file_enter(ctx, &c);
}
