// SPDX-License-Identifier: GPL-2.0
/*
 * KAIO_IOC_CANCEL: io_cancel(2) semantics. Whether a given request can still
 * be cancelled depends on timing, so the pending-request tests check what
 * holds whatever the timing: every request completes exactly once, and the
 * number of -ECANCELED events equals the number of EINPROGRESS answers.
 *
 * Then CANCEL in each state a request can be in, caught there on the slow
 * devices (KAIO_SLOW_*: ten milliseconds or more per I/O): queued for a
 * worker (EINPROGRESS, its -ECANCELED event already posted when CANCEL
 * returns, its write never done), in the block layer (EAGAIN: it completes
 * normally), waiting for a page (EINPROGRESS: the event comes when the
 * page's read ends, the buffer untouched), and racing the SUBMIT of the
 * same POLL from another thread (whatever CANCEL answers holds). An attempt
 * that a host stall made miss the state proves nothing and is made again.
 * These tests (fixtures lt and cold) also end with the module back where
 * they started: /sys/kernel/debug/kaio/stats shows as many `contexts` as
 * before, `pinned_pages_reserved` 0, and as many requests completed as were
 * submitted. Waiting-for-a-page reads in bulk are kaio_cancel_wait.c's.
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

/* ---- cancel in each state a request can be in ---------------------------- */

/*
 * The tests below keep requests in flight on the slow devices (kaio_util.h's
 * t_mix) and end with the module back where they started: as many
 * `contexts` in /sys/kernel/debug/kaio/stats, `pinned_pages_reserved` 0, as
 * many requests completed as were submitted (t_expect_settled()).
 */
KAIO_SETTLE_FIXTURE(lt)

/*
 * QUEUED: a few RWF_DSYNC writes to a file on the slow ext4 (ext4 has no
 * async buffered write, so each makes a blocking attempt, and waits for a
 * journal commit on a >= 10 ms device), then one more write to the same
 * file. Blocking writes to one file run one at a time, in the file's
 * ordered write queue, so the last one waits there. CANCEL answers
 * EINPROGRESS and has already posted its -ECANCELED event when it
 * returns, ahead of writes submitted before it; its data never reaches
 * the file.
 *
 * A host stall longer than the slow writes could let the queue reach the
 * last write before CANCEL (EAGAIN or EINVAL, then it completes
 * normally): that attempt proves nothing and is made again.
 */
