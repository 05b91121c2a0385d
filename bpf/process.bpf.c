// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Process family: exec, fork, exit.
 *
 * Hooks are the sched_process_* tracepoints, stable since 2.6 and present
 * where kprobes are compiled out. Each comes twice: tp_btf (typed arguments,
 * 5.5+, BTF required) and raw_tp (4.17+) with the same arguments; the loader
 * autoloads one of them per probe. The classic tracepoint format (pid only)
 * is not enough: we need the task and linux_binprm pointers.
 */
#include "vigil_common.bpf.h"
#include "vigil_path.bpf.h"
#include "vigil_sock.bpf.h"

/* Set by the loader before load. */
const volatile __u32 vigil_max_arg_bytes = 8192;
/* Test only (--self_test_break=exec): exec calls bpf_get_current_task_btf(),
 * a tracing helper since 5.11, so older verifiers reject it and the kernel
 * matrix must say so. Unset, the call is dead code that the verifier skips. */
const volatile __u32 vigil_break_exec = 0;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Kernel constants that vmlinux.h does not carry (macros). */
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFBLK 0060000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define S_ISUID 0004000
#define S_ISGID 0002000
#define S_IXGRP 0000010
#define MINORBITS 20 /* kernel-internal dev_t: major in the top 12 bits */
#define EEXIST 17    /* include/uapi/asm-generic/errno-base.h */
/* include/uapi/linux/magic.h */
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define TMPFS_MAGIC 0x01021994
#define HUGETLBFS_MAGIC 0x958458f6
/* include/uapi/linux/personality.h: READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE |
 * ADDR_COMPAT_LAYOUT | MMAP_PAGE_ZERO */
#define PER_CLEAR_ON_SETID (0x0400000 | 0x0040000 | 0x0200000 | 0x0100000)
/* include/linux/security.h */
#define LSM_UNSAFE_PTRACE 2

/*
 * struct ovl_inode, only the two members we need. overlayfs is a module on
 * most distribution kernels (Debian: CONFIG_OVERLAY_FS=m), so the type is in
 * vmlinux BTF only where overlayfs is built in, and in the module's own BTF
 * (5.11+) only if the module was loaded before the sensor. The ___vigil
 * flavor lets libbpf relocate against whichever it finds; without one,
 * ovl_has_upper() falls back to the layout every kernel since 4.13 has had
 * ("ovl: move __upperdentry to ovl_inode"): the upper dentry pointer
 * directly follows the embedded VFS inode (still so in 6.x and 7.x).
 */
struct ovl_inode___vigil {
	struct inode vfs_inode;
	struct dentry *__upperdentry;
} __attribute__((preserve_access_index));

/* An overlayfs inode has an upper-layer copy (written or copied up in the
 * container) when __upperdentry is set; NULL means lower layers only. */
static __always_inline int ovl_has_upper(struct inode *inode)
{
	struct dentry *upper = NULL;
	long off;

	if (bpf_core_type_exists(struct ovl_inode___vigil) &&
	    bpf_core_field_exists(struct ovl_inode___vigil, __upperdentry) &&
	    bpf_core_field_exists(struct ovl_inode___vigil, vfs_inode))
		off = bpf_core_field_offset(struct ovl_inode___vigil, __upperdentry) -
		      bpf_core_field_offset(struct ovl_inode___vigil, vfs_inode);
	else
		off = bpf_core_type_size(struct inode);
	bpf_probe_read_kernel(&upper, sizeof(upper), (char *)inode + off);
	return upper != NULL;
}

/* memfd_create() names its shmem (or hugetlbfs) file "memfd:<name>" (3.17+). */
static __always_inline int is_memfd(struct dentry *dentry, unsigned long magic)
{
	char name[8] = {};

	if (magic != TMPFS_MAGIC && magic != HUGETLBFS_MAGIC)
		return 0;
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dentry, d_name.name));
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':';
}

/*
 * Facts about the file the kernel loaded (bprm->file: for a script, its
 * interpreter) and the credentials exec gave the new program. At
 * sched_process_exec the new creds are committed (task->cred) and
 * bprm->cred is already NULL, so the caller's creds are gone; the kernel left
 * its verdict in bprm->per_clear instead: bprm_fill_uid() (fs/exec.c) sets
 * PER_CLEAR_ON_SETID for a set-user/group-ID file it honours, and
 * cap_bprm_creds_from_file() (security/commoncap.c) when the new permitted
 * set is not a subset of the old one. Both since 2.6; the field is unchanged
 * through 7.x.
 */
