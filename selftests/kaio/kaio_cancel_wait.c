// SPDX-License-Identifier: GPL-2.0
/*
 * Cancelling reads that wait for a page. The page-wait callback cannot be
 * disarmed by a module, so CANCEL marks the request and answers EINPROGRESS;
 * when the page's I/O ends, the retry the callback queues posts
 * res = -ECANCELED instead of reading on. DESTROY and close do the same for
 * every page-waiting read and wait for all of them before they return.
 *
 * On the slow devices (ten milliseconds or more per I/O), so that the reads
 * are still waiting when they are cancelled.
 *
 * What CANCEL may answer for a read submitted a moment ago:
 *   EINPROGRESS  it was waiting (or queued): cancelled, its one event has
 *                res -ECANCELED. Never 4096: EINPROGRESS is io_cancel's
 *                promise that the request will not complete normally. A
 *                read that completed first is no longer pending, and is
 *                answered EINVAL instead (and EAGAIN while a retry runs).
 *   EAGAIN       a retry is reading it: it completes normally (4096).
 *   EINVAL       already completed: its event (4096) is in the ring.
 * A longer read cancelled after it moved bytes reports how many instead.
 */
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define SEED		0xc4ce1u
#define FILE_SIZE	(8 << 20)
#define WAIT_MS		30000

FIXTURE(slow) {
	struct t_ctx c;
	int fd;
	char *buf;
};

KAIO_SLOW_FS_VARIANTS(slow);

FIXTURE_SETUP(slow)
{
	const char *dir;

	self->fd = -1;
	KAIO_ENV_OR_SKIP(dir, variant->env);
	KAIO_CTX_INIT(&self->c, 128, KAIO_SETUP_RES2_PATH);
	KAIO_COLD_FILE(self->fd, dir, FILE_SIZE, SEED);
	self->buf = t_alloc(64 * 4096);
	memset(self->buf, 0xa5, 64 * 4096);
}

FIXTURE_TEARDOWN(slow)
{
	t_ctx_close(&self->c);
	if (self->fd >= 0)
		close(self->fd);
}

/* @n cold 4 KiB reads @stride apart, iocb i has aio_data i. */
static void prep_reads(FIXTURE_DATA(slow) *self, struct iocb *cbs,
		       struct iocb **ptrs, int n, long long stride)
{
	int i;

	for (i = 0; i < n; i++) {
		t_prep_pread(&cbs[i], self->fd, self->buf + i * 4096, 4096,
			     i * stride);
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
}

TEST_F_TIMEOUT(slow, cancel_page_waiting_reads_one_event_each, 120)
{
	enum { N = 32 };
	const long long stride = 256 << 10;	/* beyond each other's readahead */
	struct iocb cbs[N], *ptrs[N];
	struct io_event ev[N];
	struct t_stats s0, s1, d;
	int answers[N], seen[N] = { 0 };
	int i, inprogress = 0, running = 0, gone = 0, cancelled = 0;

	KAIO_SKIPPED_IN_SETUP();
	prep_reads(self, cbs, ptrs, N, stride);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(N, t_submit(self->c.fd, N, ptrs));
	/* last submitted first: the likeliest to be waiting still */
	for (i = N - 1; i >= 0; i--) {
		answers[i] = t_cancel(self->c.fd, &cbs[i]);
		EXPECT_TRUE(answers[i] == -EINPROGRESS || answers[i] == -EAGAIN ||
			    answers[i] == -EINVAL)
			TH_LOG("cancel %d: %d", i, answers[i]);
		inprogress += answers[i] == -EINPROGRESS;
		running += answers[i] == -EAGAIN;
		gone += answers[i] == -EINVAL;
	}
	ASSERT_EQ(N, t_wait(self->c.fd, ev, N, WAIT_MS));
	for (i = 0; i < N; i++) {
		unsigned long long k = ev[i].data;

		ASSERT_GT((unsigned long long)N, k);
		EXPECT_EQ(0, seen[k]) TH_LOG("iocb %llu: two events", k);
		seen[k]++;
		EXPECT_EQ((uintptr_t)&cbs[k], ev[i].obj);
		if (answers[k] == -EINPROGRESS) {
			EXPECT_EQ(-ECANCELED, ev[i].res) TH_LOG("iocb %llu", k);
		} else {
			EXPECT_EQ(4096, ev[i].res) TH_LOG("iocb %llu, cancel %d",
							  k, answers[k]);
			EXPECT_EQ(-1, t_check(self->buf + k * 4096, 4096,
					      SEED, k * stride));
		}
		cancelled += ev[i].res == -ECANCELED;
	}
	/* nothing else arrives, and nothing is left to cancel */
	EXPECT_EQ(0, t_wait(self->c.fd, ev, 1, 50));
	for (i = 0; i < N; i++)
		EXPECT_EQ(-EINVAL, t_cancel(self->c.fd, &cbs[i]));

	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	TH_LOG("cancel answered EINPROGRESS %d, EAGAIN %d, EINVAL %d",
	       inprogress, running, gone);
	EXPECT_EQ(inprogress, cancelled);
	EXPECT_EQ(cancelled, d.cancelled);
	/* a slow device: the last read cannot have been served already */
	EXPECT_LE(1, inprogress);
	EXPECT_EQ(0, d.worker);
	EXPECT_EQ(0, s1.in_flight);
}

/*
 * A read cancelled after it has moved bytes reports them, never -ECANCELED
 * (which says nothing moved): pages 0-1 are cached, page 2 is not, so a
 * 16 KiB read copies 8 KiB in SUBMIT and then waits for page 2. Cancelled
 * there, its event says 8192, and the buffer holds exactly those bytes.
 */
TEST_F_TIMEOUT(slow, cancel_after_progress_reports_bytes_read, 60)
{
	const size_t len = 4 * 4096, warm = 2 * 4096;
	struct t_stats s0, s1, d;
	struct io_event ev;
	struct iocb cb;
	long answer;
	int warm_fd;
	char path[64];
	size_t i;

	KAIO_SKIPPED_IN_SETUP();
	/* A second open file with FADV_RANDOM reads exactly what it asks. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", self->fd);
	warm_fd = open(path, O_RDONLY);
	ASSERT_LE(0, warm_fd);
	ASSERT_EQ(0, posix_fadvise(warm_fd, 0, 0, POSIX_FADV_RANDOM));
	ASSERT_EQ((ssize_t)warm, pread(warm_fd, self->buf, warm, 0));
	close(warm_fd);
	ASSERT_EQ(2, t_cached_pages(self->fd, FILE_SIZE));
	memset(self->buf, 0xa5, len);

	t_prep_pread(&cb, self->fd, self->buf, len, 0);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(1, t_submit_one(self->c.fd, &cb));
	answer = t_cancel(self->c.fd, &cb);
	/* a slow device: page 2 cannot have been read yet */
	ASSERT_EQ(-EINPROGRESS, answer);
	ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, WAIT_MS));
	EXPECT_EQ((uintptr_t)&cb, ev.obj);
	EXPECT_EQ((long long)warm, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
	EXPECT_EQ(-1, t_check(self->buf, warm, SEED, 0));
	for (i = warm; i < len; i++)
		if (self->buf[i] != (char)0xa5)
			break;
	EXPECT_EQ(len, i) TH_LOG("buffer written past the bytes reported");
	EXPECT_EQ(-EINVAL, t_cancel(self->c.fd, &cb));

	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(1, d.cancelled);
	EXPECT_EQ(0, d.worker);
	EXPECT_EQ(0, s1.in_flight);
}

