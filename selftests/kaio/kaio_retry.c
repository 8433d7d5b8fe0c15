// SPDX-License-Identifier: GPL-2.0
/*
 * The retry engine: a buffered read that misses the page cache must not
 * wait inside SUBMIT. Its first attempt (IOCB_NOWAIT) starts readahead, then
 * the module pins the buffer and arms a page-wait callback; the wake-up
 * queues a retry that reads on from where the last attempt stopped
 * (res2 KAIO_PATH_RETRY), looping over short reads. A retry that still
 * cannot read (a read error) makes one blocking attempt on a worker
 * (res2 KAIO_PATH_WORKER), which reports -EIO.
 *
 * Run on the slow devices ($KAIO_SLOW_EXT4_DIR, $KAIO_SLOW_XFS_DIR: ten
 * milliseconds or more per I/O), so that "cold" really means the data is
 * not there for a long time after SUBMIT. Every file is written, synced and
 * dropped from the page cache first, and mincore() confirms it is cold.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define SEED		0x7e791eu
#define FILE_SIZE	((8 << 20) + 777)	/* ends mid-page */
#define FILE_PAGES	(FILE_SIZE / 4096)	/* whole pages */
#define WAIT_MS		30000
#define CANARY		0xa5

static unsigned int rnd(unsigned int *s)
{
	/* xorshift32: reproducible from the seed in the log */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * @n distinct random pages of the file, in random order, never next to each
 * other: one page out of the first three of @n random 16 KiB slots (slot 0,
 * where readahead starts big, excluded).
 */
static void pick_pages(unsigned int seed, unsigned int *pages, unsigned int n)
{
	unsigned int nslots = FILE_PAGES / 4 - 1, *slot, i;

	slot = malloc(nslots * sizeof(*slot));
	for (i = 0; i < nslots; i++)
		slot[i] = i + 1;
	for (i = 0; i < n; i++) {
		unsigned int j = i + rnd(&seed) % (nslots - i), t = slot[i];

		slot[i] = slot[j];
		slot[j] = t;
		pages[i] = slot[i] * 4 + rnd(&seed) % 3;
	}
	free(slot);
}

/* CPU time of this thread, ns: to tell running from sleeping in SUBMIT. */
static unsigned long long thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Times this thread gave up the CPU to wait (voluntary context switches). */
static long thread_sleeps(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw;
}

FIXTURE(cold) {
	struct t_ctx c;
	int fd;
};

KAIO_SLOW_FS_VARIANTS(cold);

FIXTURE_SETUP(cold)
{
	const char *dir;

	self->fd = -1;
	KAIO_ENV_OR_SKIP(dir, variant->env);
	KAIO_CTX_INIT(&self->c, 256, KAIO_SETUP_RES2_PATH);
	KAIO_COLD_FILE(self->fd, dir, FILE_SIZE, SEED);
	TH_LOG("%s, slow latency %lld ns", dir, t_slow_lat_ns());
}

FIXTURE_TEARDOWN(cold)
{
	if (self->fd >= 0)
		close(self->fd);
	t_ctx_close(&self->c);
}

/* Submit @cb alone, take its event, check obj/data. */
static struct io_event run_one(struct __test_metadata *_metadata, int ctx,
			       struct iocb *cb)
{
	struct io_event ev;

	memset(&ev, 0x5a, sizeof(ev));
	ASSERT_EQ(1, t_submit_one(ctx, cb));
	ASSERT_EQ(1, t_wait(ctx, &ev, 1, WAIT_MS));
	EXPECT_EQ((uintptr_t)cb, ev.obj);
	EXPECT_EQ(cb->aio_data, ev.data);
	return ev;
}

/*
 * What kaio read (@len bytes asked, @res got, at @buf) against pread() of
 * the same range, and the file's pattern: the same count, the same bytes,
 * and nothing written past the count.
 */
static void same_as_pread(struct __test_metadata *_metadata, int fd,
			  const unsigned char *buf, size_t len, long long res,
			  long long off)
{
	unsigned char *want = malloc(len + 1);
	ssize_t n;
	size_t i;

	ASSERT_NE(NULL, want);
	n = pread(fd, want, len, off);
	EXPECT_EQ(n, res) TH_LOG("pread %zd at %lld len %zu, kaio %lld",
				 n, off, len, res);
	if (n == res && n > 0) {
		EXPECT_EQ(0, memcmp(buf, want, n)) TH_LOG("bytes differ at %lld", off);
		EXPECT_EQ(-1, t_check(buf, n, SEED, off));
	}
	for (i = res > 0 ? res : 0; i < len; i++)
		if (buf[i] != CANARY)
			break;
	EXPECT_EQ(len, i) TH_LOG("byte %zu past the count was written", i);
	free(want);
}

/* Is the whole batch done? obj/data one to one, every read 4 KiB. */
static void check_batch(struct __test_metadata *_metadata, struct iocb *cbs,
			struct io_event *ev, int n, long long want_res2)
{
	char *seen = calloc(n, 1);
	int i;

	for (i = 0; i < n; i++) {
		unsigned long long k = ev[i].data;

		ASSERT_GT((unsigned long long)n, k);
		EXPECT_EQ(0, seen[k]) TH_LOG("iocb %llu: two events", k);
		seen[k] = 1;
		EXPECT_EQ((uintptr_t)&cbs[k], ev[i].obj);
		EXPECT_EQ(4096, ev[i].res) TH_LOG("iocb %llu", k);
		EXPECT_EQ(want_res2, ev[i].res2) TH_LOG("iocb %llu", k);
	}
	free(seen);
}

/* @name of the block device under @dir, from /sys/dev/block: 0 or -1. */
static int dev_attr(const char *dir, const char *name, char *buf, size_t len)
{
	char path[128];
	struct stat st;
	FILE *f;
	int ret = -1;

	if (stat(dir, &st))
		return -1;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s",
		 major(st.st_dev), minor(st.st_dev), name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, len, f)) {
		buf[strcspn(buf, "\n")] = 0;
		ret = 0;
	}
	fclose(f);
	return ret;
}

