// SPDX-License-Identifier: GPL-2.0
/*
 * KAIO_IOC_CANCEL: io_cancel(2) semantics. Whether a given request can still
 * be cancelled depends on timing, so the pending-request tests check what
 * holds whatever the timing: every request completes exactly once, and the
 * number of -ECANCELED events equals the number of EINPROGRESS answers.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define SEED	0xca9ce1

TEST(cancel_arg_bad_pointer_EFAULT)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, 0);
	EXPECT_EQ(-1, ioctl(c.fd, KAIO_IOC_CANCEL, t_bad_ptr()));
	EXPECT_EQ(EFAULT, errno);
}

TEST(cancel_iocb_bad_pointer_EFAULT)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, 0);
	EXPECT_EQ(-EFAULT, t_cancel(c.fd, t_bad_ptr()));
}

TEST(cancel_never_submitted_key_nonzero_EINVAL)
{
	struct t_ctx c;
	struct iocb cb;

	KAIO_CTX_INIT(&c, 8, 0);
	t_prep_noop(&cb, c.nullfd);
	cb.aio_key = 1;
	EXPECT_EQ(-EINVAL, t_cancel(c.fd, &cb));
}

TEST(cancel_never_submitted_EINVAL)
{
	struct t_ctx c;
	struct iocb cb;

	KAIO_CTX_INIT(&c, 8, 0);
	t_prep_noop(&cb, c.nullfd);	/* aio_key 0, like a submitted one */
	EXPECT_EQ(-EINVAL, t_cancel(c.fd, &cb));
}

TEST(cancel_completed_unreaped_EINVAL)
{
	struct t_ctx c;
	struct iocb cb;
	struct io_event ev;

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	t_prep_noop(&cb, c.nullfd);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	while (__atomic_load_n(&c.ring->tail, __ATOMIC_ACQUIRE) == 0)
		usleep(1000);	/* the event is posted, not reaped */
	EXPECT_EQ(-EINVAL, t_cancel(c.fd, &cb));
	/* and it still completes exactly once, normally */
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 5000));
	EXPECT_EQ(0, ev.res);
	EXPECT_EQ((uintptr_t)&cb, ev.obj);
}

TEST(cancel_completed_reaped_EINVAL)
{
	struct t_ctx c;
	struct iocb cb;
	struct io_event ev;

	KAIO_CTX_INIT(&c, 8, 0);
	t_prep_noop(&cb, c.nullfd);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 5000));
	EXPECT_EQ(-EINVAL, t_cancel(c.fd, &cb));
}

TEST(cancel_other_contexts_request_EINVAL)
{
	struct t_ctx a, b;
	struct iocb cb;
	struct io_event ev;

	KAIO_CTX_INIT(&a, 8, 0);
	KAIO_CTX_INIT(&b, 8, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&a));
	t_prep_noop(&cb, a.nullfd);
	ASSERT_EQ(1, t_submit_one(a.fd, &cb));
	EXPECT_EQ(-EINVAL, t_cancel(b.fd, &cb));
	ASSERT_EQ(1, t_wait(a.fd, &ev, 1, 5000));
	EXPECT_EQ(0, ev.res);
}

/*
 * @n cold buffered 4 KiB reads, 256 KiB apart (beyond readahead of each
 * other), cancelled last to first. Each cancel answers EINPROGRESS (will
 * complete with -ECANCELED), EAGAIN (running, completes normally) or EINVAL
 * (already completed).
 */
