// SPDX-License-Identifier: GPL-2.0
/*
 * I/O faults: devices that fail reads, fail writes, drop writes, or come
 * and go. Whatever the device does, every request posts exactly one event
 * (counted per iocb: none lost, none twice), a failed one with its -errno,
 * and the context stays usable. Afterwards the module is back where the
 * test started (contexts, pinned pages, every request completed).
 *
 * Each test makes its own device: a memory-backed null_blk through
 * configfs, with dm-flakey on top (device-mapper ioctls, as dmsetup makes
 * them: starting dmsetup costs a second under TCG) whose table the test
 * swaps (suspend without freezing the fs, load, resume) to switch between
 *	up			"<dev> 0 1 0"
 *	down (all I/O fails)	"<dev> 0 0 1"	(6.1 has no error_reads feature:
 *						 a down interval fails reads and,
 *						 without features, writes too)
 *	error_writes		"<dev> 0 0 1 1 error_writes"
 *	drop_writes		"<dev> 0 0 1 1 drop_writes"
 *	flapping		"<dev> 0 1 1"	(1 s up, 1 s down, by the clock)
 * and $KAIO_ERROR_DEV (dm-error: everything fails) from the rig.
 *
 * Names never contain "kaio": the runner's dmesg check flags kaio lines
 * with "error" in them, and these devices log I/O errors (the block
 * layer's "I/O error, dev flk..." and "Buffer I/O error on dev dm-N",
 * ext4's "EXT4-fs error (device dm-N)": all expected here).
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/dm-ioctl.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define CONFIGFS	"/sys/kernel/config"
#define NULLB_CFG	CONFIGFS "/nullb"
#define DM_CONTROL	"/dev/mapper/control"
#define MKE2FS		"/usr/sbin/mke2fs"
#define DEV_MB		64
#define BS		4096
#define OLD_SEED	0xfa17ULL
#define NEW_SEED	0x0bad5eedULL

#define T_UP		"0 1 0"
#define T_DOWN		"0 0 1"
#define T_ERROR_WRITES	"0 0 1 1 error_writes"
#define T_DROP_WRITES	"0 0 1 1 drop_writes"
#define T_FLAPPING	"0 1 1"

/*
 * ---- module-wide accounting -------------------------------------------------
 *
 * The module's counters at the start are KAIO_BASELINE()'s (kaio_util.h).
 * Back where the test started: KAIO_EXPECT_SETTLED() alone, not
 * t_expect_settled(), which also wants `events_reserved` as it was.
 */
static void expect_settled(struct __test_metadata *_metadata,
			   const struct t_stats *g0, int ms)
{
	struct t_stats g;

	KAIO_EXPECT_SETTLED(&g, g0, ms);
}

/* ---- running mke2fs, talking to device-mapper ------------------------------------------------- */

/* Run @argv; its stderr, on failure, as "# " lines. Exit status or -errno. */
static int run_cmd(const char *const argv[])
{
	char errpath[64], line[256];
	int status, ret;
	FILE *f;
	pid_t pid;

	snprintf(errpath, sizeof(errpath), "/tmp/flk-cmd.%d.err", getpid());
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int out = open("/dev/null", O_WRONLY);
		int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (out >= 0)
			dup2(out, 1);
		if (err >= 0)
			dup2(err, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -ECHILD;
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (ret) {
		fprintf(stderr, "# %s %s: exit status %d\n", argv[0], argv[1], ret);
		f = fopen(errpath, "re");
		while (f && fgets(line, sizeof(line), f))
			fprintf(stderr, "#   %s", line);
		if (f)
			fclose(f);
	}
	unlink(errpath);
	return ret;
}

static bool wait_node(const char *path)
{
	int i;

	for (i = 0; i < 50 && access(path, F_OK); i++)
		usleep(100000);
	return !access(path, F_OK);
}

/*
 * One device-mapper ioctl on the device @name. With @params, one target
 * "flakey" over @sectors with those parameters (DM_TABLE_LOAD). Returns 0
 * or -errno; @dev (if not NULL) gets the device number.
 */
static int dm_ioctl(unsigned long cmd, const char *name, uint32_t flags,
		    unsigned long long sectors, const char *params, dev_t *dev)
{
	union {
		struct dm_ioctl io;
		char buf[16384];
	} u;
	struct dm_ioctl *io = &u.io;
	int fd, ret = 0;

	memset(&u, 0, sizeof(u));
	io->version[0] = DM_VERSION_MAJOR;	/* minor 0: any 4.x kernel */
	io->data_size = sizeof(u);
	io->data_start = sizeof(*io);
	io->flags = flags;
	snprintf(io->name, sizeof(io->name), "%s", name);
	if (params) {
		struct dm_target_spec *sp = (void *)(u.buf + io->data_start);
		size_t len = sizeof(*sp) + strlen(params) + 1;

		sp->sector_start = 0;
		sp->length = sectors;
		snprintf(sp->target_type, sizeof(sp->target_type), "flakey");
		strcpy((char *)(sp + 1), params);
		sp->next = (len + 7) & ~7UL;
		io->target_count = 1;
	}
	fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, cmd, io))
		ret = -errno;
	else if (dev)
		*dev = io->dev;
	close(fd);
	return ret;
}

/* ---- the flakey device ----------------------------------------------------------- */

FIXTURE(flakey) {
	struct t_stats g0;
	struct t_ctx c;
	char nb_dir[128], nb_dev[64];
	char dm_name[64], dm_dev[128];
	char mnt[64];
	char slow_dir[128];	/* a second null_blk, if a test makes one */
	unsigned long long sectors;
	bool nb_made, nb_on, dm_made, mounted, suspended, slow_made, slow_on;
};

