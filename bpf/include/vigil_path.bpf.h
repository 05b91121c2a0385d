/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Absolute paths built in the kernel, for every family that reports one.
 *
 * A path is walked from its dentry up to the process's root (task->fs->root,
 * so a container sees its own "/"), crossing mount points through
 * mount->mnt_mountpoint and mnt_parent, as d_path() does. bpf_d_path() would
 * do it for us, but only from fentry/LSM programs on an allow-list of hooks,
 * none of them tracepoints. Reading user paths and the cwd at the time of the
 * call, in the kernel, avoids the race of a later /proc/<pid>/cwd read.
 *
 * Symlinks in the cwd are resolved (the kernel keeps the physical cwd, as
 * /proc/<pid>/cwd shows it); "." and ".." in the name the process gave are
 * kept as given.
 */
#ifndef VIGIL_PATH_BPF_H
#define VIGIL_PATH_BPF_H

#include "vigil_common.bpf.h"

/* Directory levels walked; a deeper path is cut at the top and flagged. Bounded
 * loops need 5.3+, below our 5.8 floor. */
#define VIGIL_PATH_DEPTH 64
#define VIGIL_NAME_MAX 255
#define VIGIL_AT_FDCWD -100

/*
 * Two halves of PATH_MAX: a directory is written backwards into the first,
 * ending at its last byte, and a relative name is copied into the second, so
 * "dir/name" comes out contiguous without another copy. Offsets are masked
 * into the first half, which keeps every write in bounds for the verifier.
 */
struct vigil_path_buf {
	char data[2 * VIGIL_PATH_MAX];
	struct vigil_prefix_key key; /* room for a prefix-map lookup of this path */
	/* The walk's write position lives here, not in a register: the verifier
	 * does not track map memory, so every loop iteration looks alike to it
	 * and its states prune; a tracked position makes each one unique and
	 * blows the 1M-instruction budget. */
	__u32 pos;
	/* For the caller: a decision kept in map memory, for the same reason. */
	__u32 keep;
};

/* Two per CPU: rename reports two paths. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct vigil_path_buf);
} vigil_path_bufs SEC(".maps");

static __always_inline struct vigil_path_buf *vigil_path_buf_get(__u32 index)
{
	return bpf_map_lookup_elem(&vigil_path_bufs, &index);
}

/* A resolved path: buf->data[start .. start + len), NUL included. */
struct vigil_path_ref {
	__u32 start;
	__u32 len;
	__u32 truncated;
};

/*
 * Writes the directory `path` backwards so that it ends just before
 * data[VIGIL_PATH_MAX - 1]; returns where it starts (VIGIL_PATH_MAX - 1 for
 * the root: nothing written).
 */
