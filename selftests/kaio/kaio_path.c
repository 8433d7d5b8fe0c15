// SPDX-License-Identifier: GPL-2.0
/*
 * KAIO_SETUP_RES2_PATH: res2 is the slowest path a request took, and the
 * context's counters agree. Each case here has exactly one possible path:
 *   O_DIRECT read on the raw null_blk   ASYNC  (queued to the block layer
 *                                              inside SUBMIT, completed by
 *                                              ki_complete)
 *   buffered write on ext4             WORKER (ext4 has no FMODE_BUF_WASYNC:
 *                                              it cannot write without
 *                                              possibly blocking)
 *   FSYNC, FDSYNC                      WORKER (always block)
 *   NOOP                               INLINE
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define SEED	0x9a7f5u

/* Submit @cb alone, take its event; @delta gets the counters' change. */
static struct io_event run_one(struct __test_metadata *_metadata,
			       struct t_ctx *c, struct iocb *cb,
			       struct t_stats *delta)
{
	struct t_stats s0, s1;
	struct io_event ev;

	memset(&ev, 0x5a, sizeof(ev));
	ASSERT_EQ(0, t_ctx_stats(c->fd, &s0));
	ASSERT_EQ(1, t_submit_one(c->fd, cb));
	ASSERT_EQ(1, t_wait(c->fd, &ev, 1, 10000));
	EXPECT_EQ((uintptr_t)cb, ev.obj);
	/* every counter but "completed" is counted before the event is posted */
	ASSERT_EQ(0, t_ctx_stats(c->fd, &s1));
	*delta = t_stats_sub(&s1, &s0);
	t_stats_log("delta", delta);
	EXPECT_EQ(1, delta->submitted);
	EXPECT_EQ(0, s1.in_flight);
	return ev;
}

/* An ext4 file of @size pattern bytes, opened O_RDWR and unlinked. */
static int ext4_file(struct __test_metadata *_metadata, size_t size)
{
	char path[PATH_MAX];
	const char *dir = t_env_path("KAIO_EXT4_DIR");
	int fd;

	ASSERT_NE(NULL, dir);
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), size, SEED));
	fd = open(path, O_RDWR);
	unlink(path);
	ASSERT_LE(0, fd);
	return fd;
}

TEST(odirect_raw_read_ASYNC)
{
	struct t_stats d;
	struct t_ctx c;
	struct io_event ev;
	struct iocb cb;
	char *buf = t_alloc(4096);
	const char *dev;
	int fd;

	KAIO_ENV_OR_SKIP(dev, "KAIO_RAW_DEV");
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	fd = open(dev, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, fd);
	t_prep_pread(&cb, fd, buf, 4096, 2 << 20);
	ev = run_one(_metadata, &c, &cb, &d);
	EXPECT_EQ(4096, ev.res);
	EXPECT_EQ(KAIO_PATH_ASYNC, ev.res2);
	EXPECT_EQ(1, d.async);
	EXPECT_EQ(0, d.inlined);
	EXPECT_EQ(0, d.worker);
	EXPECT_EQ(0, d.page_wait_arms);
	close(fd);
	t_ctx_close(&c);
}

TEST(ext4_buffered_write_WORKER)
{
	struct t_stats d;
	struct t_ctx c;
	struct io_event ev;
	struct iocb cb;
	char *buf = t_alloc(8192), *back = t_alloc(8192);
	const char *dir;
	int fd;

	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	fd = ext4_file(_metadata, 64 << 10);
	t_fill(buf, 8192, SEED + 1, 4096);
	t_prep_pwrite(&cb, fd, buf, 8192, 4096);
	ev = run_one(_metadata, &c, &cb, &d);
	EXPECT_EQ(8192, ev.res);
	EXPECT_EQ(KAIO_PATH_WORKER, ev.res2);
	EXPECT_EQ(1, d.worker);
	EXPECT_EQ(0, d.inlined);
	EXPECT_EQ(0, d.async);
	ASSERT_EQ(8192, pread(fd, back, 8192, 4096));
	EXPECT_EQ(-1, t_check(back, 8192, SEED + 1, 4096));
	close(fd);
	t_ctx_close(&c);
}