static __always_inline __u32 exec_file_facts(struct task_struct *task, struct linux_binprm *bprm)
{
	struct file *file = BPF_CORE_READ(bprm, file);
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	unsigned long magic = BPF_CORE_READ(inode, i_sb, s_magic);
	const struct cred *cred;
	__u32 facts = 0, mode;

	if (!inode)
		return 0;
	/* Since 4.19 an overlayfs file's f_inode is the overlay inode (before,
	 * open handed out the real file; below our floor). */
	if (magic == OVERLAYFS_SUPER_MAGIC && ovl_has_upper(inode))
		facts |= VIGIL_EXEC_FACT_UPPER_LAYER;
	/* A memfd has no links and an unhashed dentry by birth: not "deleted". */
	if (is_memfd(dentry, magic))
		facts |= VIGIL_EXEC_FACT_MEMFD;
	else if (BPF_CORE_READ(inode, i_nlink) == 0 || !BPF_CORE_READ(dentry, d_hash.pprev))
		facts |= VIGIL_EXEC_FACT_DELETED; /* last link gone, or this name unlinked (d_unhashed) */

	if (!(BPF_CORE_READ(bprm, per_clear) & PER_CLEAR_ON_SETID))
		return facts;
	mode = BPF_CORE_READ(inode, i_mode);
	cred = BPF_CORE_READ(task, cred);
	/* A set-ID bit the kernel honoured moved the effective id to the file's
	 * owner; equal to the real id means no gain (root running a setuid-root
	 * file) or the kernel refused it (ptrace, no_new_privs). */
	if (mode & S_ISUID) {
		__u32 euid = BPF_CORE_READ(cred, euid.val);

		if (euid != BPF_CORE_READ(cred, uid.val) && euid == BPF_CORE_READ(inode, i_uid.val))
			facts |= VIGIL_EXEC_FACT_SETUID;
	}
	/* setgid without group-execute is mandatory locking, not set-group-ID. */
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) {
		__u32 egid = BPF_CORE_READ(cred, egid.val);

		if (egid != BPF_CORE_READ(cred, gid.val) && egid == BPF_CORE_READ(inode, i_gid.val))
			facts |= VIGIL_EXEC_FACT_SETGID;
	}
	/* per_clear without a set-ID bit: the permitted capabilities grew, from
	 * file capabilities (or root's exec restoring a set it had dropped).
	 * With no_new_privs or a shared fs the kernel cut them back again. */
	if (!(mode & S_ISUID) && (mode & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP) &&
	    !(BPF_CORE_READ(bprm, unsafe) & ~LSM_UNSAFE_PTRACE))
		facts |= VIGIL_EXEC_FACT_FILE_CAPS;
	return facts;
}

/* Character-device majors of terminals (Documentation/admin-guide/devices.txt):
 * BSD ptys 2/3, virtual consoles and ttyS 4, tty/console/ptmx 5, UNIX98 pty
 * slaves 136-143, ttyACM 166, ttyUSB 188, low-density serial 204, hvc 229.
 * A major number, not tty_fops: that symbol is static, not in BTF. */
static __always_inline int is_tty_major(__u32 major)
{
	return (major >= 2 && major <= 5) || (major >= 136 && major <= 143) || major == 166 || major == 188 ||
	       major == 204 || major == 229;
}

/* A socket file's private_data is its struct socket (sock_alloc_file()). */
static __always_inline void stdio_sock(struct vigil_stdio *s, struct file *file)
{
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_INET || family == AF_INET6)
		vigil_sock_tuple_of(&s->tuple, sk);
	else
		s->tuple.family = family; /* unix, netlink, ...: the family alone */
}

/*
 * fds 0, 1 and 2 as the new program has them: close-on-exec fds were closed
 * in begin_new_exec(), before this tracepoint. The fd array is read without
 * the RCU lock, as every tracing program must; the task is current and in
 * exec, so no other thread can be changing its table.
 */
static __always_inline void fill_stdio(struct vigil_exec *e, struct task_struct *task)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	__u32 max_fds = BPF_CORE_READ(fdt, max_fds);
	int i;

