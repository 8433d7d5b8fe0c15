// SPDX-License-Identifier: GPL-2.0
/*
 * Limits: contexts in total and per user, the pinned-memory budget, the
 * module parameters' own validation and the device node's mode. Each test
 * lowers a limit through /sys/module/kaio/parameters and restores it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

/* The value of the line "NAME<sep>value" of file @path, or -1. */
static long long named_value(const char *path, const char *name, char sep)
{
	char line[128];
	long long v = -1;
	size_t n = strlen(name);
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == sep)
			v = strtoll(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* One "name:\tvalue" line of /sys/kernel/debug/kaio/stats, or -1. */
static long long debugfs_value(const char *name)
{
	return named_value("/sys/kernel/debug/kaio/stats", name, ':');
}

/* Written and synced, then dropped from the page cache: reads are cold. */
static int drop_cache(int fd)
{
	if (fsync(fd))
		return -errno;
	return -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static int setup_ctx(int dev)
{
	struct kaio_setup s = { .nr_events = 1 };

	return t_setup_raw(dev, &s);
}

/* Lowers one parameter for a test and puts the old value back. */
FIXTURE(param) {
	int dev;
	char name[64];
	char saved[64];
	int fds[8];
	int nfds;
};

FIXTURE_SETUP(param)
{
	self->nfds = 0;
	self->name[0] = '\0';
	KAIO_DEV_OPEN(self->dev);
}

FIXTURE_TEARDOWN(param)
{
	while (self->nfds > 0)
		close(self->fds[--self->nfds]);
	if (self->name[0])
		t_param_write(self->name, self->saved);
	if (self->dev >= 0)
		close(self->dev);
}

static int lower(struct _test_data_param *self, const char *name,
		 const char *value)
{
	int ret;

	snprintf(self->name, sizeof(self->name), "%s", name);
	ret = t_param_read(name, self->saved, sizeof(self->saved));
	if (ret) {
		self->name[0] = '\0';
		return ret;
	}
	return t_param_write(name, value);
}

TEST_F(param, max_user_contexts_EAGAIN_then_freed_by_close)
{
	int i;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, lower(self, "max_user_contexts", "3"));
	for (i = 0; i < 3; i++) {
		self->fds[self->nfds] = setup_ctx(self->dev);
		ASSERT_LE(0, self->fds[self->nfds]);
		self->nfds++;
	}
	EXPECT_EQ(-EAGAIN, setup_ctx(self->dev));
	close(self->fds[--self->nfds]);
	self->fds[self->nfds] = setup_ctx(self->dev);
	ASSERT_LE(0, self->fds[self->nfds]);
	self->nfds++;
}

/* The count is per user: another uid is not held back by root's. */
TEST_F(param, max_user_contexts_counts_each_user_apart)
{
	int status, i;
	pid_t pid;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, lower(self, "max_user_contexts", "2"));
	for (i = 0; i < 2; i++) {
		self->fds[self->nfds] = setup_ctx(self->dev);
		ASSERT_LE(0, self->fds[self->nfds]);
		self->nfds++;
	}
	ASSERT_EQ(-EAGAIN, setup_ctx(self->dev));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int dev, fd;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		dev = open("/dev/kaio", O_RDWR | O_CLOEXEC);
		if (dev < 0)
			_exit(3);
		fd = setup_ctx(dev);
		_exit(fd >= 0 ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(param, max_contexts_EAGAIN)
{
	long long open_now = debugfs_value("contexts");
	char value[24];
	int i;

	KAIO_SKIPPED_IN_SETUP();
	/* Contexts of other programs may be open: count from what is. */
	ASSERT_LE(0, open_now);		/* -1: no debugfs file */
	snprintf(value, sizeof(value), "%lld", open_now + 2);
	ASSERT_EQ(0, lower(self, "max_contexts", value));
	for (i = 0; i < 2; i++) {
		self->fds[self->nfds] = setup_ctx(self->dev);
		ASSERT_LE(0, self->fds[self->nfds]);
		self->nfds++;
	}
	EXPECT_EQ(-EAGAIN, setup_ctx(self->dev));
}

TEST_F(param, zero_contexts_limit_refused_EINVAL)
{
	char before[64], after[64];

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_param_read("max_contexts", before, sizeof(before)));
	EXPECT_EQ(-EINVAL, t_param_write("max_contexts", "0"));
	EXPECT_EQ(-EINVAL, t_param_write("max_user_contexts", "0"));
	ASSERT_EQ(0, t_param_read("max_contexts", after, sizeof(after)));
	EXPECT_STREQ(before, after);
}

/*
 * Native AIO never refuses a request for its size: neither does kaio's pin
 * budget (safety review, finding 6; kaio said ENOMEM here). A buffer
 * larger than the whole budget pins nothing and is done inside SUBMIT, as
 * native AIO does it: the read and the write of 2 MiB with a 1 MiB budget
 * both complete in full, with the right bytes, and leave no reservation.
 */
TEST_F(param, read_and_write_larger_than_pin_budget_complete)
{
	size_t big = 2 << 20;
	char path[256];
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	char *buf;
	int fd;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_make_file(t_test_dir(), path, sizeof(path),
				 big, 7));
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, drop_cache(fd));
	buf = t_alloc(big);
	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, lower(self, "max_pinned_mb", "1"));

	t_prep_pread(&cb, fd, buf, big, 0);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 20000));
	EXPECT_EQ((long long)big, ev.res);
	EXPECT_EQ(-1, t_check(buf, big, 7, 0));

	t_fill(buf, big, 8, 0);
	t_prep_pwrite(&cb, fd, buf, big, 0);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 20000));
	EXPECT_EQ((long long)big, ev.res);
	memset(buf, 0, big);
	ASSERT_EQ((ssize_t)big, pread(fd, buf, big, 0));
	EXPECT_EQ(-1, t_check(buf, big, 8, 0));
	t_ctx_close(&c);
	close(fd);
	EXPECT_EQ(0, debugfs_value("pinned_pages_reserved"));
}