TEST(ext4_fsync_WORKER)
{
	struct t_stats d;
	struct t_ctx c;
	struct io_event ev;
	struct iocb cb;
	const char *dir;
	int fd;

	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	fd = ext4_file(_metadata, 64 << 10);
	t_prep_fsync(&cb, fd);
	ev = run_one(_metadata, &c, &cb, &d);
	EXPECT_EQ(0, ev.res);
	EXPECT_EQ(KAIO_PATH_WORKER, ev.res2);
	EXPECT_EQ(1, d.worker);
	EXPECT_EQ(0, d.inlined);
	close(fd);
	t_ctx_close(&c);
}

TEST(ext4_fdsync_WORKER)
{
	struct t_stats d;
	struct t_ctx c;
	struct io_event ev;
	struct iocb cb;
	const char *dir;
	int fd;

	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	fd = ext4_file(_metadata, 64 << 10);
	t_prep_fdsync(&cb, fd);
	ev = run_one(_metadata, &c, &cb, &d);
	EXPECT_EQ(0, ev.res);
	EXPECT_EQ(KAIO_PATH_WORKER, ev.res2);
	EXPECT_EQ(1, d.worker);
	close(fd);
	t_ctx_close(&c);
}

TEST(noop_INLINE)
{
	struct t_stats d;
	struct t_ctx c;
	struct io_event ev;
	struct iocb cb;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	t_prep_noop(&cb, c.nullfd);
	ev = run_one(_metadata, &c, &cb, &d);
	EXPECT_EQ(0, ev.res);
	EXPECT_EQ(KAIO_PATH_INLINE, ev.res2);
	EXPECT_EQ(1, d.inlined);
	t_ctx_close(&c);
}

/* Without KAIO_SETUP_RES2_PATH res2 stays 0, as native AIO's. */
TEST(without_flag_res2_is_0)
{
	struct t_stats d;
	struct t_ctx c;
	struct io_event ev;
	struct iocb cb;
	const char *dir;
	int fd;

	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	KAIO_CTX_INIT(&c, 8, 0);
	fd = ext4_file(_metadata, 64 << 10);
	t_prep_fsync(&cb, fd);
	ev = run_one(_metadata, &c, &cb, &d);
	EXPECT_EQ(0, ev.res);
	EXPECT_EQ(0, ev.res2);
	EXPECT_EQ(1, d.worker);
	close(fd);
	t_ctx_close(&c);
}

/*
 * KAIO_SETUP_WRITES_IN_SUBMIT: native AIO's completion point for buffered
 * writes. The event is in the ring when SUBMIT returns (programs reap it
 * with min_nr 0, as libaio's harness does), on ext4 (no async buffered
 * writes) and on xfs alike. (Reads keep kaio's point; on this 100 us
 * device a cold read may finish inside SUBMIT anyway, its page arriving
 * before the wait is armed, so kaio_retry shows that on the slow ones.)
 */
static void write_in_submit(struct __test_metadata *_metadata, const char *env)
{
	struct timespec zero = { 0, 0 };
	char path[PATH_MAX], *buf = t_alloc(65536), *back = t_alloc(65536);
	struct t_stats s0, s1, d;
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	const char *dir;
	int fd;

	KAIO_ENV_OR_SKIP(dir, env);
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH | KAIO_SETUP_WRITES_IN_SUBMIT);
	EXPECT_TRUE(c.s.features & KAIO_FEAT_WRITES_IN_SUBMIT);
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), 1 << 20, SEED));
	fd = open(path, O_RDWR);
	unlink(path);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, t_drop_file_cache(fd));

	t_fill(buf, 65536, SEED + 2, 0);
	t_prep_pwrite(&cb, fd, buf, 65536, 0);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s0));
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_getevents(c.fd, 0, 1, &ev, &zero));
	EXPECT_EQ(65536, ev.res);
	EXPECT_EQ(KAIO_PATH_INLINE, ev.res2);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	EXPECT_EQ(0, d.worker);
	ASSERT_EQ(65536, pread(fd, back, 65536, 0));
	EXPECT_EQ(-1, t_check(back, 65536, SEED + 2, 0));
	close(fd);
	t_ctx_close(&c);
}

TEST(ext4_buffered_write_in_submit_INLINE)
{
	write_in_submit(_metadata, "KAIO_EXT4_DIR");
}

TEST(xfs_buffered_write_in_submit_INLINE)
{
	write_in_submit(_metadata, "KAIO_XFS_DIR");
}

TEST_HARNESS_MAIN
