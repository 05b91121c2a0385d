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

/* Set by the loader before load. */
const volatile __u32 vigil_max_arg_bytes = 8192;
/* Test only (--self_test_break=exec): exec calls bpf_get_current_task_btf(),
 * a tracing helper since 5.11, so older verifiers reject it and the kernel
 * matrix must say so. Unset, the call is dead code that the verifier skips. */
const volatile __u32 vigil_break_exec = 0;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

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
	vigil_fill_header(&e->hdr, VIGIL_KIND_EXEC, total, task);
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

static __always_inline int handle_exit(struct task_struct *task)
{
	struct vigil_exit e;

	/* do_exit() decrements signal->live before this tracepoint: zero means
	 * the last thread is leaving, i.e. the process exits. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0 || vigil_is_daemon(task))
		return 0;
	vigil_fill_header(&e.hdr, VIGIL_KIND_EXIT, sizeof(e), task);
	e.exit_code = BPF_CORE_READ(task, exit_code);
	e._pad0 = 0;
	vigil_emit(&e, sizeof(e), VIGIL_KIND_EXIT);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return handle_exec(p, bprm);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(vigil_exec_raw, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return handle_exec(p, bprm);
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