/* Swap the table: suspend (no fs freeze), load, resume. 0 or -errno. */
static int flakey_set(FIXTURE_DATA(flakey) *self, const char *mode)
{
	char params[256];
	int ret;

	snprintf(params, sizeof(params), "%s %s", self->nb_dev, mode);
	ret = dm_ioctl(DM_DEV_SUSPEND, self->dm_name,
		       DM_SUSPEND_FLAG | DM_SKIP_LOCKFS_FLAG, 0, NULL, NULL);
	if (!ret)
		ret = dm_ioctl(DM_TABLE_LOAD, self->dm_name, 0, self->sectors,
			       params, NULL);
	/* resume in any case: never leave the device suspended */
	if (dm_ioctl(DM_DEV_SUSPEND, self->dm_name, 0, 0, NULL, NULL) && !ret)
		ret = -EIO;
	if (ret)
		fprintf(stderr, "# flakey table '%s': %s\n", mode, strerror(-ret));
	return ret;
}

FIXTURE_SETUP(flakey)
{
	static const char *const attrs[][2] = {
		{ "size", "64" },		/* MiB: DEV_MB */
		{ "blocksize", "4096" },
		{ "memory_backed", "1" },
		{ "irqmode", "2" },		/* timer: completions come later */
		{ "completion_nsec", "200000" },
	};
	char params[256];
	dev_t dev = 0;
	unsigned int i;

	self->c.fd = self->c.dev = self->c.nullfd = -1;
	self->nb_made = self->nb_on = self->dm_made = self->mounted = false;
	self->suspended = self->slow_made = self->slow_on = false;
	KAIO_BASELINE(&self->g0);
	if (access(DM_CONTROL, F_OK))
		SKIP(return, "%s missing (dm-mod not loaded?)", DM_CONTROL);
	if (access(NULLB_CFG, F_OK))
		mount("configfs", CONFIGFS, "configfs", 0, NULL);
	if (access(NULLB_CFG, F_OK))
		SKIP(return, "no null_blk configfs (%s)", NULLB_CFG);

	snprintf(self->nb_dir, sizeof(self->nb_dir), NULLB_CFG "/flk%d", getpid());
	snprintf(self->nb_dev, sizeof(self->nb_dev), "/dev/flk%d", getpid());
	ASSERT_EQ(0, mkdir(self->nb_dir, 0755)) TH_LOG("mkdir %s: %s",
						      self->nb_dir, strerror(errno));
	self->nb_made = true;
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		ASSERT_EQ(0, t_write_file(self->nb_dir, attrs[i][0], attrs[i][1], 0))
			TH_LOG("%s = %s", attrs[i][0], attrs[i][1]);
	ASSERT_EQ(0, t_write_file(self->nb_dir, "power", "1", 0));
	self->nb_on = true;
	ASSERT_TRUE(wait_node(self->nb_dev)) TH_LOG("%s did not appear", self->nb_dev);

	self->sectors = (unsigned long long)DEV_MB << 11;
	snprintf(self->dm_name, sizeof(self->dm_name), "flaky%d", getpid());
	snprintf(params, sizeof(params), "%s " T_UP, self->nb_dev);
	ASSERT_EQ(0, dm_ioctl(DM_DEV_CREATE, self->dm_name, 0, 0, NULL, &dev));
	self->dm_made = true;
	ASSERT_EQ(0, dm_ioctl(DM_TABLE_LOAD, self->dm_name, 0, self->sectors,
			      params, NULL));
	ASSERT_EQ(0, dm_ioctl(DM_DEV_SUSPEND, self->dm_name, 0, 0, NULL, NULL));
	/* no udev: devtmpfs names it dm-<minor> */
	snprintf(self->dm_dev, sizeof(self->dm_dev), "/dev/dm-%u", minor(dev));
	ASSERT_TRUE(wait_node(self->dm_dev)) TH_LOG("%s did not appear", self->dm_dev);
}

FIXTURE_TEARDOWN(flakey)
{
	int i;

	if (self->suspended)	/* a test that failed half-way */
		dm_ioctl(DM_DEV_SUSPEND, self->dm_name, 0, 0, NULL, NULL);
	t_ctx_close(&self->c);
	if (self->slow_on)
		t_write_file(self->slow_dir, "power", "0", 0);
	if (self->slow_made)
		rmdir(self->slow_dir);
	if (self->mounted) {
		flakey_set(self, T_UP);	/* unmount writes the superblock */
		for (i = 0; i < 50 && umount2(self->mnt, 0); i++)
			usleep(100000);
		rmdir(self->mnt);
	}
	if (self->dm_made)
		for (i = 0; i < 20 && dm_ioctl(DM_DEV_REMOVE, self->dm_name, 0,
					       0, NULL, NULL); i++)
			usleep(100000);
	if (self->nb_on)
		t_write_file(self->nb_dir, "power", "0", 0);
	if (self->nb_made)
		rmdir(self->nb_dir);
}

/*
 * ext4 on the flakey device (while up), mounted: 0 or skip/fail.
 * FLAKEY_EXT4_FEATURES: with mke2fs -O @features ("^has_journal": none).
 */
#define FLAKEY_EXT4(self) FLAKEY_EXT4_FEATURES(self, "has_journal")
#define FLAKEY_EXT4_FEATURES(self, features) do {				\
	const char *__mkfs[] = { MKE2FS, "-q", "-F", "-t", "ext4", "-b", "4096",\
		"-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1",	\
		"-O", (features), (self)->dm_dev, NULL };			\
	if (access(MKE2FS, X_OK))						\
		SKIP(return, "%s missing", MKE2FS);				\
	ASSERT_EQ(0, run_cmd(__mkfs));						\
	snprintf((self)->mnt, sizeof((self)->mnt), "/tmp/flkmnt.%d", getpid());\
	ASSERT_EQ(0, mkdir((self)->mnt, 0755));					\
	/* errors=continue: a write error must not panic or remount */	\
	ASSERT_EQ(0, mount((self)->dm_dev, (self)->mnt, "ext4", MS_NOATIME,	\
			   "errors=continue,noinit_itable"))			\
		TH_LOG("mount: %s", strerror(errno));				\
	(self)->mounted = true;							\
} while (0)

/* ---- batches: one contiguous iocb array, results counted per iocb ------------- */

enum kind { K_DREAD, K_BREAD, K_DWRITE, K_SWRITE, K_PWRITE };

static const char *const kind_name[] = {
	"O_DIRECT read", "buffered read", "O_DIRECT write",
	"buffered DSYNC write", "buffered write",
};