/*
 * DESTROY with 64 reads waiting for pages: it cancels them, waits for
 * every one (each posts its event, -ECANCELED or 4096 if its page came
 * first), and returns 0; the context then refuses GETEVENTS with EINVAL.
 */
TEST_F_TIMEOUT(slow, destroy_with_64_page_waiting_reads, 120)
{
	enum { N = 64 };
	const long long stride = 128 << 10;
	struct iocb cbs[N], *ptrs[N];
	struct io_event ev;
	struct t_stats s0, s1, d;
	struct timespec one_s = { 1, 0 };
	unsigned int head, tail;
	int i, seen[N] = { 0 }, cancelled = 0;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	prep_reads(self, cbs, ptrs, N, stride);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(N, t_submit(self->c.fd, N, ptrs));
	EXPECT_EQ(0, t_destroy(self->c.fd));
	/* everything finished before DESTROY returned */
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(0, s1.in_flight);
	EXPECT_EQ(N, d.completed);
	EXPECT_EQ(-EINVAL, t_getevents(self->c.fd, 1, 1, &ev, &one_s));

	head = self->c.ring->head;
	tail = __atomic_load_n(&self->c.ring->tail, __ATOMIC_ACQUIRE);
	ASSERT_EQ(N, (tail + self->c.ring->nr - head) % self->c.ring->nr);
	for (i = 0; i < N; i++) {
		struct io_event *e;
		unsigned long long k;

		e = &self->c.ring->io_events[(head + i) % self->c.ring->nr];
		k = e->data;
		ASSERT_GT((unsigned long long)N, k);
		EXPECT_EQ(0, seen[k]);
		seen[k]++;
		EXPECT_EQ((uintptr_t)&cbs[k], e->obj);
		EXPECT_TRUE(e->res == -ECANCELED || e->res == 4096)
			TH_LOG("iocb %llu: res %lld", k, e->res);
		if (e->res == 4096)
			EXPECT_EQ(-1, t_check(self->buf + k * 4096, 4096,
					      SEED, k * stride));
		cancelled += e->res == -ECANCELED;
	}
	TH_LOG("%d of %d cancelled by DESTROY", cancelled, N);
	EXPECT_EQ(cancelled, d.cancelled);
	EXPECT_LE(1, cancelled);
}

/*
 * close() the same way: it returns once every page-waiting read is done,
 * the buffers are unpinned and the context is gone (the runner's rmmod
 * at the end checks that nothing was leaked).
 */
TEST_F_TIMEOUT(slow, close_with_64_page_waiting_reads_returns, 120)
{
	enum { N = 64 };
	struct iocb cbs[N], *ptrs[N];
	struct t_stats g0, g1;
	int have_debugfs;

	KAIO_SKIPPED_IN_SETUP();
	prep_reads(self, cbs, ptrs, N, 128 << 10);
	have_debugfs = !t_stats_read(KAIO_DEBUGFS_STATS, &g0);
	ASSERT_EQ(N, t_submit(self->c.fd, N, ptrs));
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	if (have_debugfs) {
		ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g1));
		EXPECT_EQ(g0.contexts - 1, g1.contexts);
		EXPECT_LE(g0.completed + N, g1.completed);
	}
	/* the buffers are ours again: writable, and unpinned memory unmaps */
	memset(self->buf, 0, N * 4096);
	EXPECT_EQ(0, munmap(self->buf, 64 * 4096));
	self->buf = NULL;
}

TEST_HARNESS_MAIN