/* One "name value" line of /proc/vmstat, or -1. */
static long long vmstat_value(const char *name)
{
	return named_value("/proc/vmstat", name, ' ');
}

/*
 * An RWF_NOWAIT read the budget cannot hold makes its one attempt in
 * SUBMIT even when its atime is due: the atime hop to a worker pinned its
 * buffer with no budget charged (review of 0f9a531). A cached 2 MiB read,
 * atime set to the epoch (due under relatime and strictatime), 1 MiB
 * budget: done INLINE, with the file's bytes, no page pinned
 * (/proc/vmstat's FOLL_PIN count; the test runs alone in the guest).
 */
TEST_F(param, rwf_nowait_read_over_pin_budget_with_atime_due_pins_nothing)
{
	const struct timespec epoch_atime[2] = {
		{ .tv_sec = 0, .tv_nsec = 0 },
		{ .tv_sec = 0, .tv_nsec = UTIME_OMIT },
	};
	size_t big = 2 << 20;
	long long pins_before, pins_after;
	struct io_event ev;
	struct t_ctx c;
	const char *dir;
	struct iocb cb;
	char path[256];
	char *buf;
	int fd;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), big, 11));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	unlink(path);
	buf = t_alloc(big);
	ASSERT_EQ((ssize_t)big, pread(fd, buf, big, 0));	/* cached */
	ASSERT_EQ(0, futimens(fd, epoch_atime));
	memset(buf, 0, big);
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	ASSERT_EQ(0, lower(self, "max_pinned_mb", "1"));

	t_prep_pread(&cb, fd, buf, big, 0);
	cb.aio_rw_flags = RWF_NOWAIT;
	pins_before = vmstat_value("nr_foll_pin_acquired");
	ASSERT_LE(0, pins_before);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 20000));
	pins_after = vmstat_value("nr_foll_pin_acquired");
	EXPECT_EQ((long long)big, ev.res);
	EXPECT_EQ(KAIO_PATH_INLINE, ev.res2);
	EXPECT_EQ(0, pins_after - pins_before);
	EXPECT_EQ(-1, t_check(buf, big, 11, 0));
	t_ctx_close(&c);
	close(fd);
	EXPECT_EQ(0, debugfs_value("pinned_pages_reserved"));
}

/*
 * Requests in flight that hold the whole budget do not make the next one
 * fail (kaio said EAGAIN here): it is accepted, runs without pinning, and
 * all five complete with the file's bytes.
 */
