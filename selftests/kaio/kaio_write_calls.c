// SPDX-License-Identifier: GPL-2.0
/*
 * How many ->write_iter calls a buffered write takes (safety review,
 * finding 7: atomicity).
 *
 * Native AIO makes one ->write_iter call for a buffered write, inside
 * io_submit, under the inode lock: readers that take the lock (xfs takes
 * it for every read) and other O_APPEND writers see all of the write or
 * none of it. kaio's first attempt is NOWAIT; on xfs, whose buffered
 * writes can be NOWAIT, it stops at the first page it cannot lock without
 * waiting, and the rest is written by a second call, with the inode lock
 * let go in between.
 *
 * Each test forces that stop: page 8 of a 16-page file on the slow xfs is
 * being read (a kaio read on a POSIX_FADV_RANDOM file: that page alone,
 * locked for the device's latency), and a 64 KiB write over the file
 * starts meanwhile. xfs's own tracepoint xfs_file_buffered_write, which
 * fires once per call that took the inode lock, counts the calls:
 *  - native AIO, the reference, in the same program: one call;
 *  - a KAIO_SETUP_WRITES_IN_SUBMIT context (the libaio drop-in's): one
 *    call, as native AIO (before, a NOWAIT attempt and a second call);
 *  - a default context: two calls, pages 0-7 and then 8-15 from a worker.
 *    Where kaio differs from native AIO on purpose (SUBMIT does not wait
 *    for the page); Documentation/reliability.md says so.
 *
 * xfs also refuses a NOWAIT write at once, before the tracepoint, when the
 * file's times must be updated (kiocb_modified()), which is then written
 * by the worker in one call; futimens() just before sets them to the
 * current clock tick. A stall of the guest longer than the read
 * (500 ms) would let the page be unlocked before the write gets there, and
 * a new clock tick makes the NOWAIT attempt refuse at once; the test sees
 * both (the write waited for nothing, or the default context's one call)
 * and tries again with a new file, up to five times, as the other
 * timing-dependent tests do (Documentation/reliability.md, "Timing in the
 * tests").
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/aio_abi.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define PAGE		4096
#define FILE_PAGES	16
#define LOCKED_PAGE	8
#define TRIES		5
#define SEED		0x3c11
#define TRACEFS		"/sys/kernel/tracing"
#define EVENT		"events/xfs/xfs_file_buffered_write"

/* One xfs_file_buffered_write line of our file: where the call started. */
struct call {
	unsigned long long pos, count;
};

enum backend { NATIVE, KAIO_IN_SUBMIT, KAIO_DEFAULT };

FIXTURE(calls) {
	const char *dir;
	bool tracing;
};

FIXTURE_SETUP(calls)
{
	int fd;

	self->tracing = false;
	KAIO_ENV_OR_SKIP(self->dir, "KAIO_SLOW_XFS_DIR");
	KAIO_DEV_OPEN(fd);	/* the module is loaded */
	close(fd);
	if (access(TRACEFS "/trace", F_OK))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	if (access(TRACEFS "/" EVENT, F_OK))
		SKIP(return, "no %s/%s (xfs tracepoints)", TRACEFS, EVENT);
	ASSERT_LT(0, t_slow_lat_ns());
	self->tracing = true;
}

FIXTURE_TEARDOWN(calls)
{
	if (!self->tracing)
		return;
	t_write_file(TRACEFS, EVENT "/enable", "0", O_TRUNC);
	t_write_file(TRACEFS, EVENT "/filter", "0", O_TRUNC);
	t_write_file(TRACEFS, "trace", "", O_TRUNC);
}

/* Trace the calls on inode @ino only, from an empty buffer. */
static int trace_start(unsigned long long ino)
{
	char filter[64];
	int r;

	snprintf(filter, sizeof(filter), "ino == %llu", ino);
	r = t_write_file(TRACEFS, EVENT "/filter", filter, O_TRUNC);
	if (!r)
		r = t_write_file(TRACEFS, "trace", "", O_TRUNC);
	if (!r)
		r = t_write_file(TRACEFS, EVENT "/enable", "1", O_TRUNC);
	if (!r)
		r = t_write_file(TRACEFS, "tracing_on", "1", O_TRUNC);
	return r;
}