static void cancel_cold_reads(struct __test_metadata *_metadata, int fd,
			      bool check_data)
{
	enum { N = 32 };
	struct t_ctx c;
	struct iocb cbs[N], *ptrs[N];
	struct io_event ev[N];
	int answers[N], seen[N] = { 0 };
	int i, inprogress = 0, cancelled = 0, running = 0;
	char *buf = t_alloc(N * 4096);

	KAIO_CTX_INIT(&c, 64, 0);
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
	for (i = 0; i < N; i++) {
		t_prep_pread(&cbs[i], fd, buf + i * 4096, 4096,
			     (long long)i << 18);
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(N, t_submit(c.fd, N, ptrs));
	for (i = N - 1; i >= 0; i--) {
		answers[i] = t_cancel(c.fd, &cbs[i]);
		EXPECT_TRUE(answers[i] == -EINPROGRESS || answers[i] == -EAGAIN ||
			    answers[i] == -EINVAL)
			TH_LOG("cancel %d: %d", i, answers[i]);
		inprogress += answers[i] == -EINPROGRESS;
		running += answers[i] == -EAGAIN;
	}
	ASSERT_EQ(N, t_wait(c.fd, ev, N, 20000));
	for (i = 0; i < N; i++) {
		unsigned long long k = ev[i].data;

		ASSERT_GT((unsigned long long)N, k);
		EXPECT_EQ(0, seen[k]);
		seen[k]++;
		EXPECT_EQ((uintptr_t)&cbs[k], ev[i].obj);
		if (answers[k] == -EINPROGRESS) {
			EXPECT_EQ(-ECANCELED, ev[i].res) TH_LOG("iocb %llu", k);
		} else {
			EXPECT_EQ(4096, ev[i].res) TH_LOG("iocb %llu", k);
			if (check_data)
				EXPECT_EQ(-1, t_check(buf + k * 4096, 4096,
						      SEED, k << 18));
		}
		cancelled += ev[i].res == -ECANCELED;
	}
	EXPECT_EQ(inprogress, cancelled);
	TH_LOG("%d of %d cancelled, %d running, %d done", cancelled, N,
	       running, N - cancelled - running);
	/* a second cancel of anything finds nothing */
	for (i = 0; i < N; i++)
		EXPECT_EQ(-EINVAL, t_cancel(c.fd, &cbs[i]));
	t_ctx_close(&c);
}

TEST(cancel_pending_ext4_reads_complete_exactly_once)
{
	char path[PATH_MAX];
	const char *dir;
	int fd;

	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), 8 << 20, SEED));
	fd = open(path, O_RDONLY);
	unlink(path);
	ASSERT_LE(0, fd);
	cancel_cold_reads(_metadata, fd, true);
}

TEST(cancel_pending_raw_buffered_reads_complete_exactly_once)
{
	const char *dev;
	int fd;

	KAIO_ENV_OR_SKIP(dev, "KAIO_RAW_DEV");
	fd = open(dev, O_RDONLY);
	ASSERT_LE(0, fd);
	cancel_cold_reads(_metadata, fd, false);
}

