/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps and helpers shared by every probe family. Each family is its own BPF
 * object (so one failing to load never takes the others down); the loader
 * creates these maps once and hands the same fds to every object with
 * bpf_map__reuse_fd() before load.
 */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "vigil_abi.h"

/* Tell the loader which ABI this object was built against. */
const volatile __u32 vigil_object_abi = VIGIL_ABI_VERSION;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 12); /* placeholder: the loader sets the size from config */
} vigil_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_stats);
} vigil_stats SEC(".maps");

struct vigil_scratch_buf {
	__u8 data[VIGIL_SCRATCH_SIZE];
};

/* One slot per CPU, indexed by CPU id. Not a PERCPU_ARRAY: those cap a value
 * at 32 KiB. Tracing programs do not migrate between CPUs while they run, but
 * they may be preempted: see vigil_hold_cpu(). The loader sets max_entries to
 * the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_scratch_buf);
} vigil_scratch SEC(".maps");

/*
 * The per-CPU buffers (vigil_scratch, the path buffers) are safe only while
 * no other program runs on the CPU between a program's first write and its
 * emit. A BPF program keeps its CPU but not always the CPU to itself: since
 * 5.11 the kernel disables only migration around trampoline programs
 * (fentry, fexit), and newer kernels run tracepoints, so their programs too,
 * preemptibly. On a kernel that preempts kernel code (PREEMPT, or
 * PREEMPT_LAZY, the default on x86 and arm64 in the newest kernels) another
 * task's exec or open can then run its program in the middle of ours and
 * overwrite the record half-built; the kernel matrix caught one garbled exec
 * record on 7.2. Every program that fills these buffers holds the CPU with
 * bpf_preempt_disable(), a kfunc since 6.10: the loader sets this flag when
 * the kernel's BTF has it. On older kernels the calls are dead code that the
 * verifier never visits (libbpf leaves an unresolved weak kfunc's call
 * empty). No bpf_tail_call() may happen while the CPU is held.
 */
extern void bpf_preempt_disable(void) __ksym __weak;
extern void bpf_preempt_enable(void) __ksym __weak;
const volatile __u32 vigil_preempt_kfuncs = 0;

static __always_inline void vigil_hold_cpu(void)
{
	if (vigil_preempt_kfuncs)
		bpf_preempt_disable();
}

static __always_inline void vigil_release_cpu(void)
{
	if (vigil_preempt_kfuncs)
		bpf_preempt_enable();
}

/*
 * Vigil's own daemons (the sensor, a collector on the same node), by tgid,
 * valued by the process start time in clock ticks (/proc/<pid>/stat), so
 * that a reused pid is never silenced.
 * The sensor fills it. Their calls are Vigil's bookkeeping (spool, acks,
 * cursors, map reads): reported, each would be shipped, acknowledged and
 * written again, an event loop. Only these processes: their children and
 * any other process touching Vigil's files are reported as usual.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_DAEMONS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} vigil_daemons SEC(".maps");

/* The task whose syscall or event a program runs in. */
static __always_inline struct task_struct *vigil_current_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

static __always_inline bool vigil_daemon_of(struct task_struct *task, __u32 tgid)
{
	__u64 *start = bpf_map_lookup_elem(&vigil_daemons, &tgid);

	/* /proc shows start_boottime in USER_HZ (100) ticks. */
	return start && *start == BPF_CORE_READ(task, group_leader, start_boottime) / 10000000;
}

/* Every probe asks this before it does any work; `task` is the process the
 * event would be about. */
static __always_inline bool vigil_is_daemon(struct task_struct *task)
{
	return vigil_daemon_of(task, BPF_CORE_READ(task, tgid));
}

/* vigil_is_daemon() of the current task, the common case: its tgid comes
 * from a helper rather than a read of the task, and the task is read only
 * for a daemon's pid. */
static __always_inline bool vigil_current_is_daemon(void)
{
	return vigil_daemon_of(vigil_current_task(), bpf_get_current_pid_tgid() >> 32);
}

/* Keeps clang from folding a bounds check into a form older verifiers reject. */
#define vigil_barrier_var(var) asm volatile("" : "+r"(var))

/*
 * The file behind descriptor `fd` of `task`, or NULL. The fd array is read
 * without the RCU lock, as every tracing program must; the callers look at
 * the current task inside its own syscall, or at one in exec, whose table no
 * other thread changes meanwhile.
 */