TEST_F(param, pin_budget_held_by_requests_in_flight_next_still_accepted)
{
	const size_t each = 256 << 10;	/* 64 pages; 4 fill 1 MiB */
	struct iocb cbs[5], *ptrs[5];
	struct io_event ev[5];
	const char *dir;
	struct t_ctx c;
	char path[256];
	char *buf;
	int fd, i;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_ENV_OR_SKIP(dir, "KAIO_SLOW_EXT4_DIR");
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), 5 * each, 9));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, drop_cache(fd));
	buf = t_alloc(5 * each);
	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, lower(self, "max_pinned_mb", "1"));

	for (i = 0; i < 5; i++) {
		t_prep_pread(&cbs[i], fd, buf + i * each, each, i * each);
		ptrs[i] = &cbs[i];
	}
	EXPECT_EQ(5, t_submit(c.fd, 5, ptrs));
	ASSERT_EQ(5, t_wait(c.fd, ev, 5, 30000));
	for (i = 0; i < 5; i++)
		EXPECT_EQ((long long)each, ev[i].res);
	EXPECT_EQ(-1, t_check(buf, 5 * each, 9, 0));
	t_ctx_close(&c);
	close(fd);
	EXPECT_EQ(0, debugfs_value("pinned_pages_reserved"));
}

/*
 * RLIMIT_FSIZE is the submitter's, wherever the write runs (safety review,
 * finding 3: ext4's buffered writes run on a kworker, whose limit is
 * infinite, and kaio wrote past it). As native AIO (tests/compat's
 * kaio_compat_safety runs the same case on both): a write across the limit
 * is cut to fit, one at the limit fails with -EFBIG and raises SIGXFSZ.
 */
/*
 * Four 4 KiB O_APPEND writes in one SUBMIT under an 8 KiB limit: each is
 * measured where it lands, under the inode lock, as native AIO's: two are
 * written, two get -EFBIG, the file ends at the limit. (Measured against
 * the size at SUBMIT, all four were written.)
 */