TEST_F_TIMEOUT(lt, cancel_queued_for_worker_EINPROGRESS_event_posted_at_once, 120)
{
	const int nblock = 4, n = nblock + 1;
	struct io_event ev[5];
	int count[5];
	long long res[5];
	struct iocb cbs[5], *ptrs[5];
	char *src = t_alloc((size_t)nblock * T_BS), *back = t_alloc(T_BS);
	char slow_path[PATH_MAX];
	const char *slow_dir;
	struct t_stats s0, s1, d;
	int attempt, caught = 0, slow_fd, k, found;
	long peeked, r, i;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_ENV_OR_SKIP(slow_dir, "KAIO_SLOW_EXT4_DIR");
	/* nblock blocks the blocking writes rewrite, then one per attempt */
	slow_fd = t_target_file(slow_dir, slow_path, sizeof(slow_path), nblock + 3);
	ASSERT_LE(0, slow_fd);
	unlink(slow_path);
	t_fill(src, (size_t)nblock * T_BS, T_NEW_SEED, 0);
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	for (attempt = 0; attempt < 3 && !caught; attempt++) {
		const long long toff = (long long)(nblock + attempt) * T_BS;
		struct iocb *target = &cbs[nblock];
		long pos = -1;

		for (k = 0; k < nblock; k++) {
			t_prep_pwrite(&cbs[k], slow_fd, src + (size_t)k * T_BS, T_BS,
				      (long long)k * T_BS);
			cbs[k].aio_rw_flags = RWF_DSYNC;
			ptrs[k] = &cbs[k];
		}
		t_prep_pwrite(target, slow_fd, src, T_BS, toff);
		ptrs[nblock] = target;
		ASSERT_EQ(n, t_submit(self->c.fd, n, ptrs));
		r = t_cancel(self->c.fd, target);
		/* posted by CANCEL itself: in the ring now, not reaped yet */
		peeked = t_ring_peek(&self->c, ev, n);
		for (i = 0, found = 0; i < peeked; i++)
			if (ev[i].obj == (uintptr_t)target) {
				found++;
				EXPECT_EQ(-ECANCELED, ev[i].res);
			}
		TH_LOG("attempt %d: CANCEL answered %ld; %ld events in the ring then",
		       attempt, r, peeked);
		KAIO_REAP_ALL(self->c.fd, ev, n, 60000);
		memset(count, 0, sizeof(count));
		EXPECT_EQ(0, t_tally(cbs, n, ev, n, count, res));
		for (k = 0; k < n; k++) {
			EXPECT_EQ(1, count[k]);
			if (ev[k].obj == (uintptr_t)target)
				pos = k;
		}
		for (k = 0; k < nblock; k++)
			EXPECT_EQ(T_BS, res[k]) TH_LOG("blocking write %d", k);
		ASSERT_EQ(T_BS, pread(slow_fd, back, T_BS, toff));
		if (r != -EINPROGRESS) {
			EXPECT_TRUE(r == -EAGAIN || r == -EINVAL);
			EXPECT_EQ(T_BS, res[nblock]);
			EXPECT_EQ(-1, t_check(back, T_BS, T_NEW_SEED, 0));
			continue;
		}
		caught = 1;
		EXPECT_EQ(1, found) TH_LOG("CANCEL returned before posting the event");
		EXPECT_EQ(-ECANCELED, res[nblock]);
		EXPECT_LT(pos, n - 1) TH_LOG("the cancelled write's event came last");
		EXPECT_EQ(-1, t_check(back, T_BS, T_OLD_SEED, toff))
			TH_LOG("a cancelled write reached the file");
		EXPECT_EQ(-EINVAL, t_cancel(self->c.fd, target));
	}
	EXPECT_EQ(1, caught) TH_LOG("the last write never waited in its queue");
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(caught, d.cancelled);
	EXPECT_EQ(attempt * n - caught, d.worker);	/* the cancelled one never ran */
	close(slow_fd);
	t_ctx_close(&self->c);
	munmap(src, (size_t)nblock * T_BS);
	munmap(back, T_BS);
	t_expect_settled(_metadata, &self->g0, 2000);
}

/*
 * In the block layer: an O_DIRECT read on the slow raw device, whose bio
 * is in the device for >= 10 ms. A bio cannot be recalled: CANCEL answers
 * EAGAIN and the read completes normally, through ki_complete. Once it
 * has, CANCEL answers EINVAL (completed: nothing to cancel).
 *
 * The host may stall the guest's CPU longer than the device latency
 * between SUBMIT and CANCEL (TCG, a loaded machine): then the read is
 * already done and CANCEL rightly answers EINVAL. Such an attempt proves
 * nothing and is made again, up to five times.
 */
TEST_F_TIMEOUT(lt, cancel_in_block_layer_EAGAIN_completes_normally_then_EINVAL, 60)
{
	struct t_stats s0, s1, d;
	struct io_event ev;
	struct iocb *cb;
	uint64_t t0, t1;
	int attempt, eagain = 0;
	long r;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_MIX_OPEN(&self->m, .direct = 1);
	cb = &self->m.b.cbs[0];
	KAIO_CTX_INIT(&self->c, 8, KAIO_SETUP_RES2_PATH);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	for (attempt = 0; attempt < 5 && !eagain; attempt++) {
		memset(self->m.b.info[0].buf, 0, T_BS);
		t0 = t_now_ns();
		ASSERT_EQ(1, t_submit_one(self->c.fd, cb));
		r = t_cancel(self->c.fd, cb);
		t1 = t_now_ns();
		TH_LOG("attempt %d: CANCEL answered %ld, %lld us after SUBMIT",
		       attempt, r, (long long)(t1 - t0) / 1000);
		EXPECT_TRUE(r == -EAGAIN || r == -EINVAL);
		eagain += r == -EAGAIN;
		ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, 10000));
		EXPECT_EQ(0, t_batch_check(_metadata, &self->m.b, &ev, 1, false));
		EXPECT_EQ(KAIO_PATH_ASYNC, ev.res2);
		EXPECT_EQ(-EINVAL, t_cancel(self->c.fd, cb));
	}
	EXPECT_EQ(1, eagain) TH_LOG("never caught the read in the device");
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(0, d.cancelled);
	EXPECT_EQ(attempt, d.async);
	EXPECT_EQ(0, d.worker);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