struct batch {
	int n;
	struct iocb cbs[256];
	struct iocb *ptrs[256];
	enum kind kind[256];
	long long off[256];
	char *buf[256];
	int count[256];
	long long res[256];
};

static struct iocb *add(struct batch *b, enum kind k, int fd, long long off,
			uint64_t seed)
{
	int i = b->n++;
	char *buf = t_alloc(BS);

	if (i >= 256)
		abort();
	b->kind[i] = k;
	b->off[i] = off;
	b->buf[i] = buf;
	b->ptrs[i] = &b->cbs[i];
	if (k == K_DREAD || k == K_BREAD) {
		memset(buf, 0xa5, BS);
		t_prep_pread(&b->cbs[i], fd, buf, BS, off);
	} else {
		t_fill(buf, BS, seed, off);
		t_prep_pwrite(&b->cbs[i], fd, buf, BS, off);
		if (k == K_SWRITE)
			b->cbs[i].aio_rw_flags = RWF_DSYNC;
	}
	b->cbs[i].aio_data = i;
	return &b->cbs[i];
}

/*
 * Submit the whole batch, wait for as many events, count them per iocb:
 * each exactly once and nothing more (a second look finds nothing).
 */
static void run_batch(struct __test_metadata *_metadata, int ctx,
		      struct batch *b, int wait_ms)
{
	struct io_event ev[256];
	long got;
	int i;

	for (i = 0; i < b->n; i++)
		if (b->kind[i] == K_DREAD || b->kind[i] == K_BREAD)
			memset(b->buf[i], 0xa5, BS);
	ASSERT_EQ(b->n, t_submit(ctx, b->n, b->ptrs));
	got = t_wait(ctx, ev, b->n, wait_ms);
	EXPECT_EQ(b->n, got);
	memset(b->count, 0, sizeof(b->count));
	EXPECT_EQ(0, t_tally(b->cbs, b->n, ev, got > 0 ? got : 0, b->count,
			     b->res));
	for (i = 0; i < b->n; i++)
		EXPECT_EQ(1, b->count[i]) TH_LOG("iocb %d (%s at %lld): %d events",
						 i, kind_name[b->kind[i]],
						 b->off[i], b->count[i]);
	EXPECT_EQ(0, t_wait(ctx, ev, 1, 100)) TH_LOG("an event too many");
}

/* Every iocb of kind @k ended with @res (and reads read @seed's pattern). */
static int expect_kind(struct __test_metadata *_metadata, struct batch *b,
		       enum kind k, long long res, uint64_t seed)
{
	int i, n = 0;

	for (i = 0; i < b->n; i++) {
		if (b->kind[i] != k || b->count[i] != 1)
			continue;
		n++;
		EXPECT_EQ(res, b->res[i]) TH_LOG("iocb %d (%s at %lld)", i,
						 kind_name[k], b->off[i]);
		if (res == BS && (k == K_DREAD || k == K_BREAD))
			EXPECT_EQ(-1, t_check(b->buf[i], BS, seed, b->off[i]))
				TH_LOG("iocb %d (%s at %lld): wrong data", i,
				       kind_name[k], b->off[i]);
	}
	return n;
}

/* A NOOP still completes: the context survived. */
static void ctx_still_usable(struct __test_metadata *_metadata, int ctx, int nullfd)
{
	struct io_event ev;
	struct iocb cb;

	t_prep_noop(&cb, nullfd);
	cb.aio_data = 0x600d;
	ASSERT_EQ(1, t_submit_one(ctx, &cb));
	ASSERT_EQ(1, t_wait(ctx, &ev, 1, 5000));
	EXPECT_EQ(0, ev.res);
	EXPECT_EQ(0x600d, ev.data);
}

/* @len bytes of @seed's pattern at @off on @dev, through O_DIRECT. */
static int pattern_write(const char *dev, long long off, size_t len, uint64_t seed)
{
	char *buf = t_alloc(len);
	int fd = open(dev, O_WRONLY | O_DIRECT);
	ssize_t w;

	if (fd < 0)
		return -errno;
	t_fill(buf, len, seed, off);
	w = pwrite(fd, buf, len, off);
	close(fd);
	munmap(buf, len);
	return w == (ssize_t)len ? 0 : -EIO;
}

/* Does the device hold @seed's pattern at @off (O_DIRECT, no cache)? */
static bool holds(const char *dev, long long off, uint64_t seed)
{
	char *buf = t_alloc(BS);
	int fd = open(dev, O_RDONLY | O_DIRECT);
	bool yes;

	yes = fd >= 0 && pread(fd, buf, BS, off) == BS &&
	      t_check(buf, BS, seed, off) == -1;
	if (fd >= 0)
		close(fd);
	munmap(buf, BS);
	return yes;
}

static int open_cold(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd >= 0)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return fd;
}

/* ==== raw: the block device itself ================================================= */

/*
 * Down: every read and write fails. O_DIRECT bios to dm are refused
 * NOWAIT (bio-based dm, 6.1) and retried on a worker; buffered reads wait
 * for their page, find it not uptodate and make one blocking attempt.
 * All end with -EIO, once each. Back up, the same reads succeed on the
 * same context.
 */