static int fsize_append(struct t_ctx *c, const char *dir)
{
	struct iocb cbs[4], *ptrs[4];
	struct io_event ev[4];
	char path[256], buf[4096];
	int fd, i, written = 0, efbig = 0;
	struct stat st;

	snprintf(path, sizeof(path), "%s/kaio-fsize-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return 64;
	unlink(path);
	if (fcntl(fd, F_SETFL, O_APPEND))
		return 64;
	memset(buf, 'a', sizeof(buf));
	for (i = 0; i < 4; i++) {
		t_prep_pwrite(&cbs[i], fd, buf, sizeof(buf), 0);
		ptrs[i] = &cbs[i];
	}
	if (t_submit(c->fd, 4, ptrs) != 4 || t_wait(c->fd, ev, 4, 10000) != 4)
		return 64;
	for (i = 0; i < 4; i++) {
		written += ev[i].res == 4096;
		efbig += ev[i].res == -EFBIG;
	}
	if (fstat(fd, &st))
		return 64;
	close(fd);
	if (written == 2 && efbig == 2 && st.st_size == 8192)
		return 0;
	fprintf(stderr, "# O_APPEND: %d written, %d EFBIG, size %lld; want 2, 2, 8192\n",
		written, efbig, (long long)st.st_size);
	return 16;
}

static int fsize_child(const char *dir)
{
	struct rlimit rl = { 8192, 8192 };
	char path[256], buf[512];
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	struct stat st;
	int fd, bad = 0;

	signal(SIGXFSZ, SIG_IGN);
	if (t_ctx_init(&c, 8, 0))
		return 10;
	snprintf(path, sizeof(path), "%s/kaio-fsize-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return 11;
	unlink(path);
	if (setrlimit(RLIMIT_FSIZE, &rl))
		return 12;
	memset(buf, 'f', sizeof(buf));
	t_prep_pwrite(&cb, fd, buf, sizeof(buf), 7681);
	if (t_submit_one(c.fd, &cb) != 1 || t_wait(c.fd, &ev, 1, 10000) != 1)
		return 13;
	if (ev.res != 511) {
		fprintf(stderr, "# at 7681: res %lld, want 511\n", (long long)ev.res);
		bad |= 1;
	}
	t_prep_pwrite(&cb, fd, buf, sizeof(buf), 8192);
	if (t_submit_one(c.fd, &cb) != 1 || t_wait(c.fd, &ev, 1, 10000) != 1)
		return 14;
	if (ev.res != -EFBIG) {
		fprintf(stderr, "# at 8192: res %lld, want -EFBIG\n", (long long)ev.res);
		bad |= 2;
	}
	if (fstat(fd, &st) || st.st_size != 8192) {
		fprintf(stderr, "# size %lld, want 8192\n", (long long)st.st_size);
		bad |= 4;
	}
	/* Nothing to write is never refused (fs/read_write.c checks count). */
	t_prep_pwrite(&cb, fd, buf, 0, 9000);
	if (t_submit_one(c.fd, &cb) != 1 || t_wait(c.fd, &ev, 1, 10000) != 1)
		return 15;
	if (ev.res != 0) {
		fprintf(stderr, "# empty write: res %lld, want 0\n", (long long)ev.res);
		bad |= 8;
	}
	close(fd);
	bad |= fsize_append(&c, dir);
	t_ctx_close(&c);
	return bad;
}

static void fsize_case(struct __test_metadata *_metadata, const char *dir)
{
	int status, dev;
	pid_t pid;

	KAIO_DEV_OPEN(dev);
	close(dev);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(fsize_child(dir));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST(rlimit_fsize_cuts_and_refuses_buffered_writes_ext4)
{
	const char *dir;

	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	fsize_case(_metadata, dir);
}

TEST(rlimit_fsize_cuts_and_refuses_buffered_writes_xfs)
{
	const char *dir;

	KAIO_ENV_OR_SKIP(dir, "KAIO_XFS_DIR");
	fsize_case(_metadata, dir);
}

TEST(dev_node_mode_is_dev_mode_parameter)
{
	char value[16];
	struct stat sb;

	if (stat("/dev/kaio", &sb))
		SKIP(return, "/dev/kaio not available");
	ASSERT_EQ(0, t_param_read("dev_mode", value, sizeof(value)));
	EXPECT_EQ(strtoul(value, NULL, 0), sb.st_mode & 07777);
	EXPECT_EQ(0666, sb.st_mode & 07777);	/* the default */
	EXPECT_TRUE(S_ISCHR(sb.st_mode));
}

/* cgroup v2, mounted here if nobody has: its path, or NULL. */
static const char *cgroup2_root(void)
{
	static const char dir[] = "/tmp/kaio-cgroup2";
	char line[512], mnt[256], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");
	static char found[256];

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%*s %255s %63s", mnt, type) == 2 &&
			    !strcmp(type, "cgroup2")) {
				snprintf(found, sizeof(found), "%s", mnt);
				fclose(f);
				return found;
			}
		fclose(f);
	}
	mkdir(dir, 0755);
	if (mount("none", dir, "cgroup2", 0, NULL))
		return NULL;
	return dir;
}

/* "file" of a cgroup's memory.stat: page cache charged to it, or -1. */
static long long cgroup_file_bytes(const char *cg)
{
	char path[600], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "file %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * In the cgroup: 8 MiB of buffered writes through kaio (ext4: a worker).
 * The cgroup's page cache is read while the file is still open: the
 * unlinked file's pages go with its last close.
 */
static int memcg_child(const char *cg, const char *dir, size_t len)
{
	char path[600], pid[32];
	long long before, after;
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	char *buf;
	int fd;

	snprintf(pid, sizeof(pid), "%d", getpid());
	if (t_write_file(cg, "cgroup.procs", pid, 0))
		return 10;
	if (t_ctx_init(&c, 8, 0))
		return 11;
	snprintf(path, sizeof(path), "%s/kaio-memcg-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return 12;
	unlink(path);
	buf = t_alloc(len);
	t_fill(buf, len, 3, 0);
	before = cgroup_file_bytes(cg);
	t_prep_pwrite(&cb, fd, buf, len, 0);
	if (t_submit_one(c.fd, &cb) != 1 || t_wait(c.fd, &ev, 1, 30000) != 1)
		return 13;
	if (ev.res != (long long)len)
		return 14;
	after = cgroup_file_bytes(cg);
	fprintf(stderr, "# page cache of the submitter's cgroup: %lld bytes before, %lld after the write\n",
		before, after);
	t_ctx_close(&c);
	close(fd);
	return after - before >= (long long)len ? 0 : 20;
}

/*
 * Page cache a worker makes is charged to the submitter's memory cgroup, as
 * native AIO's io_submit would charge it: a container's memory.max holds.
 * kaio's kworkers charged the root cgroup (safety review, finding 3). ext4
 * buffered writes always run on a worker.
 */
TEST(worker_page_cache_charged_to_submitters_memory_cgroup)
{
	const size_t len = 8 << 20;
	const char *root, *dir;
	char cg[512];
	int status, dev;
	pid_t pid;

	KAIO_DEV_OPEN(dev);
	close(dev);
	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	root = cgroup2_root();
	if (!root)
		SKIP(return, "no cgroup2: %s", strerror(errno));
	if (t_write_file(root, "cgroup.subtree_control", "+memory", 0))
		SKIP(return, "memory controller not available");
	snprintf(cg, sizeof(cg), "%s/kaio-memcg-%d", root, getpid());
	ASSERT_EQ(0, mkdir(cg, 0755));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(memcg_child(cg, dir, len));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));	/* 20: not charged there */
	rmdir(cg);
}

/*
 * User 1001: 32 FSYNCs of dirty files on the slow device (each waits for
 * several 500 ms I/Os): its 16 workers are all blocked, 16 more queued.
 * Counts its completions in *done; says when submitted on @ready.
 */
static int blocking_user_child(const char *dir, int ready, int *done)
{
	enum { N = 32 };
	struct iocb cbs[N], *ptrs[N];
	char path[512], page[4096];
	struct io_event ev;
	struct t_ctx c;
	int i, fd;

	if (setgid(1001) || setuid(1001))
		return 10;
	if (t_ctx_init(&c, 64, 0))
		return 11;
	memset(page, 'u', sizeof(page));
	for (i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "%s/kaio-user-XXXXXX", dir);
		fd = mkstemp(path);
		if (fd < 0)
			return 12;
		unlink(path);
		if (write(fd, page, sizeof(page)) != sizeof(page))
			return 13;
		t_prep_fsync(&cbs[i], fd);
		ptrs[i] = &cbs[i];
	}
	if (t_submit(c.fd, N, ptrs) != N)
		return 14;
	if (write(ready, "r", 1) != 1)
		return 15;
	for (i = 0; i < N; i++) {
		if (t_wait(c.fd, &ev, 1, 120000) != 1 || ev.res)
			return 16;
		__atomic_add_fetch(done, 1, __ATOMIC_SEQ_CST);
	}
	t_ctx_close(&c);
	return 0;
}