/*
 * Wait up to @ms for the device under @dir to have no request in flight,
 * and log its queue. A read's readahead takes a request from the device's
 * queue in SUBMIT, and when the queue is full SUBMIT waits for one to be
 * freed, as any submitter of readahead does (io_uring's too): the block
 * layer's back-pressure, not a wait for the read's own data. With 17 writes
 * of another file in flight, 64 cold reads waited 495 ms (ext4) and 505 ms
 * (xfs) there. A test of "SUBMIT waits for no read" starts from an idle
 * device: left-over writeback of earlier tests (xfs pushes metadata in the
 * background) once made it fail (521 ms, CI).
 */
static void wait_device_idle(struct __test_metadata *_metadata,
			     const char *dir, int ms)
{
	char inflight[64] = "?", sched[128] = "?", nr[32] = "?";
	unsigned long r = 1, w = 1;
	int waited;

	for (waited = 0; waited < ms; waited += 10) {
		if (dev_attr(dir, "inflight", inflight, sizeof(inflight)) ||
		    sscanf(inflight, "%lu %lu", &r, &w) != 2 || (!r && !w))
			break;
		usleep(10000);
	}
	dev_attr(dir, "queue/scheduler", sched, sizeof(sched));
	dev_attr(dir, "queue/nr_requests", nr, sizeof(nr));
	TH_LOG("device: scheduler %s, nr_requests %s; in flight (reads writes) %s after %d ms",
	       sched, nr, inflight, waited);
}

/*
 * 64 cold random 4 KiB reads in one SUBMIT: the call returns before the data
 * is there, because every read waits for its page through the callback and
 * finishes on the retry workqueue, never on a blocking worker. That SUBMIT
 * waited for no read is told by its time: less than one completion latency
 * of the slow device (a wait for any read would take at least that). It
 * was a tenth of the time to the last completion; on the debug kernel
 * (KASAN) SUBMIT's own CPU work alone takes longer than that, while still
 * waiting for nothing.
 */