TEST_F_TIMEOUT(flakey, raw_down_reads_and_writes_EIO_each_once_then_up_again_ok, 90)
{
	struct batch *b = calloc(1, sizeof(*b)), *again = calloc(1, sizeof(*again));
	int dfd, bfd, i;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, pattern_write(self->dm_dev, 0, 1 << 20, OLD_SEED));
	ASSERT_EQ(0, flakey_set(self, T_DOWN));
	KAIO_CTX_INIT(&self->c, 256, 0);
	dfd = open(self->dm_dev, O_RDWR | O_DIRECT);
	bfd = open_cold(self->dm_dev, O_RDONLY);
	ASSERT_LE(0, dfd);
	ASSERT_LE(0, bfd);
	for (i = 0; i < 32; i++) {
		add(b, K_DREAD, dfd, (long long)i * BS, OLD_SEED);
		add(b, K_BREAD, bfd, (64LL + 4 * i) * BS, OLD_SEED);
	}
	for (i = 0; i < 16; i++)
		add(b, K_DWRITE, dfd, (200LL + i) * BS, NEW_SEED);
	run_batch(_metadata, self->c.fd, b, 60000);
	EXPECT_EQ(32, expect_kind(_metadata, b, K_DREAD, -EIO, 0));
	EXPECT_EQ(32, expect_kind(_metadata, b, K_BREAD, -EIO, 0));
	EXPECT_EQ(16, expect_kind(_metadata, b, K_DWRITE, -EIO, 0));
	ctx_still_usable(_metadata, self->c.fd, self->c.nullfd);

	ASSERT_EQ(0, flakey_set(self, T_UP));
	for (i = 0; i < 32; i++) {
		add(again, K_DREAD, dfd, (long long)i * BS, OLD_SEED);
		add(again, K_BREAD, bfd, (64LL + 4 * i) * BS, OLD_SEED);
	}
	run_batch(_metadata, self->c.fd, again, 60000);
	EXPECT_EQ(32, expect_kind(_metadata, again, K_DREAD, BS, OLD_SEED));
	EXPECT_EQ(32, expect_kind(_metadata, again, K_BREAD, BS, OLD_SEED));
	for (i = 0; i < 16; i++)
		EXPECT_TRUE(holds(self->dm_dev, (200LL + i) * BS, OLD_SEED));
	close(dfd);
	close(bfd);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * Up: bio-based dm refuses REQ_NOWAIT bios, so each O_DIRECT request here
 * makes its blocking attempt on a worker, from the pages pinned at SUBMIT.
 * The data reaches the user's buffers, through iovec arrays too, and res2
 * says WORKER.
 */