/* Page-waiting reads need a slow file system: one variant each. */
FIXTURE(cold) {
	struct t_stats g0;
	struct t_ctx c;
	int fd;
};

KAIO_SLOW_FS_VARIANTS(cold);

FIXTURE_SETUP(cold)
{
	const char *dir;

	self->fd = -1;
	self->c.fd = self->c.dev = self->c.nullfd = -1;
	KAIO_BASELINE(&self->g0);
	KAIO_ENV_OR_SKIP(dir, variant->env);
	if (t_slow_lat_ns() < 10000000)
		SKIP(return, "needs $KAIO_SLOW_LAT_NS >= 10 ms");
	self->fd = t_cold_file(dir);
	ASSERT_LE(0, self->fd) TH_LOG("%s", strerror(-self->fd));
}

FIXTURE_TEARDOWN(cold)
{
	t_ctx_close(&self->c);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * WAIT_PAGE: a cold buffered read arms its page-wait callback and SUBMIT
 * returns. CANCEL answers EINPROGRESS, but the callback cannot be disarmed:
 * the event comes when the page's read ends (not before: checked when
 * CANCEL returned well within the device latency), from the retry the
 * callback queues, with -ECANCELED; the buffer is never written. The
 * device read itself is not cancelled: the page ends up in the cache.
 *
 * If the host stalls the guest for longer than the device latency, the
 * read can be done before CANCEL (EINVAL, data read) or be in its retry
 * (EAGAIN): such attempts prove nothing and are made again, on another
 * cold page, up to five times.
 */
TEST_F_TIMEOUT(cold, cancel_page_waiting_EINPROGRESS_event_after_the_io_buffer_untouched, 60)
{
	char *buf = t_alloc(T_BS);
	struct t_stats s0, s1, d;
	struct io_event ev, early[4];
	struct iocb cb;
	long long lat = t_slow_lat_ns(), off = 0;
	uint64_t t0, t1, t2;
	int attempt, caught = 0;
	long r, i, n;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_CTX_INIT(&self->c, 8, KAIO_SETUP_RES2_PATH);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	for (attempt = 0; attempt < 5 && !caught; attempt++) {
		off = (long long)(1 + 2 * attempt) * T_COLD_STRIDE;
		memset(buf, 0xa5, T_BS);
		t_prep_pread(&cb, self->fd, buf, T_BS, off);
		t0 = t_now_ns();
		ASSERT_EQ(1, t_submit_one(self->c.fd, &cb));
		r = t_cancel(self->c.fd, &cb);
		t1 = t_now_ns();
		n = t_ring_peek(&self->c, early, 4);
		ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, 10000));
		t2 = t_now_ns();
		TH_LOG("attempt %d: CANCEL answered %ld %lld us after SUBMIT; the event (res %lld, path %lld) came %lld us later; device latency %lld us",
		       attempt, r, (long long)(t1 - t0) / 1000, ev.res, ev.res2,
		       (long long)(t2 - t1) / 1000, lat / 1000);
		EXPECT_EQ((uintptr_t)&cb, ev.obj);
		EXPECT_TRUE(r == -EINPROGRESS || r == -EAGAIN || r == -EINVAL);
		if (r != -EINPROGRESS) {
			/* not caught waiting: it must have read normally */
			EXPECT_EQ(T_BS, ev.res);
			EXPECT_EQ(-1, t_check(buf, T_BS, T_COLD_SEED, off));
			continue;
		}
		caught = 1;
		if ((long long)(t1 - t0) < lat / 2)
			EXPECT_EQ(0, n) TH_LOG("event posted before the page could be read");
		EXPECT_EQ(-ECANCELED, ev.res);
		EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
		for (i = 0; i < T_BS; i++)
			if ((unsigned char)buf[i] != 0xa5)
				break;
		EXPECT_EQ(T_BS, i) TH_LOG("buffer written at byte %ld", i);
	}
	EXPECT_EQ(1, caught) TH_LOG("never caught the read waiting for its page");
	EXPECT_EQ(-EINVAL, t_cancel(self->c.fd, &cb));
	EXPECT_EQ(0, t_wait(self->c.fd, &ev, 1, 50));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_LE(1, d.page_wait_arms);
	EXPECT_LE(1, d.wakeups);
	EXPECT_LE(1, d.retries);
	EXPECT_EQ(0, d.worker);
	EXPECT_EQ(caught, d.cancelled);
	EXPECT_EQ(0, s1.in_flight);
	/* the read itself went on: its page is cached now */
	{
		char *map = mmap(NULL, T_COLD_SIZE, PROT_READ, MAP_SHARED, self->fd, 0);
		unsigned char vec;

		ASSERT_NE(MAP_FAILED, map);
		ASSERT_EQ(0, mincore(map + off, T_BS, &vec));
		EXPECT_EQ(1, vec & 1);
		munmap(map, T_COLD_SIZE);
	}
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