TEST_F_TIMEOUT(cold, random_reads_one_submit_wait_for_pages_outside_submit, 120)
{
	enum { N = 64 };
	struct iocb cbs[N], *ptrs[N];
	struct io_event ev[N];
	struct t_stats s0, s1, d;
	unsigned int pages[N];
	unsigned char *buf = t_alloc(N * 4096);
	unsigned long long t0, t1, t2, cpu;
	long n, sleeps;
	int i;

	KAIO_SKIPPED_IN_SETUP();
	pick_pages(0x51ab0 ^ (unsigned int)self->fd, pages, N);
	memset(buf, CANARY, N * 4096);	/* faulted in: SUBMIT only pins */
	for (i = 0; i < N; i++) {
		t_prep_pread(&cbs[i], self->fd, buf + i * 4096, 4096,
			     pages[i] * 4096LL);
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	wait_device_idle(_metadata, getenv(variant->env), 30000);

	sleeps = thread_sleeps();
	cpu = thread_cpu_ns();
	t0 = t_now_ns();
	n = t_submit(self->c.fd, N, ptrs);
	t1 = t_now_ns();
	cpu = thread_cpu_ns() - cpu;
	sleeps = thread_sleeps() - sleeps;
	ASSERT_EQ(N, n);
	ASSERT_EQ(N, t_wait(self->c.fd, ev, N, WAIT_MS));
	t2 = t_now_ns();

	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	TH_LOG("SUBMIT %llu us (on CPU %llu us, slept %ld times), last completion %llu us after it started (SUBMIT %.1f%%)",
	       (t1 - t0) / 1000, cpu / 1000, sleeps, (t2 - t0) / 1000,
	       100.0 * (t1 - t0) / (t2 - t0));

	check_batch(_metadata, cbs, ev, N, KAIO_PATH_RETRY);
	EXPECT_LT(t1 - t0, (unsigned long long)t_slow_lat_ns())
		TH_LOG("SUBMIT took longer than one read of the slow device");
	EXPECT_EQ(N, d.submitted);
	EXPECT_LE(N, d.page_wait_arms);
	EXPECT_EQ(0, d.worker);
	EXPECT_LE(1, d.retries);
	EXPECT_EQ(0, d.inlined);
	/*
	 * every armed callback fires once and queues one retry; a waiter
	 * that could not finish one hands it on (retries_requeued)
	 */
	EXPECT_EQ(d.page_wait_arms, d.wakeups);
	EXPECT_EQ(d.wakeups + d.retries_requeued, d.retries);
	EXPECT_EQ(0, s1.in_flight);
	for (i = 0; i < N; i++)
		same_as_pread(_metadata, self->fd, buf + i * 4096, 4096, 4096,
			      pages[i] * 4096LL);
}

/*
 * A read of a file whose access time is due (relatime: the file changed
 * since it was last read, or a day went by) updates the atime. 6.1's
 * filemap_read() and the O_DIRECT reads call file_accessed() on every
 * attempt, even one that returns -EAGAIN, and the update is a transaction
 * that may read the inode's block from the device: xfs once the inode was
 * written back (xfs_trans_log_inode() reads its cluster buffer), ext4 once
 * the inode table block left memory. In SUBMIT that read is a wait for the
 * device: CI once saw SUBMIT of 64 cold reads of a new xfs file take 521 ms,
 * one read of the slow device. Made certain here: the atime two days old,
 * the metadata written back (freeze, thaw) and dropped from memory. SUBMIT
 * must not wait, and the atime must still be updated, as a native read's is.
 */
/*
 * Make the atime of @fd due (two days old), with the inode written back
 * (freeze, thaw) and every clean page and buffer dropped: an atime update
 * must then read the inode's block from the device.
 */
static void atime_due_and_metadata_cold(struct __test_metadata *_metadata,
					int fd, const char *dir)
{
	struct timespec times[2] = {
		{ .tv_sec = time(NULL) - 2 * 86400 }, { .tv_nsec = UTIME_OMIT },
	};
	struct stat st;
	int dirfd;

	ASSERT_EQ(0, futimens(fd, times));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dirfd);
	ASSERT_EQ(0, ioctl(dirfd, FIFREEZE, 0));
	EXPECT_EQ(0, ioctl(dirfd, FITHAW, 0));
	close(dirfd);
	/* Not mincore() to check: its mmap() would update the atime. */
	ASSERT_EQ(0, t_write_file("/proc/sys/vm", "drop_caches", "3", 0));
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_GT(time(NULL) - 86400, st.st_atime);
}