TEST_F_TIMEOUT(flakey, raw_up_odirect_refused_nowait_worker_fills_user_buffers, 60)
{
	struct iocb cbs[12], *ptrs[12];
	struct iovec iov[4][2];
	struct io_event ev[12];
	char *buf = t_alloc(16 * BS);
	int dfd, i, count[12] = { 0 };
	long long res[12];

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, pattern_write(self->dm_dev, 0, 16 * BS, OLD_SEED));
	KAIO_CTX_INIT(&self->c, 32, KAIO_SETUP_RES2_PATH);
	dfd = open(self->dm_dev, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, dfd);
	memset(buf, 0xa5, 16 * BS);
	for (i = 0; i < 8; i++)
		t_prep_pread(&cbs[i], dfd, buf + i * BS, BS, (long long)i * BS);
	/* Blocks 8..15 in pairs, each pair's second block first in memory. */
	for (i = 0; i < 4; i++) {
		iov[i][0].iov_base = buf + (9 + 2 * i) * BS;
		iov[i][0].iov_len = BS;
		iov[i][1].iov_base = buf + (8 + 2 * i) * BS;
		iov[i][1].iov_len = BS;
		t_prep_preadv(&cbs[8 + i], dfd, iov[i], 2,
			      (8LL + 2 * i) * BS);
	}
	for (i = 0; i < 12; i++) {
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(12, t_submit(self->c.fd, 12, ptrs));
	ASSERT_EQ(12, t_wait(self->c.fd, ev, 12, 20000));
	EXPECT_EQ(0, t_tally(cbs, 12, ev, 12, count, res));
	for (i = 0; i < 12; i++) {
		EXPECT_EQ(1, count[i]);
		EXPECT_EQ(i < 8 ? BS : 2 * BS, res[i]) TH_LOG("iocb %d", i);
		EXPECT_EQ(KAIO_PATH_WORKER, ev[i].res2) TH_LOG("event %d", i);
	}
	for (i = 0; i < 8; i++)
		EXPECT_EQ(-1, t_check(buf + i * BS, BS, OLD_SEED, (long long)i * BS))
			TH_LOG("block %d", i);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(-1, t_check(buf + (8 + 2 * i) * BS, BS, OLD_SEED,
				      (9LL + 2 * i) * BS)) TH_LOG("pair %d", i);
		EXPECT_EQ(-1, t_check(buf + (9 + 2 * i) * BS, BS, OLD_SEED,
				      (8LL + 2 * i) * BS)) TH_LOG("pair %d", i);
	}
	close(dfd);
	t_ctx_close(&self->c);
	munmap(buf, 16 * BS);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * error_writes: writes fail, reads in the same batch do not. A buffered
 * RWF_DSYNC write learns of its writeback error through the file's error
 * sequence (errseq): with one open file per write, each sees its own
 * -EIO. Writes sharing one open file may not: an error is reported once
 * per open file and concurrent failures can be folded into one report (the
 * kernel's fsync semantics, as for pwrite+fsync from threads), so some may
 * report success although their data did not reach the device; at least
 * one reports -EIO.
 */
TEST_F_TIMEOUT(flakey, raw_error_writes_writes_EIO_reads_unaffected, 90)
{
	struct batch *b = calloc(1, sizeof(*b));
	int dfd, sfd, own[16], i, failed = 0, ok = 0;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, pattern_write(self->dm_dev, 0, 1 << 20, OLD_SEED));
	ASSERT_EQ(0, flakey_set(self, T_ERROR_WRITES));
	KAIO_CTX_INIT(&self->c, 256, 0);
	dfd = open(self->dm_dev, O_RDWR | O_DIRECT);
	sfd = open(self->dm_dev, O_RDWR);
	ASSERT_LE(0, dfd);
	ASSERT_LE(0, sfd);
	for (i = 0; i < 16; i++) {
		own[i] = open(self->dm_dev, O_RDWR);
		ASSERT_LE(0, own[i]);
	}
	for (i = 0; i < 32; i++) {
		add(b, K_DWRITE, dfd, (long long)i * BS, NEW_SEED);
		add(b, K_DREAD, dfd, (64LL + i) * BS, OLD_SEED);
	}
	for (i = 0; i < 16; i++) {
		add(b, K_SWRITE, own[i], (128LL + i) * BS, NEW_SEED);
		add(b, K_PWRITE, sfd, (160LL + i) * BS, NEW_SEED)->aio_rw_flags = RWF_DSYNC;
	}
	run_batch(_metadata, self->c.fd, b, 60000);
	EXPECT_EQ(32, expect_kind(_metadata, b, K_DWRITE, -EIO, 0));
	EXPECT_EQ(32, expect_kind(_metadata, b, K_DREAD, BS, OLD_SEED));
	EXPECT_EQ(16, expect_kind(_metadata, b, K_SWRITE, -EIO, 0));
	for (i = 0; i < b->n; i++) {
		if (b->kind[i] != K_PWRITE)
			continue;
		EXPECT_TRUE(b->res[i] == -EIO || b->res[i] == BS)
			TH_LOG("iocb %d: %lld", i, b->res[i]);
		failed += b->res[i] == -EIO;
		ok += b->res[i] == BS;
	}
	TH_LOG("DSYNC writes sharing one open file: %d -EIO, %d reported success",
	       failed, ok);
	EXPECT_LE(1, failed);
	ctx_still_usable(_metadata, self->c.fd, self->c.nullfd);
	ASSERT_EQ(0, flakey_set(self, T_UP));
	for (i = 0; i < 32; i++)
		EXPECT_TRUE(holds(self->dm_dev, (long long)i * BS, OLD_SEED));
	for (i = 0; i < 16; i++)
		close(own[i]);
	close(dfd);
	close(sfd);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * drop_writes: the device acknowledges writes it never stores. Nothing
 * above it can tell: every write completes normally, and the data is not
 * there afterwards. (This is what a lying cache does; only reading back
 * finds it.)
 */
TEST_F_TIMEOUT(flakey, raw_drop_writes_complete_normally_nothing_stored, 90)
{
	struct batch *b = calloc(1, sizeof(*b));
	int dfd, sfd, i;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, pattern_write(self->dm_dev, 0, 1 << 20, OLD_SEED));
	ASSERT_EQ(0, flakey_set(self, T_DROP_WRITES));
	KAIO_CTX_INIT(&self->c, 256, 0);
	dfd = open(self->dm_dev, O_RDWR | O_DIRECT);
	sfd = open(self->dm_dev, O_RDWR);
	ASSERT_LE(0, dfd);
	ASSERT_LE(0, sfd);
	for (i = 0; i < 32; i++)
		add(b, K_DWRITE, dfd, (long long)i * BS, NEW_SEED);
	for (i = 0; i < 16; i++)
		add(b, K_SWRITE, sfd, (64LL + i) * BS, NEW_SEED);
	run_batch(_metadata, self->c.fd, b, 60000);
	EXPECT_EQ(32, expect_kind(_metadata, b, K_DWRITE, BS, 0));
	EXPECT_EQ(16, expect_kind(_metadata, b, K_SWRITE, BS, 0));
	ASSERT_EQ(0, flakey_set(self, T_UP));
	for (i = 0; i < 32; i++)
		EXPECT_TRUE(holds(self->dm_dev, (long long)i * BS, OLD_SEED));
	for (i = 0; i < 16; i++)
		EXPECT_TRUE(holds(self->dm_dev, (64LL + i) * BS, OLD_SEED));
	ctx_still_usable(_metadata, self->c.fd, self->c.nullfd);
	close(dfd);
	close(sfd);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * Flapping, 1 s up and 1 s down by the clock: batches of O_DIRECT and cold
 * buffered reads for a few seconds. Whichever way each goes, it completes
 * exactly once, with the data or -EIO; both outcomes are seen.
 */
TEST_F_TIMEOUT(flakey, raw_flapping_every_request_once_data_or_EIO, 90)
{
	struct batch *b = calloc(1, sizeof(*b));
	int dfd, bfd, i, round, good = 0, bad = 0;
	uint64_t start;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, pattern_write(self->dm_dev, 0, 4 << 20, OLD_SEED));
	ASSERT_EQ(0, flakey_set(self, T_FLAPPING));
	KAIO_CTX_INIT(&self->c, 256, 0);
	dfd = open(self->dm_dev, O_RDONLY | O_DIRECT);
	bfd = open(self->dm_dev, O_RDONLY);
	ASSERT_LE(0, dfd);
	ASSERT_LE(0, bfd);
	start = t_now_ns();
	for (round = 0; round < 100; round++) {
		uint64_t el = t_now_ns() - start;

		if (el > 10000000000ULL || (el > 3000000000ULL && good && bad))
			break;
		memset(b, 0, sizeof(*b));	/* the buffers of old rounds leak */
		posix_fadvise(bfd, 0, 0, POSIX_FADV_DONTNEED);
		for (i = 0; i < 8; i++) {
			long long off = (long long)((round * 8 + i) % 1024) * BS;

			add(b, K_DREAD, dfd, off, OLD_SEED);
			if (i % 2 == 0)
				add(b, K_BREAD, bfd, off, OLD_SEED);
		}
		run_batch(_metadata, self->c.fd, b, 30000);
		for (i = 0; i < b->n; i++) {
			if (b->count[i] != 1)
				continue;
			if (b->res[i] == BS) {
				good++;
				EXPECT_EQ(-1, t_check(b->buf[i], BS, OLD_SEED,
						      b->off[i]));
			} else {
				bad++;
				EXPECT_EQ(-EIO, b->res[i]);
			}
			munmap(b->buf[i], BS);
		}
		usleep(50000);
	}
	TH_LOG("%d rounds in %llu ms: %d reads read, %d failed", round,
	       (unsigned long long)(t_now_ns() - start) / 1000000, good, bad);
	EXPECT_LT(0, good);
	EXPECT_LT(0, bad);
	ASSERT_EQ(0, flakey_set(self, T_UP));
	ctx_still_usable(_metadata, self->c.fd, self->c.nullfd);
	close(dfd);
	close(bfd);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/* ==== ext4 on the flakey device ====================================================== */

/* A file of @size OLD_SEED bytes in the mounted fs, on the device. */
static int ext4_file(FIXTURE_DATA(flakey) *self, char *path, size_t len,
		     size_t size)
{
	int ret = t_make_file(self->mnt, path, len, size, OLD_SEED);
	int fd;

	if (ret)
		return ret;
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -errno;
	ret = t_drop_file_cache(fd);		/* fsync: on the device */
	close(fd);
	if (!ret) {
		sync();
		ret = 0;
	}
	return ret;
}

/*
 * ext4 whose device goes down under cold reads: buffered reads (page-wait
 * callback, then the blocking attempt) and O_DIRECT reads all end with
 * -EIO, once each; back up, the same requests on the same context read the
 * data.
 */
TEST_F_TIMEOUT(flakey, ext4_reads_EIO_while_down_then_data_once_up, 90)
{
	struct batch *b = calloc(1, sizeof(*b));
	char path[PATH_MAX];
	int bfd, dfd, i, k;

	KAIO_SKIPPED_IN_SETUP();
	FLAKEY_EXT4(self);
	ASSERT_EQ(0, ext4_file(self, path, sizeof(path), 4 << 20));
	bfd = open_cold(path, O_RDONLY);
	dfd = open(path, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, bfd);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, t_cached_pages(bfd, 4 << 20));
	for (i = 0; i < 32; i++)
		add(b, K_BREAD, bfd, (long long)i * (64 << 10), OLD_SEED);
	for (i = 0; i < 16; i++)
		add(b, K_DREAD, dfd, (long long)i * (64 << 10) + (32 << 10), OLD_SEED);
	KAIO_CTX_INIT(&self->c, 256, KAIO_SETUP_RES2_PATH);

	ASSERT_EQ(0, flakey_set(self, T_DOWN));
	run_batch(_metadata, self->c.fd, b, 60000);
	EXPECT_EQ(32, expect_kind(_metadata, b, K_BREAD, -EIO, 0));
	EXPECT_EQ(16, expect_kind(_metadata, b, K_DREAD, -EIO, 0));
	ctx_still_usable(_metadata, self->c.fd, self->c.nullfd);

	ASSERT_EQ(0, flakey_set(self, T_UP));
	for (k = 0; k < b->n; k++)
		b->cbs[k].aio_key = 0;
	run_batch(_metadata, self->c.fd, b, 60000);
	EXPECT_EQ(32, expect_kind(_metadata, b, K_BREAD, BS, OLD_SEED));
	EXPECT_EQ(16, expect_kind(_metadata, b, K_DREAD, BS, OLD_SEED));
	close(bfd);
	close(dfd);
	unlink(path);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * ext4 whose device fails writes: O_DIRECT overwrites fail with -EIO (or
 * -EROFS once the journal has aborted), buffered RWF_DSYNC writes with an
 * error too, except where the kernel folded their errors into another's
 * report (see raw_error_writes_*); reads of data already on the device
 * still work. Each request completes once and the context stays usable.
 */
TEST_F_TIMEOUT(flakey, ext4_error_writes_each_write_fails_once_reads_work, 90)
{
	struct batch *b = calloc(1, sizeof(*b));
	char path[PATH_MAX];
	int wfd, dfd, rfd, i, failed = 0;

	KAIO_SKIPPED_IN_SETUP();
	FLAKEY_EXT4(self);
	ASSERT_EQ(0, ext4_file(self, path, sizeof(path), 2 << 20));
	wfd = open(path, O_RDWR);
	dfd = open(path, O_RDWR | O_DIRECT);
	rfd = open_cold(path, O_RDONLY);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, dfd);
	ASSERT_LE(0, rfd);
	for (i = 0; i < 16; i++) {
		add(b, K_SWRITE, wfd, (long long)i * BS, NEW_SEED);
		add(b, K_DWRITE, dfd, (64LL + i) * BS, NEW_SEED);
		add(b, K_BREAD, rfd, (128LL + 16 * i) * BS, OLD_SEED);
	}
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(0, flakey_set(self, T_ERROR_WRITES));
	run_batch(_metadata, self->c.fd, b, 60000);
	for (i = 0; i < b->n; i++) {
		long long r = b->res[i];

		if (b->count[i] != 1)
			continue;
		switch (b->kind[i]) {
		case K_DWRITE:
			EXPECT_TRUE(r == -EIO || r == -EROFS) TH_LOG("iocb %d: %lld", i, r);
			break;
		case K_SWRITE:
			EXPECT_TRUE(r == -EIO || r == -EROFS || r == BS)
				TH_LOG("iocb %d: %lld", i, r);
			failed += r < 0;
			break;
		default:
			break;
		}
	}
	TH_LOG("%d of 16 DSYNC writes reported their error", failed);
	EXPECT_LE(1, failed);
	EXPECT_EQ(16, expect_kind(_metadata, b, K_BREAD, BS, OLD_SEED));
	ctx_still_usable(_metadata, self->c.fd, self->c.nullfd);
	close(wfd);
	close(dfd);
	close(rfd);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/* ---- frees that wait for a page lock ------------------------------------------- */

/* Does task @tid (of this process, or any if @any) have @a and @b on its stack? */
static bool task_stack_has(pid_t tid, bool any, const char *a, const char *b)
{
	char path[64], stack[8192];
	ssize_t n;
	int fd;

	if (any)
		snprintf(path, sizeof(path), "/proc/%d/stack", tid);
	else
		snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, stack, sizeof(stack) - 1);
	close(fd);
	if (n <= 0)
		return false;
	stack[n] = 0;
	return strstr(stack, a) && strstr(stack, b);
}