/*
 * Workers are a per-user share (max_workers each), as io_uring's io-wq
 * workers belong to their task: one user whose blocking attempts are all
 * stuck does not delay another's. With kaio's one global pool, root's
 * FSYNC queued behind the 16 waiting ones of user 1001 and ran after at
 * least 17 of them finished (safety review, finding 5).
 */
TEST(one_users_blocked_workers_do_not_delay_another_user)
{
	const char *slow, *fast;
	char path[512], page[4096];
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	int p[2], status, fd, dev, *done, seen;
	pid_t pid;
	char x;

	KAIO_DEV_OPEN(dev);
	close(dev);
	KAIO_ENV_OR_SKIP(slow, "KAIO_SLOW_EXT4_DIR");
	KAIO_ENV_OR_SKIP(fast, "KAIO_EXT4_DIR");
	if (getuid())
		SKIP(return, "needs root to run a second user");
	done = mmap(NULL, sizeof(*done), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, done);
	*done = 0;
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(p[0]);
		_exit(blocking_user_child(slow, p[1], done));
	}
	close(p[1]);
	ASSERT_EQ(1, read(p[0], &x, 1));
	close(p[0]);

	KAIO_CTX_INIT(&c, 8, 0);
	snprintf(path, sizeof(path), "%s/kaio-user-XXXXXX", fast);
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	unlink(path);
	memset(page, 'r', sizeof(page));
	ASSERT_EQ((ssize_t)sizeof(page), write(fd, page, sizeof(page)));
	t_prep_fsync(&cb, fd);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 120000));
	seen = __atomic_load_n(done, __ATOMIC_SEQ_CST);
	EXPECT_EQ(0, ev.res);
	TH_LOG("root's FSYNC done after %d of the other user's 32", seen);
	EXPECT_GT(16, seen);
	t_ctx_close(&c);
	close(fd);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