static __always_inline struct file *vigil_fd_file(struct task_struct *task, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/*
 * Calls in flight between a syscall's enter and exit programs. The key is the
 * thread (pids are unique across the system while the thread lives) with
 * `slot` in the high half, so one map can hold several kinds of call of one
 * thread (a bind's enter never meets a listen's exit). Such maps are LRU
 * hashes keyed by __u64: an exit that never comes (the thread was killed in
 * between) ages out instead of filling the map.
 */
static __always_inline __u64 vigil_call_key(__u32 slot)
{
	return ((__u64)slot << 32) | (__u32)bpf_get_current_pid_tgid();
}

/* Enter half: keeps `call` for this thread's exit; 0 on success. */
static __always_inline long vigil_call_put(void *map, __u32 slot, const void *call)
{
	__u64 key = vigil_call_key(slot);

	return bpf_map_update_elem(map, &key, call, BPF_ANY);
}

/* Exit half: what this thread's enter kept, or NULL; vigil_call_done() ends it. */
static __always_inline void *vigil_call_get(void *map, __u32 slot)
{
	__u64 key = vigil_call_key(slot);

	return bpf_map_lookup_elem(map, &key);
}

/* Forgets this thread's call; 0 when there was one. */
static __always_inline long vigil_call_done(void *map, __u32 slot)
{
	__u64 key = vigil_call_key(slot);

	return bpf_map_delete_elem(map, &key);
}

static __always_inline void vigil_count(__u32 kind, __u32 counter)
{
	__u32 zero = 0;
	struct vigil_stats *s = bpf_map_lookup_elem(&vigil_stats, &zero);

	if (s)
		s->counters[kind & (VIGIL_KIND_MAX - 1)][counter & (VIGIL_CNT_MAX - 1)]++;
}

static __always_inline void *vigil_scratch_get(__u32 kind)
{
	__u32 cpu = bpf_get_smp_processor_id();
	void *buf = bpf_map_lookup_elem(&vigil_scratch, &cpu);

	if (!buf)
		vigil_count(kind, VIGIL_CNT_DROP_SCRATCH);
	return buf;
}

/*
 * The one place records leave the kernel: every loss is counted per kind and
 * reason, so userspace can prove received + dropped == produced.
 */
/* When the reader was last woken (boot clock), by any family: one
 * slot that every object shares (the loader creates it), so that together
 * they wake the reader at most once per interval. Racy across CPUs on
 * purpose: a lost update costs one extra wake-up, never a late record. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vigil_wakeup SEC(".maps");

/* A record waits at most this long for a wake-up while others keep coming:
 * the sensor's --batch_interval, set by the loader. */
const volatile __u64 vigil_wakeup_interval_ns = 40 * 1000 * 1000;

/* `data` is a record: its header first, boot_ns filled. */
static __always_inline void vigil_emit(void *data, __u64 size, __u32 kind)
{
	/* A wake-up per record costs the reader more than the record, so the
	 * reader is woken at most once per interval; a record that comes
	 * within the interval is taken by the next wake-up or the reader's
	 * poll timeout. This keeps alerts at most one interval behind their
	 * syscall, at any rate, with at most one wake-up per interval. When an
	 * eighth of the buffer waits, sooner, but still at most sixteen times
	 * per interval: a reader that lags (starved of CPU, or stopped) gains
	 * nothing from a wake-up per record, and each costs the process whose
	 * syscall emits it an interrupt. bpf_ringbuf_query: 5.8, like the ring
	 * buffer itself. The time is the record's own: a clock read is not
	 * free (on a paravirtual clock, a read of the hypervisor's page). */
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&vigil_wakeup, &zero);
	__u64 now = ((const struct vigil_header *)data)->boot_ns;
	/* Signed: a record stamped before another CPU's wake-up is not late. */
	__s64 since = last ? (__s64)(now - *last) : (__s64)vigil_wakeup_interval_ns;
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (since >= (__s64)vigil_wakeup_interval_ns ||
	    (since >= (__s64)(vigil_wakeup_interval_ns / 16) &&
	     bpf_ringbuf_query(&vigil_events, BPF_RB_AVAIL_DATA) >=
		     bpf_ringbuf_query(&vigil_events, BPF_RB_RING_SIZE) / 8)) {
		flags = BPF_RB_FORCE_WAKEUP;
		if (last)
			*last = now;
	}
	if (bpf_ringbuf_output(&vigil_events, data, size, flags) == 0)
		vigil_count(kind, VIGIL_CNT_SENT);
	else
		vigil_count(kind, VIGIL_CNT_DROP_RINGBUF);
}

/*
 * Set by the loader when the kernel has bpf_get_current_task_btf() (5.11+
 * in every tracing program). Its task pointer carries the kernel's types,
 * so the program reads the fields of the task and of what it points to
 * with plain loads (which the verifier guards like probe reads: a bad
 * pointer reads as 0) instead of one helper call per field: the header of
 * each record costs about half as much (what remains is mostly the loads
 * themselves, often cache misses). It also gives task storage, which
 * tracing programs have since the same release (the loader probes both).
 * Unset, the helper calls are dead code that the verifier skips, as 5.10
 * needs.
 */