/* Is some task of the system (a kworker, say) in both @a and @b? */
static bool any_task_stack_has(const char *a, const char *b)
{
	struct dirent *d;
	DIR *proc = opendir("/proc");
	bool found = false;

	if (!proc)
		return false;
	while (!found && (d = readdir(proc)))
		if (d->d_name[0] >= '1' && d->d_name[0] <= '9')
			found = task_stack_has(atoi(d->d_name), true, a, b);
	closedir(proc);
	return found;
}

/*
 * Resumes device-mapper device @name after @seconds, or at once when the
 * caller writes to (or closes) *@tell. In a session of its own: a test
 * that times out is killed with its process group, and could not exit
 * anyway while one of its threads waits uninterruptibly on the suspended
 * device; this still resumes it. Returns its pid or -1.
 */
static pid_t start_resumer(const char *name, int seconds, int *tell)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (!pid) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };

		close(p[1]);
		setsid();
		poll(&pfd, 1, seconds * 1000);
		_exit(dm_ioctl(DM_DEV_SUSPEND, name, 0, 0, NULL, NULL) ? 1 : 0);
	}
	close(p[0]);
	*tell = p[1];
	return pid;
}

/* Milliseconds since @t0_ns (t_now_ns()). */
static long ms_since(uint64_t t0_ns)
{
	return (long)((t_now_ns() - t0_ns) / 1000000);
}