static __always_inline __u32 vigil_path_walk(const struct path *path, struct vigil_path_buf *pb, __u32 *truncated)
{
	char *data = pb->data;
	struct task_struct *task = vigil_current_task();
	struct dentry *root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	struct dentry *dentry = BPF_CORE_READ(path, dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(path, mnt);
	/* struct mount wraps the vfsmount the path points to (container_of). */
	struct mount *mnt = (struct mount *)((char *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
	int i;

	pb->pos = VIGIL_PATH_MAX - 1;
	*truncated = 1;
	for (i = 0; i < VIGIL_PATH_DEPTH; i++) {
		struct dentry *mnt_root, *parent;
		const unsigned char *name;
		__u32 len, pos = pb->pos;

		if (dentry == root_dentry && vfsmnt == root_mnt) {
			*truncated = 0;
			break;
		}
		mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			/* The top of the mount tree (or outside the process's root,
			 * as for a file opened before chroot): done. */
			if (dentry != mnt_root || mnt == mnt_parent) {
				*truncated = 0;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (struct vfsmount *)((char *)mnt + bpf_core_field_offset(struct mount, mnt));
			continue;
		}
		len = BPF_CORE_READ(dentry, d_name.len);
		name = BPF_CORE_READ(dentry, d_name.name);
		if (len > VIGIL_NAME_MAX)
			len = VIGIL_NAME_MAX;
		if (len + 1 > pos)
			break; /* longer than PATH_MAX: keep the deepest part */
		pos -= len;
		bpf_probe_read_kernel(data + (pos & (VIGIL_PATH_MAX - 1)), len, name);
		pos -= 1;
		data[pos & (VIGIL_PATH_MAX - 1)] = '/';
		pb->pos = pos;
		dentry = parent;
	}
	return pb->pos & (VIGIL_PATH_MAX - 1);
}

/* The absolute path of `path` itself (a cwd, an open file). */
static __always_inline struct vigil_path_ref vigil_path_of(const struct path *path, struct vigil_path_buf *pb)
{
	struct vigil_path_ref ref = {};
	char *data = pb->data;
	__u32 pos = vigil_path_walk(path, pb, &ref.truncated);

	if (pos == VIGIL_PATH_MAX - 1) {
		pos -= 1;
		data[pos] = '/';
	}
	data[VIGIL_PATH_MAX - 1] = '\0';
	ref.start = pos;
	ref.len = VIGIL_PATH_MAX - pos;
	return ref;
}

/* The current process's working directory. */
static __always_inline const struct path *vigil_cwd(void)
{
	struct task_struct *task = vigil_current_task();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);

	return __builtin_preserve_access_index(&fs->pwd);
}

/*
 * The absolute path of `name` (user memory) as an *at() syscall resolves it:
 * absolute as given, or relative to directory fd `dfd` (AT_FDCWD: the cwd).
 * An empty name (AT_EMPTY_PATH) or a NULL one (utimensat on an fd) is `dfd`
 * itself. len == 0 when nothing could be read.
 */
static __always_inline struct vigil_path_ref vigil_path_at(int dfd, const char *name, struct vigil_path_buf *pb)
{
	char *data = pb->data;
	struct vigil_path_ref ref = {};
	const struct path *base;
	struct file *file;
	long n = 1;

	if (name) {
		n = bpf_probe_read_user_str(data + VIGIL_PATH_MAX, VIGIL_PATH_MAX, name);
		if (n <= 0)
			return ref;
		if (data[VIGIL_PATH_MAX] == '/') {
			ref.start = VIGIL_PATH_MAX;
			ref.len = n;
			return ref;
		}
	}
	if (dfd == VIGIL_AT_FDCWD) {
		base = vigil_cwd();
	} else {
		file = vigil_fd_file(vigil_current_task(), dfd);
		if (!file)
			return ref;
		base = __builtin_preserve_access_index(&file->f_path);
	}
	if (n == 1)
		return vigil_path_of(base, pb);
	ref.start = vigil_path_walk(base, pb, &ref.truncated);
	data[VIGIL_PATH_MAX - 1] = '/';
	ref.len = VIGIL_PATH_MAX - ref.start + n;
	return ref;
}

/*
 * Copies a resolved path into a record at `dst` (room for VIGIL_PATH_MAX),
 * cutting it to VIGIL_PATH_MAX; returns the bytes written, NUL included.
 */
static __always_inline __u32 vigil_path_copy(char *dst, const char *data, struct vigil_path_ref *ref)
{
	__u32 len = ref->len;

	if (len == 0)
		return 0;
	if (len > VIGIL_PATH_MAX) {
		len = VIGIL_PATH_MAX;
		ref->truncated = 1;
	}
	vigil_barrier_var(len);
	if (len > VIGIL_PATH_MAX)
		len = VIGIL_PATH_MAX;
	if (len < 1)
		return 0;
	bpf_probe_read_kernel(dst, len, data + (ref->start & (2 * VIGIL_PATH_MAX - 1)));
	dst[(len - 1) & (VIGIL_PATH_MAX - 1)] = '\0';
	return len;
}

#endif /* VIGIL_PATH_BPF_H */