/* Stop tracing and parse the calls into @c: how many, or -1. */
static int trace_calls(struct call *c, int max)
{
	char *all, *p;
	int n = 0;

	if (t_write_file(TRACEFS, EVENT "/enable", "0", O_TRUNC))
		return -1;
	all = t_read_whole(TRACEFS, "trace");
	if (!all)
		return -1;
	for (p = all; (p = strstr(p, "xfs_file_buffered_write:")); p++) {
		char *q = strstr(p, " pos 0x");

		if (!q || n == max)
			continue;
		if (sscanf(q, " pos 0x%llx bytecount 0x%llx", &c[n].pos,
			   &c[n].count) == 2)
			n++;
	}
	for (p = strtok(all, "\n"); p; p = strtok(NULL, "\n"))
		if (p[0] != '#')
			fprintf(stderr, "# trace: %s\n", p);
	free(all);
	return n;
}

/* The native AIO system calls (the selftests use no libaio). */
static long io_setup1(aio_context_t *ctx)
{
	return syscall(__NR_io_setup, 4, ctx);
}

static long io_submit1(aio_context_t ctx, struct iocb *cb)
{
	return syscall(__NR_io_submit, ctx, 1, &cb);
}

static long io_getevents1(aio_context_t ctx, struct io_event *ev, int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	return syscall(__NR_io_getevents, ctx, 1, 1, ev, &ts);
}

/*
 * One try: a new file, page LOCKED_PAGE being read, the 64 KiB write on
 * @how. Fills @c (up to 4 calls) and returns how many calls there were,
 * with *@waited set to whether the write found the page still locked
 * (SUBMIT waited for the read, or the default context's NOWAIT attempt
 * stopped there); the data is checked. A failed ASSERT ends the test
 * (the harness longjmps out).
 */
static int one_try(struct __test_metadata *_metadata, const char *dir,
		   enum backend how, struct call *c, bool *waited)
{
	const size_t len = FILE_PAGES * PAGE;
	unsigned char *buf = t_alloc(len), *back = t_alloc(len);
	unsigned char *rbuf = t_alloc(PAGE);
	struct t_ctx rc, wc;
	aio_context_t nctx = 0;
	struct iocb rcb, wcb;
	struct io_event ev;
	struct timespec zero = { 0, 0 };
	char path[PATH_MAX];
	unsigned long long t0, t1;
	struct stat st;
	int wfd, rfd, n;

	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), len, SEED));
	wfd = open(path, O_RDWR);
	rfd = open(path, O_RDONLY);
	unlink(path);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(0, fstat(wfd, &st));
	ASSERT_EQ(0, t_drop_file_cache(wfd));
	ASSERT_EQ(0, t_cached_pages(wfd, len));
	/* no readahead: the read locks its own page, no other */
	ASSERT_EQ(0, posix_fadvise(rfd, 0, 0, POSIX_FADV_RANDOM));

	/* the fixture found the module: an error here is a failure */
	ASSERT_EQ(0, t_ctx_init(&rc, 4, 0));
	if (how == NATIVE) {
		ASSERT_EQ(0, io_setup1(&nctx));
	} else {
		ASSERT_EQ(0, t_ctx_init(&wc, 4, how == KAIO_IN_SUBMIT ?
					KAIO_SETUP_WRITES_IN_SUBMIT : 0));
	}
	t_fill(buf, len, SEED + 1, 0);
	ASSERT_EQ(0, trace_start(st.st_ino));

	t_prep_pread(&rcb, rfd, rbuf, PAGE, LOCKED_PAGE * PAGE);
	ASSERT_EQ(1, t_submit_one(rc.fd, &rcb));
	/* waiting for its page, which is locked until the device answers */
	ASSERT_EQ(0, t_getevents(rc.fd, 0, 1, &ev, &zero));

	/*
	 * xfs refuses a NOWAIT write that must update the file's times
	 * (kiocb_modified()): set them to now, so that the write's first
	 * attempt, in the same clock tick, goes as far as the locked page.
	 */
	ASSERT_EQ(0, futimens(wfd, NULL));
	t0 = t_now_ns();
	if (how == NATIVE) {
		struct iocb *cb = &wcb;

		memset(&wcb, 0, sizeof(wcb));
		wcb.aio_lio_opcode = IOCB_CMD_PWRITE;
		wcb.aio_fildes = wfd;
		wcb.aio_buf = (uintptr_t)buf;
		wcb.aio_nbytes = len;
		ASSERT_EQ(1, io_submit1(nctx, cb));
		t1 = t_now_ns();
		ASSERT_EQ(1, io_getevents1(nctx, &ev, 30000));
	} else {
		t_prep_pwrite(&wcb, wfd, buf, len, 0);
		ASSERT_EQ(1, t_submit_one(wc.fd, &wcb));
		t1 = t_now_ns();
		ASSERT_EQ(1, t_wait(wc.fd, &ev, 1, 30000));
	}
	EXPECT_EQ((long long)len, ev.res);
	ASSERT_EQ(1, t_wait(rc.fd, &ev, 1, 30000));
	EXPECT_EQ(PAGE, ev.res);

	n = trace_calls(c, 4);
	ASSERT_LE(1, n);
	/*
	 * Found the page locked: a write done in SUBMIT waited there for
	 * the read (a good part of the device's latency); the default
	 * context's NOWAIT attempt stopped there.
	 */
	if (how == KAIO_DEFAULT)
		*waited = n == 2 && c[1].pos == LOCKED_PAGE * PAGE;
	else
		*waited = t1 - t0 > (unsigned long long)t_slow_lat_ns() / 4;
	TH_LOG("%s: SUBMIT %llu us, %d call(s), %s",
	       how == NATIVE ? "native AIO" : how == KAIO_IN_SUBMIT ?
	       "kaio, WRITES_IN_SUBMIT" : "kaio, default context",
	       (t1 - t0) / 1000, n,
	       *waited ? "page was locked" : "page was not locked: stall");

	ASSERT_EQ((ssize_t)len, pread(wfd, back, len, 0));
	EXPECT_EQ(-1, t_check(back, len, SEED + 1, 0));
	if (how == NATIVE)
		syscall(__NR_io_destroy, nctx);
	else
		t_ctx_close(&wc);
	t_ctx_close(&rc);
	close(rfd);
	close(wfd);
	return n;
}