struct truncator {
	int fd;
	pid_t tid;
	int ret;
};

static void *truncate_thread(void *p)
{
	struct truncator *t = p;

	__atomic_store_n(&t->tid, gettid(), __ATOMIC_RELEASE);
	t->ret = ftruncate(t->fd, 0) ? -errno : 0;
	return NULL;
}

/*
 * Another user (uid 1001): an O_DIRECT overwrite of @fd, whose completion
 * iomap runs on its own workqueue (the request is freed from a task that
 * is not kaio's), then the owner's close, which waits for the free.
 */
static int other_user_write_and_close(int fd)
{
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	char *buf;

	if (setgid(1001) || setuid(1001))
		return 10;
	if (t_ctx_init(&c, 8, 0))
		return 11;
	buf = t_alloc(BS);
	memset(buf, 'o', BS);
	t_prep_pwrite(&cb, fd, buf, BS, 0);
	if (t_submit_one(c.fd, &cb) != 1)
		return 12;
	if (t_wait(c.fd, &ev, 1, 20000) != 1 || ev.res != BS)
		return 13;
	t_ctx_close(&c);
	return 0;
}

/*
 * A read's page cleaned while the read was in flight is dirtied again when
 * the request is freed, under the page lock, which a user can hold for as
 * long as it likes (FUSE's ->page_mkwrite waits for its server with it).
 * Here: 300 O_DIRECT reads from a slow device into one page of an ext4
 * file mapping; while they are in flight the page is written back into a
 * suspended device (clean, under writeback) and truncated (truncate waits
 * for that writeback with the page locked). The reads end, and each free
 * waits for the page lock until the device resumes. Those frees are that
 * user's: another user's request, freed from iomap's completion task, and
 * its close must not wait behind them. With kaio's one global cleanup
 * queue (256 running items per NUMA node: the guest has one) they did,
 * until the device came back.
 */