const volatile __u32 vigil_task_btf = 0;

/* A field of `src`, as BPF_CORE_READ(src, a, ...) reads it; with `btf`,
 * `src` is a pointer with the kernel's types and the fields are loaded
 * directly. `btf` is a constant wherever this is inlined, so only one of
 * the two is compiled. */
#define VIGIL_READ(btf, src, a, ...) ((btf) ? ___arrow(src, a, ##__VA_ARGS__) : BPF_CORE_READ(src, a, ##__VA_ARGS__))

/*
 * `task`'s struct upid at the deepest level of its struct pid: its number in
 * its own pid namespace (what pid_vnr() gives) and that namespace; of the
 * thread group leader when `leader`. thread_pid is there since 4.19.
 * numbers[] is a flexible array, so its element is reached by offset from the
 * relocated base, and read with BPF_CORE_READ: the verifier allows no
 * variable offset in a direct load.
 */
static __always_inline struct upid *vigil_task_upid_of(struct task_struct *task, bool leader, const bool btf)
{
	struct pid *pid = leader ? VIGIL_READ(btf, task, group_leader, thread_pid) : VIGIL_READ(btf, task, thread_pid);
	__u32 level = VIGIL_READ(btf, pid, level);

	vigil_barrier_var(level);
	if (level > 32) /* MAX_PID_NS_LEVEL */
		level = 0;
	return (struct upid *)((void *)pid + bpf_core_field_offset(struct pid, numbers) +
			       level * bpf_core_type_size(struct upid));
}

static __always_inline struct upid *vigil_task_upid(struct task_struct *task, bool leader)
{
	return vigil_task_upid_of(task, leader, false);
}

/* Fills who-did-it from `task`; `btf` as for VIGIL_READ. */
static __always_inline void vigil_fill_header_of(struct vigil_header *h, __u32 kind, __u32 size,
						 struct task_struct *task, const bool btf)
{
	struct task_struct *parent = VIGIL_READ(btf, task, real_parent);
	const struct cred *cred = VIGIL_READ(btf, task, cred);
	struct upid *up = vigil_task_upid_of(task, true, btf);

	h->abi_version = VIGIL_ABI_VERSION;
	h->kind = kind;
	h->size = size;
	h->boot_ns = bpf_ktime_get_boot_ns();
	/* start_boottime: named real_start_time before 5.5, below our 5.8 floor. */
	h->proc.start_boottime_ns = VIGIL_READ(btf, task, group_leader, start_boottime);
	h->proc.parent_start_boottime_ns = VIGIL_READ(btf, parent, group_leader, start_boottime);
	/* dfl_cgrp is the cgroup v2 hierarchy, also on hybrid v1/v2 nodes; its
	 * kernfs id is what bpf_get_current_cgroup_id() and name_to_handle_at() give. */
	h->proc.cgroup_id = VIGIL_READ(btf, task, cgroups, dfl_cgrp, kn, id);
	h->proc.pid = VIGIL_READ(btf, task, tgid);
	h->proc.tid = VIGIL_READ(btf, task, pid);
	h->proc.ppid = VIGIL_READ(btf, parent, tgid);
	h->proc.uid = VIGIL_READ(btf, cred, uid.val);
	h->proc.gid = VIGIL_READ(btf, cred, gid.val);
	h->proc.euid = VIGIL_READ(btf, cred, euid.val);
	h->proc.egid = VIGIL_READ(btf, cred, egid.val);
	h->proc._pad0 = 0;
	BPF_CORE_READ_STR_INTO(&h->proc.comm, task, comm);
	h->proc.ns_pid = BPF_CORE_READ(up, nr);
	h->proc.pid_ns = BPF_CORE_READ(up, ns, ns.inum);
	/* nsproxy is NULL once an exiting task dropped its namespaces: reads give 0. */
	h->proc.mnt_ns = VIGIL_READ(btf, task, nsproxy, mnt_ns, ns.inum);
	h->proc.net_ns = VIGIL_READ(btf, task, nsproxy, net_ns, ns.inum);
}

/* Fills who-did-it from `task` (not always current: fork reports the child). */
static __always_inline void vigil_fill_header(struct vigil_header *h, __u32 kind, __u32 size, struct task_struct *task)
{
	vigil_fill_header_of(h, kind, size, task, false);
}

/* vigil_fill_header() of the current task, the common case: see vigil_task_btf. */
static __always_inline void vigil_fill_header_current(struct vigil_header *h, __u32 kind, __u32 size)
{
	if (vigil_task_btf)
		vigil_fill_header_of(h, kind, size, bpf_get_current_task_btf(), true);
	else
		vigil_fill_header_of(h, kind, size, vigil_current_task(), false);
}

#endif /* VIGIL_COMMON_BPF_H */