/* Tries until the page was locked when the write reached it: the calls. */
static int calls_of(struct __test_metadata *_metadata, const char *dir,
		    enum backend how, struct call *c)
{
	bool waited = false;
	int i, n = -1;

	for (i = 0; i < TRIES && !waited; i++) {
		n = one_try(_metadata, dir, how, c, &waited);
	}
	EXPECT_TRUE(waited) TH_LOG("the page was never locked in %d tries", TRIES);
	return n;
}

/* One call over the whole write, as native AIO makes. */
static void one_call(struct __test_metadata *_metadata, const char *dir,
		     enum backend how)
{
	struct call c[4];

	ASSERT_EQ(1, calls_of(_metadata, dir, how, c));
	EXPECT_EQ(0, c[0].pos);
	EXPECT_EQ(FILE_PAGES * PAGE, c[0].count);
}

TEST_F_TIMEOUT(calls, native_aio_one_call, 120)
{
	KAIO_SKIPPED_IN_SETUP();
	one_call(_metadata, self->dir, NATIVE);
}

TEST_F_TIMEOUT(calls, writes_in_submit_one_call_as_native_aio, 120)
{
	KAIO_SKIPPED_IN_SETUP();
	one_call(_metadata, self->dir, KAIO_IN_SUBMIT);
}

TEST_F_TIMEOUT(calls, default_context_splits_at_locked_page, 120)
{
	struct call c[4];

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(2, calls_of(_metadata, self->dir, KAIO_DEFAULT, c));
	EXPECT_EQ(0, c[0].pos);
	EXPECT_EQ(FILE_PAGES * PAGE, c[0].count);
	EXPECT_EQ(LOCKED_PAGE * PAGE, c[1].pos);
	EXPECT_EQ((FILE_PAGES - LOCKED_PAGE) * PAGE, c[1].count);
}

TEST_HARNESS_MAIN