TEST_F_TIMEOUT(cold, read_with_atime_due_updates_it_outside_submit, 120)
{
	unsigned char *buf = t_alloc(4096);
	unsigned long long t0, t1;
	struct t_stats s0, s1, d;
	struct io_event ev;
	struct iocb cb;
	struct stat st;
	time_t before;
	long sleeps;

	KAIO_SKIPPED_IN_SETUP();
	atime_due_and_metadata_cold(_metadata, self->fd, getenv(variant->env));

	memset(buf, CANARY, 4096);
	t_prep_pread(&cb, self->fd, buf, 4096, 40960);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	before = time(NULL);
	sleeps = thread_sleeps();
	t0 = t_now_ns();
	ASSERT_EQ(1, t_submit_one(self->c.fd, &cb));
	t1 = t_now_ns();
	sleeps = thread_sleeps() - sleeps;
	ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, WAIT_MS));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	TH_LOG("SUBMIT %llu us (slept %ld times), res %lld res2 %lld",
	       (t1 - t0) / 1000, sleeps, ev.res, ev.res2);

	EXPECT_LT(t1 - t0, (unsigned long long)t_slow_lat_ns())
		TH_LOG("SUBMIT waited for the device");
	EXPECT_EQ(4096, ev.res);
	/* Before pread() below, which would update it itself. */
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_LE(before, st.st_atime) TH_LOG("atime not updated");
	same_as_pread(_metadata, self->fd, buf, 4096, ev.res, 40960);
	/* A worker updated it, then the read waited for its page as usual. */
	EXPECT_EQ(1, d.worker);
	EXPECT_EQ(KAIO_PATH_WORKER, ev.res2);
	EXPECT_EQ(0, d.inlined);
	EXPECT_EQ(d.page_wait_arms, d.wakeups);

	/* Now the atime is not due: the next cold read starts in SUBMIT. */
	t_prep_pread(&cb, self->fd, buf, 4096, 4 << 20);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(1, t_submit_one(self->c.fd, &cb));
	ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, WAIT_MS));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	EXPECT_EQ(0, d.worker);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
}

/*
 * A warm read whose atime is due completes inside SUBMIT, as native AIO's
 * does, atime update included: libaio programs (libaio's own harness, cases
 * 4-8, 10 and 15) reap it with io_getevents(min_nr 0) right after io_submit.
 * Plain and RWF_NOWAIT alike. The page is cached through an O_NOATIME fd,
 * the metadata is cold: SUBMIT may wait for the inode's block, as native
 * AIO's io_submit does (logged, not judged).
 */
static void warm_read_with_atime_due(struct __test_metadata *_metadata,
				     int ctx, int fd, const char *dir,
				     int rw_flags)
{
	struct timespec zero = { 0, 0 };
	unsigned char *buf = t_alloc(4096);
	unsigned long long t0, t1;
	struct io_event ev;
	struct iocb cb;
	struct stat st;
	char path[64];
	time_t before;
	int noatime;

	atime_due_and_metadata_cold(_metadata, fd, dir);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	noatime = open(path, O_RDONLY | O_NOATIME);
	ASSERT_LE(0, noatime);
	ASSERT_EQ(4096, pread(noatime, buf, 4096, 40960));
	close(noatime);
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_GT(time(NULL) - 86400, st.st_atime);

	memset(buf, CANARY, 4096);
	t_prep_pread(&cb, fd, buf, 4096, 40960);
	cb.aio_rw_flags = rw_flags;
	before = time(NULL);
	t0 = t_now_ns();
	ASSERT_EQ(1, t_submit_one(ctx, &cb));
	t1 = t_now_ns();
	ASSERT_EQ(1, t_getevents(ctx, 0, 1, &ev, &zero))
		TH_LOG("no event when SUBMIT returned");
	TH_LOG("SUBMIT %llu us, res %lld res2 %lld", (t1 - t0) / 1000,
	       ev.res, ev.res2);
	EXPECT_EQ(4096, ev.res);
	EXPECT_EQ(KAIO_PATH_INLINE, ev.res2);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_LE(before, st.st_atime) TH_LOG("atime not updated");
	same_as_pread(_metadata, fd, buf, 4096, ev.res, 40960);
}