#pragma unroll
	for (i = 0; i < VIGIL_STDIO_FDS; i++) {
		struct vigil_stdio *s = &e->stdio[i];
		struct file *file = NULL;
		struct inode *inode;
		__u32 mode;

		__builtin_memset(s, 0, sizeof(*s));
		if (!fds || bpf_probe_read_kernel(&file, sizeof(file), &fds[i]))
			continue; /* VIGIL_FD_UNKNOWN */
		if (i >= max_fds || !file) {
			s->type = VIGIL_FD_CLOSED;
			continue;
		}
		inode = BPF_CORE_READ(file, f_inode);
		mode = BPF_CORE_READ(inode, i_mode) & S_IFMT;
		if (mode == S_IFSOCK) {
			s->type = VIGIL_FD_SOCKET;
			stdio_sock(s, file);
		} else if (mode == S_IFIFO) {
			s->type = VIGIL_FD_PIPE; /* pipefs pipes and FIFOs alike */
		} else if (mode == S_IFREG) {
			s->type = VIGIL_FD_FILE;
		} else if (mode == S_IFCHR) {
			s->type = is_tty_major(BPF_CORE_READ(inode, i_rdev) >> MINORBITS) ? VIGIL_FD_TTY
											  : VIGIL_FD_DEVICE;
		} else if (mode == S_IFBLK) {
			s->type = VIGIL_FD_DEVICE;
		} else {
			s->type = VIGIL_FD_OTHER; /* anon inodes (eventfd, ...), directories */
		}
	}
}

static __always_inline int handle_exec(struct task_struct *task, struct linux_binprm *bprm)
{
	struct vigil_exec *e = vigil_scratch_get(VIGIL_KIND_EXEC);
	struct mm_struct *mm;
	unsigned long arg_start, arg_end;
	__u64 total, len, limit = vigil_max_arg_bytes;
	long fn_len;
	char *args, *fn;
	struct vigil_path_buf *pb;

	if (!e || vigil_is_daemon(task))
		return 0;
	if (vigil_break_exec)
		bpf_get_current_task_btf();

	e->flags = 0;
	e->argc = BPF_CORE_READ(bprm, argc);
	e->facts = exec_file_facts(task, bprm);
	e->_pad0 = 0;
	fill_stdio(e, task);

	/* The new image's argv sits in its own memory by now; copy the whole
	 * NUL-separated block, so argv is exact and nothing is silently cut. */
	mm = BPF_CORE_READ(task, mm);
	arg_start = BPF_CORE_READ(mm, arg_start);
	arg_end = BPF_CORE_READ(mm, arg_end);
	total = arg_end > arg_start ? arg_end - arg_start : 0;
	/* Saturated before len is taken from it: clamping total after the
	 * copy, when it shares a register with len, leaves the 5.10 verifier
	 * with impossible bounds on len and it rejects `args + len` below. */
	if (total > 0xffffffffu)
		total = 0xffffffffu;
	e->args_total = total;
	len = total;
	if (limit > VIGIL_ARGS_MAX)
		limit = VIGIL_ARGS_MAX;
	if (len > limit) {
		len = limit;
		e->flags |= VIGIL_EXEC_ARGS_TRUNCATED;
	}
	vigil_barrier_var(len);
	if (len > VIGIL_ARGS_MAX)
		len = VIGIL_ARGS_MAX;
	args = (char *)(e + 1);
	if (len && bpf_probe_read_user(args, len, (void *)arg_start)) {
		e->flags |= VIGIL_EXEC_ARGS_READ_ERROR;
		vigil_count(VIGIL_KIND_EXEC, VIGIL_CNT_READ_ERROR);
		len = 0;
	}
	e->args_len = len;

	fn = args + len;
	fn_len = bpf_probe_read_kernel_str(fn, VIGIL_PATH_MAX, BPF_CORE_READ(bprm, filename));
	if (fn_len < 0) {
		fn_len = 0;
		vigil_count(VIGIL_KIND_EXEC, VIGIL_CNT_READ_ERROR);
	} else if (fn_len >= VIGIL_PATH_MAX) {
		/* A full buffer is either a name of exactly PATH_MAX - 1 characters
		 * (the longest execve takes) or a longer one cut short, as execveat()
		 * builds "/dev/fd/N/<name>": the source byte after the copy tells. */
		const char *src = BPF_CORE_READ(bprm, filename);
		char next = 0;

		fn_len = VIGIL_PATH_MAX;
		if (bpf_probe_read_kernel(&next, 1, src + VIGIL_PATH_MAX - 1) || next)
			e->flags |= VIGIL_EXEC_FILENAME_TRUNCATED;
	}
	e->filename_len = fn_len;

	/* The cwd the new image starts in, read now: a /proc read later races
	 * with the process changing it or exiting. */
	e->cwd_len = 0;
	pb = vigil_path_buf_get(0);
	if (pb) {
		struct vigil_path_ref cwd = vigil_path_of(vigil_cwd(), pb);

		vigil_barrier_var(fn_len);
		if (fn_len > VIGIL_PATH_MAX)
			fn_len = VIGIL_PATH_MAX;
		e->cwd_len = vigil_path_copy(fn + fn_len, pb->data, &cwd);
		if (cwd.truncated)
			e->flags |= VIGIL_EXEC_CWD_TRUNCATED;
	}

	total = sizeof(*e) + len + fn_len + e->cwd_len;
	vigil_barrier_var(total);
	if (total > VIGIL_SCRATCH_SIZE)
		return 0;
	vigil_fill_header_current(&e->hdr, VIGIL_KIND_EXEC, total); /* task is current */
	vigil_emit(e, total, VIGIL_KIND_EXEC);
	return 0;
}