TEST_F_TIMEOUT(flakey, ext4_frees_stuck_on_a_page_lock_hold_up_only_their_user, 150)
{
	enum { N = 300 };
	struct truncator tr = { .fd = -1, .tid = 0, .ret = 1 };
	struct iocb *cbs = calloc(N, sizeof(*cbs)), **ptrs = calloc(N, sizeof(*ptrs));
	struct io_event *ev = calloc(N, sizeof(*ev));
	static const char *const attrs[][2] = {
		{ "size", "16" },		/* MiB */
		{ "blocksize", "4096" },
		{ "memory_backed", "0" },	/* reads return no data: none checked */
		{ "irqmode", "2" },
		{ "completion_nsec", "4000000000" },	/* 4 s: all of it happens meanwhile */
	};
	char path[PATH_MAX], slow_dev[64], *page, *wbuf;
	const char *other_dir;
	bool other_done = false;
	pthread_t tr_t;
	int fd, sfd, ofd, status, i, tell = -1;
	pid_t resumer;
	uint64_t t0;
	unsigned int k;
	pid_t pid;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_TRUE(cbs && ptrs && ev);
	KAIO_ENV_OR_SKIP(other_dir, "KAIO_EXT4_DIR");
	if (getuid())
		SKIP(return, "needs root to run a second user");
	/* no journal: the truncate must need no I/O of its own */
	FLAKEY_EXT4_FEATURES(self, "^has_journal");

	/* the slow device the reads come from */
	snprintf(self->slow_dir, sizeof(self->slow_dir), NULLB_CFG "/slw%d", getpid());
	snprintf(slow_dev, sizeof(slow_dev), "/dev/slw%d", getpid());
	ASSERT_EQ(0, mkdir(self->slow_dir, 0755));
	self->slow_made = true;
	for (k = 0; k < sizeof(attrs) / sizeof(attrs[0]); k++)
		ASSERT_EQ(0, t_write_file(self->slow_dir, attrs[k][0], attrs[k][1], 0))
			TH_LOG("null_blk attribute %u", k);
	ASSERT_EQ(0, t_write_file(self->slow_dir, "power", "1", 0));
	self->slow_on = true;
	ASSERT_TRUE(wait_node(slow_dev));
	sfd = open(slow_dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, sfd);

	/* the page: one block of a file on the flakey ext4, allocated, mapped */
	snprintf(path, sizeof(path), "%s/mapped", self->mnt);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	wbuf = t_alloc(BS);
	memset(wbuf, 'm', BS);
	ASSERT_EQ(BS, pwrite(fd, wbuf, BS, 0));
	ASSERT_EQ(0, fsync(fd));
	page = mmap(NULL, BS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, page);
	page[0] = 'd';		/* dirty, writable: pinned without a fault */

	/* the other user's file: allocated, so its write is an overwrite */
	snprintf(path, sizeof(path), "%s/kaio-other-XXXXXX", other_dir);
	ofd = mkstemp(path);
	ASSERT_LE(0, ofd);
	ASSERT_EQ(BS, pwrite(ofd, wbuf, BS, 0));
	ASSERT_EQ(0, fsync(ofd));
	close(ofd);
	ofd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	unlink(path);
	ASSERT_LE(0, ofd);

	KAIO_CTX_INIT(&self->c, 512, 0);
	for (i = 0; i < N; i++) {
		t_prep_pread(&cbs[i], sfd, page, BS, (long long)(i % 64) * BS);
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(N, t_submit(self->c.fd, N, ptrs));

	/* clean: written back into the suspended device, which holds it */
	if (access("/proc/self/stack", R_OK))
		SKIP(return, "no /proc/PID/stack: cannot see where tasks wait");
	resumer = start_resumer(self->dm_name, 90, &tell);
	ASSERT_LT(0, resumer);
	ASSERT_EQ(0, dm_ioctl(DM_DEV_SUSPEND, self->dm_name,
			      DM_SUSPEND_FLAG | DM_SKIP_LOCKFS_FLAG, 0, NULL, NULL));
	self->suspended = true;
	ASSERT_EQ(0, sync_file_range(fd, 0, BS, SYNC_FILE_RANGE_WRITE));
	/* locked: truncate waits for that writeback holding the page lock */
	tr.fd = fd;
	ASSERT_EQ(0, pthread_create(&tr_t, NULL, truncate_thread, &tr));
	/* deadlines by the clock: the resumer ends the suspension at 90 s */
	for (t0 = t_now_ns(); ms_since(t0) < 3000; usleep(10000)) {
		pid_t tid = __atomic_load_n(&tr.tid, __ATOMIC_ACQUIRE);

		if (tid && task_stack_has(tid, false, "truncate_inode_pages_range",
					  "folio_wait_writeback"))
			break;
	}
	EXPECT_GT(3000, ms_since(t0)) TH_LOG("truncate did not wait for the writeback");

	/* the reads end (their events come before their frees) */
	EXPECT_EQ(N, t_wait(self->c.fd, ev, N, 30000));
	/* and their frees wait for the page lock */
	for (t0 = t_now_ns(); ms_since(t0) < 10000; usleep(100000))
		if (any_task_stack_has("kaio_rw_cleanup", "unpin_user_pages_dirty_lock"))
			break;
	EXPECT_GT(10000, ms_since(t0)) TH_LOG("no free waits for the page lock");

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(other_user_write_and_close(ofd));
	for (t0 = t_now_ns(); ms_since(t0) < 30000; usleep(50000))
		if (waitpid(pid, &status, WNOHANG) == pid) {
			other_done = true;
			break;
		}
	TH_LOG("other user %s after %.1f s", other_done ? "done" : "still waiting",
	       ms_since(t0) / 1000.0);

	/* let it all go, and see everything freed */
	/* a byte, not EOF: the other user's child may still hold the pipe */
	EXPECT_EQ(1, write(tell, "r", 1));
	close(tell);
	ASSERT_EQ(resumer, waitpid(resumer, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	self->suspended = false;
	pthread_join(tr_t, NULL);
	EXPECT_EQ(0, tr.ret);
	if (!other_done)
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(other_done)
		TH_LOG("the other user's close waited for this user's frees");
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("other user: status %#x", status);
	t_ctx_close(&self->c);
	munmap(page, BS);
	close(fd);
	close(ofd);
	close(sfd);
	expect_settled(_metadata, &self->g0, 5000);
	free(cbs);
	free(ptrs);
	free(ev);
}

/* ==== $KAIO_ERROR_DEV: dm-error, every bio fails =================================== */

FIXTURE(errdev) {
	struct t_stats g0;
	struct t_ctx c;
	const char *dev;
};

FIXTURE_SETUP(errdev)
{
	self->c.fd = self->c.dev = self->c.nullfd = -1;
	KAIO_BASELINE(&self->g0);
	KAIO_ENV_OR_SKIP(self->dev, "KAIO_ERROR_DEV");
}

FIXTURE_TEARDOWN(errdev)
{
	t_ctx_close(&self->c);
}

/*
 * One batch of everything on a device that fails every bio: O_DIRECT and
 * buffered reads, O_DIRECT writes and buffered DSYNC writes (one open file
 * each) all end with -EIO, once each. Plain buffered writes only reach
 * the page cache and succeed; the FSYNC after them reports -EIO, once: a
 * second FSYNC of the same open file finds nothing new (errseq).
 */
TEST_F_TIMEOUT(errdev, mixed_batch_each_once_EIO_fsync_reports_lost_writes, 90)
{
	struct batch *b = calloc(1, sizeof(*b));
	const long long base = 512LL << 20;	/* away from other tests' offsets */
	struct io_event ev;
	struct iocb cb;
	int dfd, bfd, pfd, own[16], i;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_CTX_INIT(&self->c, 256, 0);
	dfd = open(self->dev, O_RDWR | O_DIRECT);
	bfd = open_cold(self->dev, O_RDONLY);
	pfd = open(self->dev, O_RDWR);
	ASSERT_LE(0, dfd);
	ASSERT_LE(0, bfd);
	ASSERT_LE(0, pfd);
	for (i = 0; i < 16; i++) {
		own[i] = open(self->dev, O_RDWR);
		ASSERT_LE(0, own[i]);
		add(b, K_DREAD, dfd, base + (long long)i * BS, 0);
		add(b, K_DWRITE, dfd, base + (32LL + i) * BS, NEW_SEED);
		add(b, K_BREAD, bfd, base + (64LL + 4 * i) * BS, 0);
		add(b, K_SWRITE, own[i], base + (128LL + i) * BS, NEW_SEED);
		add(b, K_PWRITE, pfd, base + (160LL + i) * BS, NEW_SEED);
	}
	run_batch(_metadata, self->c.fd, b, 60000);
	EXPECT_EQ(16, expect_kind(_metadata, b, K_DREAD, -EIO, 0));
	EXPECT_EQ(16, expect_kind(_metadata, b, K_DWRITE, -EIO, 0));
	EXPECT_EQ(16, expect_kind(_metadata, b, K_BREAD, -EIO, 0));
	EXPECT_EQ(16, expect_kind(_metadata, b, K_SWRITE, -EIO, 0));
	EXPECT_EQ(16, expect_kind(_metadata, b, K_PWRITE, BS, 0));

	t_prep_fsync(&cb, pfd);
	ASSERT_EQ(1, t_submit_one(self->c.fd, &cb));
	ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, 30000));
	EXPECT_EQ(-EIO, ev.res) TH_LOG("FSYNC after writes to a dead device");
	ASSERT_EQ(1, t_submit_one(self->c.fd, &cb));
	ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, 30000));
	EXPECT_EQ(0, ev.res) TH_LOG("second FSYNC");
	ctx_still_usable(_metadata, self->c.fd, self->c.nullfd);
	for (i = 0; i < 16; i++)
		close(own[i]);
	close(dfd);
	close(bfd);
	close(pfd);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

TEST_HARNESS_MAIN