/*
 * CANCEL racing with the SUBMIT of the same POLL from another thread. A
 * request is on the context's list (cancellable) from just before its
 * first attempt, so CANCEL can find a POLL that is not armed yet. Whatever
 * it answers must hold: EINPROGRESS is io_cancel's promise that the event
 * comes, res 0, without the file becoming ready; EAGAIN means it runs on
 * (and can be cancelled later); EINVAL that it was not there yet.
 */
struct racer {
	int ctx;
	struct iocb *cb;
	long answer;
	int spins;
};

static void *cancel_until_found(void *arg)
{
	struct racer *r = arg;

	do {
		r->answer = t_cancel(r->ctx, r->cb);
	} while (r->answer == -EINVAL && ++r->spins < 200000);
	return NULL;
}

TEST_F_TIMEOUT(lt, cancel_racing_submit_of_poll_keeps_its_answer, 90)
{
	struct io_event ev;
	struct iocb cb;
	int p[2], iter, inprogress = 0, again = 0, broken = 0;
	uint64_t start = t_now_ns();

	KAIO_SKIPPED_IN_SETUP();
	KAIO_CTX_INIT(&self->c, 8, 0);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	/* the window is a few microseconds: many tries, bounded in time */
	for (iter = 0; iter < 1000 && !broken &&
	     t_now_ns() - start < 12000000000ULL; iter++) {
		struct racer r = { .ctx = self->c.fd, .cb = &cb };
		pthread_t th;

		t_prep_poll(&cb, p[0], POLLIN);
		cb.aio_data = iter;
		ASSERT_EQ(0, pthread_create(&th, NULL, cancel_until_found, &r));
		ASSERT_EQ(1, t_submit_one(self->c.fd, &cb));
		ASSERT_EQ(0, pthread_join(th, NULL));
		if (r.answer == -EAGAIN) {
			again++;
			r.answer = t_cancel(self->c.fd, &cb);
			EXPECT_EQ(-EINPROGRESS, r.answer);
		} else {
			inprogress++;
		}
		ASSERT_EQ(-EINPROGRESS, r.answer) TH_LOG("iteration %d", iter);
		if (t_wait(self->c.fd, &ev, 1, 2000) != 1) {
			broken++;
			TH_LOG("iteration %d: CANCEL answered EINPROGRESS (after %d tries), but no event within 2 s",
			       iter, r.spins);
			/* let it complete the only way it still can */
			ASSERT_EQ(1, write(p[1], "x", 1));
			ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, 5000));
			TH_LOG("after the pipe was written: res %lld (a cancelled POLL reports 0)",
			       ev.res);
			EXPECT_EQ(0, ev.res);
			break;
		}
		EXPECT_EQ((uintptr_t)&cb, ev.obj);
		EXPECT_EQ(iter, (int)ev.data);
		EXPECT_EQ(0, ev.res);
	}
	TH_LOG("%d iterations: CANCEL found the POLL %d times during its SUBMIT or armed, %d times running (EAGAIN)",
	       iter, inprogress, again);
	EXPECT_EQ(0, broken);
	close(p[0]);
	close(p[1]);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

TEST_HARNESS_MAIN