TEST(cancel_pending_odirect_reads_complete_exactly_once)
{
	enum { N = 64 };
	struct t_ctx c;
	struct iocb cbs[N], *ptrs[N];
	struct io_event ev[N];
	int answers[N], i, inprogress = 0, cancelled = 0;
	char *buf = t_alloc(N * 4096);
	const char *dev;
	int fd;

	KAIO_ENV_OR_SKIP(dev, "KAIO_RAW_DEV");
	KAIO_CTX_INIT(&c, N, 0);
	fd = open(dev, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, fd);
	for (i = 0; i < N; i++) {
		t_prep_pread(&cbs[i], fd, buf + i * 4096, 4096, i * 8192LL);
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(N, t_submit(c.fd, N, ptrs));
	for (i = N - 1; i >= 0; i--) {
		answers[i] = t_cancel(c.fd, &cbs[i]);
		EXPECT_TRUE(answers[i] == -EINPROGRESS || answers[i] == -EAGAIN ||
			    answers[i] == -EINVAL)
			TH_LOG("cancel %d: %d", i, answers[i]);
		inprogress += answers[i] == -EINPROGRESS;
	}
	ASSERT_EQ(N, t_wait(c.fd, ev, N, 20000));
	for (i = 0; i < N; i++) {
		unsigned long long k = ev[i].data;

		ASSERT_GT((unsigned long long)N, k);
		EXPECT_EQ(answers[k] == -EINPROGRESS ? -ECANCELED : 4096,
			  ev[i].res) TH_LOG("iocb %llu", k);
		cancelled += ev[i].res == -ECANCELED;
	}
	EXPECT_EQ(inprogress, cancelled);
}

/*
 * Deterministic: ext4 cannot take buffered writes without blocking, so each
 * one goes to the bounded worker pool, and RWF_DSYNC makes each wait for a
 * journal commit. With many more writes than workers, the last one is still
 * queued when it is cancelled right after SUBMIT: EINPROGRESS, an event
 * with -ECANCELED, and its data never reaches the file.
 */
FIXTURE(slow) {
	int unused;
};

FIXTURE_SETUP(slow)
{
}

FIXTURE_TEARDOWN(slow)
{
}

TEST_F_TIMEOUT(slow, cancel_queued_dsync_write_EINPROGRESS_and_not_written, 180)
{
	enum { N = 256, SZ = 4096 };
	struct t_ctx c;
	struct iocb *cbs = calloc(N, sizeof(*cbs));
	struct iocb **ptrs = calloc(N, sizeof(*ptrs));
	struct io_event *ev = calloc(N, sizeof(*ev));
	int *answers = calloc(N, sizeof(*answers));
	char *seen = calloc(N, 1);
	char *src = t_alloc((size_t)N * SZ), *back = t_alloc(SZ);
	char path[PATH_MAX];
	const char *dir;
	int fd, i, inprogress = 0, cancelled = 0;

	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	KAIO_CTX_INIT(&c, N, 0);
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), (size_t)N * SZ, SEED));
	fd = open(path, O_RDWR);
	unlink(path);
	ASSERT_LE(0, fd);
	for (i = 0; i < N; i++) {
		t_fill(src + (size_t)i * SZ, SZ, SEED + 1, (size_t)i * SZ);
		t_prep_pwrite(&cbs[i], fd, src + (size_t)i * SZ, SZ,
			      (long long)i * SZ);
		cbs[i].aio_rw_flags = RWF_DSYNC;
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(N, t_submit(c.fd, N, ptrs));
	answers[N - 1] = t_cancel(c.fd, &cbs[N - 1]);
	EXPECT_EQ(-EINPROGRESS, answers[N - 1]);
	for (i = N - 2; i >= 0; i--) {
		answers[i] = t_cancel(c.fd, &cbs[i]);
		EXPECT_TRUE(answers[i] == -EINPROGRESS || answers[i] == -EAGAIN ||
			    answers[i] == -EINVAL)
			TH_LOG("cancel %d: %d", i, answers[i]);
	}
	for (i = 0; i < N; i++)
		inprogress += answers[i] == -EINPROGRESS;
	ASSERT_EQ(N, t_wait(c.fd, ev, N, 60000));
	for (i = 0; i < N; i++) {
		unsigned long long k = ev[i].data;

		ASSERT_GT((unsigned long long)N, k);
		EXPECT_EQ(0, seen[k]);
		seen[k] = 1;
		EXPECT_EQ(answers[k] == -EINPROGRESS ? -ECANCELED : SZ, ev[i].res)
			TH_LOG("iocb %llu, cancel said %d", k, answers[k]);
		cancelled += ev[i].res == -ECANCELED;
	}
	EXPECT_EQ(inprogress, cancelled);
	TH_LOG("%d of %d cancelled", cancelled, N);
	/* cancelled writes left the old data, the others wrote the new */
	for (i = 0; i < N; i++) {
		ASSERT_EQ(SZ, pread(fd, back, SZ, (long long)i * SZ));
		EXPECT_EQ(-1, t_check(back, SZ, answers[i] == -EINPROGRESS ?
				      SEED : SEED + 1, (size_t)i * SZ))
			TH_LOG("slot %d, cancel said %d", i, answers[i]);
	}
}

/*
 * One iocb submitted twice: first an O_DIRECT read of the slow device (in
 * the block layer: not cancellable), then, reused, a POLL on an empty
 * pipe. CANCEL of that iocb must find the POLL behind the read, as native
 * AIO's io_cancel would (its list holds only cancellable requests), not
 * answer EAGAIN for the read and leave the POLL waiting for ever. make
 * fuzz found it: a POLL still outstanding 30 s after its CANCEL.
 */
TEST(cancel_reused_iocb_finds_the_cancellable_request)
{
	struct io_event ev[2];
	struct t_ctx c;
	struct iocb cb;
	const char *dev;
	int fd, p[2], i, cancelled = 0, read_ok = 0;
	char *buf;

	KAIO_ENV_OR_SKIP(dev, "KAIO_SLOW_RAW_DEV");
	fd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe(p));
	buf = t_alloc(4096);
	KAIO_CTX_INIT(&c, 8, 0);

	t_prep_pread(&cb, fd, buf, 4096, 0);
	cb.aio_data = 1;
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	t_prep_poll(&cb, p[0], POLLIN);
	cb.aio_data = 2;
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	EXPECT_EQ(-EINPROGRESS, t_cancel(c.fd, &cb));
	ASSERT_EQ(2, t_wait(c.fd, ev, 2, 20000));
	for (i = 0; i < 2; i++) {
		/* A cancelled POLL reports res 0, as native AIO's. */
		if (ev[i].data == 2 && ev[i].res == 0)
			cancelled++;
		if (ev[i].data == 1 && ev[i].res == 4096)
			read_ok++;
	}
	EXPECT_EQ(1, cancelled);
	EXPECT_EQ(1, read_ok);
	t_ctx_close(&c);
	close(p[0]);
	close(p[1]);
	close(fd);
	munmap(buf, 4096);
}

TEST_HARNESS_MAIN