static __always_inline int handle_fork(struct task_struct *parent, struct task_struct *child)
{
	struct vigil_fork e;

	/* Threads share the process; only a new thread group is a new process. */
	/* No vigil_is_daemon(): the child of a daemon is not one, and its
	 * birth is reported like its later calls. */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	vigil_fill_header(&e.hdr, VIGIL_KIND_FORK, sizeof(e), child);
	e.parent_tid = BPF_CORE_READ(parent, pid);
	e._pad0 = 0;
	vigil_emit(&e, sizeof(e), VIGIL_KIND_FORK);
	return 0;
}

/* A process whose exit is being reported: its tgid and its leader's start
 * time, unique for the process's life. */
struct exit_key {
	__u64 start_time;
	__u32 tgid;
	__u32 _pad;
};

/* Processes whose exit one of their threads has claimed. Threads leaving
 * together (exit_group) on several CPUs can each read signal->live as zero
 * below, once the last of them has decremented it: the first to claim the
 * process reports it. The thread that finds itself the last one left
 * deletes the claim, so the map holds only exits in progress. LRU: when no
 * thread could tell it was the last (vigil_last_thread() read a count
 * before another thread's release), the claim stays until evicted.
 * BPF_MAP_TYPE_LRU_HASH: 4.10. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct exit_key);
	__type(value, __u8);
} vigil_exited SEC(".maps");

/* Whether every other thread of the exiting task's process has already
 * passed this tracepoint. signal->nr_threads counts the threads still
 * hashed: a thread is unhashed after this tracepoint (release_task() from
 * exit_notify()), except a leader that leaves first, which stays as a
 * zombie until the last thread goes (its exit_state is set in exit_notify(),
 * also after this tracepoint). So 1, or 2 with the leader a zombie, means
 * this is the last. Read without the locks that change them: a stale value
 * only sends the exit to the claim path. */
static __always_inline bool vigil_last_thread(struct task_struct *task)
{
	int threads = BPF_CORE_READ(task, signal, nr_threads);

	if (threads == 1)
		return true;
	return threads == 2 && BPF_CORE_READ(task, group_leader, exit_state) != 0;
}

static __always_inline int handle_exit(struct task_struct *task)
{
	struct vigil_exit e;
	struct exit_key key = {};
	__u8 claimed = 1;

	/* do_exit() decrements signal->live before this tracepoint: zero means
	 * the last thread is leaving, i.e. the process exits. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0 || vigil_is_daemon(task))
		return 0;
	key.start_time = BPF_CORE_READ(task, group_leader, start_time);
	key.tgid = BPF_CORE_READ(task, tgid);
	if (vigil_last_thread(task)) {
		/* No other thread can still claim it: a claim here means one of
		 * them reported the exit. The common case, a single-threaded
		 * process, costs one lookup that misses instead of an insert,
		 * which in a full LRU map evicts. */
		if (bpf_map_lookup_elem(&vigil_exited, &key)) {
			bpf_map_delete_elem(&vigil_exited, &key);
			return 0;
		}
	} else if (bpf_map_update_elem(&vigil_exited, &key, &claimed, BPF_NOEXIST) == -EEXIST) {
		/* Only a claim already there stops the report: a full map must
		 * not cost an exit. */
		return 0;
	}
	vigil_fill_header_current(&e.hdr, VIGIL_KIND_EXIT, sizeof(e)); /* task is current */
	e.exit_code = BPF_CORE_READ(task, exit_code);
	e._pad0 = 0;
	vigil_emit(&e, sizeof(e), VIGIL_KIND_EXIT);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	vigil_hold_cpu();
	handle_exec(p, bprm);
	vigil_release_cpu();
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(vigil_exec_raw, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	vigil_hold_cpu();
	handle_exec(p, bprm);
	vigil_release_cpu();
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vigil_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return handle_fork(parent, child);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(vigil_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	return handle_fork(parent, child);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(vigil_exit_btf, struct task_struct *p)
{
	return handle_exit(p);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(vigil_exit_raw, struct task_struct *p)
{
	return handle_exit(p);
}