TEST_F_TIMEOUT(cold, warm_read_with_atime_due_completes_inside_submit, 120)
{
	KAIO_SKIPPED_IN_SETUP();
	warm_read_with_atime_due(_metadata, self->c.fd, self->fd,
				 getenv(variant->env), 0);
}

TEST_F_TIMEOUT(cold, warm_rwf_nowait_read_with_atime_due_completes_inside_submit, 120)
{
	KAIO_SKIPPED_IN_SETUP();
	warm_read_with_atime_due(_metadata, self->c.fd, self->fd,
				 getenv(variant->env), RWF_NOWAIT);
}

/* The same reads again, now cached: all inside SUBMIT, no wait, no retry. */
TEST_F_TIMEOUT(cold, same_reads_again_warm_all_INLINE, 120)
{
	enum { N = 64 };
	struct iocb cbs[N], *ptrs[N];
	struct io_event ev[N];
	struct t_stats s0, s1, d;
	struct timespec zero = { 0, 0 };
	unsigned int pages[N];
	unsigned char *buf = t_alloc(N * 4096);
	unsigned long long t0;
	int i;

	KAIO_SKIPPED_IN_SETUP();
	pick_pages(0x3a3a ^ (unsigned int)self->fd, pages, N);
	for (i = 0; i < N; i++) {
		t_prep_pread(&cbs[i], self->fd, buf + i * 4096, 4096,
			     pages[i] * 4096LL);
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	/* cold, to warm the cache the same way */
	ASSERT_EQ(N, t_submit(self->c.fd, N, ptrs));
	ASSERT_EQ(N, t_wait(self->c.fd, ev, N, WAIT_MS));
	check_batch(_metadata, cbs, ev, N, KAIO_PATH_RETRY);

	memset(buf, CANARY, N * 4096);
	for (i = 0; i < N; i++) {
		t_prep_pread(&cbs[i], self->fd, buf + i * 4096, 4096,
			     pages[i] * 4096LL);
		cbs[i].aio_data = i;
	}
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	t0 = t_now_ns();
	ASSERT_EQ(N, t_submit(self->c.fd, N, ptrs));
	TH_LOG("SUBMIT of %d cached reads: %llu us", N,
	       (t_now_ns() - t0) / 1000);
	/* completed inside SUBMIT: every event is there without waiting */
	ASSERT_EQ(N, t_getevents(self->c.fd, 0, N, ev, &zero));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);

	check_batch(_metadata, cbs, ev, N, KAIO_PATH_INLINE);
	EXPECT_EQ(N, d.inlined);
	EXPECT_EQ(0, d.page_wait_arms);
	EXPECT_EQ(0, d.wakeups);
	EXPECT_EQ(0, d.retries);
	EXPECT_EQ(0, d.worker);
	for (i = 0; i < N; i++)
		same_as_pread(_metadata, self->fd, buf + i * 4096, 4096, 4096,
			      pages[i] * 4096LL);
}

/* One cold PREAD of @len at @off; returns its event after checking bytes. */
static struct io_event cold_read(struct __test_metadata *_metadata,
				 FIXTURE_DATA(cold) *self, long long off,
				 size_t len, struct t_stats *delta)
{
	unsigned char *buf = t_alloc(len + 1);
	struct t_stats s0, s1;
	struct io_event ev;
	struct iocb cb;

	memset(buf, CANARY, len + 1);
	t_prep_pread(&cb, self->fd, buf, len, off);
	cb.aio_data = off;
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ev = run_one(_metadata, self->c.fd, &cb);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	*delta = t_stats_sub(&s1, &s0);
	t_stats_log("delta", delta);
	TH_LOG("read %zu at %lld: res %lld res2 %lld", len, off, ev.res, ev.res2);
	same_as_pread(_metadata, self->fd, buf, len, ev.res, off);
	return ev;
}

TEST_F_TIMEOUT(cold, read_across_page_boundary, 120)
{
	struct t_stats d;
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ev = cold_read(_metadata, self, 4096 - 100, 200, &d);
	EXPECT_EQ(200, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
	EXPECT_LE(1, d.retries);
	EXPECT_EQ(0, d.worker);
}

TEST_F_TIMEOUT(cold, read_across_1MiB_boundary, 120)
{
	struct t_stats d;
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ev = cold_read(_metadata, self, (1 << 20) - 1, 3, &d);
	EXPECT_EQ(3, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
	EXPECT_LE(1, d.retries);
	EXPECT_EQ(0, d.worker);
}

/* A read over EOF returns what is there, as pread does. */
TEST_F_TIMEOUT(cold, read_spanning_eof_short_count_as_pread, 120)
{
	struct t_stats d;
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ev = cold_read(_metadata, self, FILE_SIZE - 100, 8192, &d);
	EXPECT_EQ(100, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
	EXPECT_EQ(0, d.worker);
}

/* Nothing to read: 0, decided inside SUBMIT. */
TEST_F_TIMEOUT(cold, read_at_eof_0_inline, 120)
{
	struct t_stats d;
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ev = cold_read(_metadata, self, FILE_SIZE, 4096, &d);
	EXPECT_EQ(0, ev.res);
	EXPECT_EQ(KAIO_PATH_INLINE, ev.res2);
	EXPECT_EQ(0, d.page_wait_arms);
}

TEST_F_TIMEOUT(cold, read_past_eof_0_inline, 120)
{
	struct t_stats d;
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ev = cold_read(_metadata, self, FILE_SIZE + (1 << 20), 4096, &d);
	EXPECT_EQ(0, ev.res);
	EXPECT_EQ(KAIO_PATH_INLINE, ev.res2);
	EXPECT_EQ(0, d.page_wait_arms);
}

/*
 * 1 MiB cold: readahead brings it in window by window, so the request waits
 * for pages, reads what is there and waits again, several times; the bytes
 * still come out in order.
 */
TEST_F_TIMEOUT(cold, read_1MiB_cold_many_retries, 120)
{
	struct t_stats d;
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ev = cold_read(_metadata, self, (2 << 20) + 100, 1 << 20, &d);
	EXPECT_EQ(1 << 20, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
	EXPECT_LT(1, d.retries);
	EXPECT_EQ(d.page_wait_arms, d.wakeups);
	EXPECT_EQ(d.wakeups + d.retries_requeued, d.retries);
	EXPECT_EQ(0, d.worker);
}

/*
 * A buffered 1 MiB read of a block device, cold: longer than readahead's
 * window, so it waits and reads on several times, and must come back
 * whole, as native AIO's does. Its end is the device's size, which a
 * block device node's own inode does not have (i_size 0): the read once
 * stopped after its first part.
 */
TEST(blockdev_buffered_1MiB_cold_read_is_whole)
{
	enum { LEN = 1 << 20 };
	unsigned char *buf = t_alloc(LEN);
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	const char *dev;
	int fd;

	KAIO_ENV_OR_SKIP(dev, "KAIO_SLOW_RAW_DEV");
	fd = t_slow_raw_open(dev, LEN / T_BS);
	ASSERT_LE(0, fd);
	close(fd);
	fd = open(dev, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	memset(buf, CANARY, LEN);
	t_prep_pread(&cb, fd, buf, LEN, T_RAW_OFF);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, WAIT_MS));
	TH_LOG("res %lld res2 %lld", ev.res, ev.res2);
	EXPECT_EQ(LEN, ev.res);
	EXPECT_EQ(-1, t_check(buf, ev.res > 0 ? ev.res : 0, T_RAW_SEED,
			      T_RAW_OFF));
	close(fd);
	t_ctx_close(&c);
}

/* PREADV with odd-sized iovecs at odd addresses, cold: as one pread. */
TEST_F_TIMEOUT(cold, preadv_odd_iovecs_cold_as_pread, 120)
{
	static const size_t sizes[] = { 1, 4095, 4097, 333, 10000, 65537, 7 };
	enum { NIOV = sizeof(sizes) / sizeof(sizes[0]) };
	const long long off = 12345;
	struct iovec iov[NIOV];
	struct t_stats s0, s1, d;
	struct io_event ev;
	struct iocb cb;
	size_t total = 0, done = 0;
	unsigned char *flat;
	int i;

	KAIO_SKIPPED_IN_SETUP();
	for (i = 0; i < NIOV; i++) {
		/* each its own mapping, starting @i+1 bytes into it */
		iov[i].iov_base = (char *)t_alloc(sizes[i] + 4096) + i + 1;
		iov[i].iov_len = sizes[i];
		memset(iov[i].iov_base, CANARY, sizes[i]);
		total += sizes[i];
	}
	t_prep_preadv(&cb, self->fd, iov, NIOV, off);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ev = run_one(_metadata, self->c.fd, &cb);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ((long long)total, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
	EXPECT_EQ(0, d.worker);

	flat = malloc(total);
	ASSERT_NE(NULL, flat);
	for (i = 0; i < NIOV; i++) {
		memcpy(flat + done, iov[i].iov_base, sizes[i]);
		done += sizes[i];
	}
	same_as_pread(_metadata, self->fd, flat, total, ev.res, off);
	free(flat);
}

/* ---- read errors ---------------------------------------------------------- */

/* After a failed read the context still works: a NOOP completes. */
static void ctx_still_usable(struct __test_metadata *_metadata,
			     struct t_ctx *c)
{
	struct io_event ev;
	struct iocb cb;

	t_prep_noop(&cb, c->nullfd);
	cb.aio_data = 0x600d;
	ev = run_one(_metadata, c->fd, &cb);
	EXPECT_EQ(0, ev.res);
	EXPECT_EQ(KAIO_PATH_INLINE, ev.res2);
}

/*
 * dm-error fails every bio at once, inside submit_bio(): the page is
 * unlocked and not uptodate before any callback could be armed, so the
 * read goes straight to its one blocking attempt, which reports -EIO.
 */
TEST(dm_error_buffered_read_EIO_from_worker)
{
	struct t_stats s0, s1, d;
	struct t_ctx c;
	struct io_event ev;
	struct iocb cb;
	char *buf = t_alloc(4096);
	const char *dev;
	int fd;

	KAIO_ENV_OR_SKIP(dev, "KAIO_ERROR_DEV");
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	fd = open(dev, O_RDONLY);
	ASSERT_LE(0, fd);
	/* no failed page left in the cache by an earlier read */
	ASSERT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
	t_prep_pread(&cb, fd, buf, 4096, 3 << 20);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s0));
	ev = run_one(_metadata, c.fd, &cb);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(-EIO, ev.res);
	EXPECT_EQ(KAIO_PATH_WORKER, ev.res2);
	EXPECT_EQ(1, d.worker);
	EXPECT_EQ(0, d.inlined);
	ctx_still_usable(_metadata, &c);
	close(fd);
	t_ctx_close(&c);
}

/*
 * An error that arrives later, from the device's completion: a null_blk
 * made here through configfs whose every sector is a bad block, with
 * timer completions (named without "kaio": the runner's dmesg check flags
 * kaio lines with "error" in them, and this device logs I/O errors). The read arms its callback, the page is unlocked not
 * uptodate, the retry cannot read it and falls back to one blocking attempt,
 * which reports -EIO: path WORKER, after RETRY.
 */
#define CONFIGFS	"/sys/kernel/config"
#define NULLB_CFG	CONFIGFS "/nullb"

FIXTURE(baddev) {
	char dir[128];
	char dev[64];
	bool made, powered;
};

FIXTURE_SETUP(baddev)
{
	static const char *const attrs[][2] = {
		{ "size", "4" },		/* MiB */
		{ "blocksize", "4096" },
		{ "irqmode", "2" },		/* timer: errors come later */
		/*
		 * Far slower than SUBMIT's own CPU work under TCG (~1 ms per
		 * cold read): at 2 ms the error sometimes came before the
		 * page-wait attempt, which then, rightly, went straight to a
		 * worker without arming.
		 */
		{ "completion_nsec", "200000000" },
	};
	char range[64];
	struct stat st;
	unsigned int i;
	char *buf;
	int fd;

	self->made = self->powered = false;
	if (access(NULLB_CFG, F_OK))
		mount("configfs", CONFIGFS, "configfs", 0, NULL);
	if (access(NULLB_CFG, F_OK))
		SKIP(return, "no null_blk configfs (%s)", NULLB_CFG);
	snprintf(self->dir, sizeof(self->dir), NULLB_CFG "/errblk%d", getpid());
	snprintf(self->dev, sizeof(self->dev), "/dev/errblk%d", getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0755)) TH_LOG("mkdir %s: %s", self->dir,
						    strerror(errno));
	self->made = true;
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		ASSERT_EQ(0, t_write_file(self->dir, attrs[i][0], attrs[i][1], 0))
			TH_LOG("%s = %s", attrs[i][0], attrs[i][1]);
	/*
	 * Every sector bad, 512 at a time in ascending order: 6.1's
	 * badblocks_set() stores a longer range as pieces in descending
	 * order, which its binary search then misses.
	 */
	for (i = 0; i < (4 << 20) / 512; i += 512) {
		snprintf(range, sizeof(range), "+%u-%u", i, i + 511);
		ASSERT_EQ(0, t_write_file(self->dir, "badblocks", range, 0))
			TH_LOG("%s", range);
	}
	ASSERT_EQ(0, t_write_file(self->dir, "power", "1", 0));
	self->powered = true;
	/* 6.1 names a configfs null_blk after its directory */
	for (i = 0; i < 50 && access(self->dev, F_OK); i++)
		usleep(100000);	/* devtmpfs makes the node */
	ASSERT_EQ(0, stat(self->dev, &st)) TH_LOG("%s", self->dev);
	ASSERT_TRUE(S_ISBLK(st.st_mode));
	/* the device really fails reads (O_DIRECT: nothing cached) */
	fd = open(self->dev, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, fd);
	buf = t_alloc(4096);
	EXPECT_EQ(-1, pread(fd, buf, 4096, 2 << 20));
	EXPECT_EQ(EIO, errno);
	close(fd);
}

FIXTURE_TEARDOWN(baddev)
{
	if (self->powered)
		t_write_file(self->dir, "power", "0", 0);
	if (self->made)
		rmdir(self->dir);
}

TEST_F_TIMEOUT(baddev, read_error_after_wait_RETRY_then_WORKER_EIO, 60)
{
	struct t_stats s0, s1, d;
	struct t_ctx c;
	struct io_event ev;
	struct iocb cb;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	fd = open(self->dev, O_RDONLY);
	ASSERT_LE(0, fd);
	t_prep_pread(&cb, fd, buf, 4096, 1 << 20);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s0));
	ev = run_one(_metadata, c.fd, &cb);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(-EIO, ev.res);
	EXPECT_EQ(KAIO_PATH_WORKER, ev.res2);
	EXPECT_LE(1, d.page_wait_arms);
	EXPECT_LE(1, d.wakeups);
	EXPECT_LE(1, d.retries);
	EXPECT_EQ(1, d.worker);
	ctx_still_usable(_metadata, &c);
	close(fd);
	t_ctx_close(&c);
}

TEST_HARNESS_MAIN
