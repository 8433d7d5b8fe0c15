// SPDX-License-Identifier: GPL-2.0
/*
 * KAIO_IOC_DESTROY and close(): io_destroy(2) semantics. DESTROY cancels what
 * it can, waits for the rest and leaves the fd unusable (EINVAL); closing a
 * context with requests in flight neither hangs nor leaks, and gives back
 * its share of the max_events limit.
 *
 * Then with ~400 mixed requests in flight on the slow devices (KAIO_SLOW_*:
 * ten milliseconds or more per I/O): DESTROY returns only when every one
 * has finished, each with exactly one event in the ring; close (the last
 * reference) returns with everything freed; with the ring still mapped,
 * close releases nothing and the munmap is the last close. And DESTROY
 * from other threads: two at once (one gets 0 and waits, the other EINVAL
 * at once), while another thread keeps submitting POLLs, while one waits
 * in GETEVENTS without a timeout (it wakes). These tests (fixture lt) also
 * end with the module back where they started: /sys/kernel/debug/kaio/stats
 * shows as many `contexts` as before, `pinned_pages_reserved` 0, and as many
 * requests completed as were submitted. close while another thread waits or
 * submits is kaio_threads.c's; the owner killed, kaio_exit.c's.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

/* @n O_DIRECT reads on $KAIO_RAW_DEV in flight on @ctx, or skip. */
#define RAW_READS_IN_FLIGHT(ctx, n) do {					\
	const char *__dev;							\
	struct iocb *__cbs = calloc((n), sizeof(*__cbs));			\
	struct iocb **__p = calloc((n), sizeof(*__p));				\
	char *__buf = t_alloc((n) * 4096);					\
	int __fd, __i;								\
										\
	KAIO_ENV_OR_SKIP(__dev, "KAIO_RAW_DEV");				\
	__fd = open(__dev, O_RDONLY | O_DIRECT);				\
	ASSERT_LE(0, __fd);							\
	for (__i = 0; __i < (n); __i++) {					\
		t_prep_pread(&__cbs[__i], __fd, __buf + __i * 4096, 4096,	\
			     __i * 4096LL);					\
		__p[__i] = &__cbs[__i];						\
	}									\
	ASSERT_EQ((n), t_submit((ctx), (n), __p));				\
	close(__fd);	/* the requests hold their own file references */	\
} while (0)

TEST(destroy_returns_0)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, 0);
	EXPECT_EQ(0, t_destroy(c.fd));
}

TEST(destroy_then_submit_EINVAL)
{
	struct t_ctx c;
	struct iocb cb;

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, t_destroy(c.fd));
	t_prep_noop(&cb, c.nullfd);
	EXPECT_EQ(-EINVAL, t_submit_one(c.fd, &cb));
}

TEST(destroy_then_getevents_EINVAL)
{
	struct t_ctx c;
	struct io_event ev;
	struct timespec zero = { 0, 0 };

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, t_destroy(c.fd));
	EXPECT_EQ(-EINVAL, t_getevents(c.fd, 0, 1, &ev, &zero));
}

TEST(destroy_twice_EINVAL)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, t_destroy(c.fd));
	EXPECT_EQ(-EINVAL, t_destroy(c.fd));
}

TEST(destroy_then_cancel_EINVAL)
{
	struct t_ctx c;
	struct iocb cb;

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, t_destroy(c.fd));
	t_prep_noop(&cb, c.nullfd);
	EXPECT_EQ(-EINVAL, t_cancel(c.fd, &cb));
}

TEST(destroy_with_unreaped_events_returns_0)
{
	struct t_ctx c;
	struct iocb cbs[4], *p[4];
	int i;

	KAIO_CTX_INIT(&c, 8, 0);
	for (i = 0; i < 4; i++) {
		t_prep_noop(&cbs[i], c.nullfd);
		p[i] = &cbs[i];
	}
	ASSERT_EQ(4, t_submit(c.fd, 4, p));
	EXPECT_EQ(0, t_destroy(c.fd));
}

TEST(destroy_with_reads_in_flight_returns_0)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 64, 0);
	RAW_READS_IN_FLIGHT(c.fd, 64);
	EXPECT_EQ(0, t_destroy(c.fd));
	EXPECT_EQ(-EINVAL, t_destroy(c.fd));
}

TEST(destroy_keeps_ring_mapping_valid)
{
	struct t_ctx c;
	struct iocb cb;
	volatile unsigned int magic;

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	t_prep_noop(&cb, c.nullfd);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(0, t_destroy(c.fd));
	magic = c.ring->magic;	/* the pages stay until munmap */
	(void)magic;
	c.ring->head = 12345;
	EXPECT_EQ(0, munmap(c.ring, c.s.ring_size));
	c.ring = NULL;
}

TEST(close_with_reads_in_flight_does_not_hang)
{
	struct t_ctx c, again;
	struct iocb cb;
	struct io_event ev;

	KAIO_CTX_INIT(&c, 64, 0);
	RAW_READS_IN_FLIGHT(c.fd, 64);
	EXPECT_EQ(0, close(c.fd));
	c.fd = -1;
	/* the module is still healthy */
	KAIO_CTX_INIT(&again, 8, 0);
	t_prep_noop(&cb, again.nullfd);
	ASSERT_EQ(1, t_submit_one(again.fd, &cb));
	EXPECT_EQ(1, t_wait(again.fd, &ev, 1, 5000));
}

TEST(close_with_mapped_ring_and_unreaped_events)
{
	struct t_ctx c;
	struct iocb cbs[4], *p[4];
	int i;

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	for (i = 0; i < 4; i++) {
		t_prep_noop(&cbs[i], c.nullfd);
		p[i] = &cbs[i];
	}
	ASSERT_EQ(4, t_submit(c.fd, 4, p));
	for (i = 0; i < 5000 && c.ring->tail != 4; i++)
		usleep(1000);
	ASSERT_EQ(4, c.ring->tail);
	EXPECT_EQ(0, close(c.fd));
	c.fd = -1;
	/* the mapping outlives the fd; reading it is fine */
	EXPECT_EQ(KAIO_RING_MAGIC, c.ring->magic);
	EXPECT_EQ(4, c.ring->tail);
}

TEST(close_gives_back_max_events_share)
{
	struct kaio_setup s;
	int dev, i, fd;

	KAIO_DEV_OPEN(dev);
	for (i = 0; i < 4; i++) {
		memset(&s, 0, sizeof(s));
		s.nr_events = 40000;
		fd = t_setup_raw(dev, &s);
		ASSERT_LE(0, fd) TH_LOG("round %d", i);
		ASSERT_EQ(0, close(fd));
	}
}

TEST(close_all_contexts_frees_whole_max_events)
{
	struct t_ctx c[4];
	struct kaio_setup s = { .nr_events = 65536 };
	struct iocb cbs[4][8], *p[8];
	int i, j, fd, dev;

	for (i = 0; i < 4; i++) {
		KAIO_CTX_INIT(&c[i], 8192, 0);
		for (j = 0; j < 8; j++) {
			t_prep_noop(&cbs[i][j], c[i].nullfd);
			p[j] = &cbs[i][j];
		}
		ASSERT_EQ(8, t_submit(c[i].fd, 8, p));
	}
	for (i = 0; i < 4; i++)
		t_ctx_close(&c[i]);
	/* nothing is left pending: the whole limit is available again */
	dev = t_open_dev();
	ASSERT_LE(0, dev);
	fd = t_setup_raw(dev, &s);
	EXPECT_LE(0, fd);
	EXPECT_LE(65536, s.nr_events);
}

/*
 * libaio's harness case 18, kaio's way: many threads of one process each
 * set up a one-event context, submit one O_DIRECT read of a page of an xfs
 * file and destroy the context at once, a thousand times over. The reads
 * compete for the device's tags, so NOWAIT refusals punt some of them to a
 * worker while DESTROY cancels. A read that DESTROY waited for has ended:
 * the buffer, overwritten after DESTROY, must stay as written. In the
 * harness this panicked the guest once in four runs (a request freed
 * while still on ctx->active, found by kaio_cancel_all()).
 */
#define RACE_THREADS	32
#define RACE_ROUNDS	300

struct race_arg {
	int fd;
	int bad;
};

static void *destroy_race_thread(void *p)
{
	struct race_arg *a = p;
	unsigned char *buf = t_alloc(4096);
	struct t_ctx c;
	struct iocb cb;
	int i, j;

	for (i = 0; i < RACE_ROUNDS && !a->bad; i++) {
		if (t_ctx_init(&c, 1, 0)) {
			a->bad = 1;
			break;
		}
		memset(buf, '0', 4096);
		t_prep_pread(&cb, a->fd, buf, 4096, 0);
		if (t_submit_one(c.fd, &cb) != 1)
			a->bad = 2;
		if (t_destroy(c.fd))
			a->bad = 3;
		memset(buf, '2', 4096);
		for (j = 0; j < 4096; j++)
			if (buf[j] != '2')
				a->bad = 4;
		t_ctx_close(&c);
	}
	return NULL;
}

FIXTURE(race) {
	int unused;
};

FIXTURE_SETUP(race)
{
}

FIXTURE_TEARDOWN(race)
{
}

TEST_F_TIMEOUT(race, destroy_racing_odirect_reads_from_many_threads, 900)
{
	struct race_arg a[RACE_THREADS];
	pthread_t t[RACE_THREADS];
	char path[PATH_MAX];
	const char *dir;
	int fd, i;

	KAIO_ENV_OR_SKIP(dir, "KAIO_XFS_DIR");
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), 4096, 18));
	fd = open(path, O_RDONLY | O_DIRECT);
	unlink(path);
	ASSERT_LE(0, fd);
	for (i = 0; i < RACE_THREADS; i++) {
		a[i].fd = fd;
		a[i].bad = 0;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, destroy_race_thread,
					    &a[i]));
	}
	for (i = 0; i < RACE_THREADS; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, a[i].bad) TH_LOG("thread %d", i);
	}
	close(fd);
}

/*
 * The same race where every read is punted: each thread first rewrites its
 * own block of the file with a buffered write, so the O_DIRECT read's NOWAIT
 * attempt finds a dirty page and refuses, and the read goes to a worker
 * (which writes the page back first) while DESTROY cancels it. Each round
 * then meets one of: cancelled while queued (the buffer untouched), taken
 * by the worker first (DESTROY waits for it: the round's data), or the
 * canceller and the worker's dequeue at once. The buffer is checked after
 * DESTROY, then overwritten and checked again, as above.
 */
#define PUNT_ROUNDS	100

struct punt_arg {
	int bfd, dfd, block, bad;
};

static void *destroy_punt_thread(void *p)
{
	struct punt_arg *a = p;
	unsigned char *buf = t_alloc(4096), *data = t_alloc(4096);
	long long off = a->block * 4096LL;
	struct t_ctx c;
	struct iocb cb;
	int i, j;

	for (i = 0; i < PUNT_ROUNDS && !a->bad; i++) {
		memset(data, 'a' + i % 26, 4096);
		if (pwrite(a->bfd, data, 4096, off) != 4096) {
			a->bad = 5;
			break;
		}
		if (t_ctx_init(&c, 1, 0)) {
			a->bad = 1;
			break;
		}
		memset(buf, '0', 4096);
		t_prep_pread(&cb, a->dfd, buf, 4096, off);
		if (t_submit_one(c.fd, &cb) != 1)
			a->bad = 2;
		if (t_destroy(c.fd))
			a->bad = 3;
		/* all of the round's data, or (cancelled) nothing */
		if (memcmp(buf, data, 4096) && buf[0] != '0')
			a->bad = 6;
		for (j = 1; j < 4096; j++)
			if (buf[j] != buf[0])
				a->bad = 6;
		memset(buf, '2', 4096);
		for (j = 0; j < 4096; j++)
			if (buf[j] != '2')
				a->bad = 4;
		t_ctx_close(&c);
	}
	munmap(buf, 4096);
	munmap(data, 4096);
	return NULL;
}

TEST_F_TIMEOUT(race, destroy_racing_punted_odirect_reads_of_dirty_pages, 900)
{
	struct punt_arg a[RACE_THREADS];
	pthread_t t[RACE_THREADS];
	struct t_stats s0, s1, d;
	char path[PATH_MAX];
	const char *dir;
	int bfd, dfd, i;

	KAIO_ENV_OR_SKIP(dir, "KAIO_XFS_DIR");
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path),
				 RACE_THREADS * 4096, 19));
	bfd = open(path, O_WRONLY);
	dfd = open(path, O_RDONLY | O_DIRECT);
	unlink(path);
	ASSERT_LE(0, bfd);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &s0));
	for (i = 0; i < RACE_THREADS; i++) {
		a[i] = (struct punt_arg){ .bfd = bfd, .dfd = dfd, .block = i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, destroy_punt_thread,
					    &a[i]));
	}
	for (i = 0; i < RACE_THREADS; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, a[i].bad) TH_LOG("thread %d", i);
	}
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("module", &d);
	/*
	 * The race was run: every read went to a worker or was cancelled
	 * waiting for one (a read the flusher cleaned first may not), and
	 * both happened.
	 */
	EXPECT_LE(RACE_THREADS * PUNT_ROUNDS * 9 / 10, d.worker + d.cancelled);
	EXPECT_LE(1, d.worker);
	EXPECT_LE(1, d.cancelled);
	close(bfd);
	close(dfd);
}

/* ---- DESTROY and close with hundreds in flight, from other threads -------- */

/*
 * The tests below keep requests in flight on the slow devices (kaio_util.h's
 * t_mix) and end with the module back where they started: as many
 * `contexts` in /sys/kernel/debug/kaio/stats, `pinned_pages_reserved` 0, as
 * many requests completed as were submitted (t_expect_settled()).
 */
KAIO_SETTLE_FIXTURE(lt)

/*
 * Page-waiting buffered reads on the slow ext4 and xfs, O_DIRECT reads on
 * the slow raw device (more than its queue depth: some are refused NOWAIT
 * and go to workers), ext4 DSYNC writes and FSYNCs (workers), POLLs on
 * empty pipes: ~400 requests.
 */
static const struct t_mix_counts destroy_mix = {
	.cold = 64, .direct = 128, .writes = 64, .fsyncs = 8, .polls = 64,
};

TEST_F_TIMEOUT(lt, destroy_with_hundreds_in_flight_waits_for_every_one, 120)
{
	struct io_event *ev;
	struct t_stats s0, s1, d;
	struct timespec one_s = { 1, 0 };
	const char *why;
	uint64_t t0, t1;
	int n, cancelled;
	long got;

	KAIO_SKIPPED_IN_SETUP();
	why = t_mix_open(&self->m, &destroy_mix);
	if (why)
		SKIP(return, "%s", why);
	n = self->m.b.n;
	ev = calloc(n, sizeof(*ev));
	KAIO_CTX_INIT(&self->c, 1024, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));
	t0 = t_now_ns();
	EXPECT_EQ(0, t_destroy(self->c.fd));
	t1 = t_now_ns();
	TH_LOG("DESTROY of %d requests took %lld ms", n,
	       (long long)(t1 - t0) / 1000000);

	/* every request had finished when DESTROY returned */
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(0, s1.in_flight);
	EXPECT_EQ(n, d.submitted);
	EXPECT_EQ(n, d.completed);
	/* their events are in the ring, one each */
	got = t_ring_peek(&self->c, ev, n);
	EXPECT_EQ(n, got);
	cancelled = t_batch_check(_metadata, &self->m.b, ev, got, true);
	TH_LOG("%d of %d cancelled by DESTROY", cancelled, n);
	EXPECT_LE(self->m.b.npipes, cancelled);	/* at least the POLLs */
	EXPECT_EQ(d.cancelled, cancelled);
	t_check_written(_metadata, &self->m.b, self->m.write_fd, true);
	EXPECT_EQ(-EINVAL, t_getevents(self->c.fd, 1, 1, ev, &one_s));
	EXPECT_EQ(-EINVAL, t_destroy(self->c.fd));
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

/*
 * close() is the last reference: it returns only when every request has
 * finished and been freed, so the module counters are back at once.
 */
TEST_F_TIMEOUT(lt, close_with_hundreds_in_flight_returns_with_everything_freed, 120)
{
	struct t_stats g;
	const char *why;
	uint64_t t0, t1;
	int n;

	KAIO_SKIPPED_IN_SETUP();
	why = t_mix_open(&self->m, &destroy_mix);
	if (why)
		SKIP(return, "%s", why);
	n = self->m.b.n;
	KAIO_CTX_INIT(&self->c, 1024, 0);
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));
	t0 = t_now_ns();
	EXPECT_EQ(0, close(self->c.fd));
	t1 = t_now_ns();
	self->c.fd = -1;
	TH_LOG("close with %d in flight took %lld ms", n,
	       (long long)(t1 - t0) / 1000000);
	/* no waiting here: close already did */
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts, g.contexts);
	EXPECT_EQ(0, g.pinned_pages_reserved);
	EXPECT_EQ(g.submitted - self->g0.submitted, g.completed - self->g0.completed);
	/* writes either landed whole or not at all */
	t_check_written(_metadata, &self->m.b, self->m.write_fd, false);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

/*
 * A mapping of the ring holds the context too: close() of the fd then
 * releases nothing, the requests go on, and munmap() is the last close.
 */
TEST_F_TIMEOUT(lt, close_with_ring_mapped_then_munmap_is_the_last_close, 120)
{
	struct t_stats g;
	const char *why;
	int n;

	KAIO_SKIPPED_IN_SETUP();
	why = t_mix_open(&self->m, &destroy_mix);
	if (why)
		SKIP(return, "%s", why);
	n = self->m.b.n;
	KAIO_CTX_INIT(&self->c, 1024, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts + 1, g.contexts);
	/* events still arrive in the mapped ring (the POLLs never will) */
	{
		uint64_t end = t_now_ns() + 30000000000ULL;
		long want = n - self->m.b.npipes, have = 0;

		while (t_now_ns() < end) {
			have = (__atomic_load_n(&self->c.ring->tail, __ATOMIC_ACQUIRE) +
				self->c.ring->nr - self->c.ring->head) %
			       self->c.ring->nr;
			if (have >= want)
				break;
			usleep(10000);
		}
		EXPECT_EQ(want, have);
	}
	EXPECT_EQ(0, munmap(self->c.ring, self->c.s.ring_size));
	self->c.ring = NULL;
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts, g.contexts);
	EXPECT_EQ(0, g.pinned_pages_reserved);
	t_check_written(_metadata, &self->m.b, self->m.write_fd, false);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

/*
 * DESTROY wakes a thread waiting in GETEVENTS with no time limit: it
 * returns what it has (the cancelled POLL's event, res 0) or EINVAL.
 */
TEST_F_TIMEOUT(lt, destroy_wakes_thread_waiting_without_timeout, 60)
{
	struct t_waiter w = { 0 };
	pthread_t tw;

	KAIO_SKIPPED_IN_SETUP();
	t_install_sigusr1();
	KAIO_CTX_INIT(&self->c, 8, 0);
	t_poll_waiter_start(_metadata, &self->c, &self->m.b, &w, NULL, &tw);
	EXPECT_EQ(0, t_destroy(self->c.fd));
	EXPECT_TRUE(t_join_within(tw, 5000)) TH_LOG("GETEVENTS still waiting after DESTROY");
	EXPECT_TRUE(w.ret == -EINVAL || w.ret == 1) TH_LOG("GETEVENTS: %ld", w.ret);
	if (w.ret == 1)
		EXPECT_EQ(0, w.ev[0].res);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

struct poller {
	int ctx, nullfd;
	struct iocb *cbs;	/* POLLs on an empty pipe, submitted one by one */
	int n;
	long submitted, noops, last;
};

/* POLLs first, then NOOPs, until SUBMIT fails for another reason than a full ring. */
static void *submit_polls_until_error(void *arg)
{
	struct poller *p = arg;
	struct iocb noop;
	long r;

	t_prep_noop(&noop, p->nullfd);
	for (;;) {
		bool poll = p->submitted < p->n;

		r = t_submit_one(p->ctx, poll ? &p->cbs[p->submitted] : &noop);
		if (r == -EAGAIN)
			continue;
		if (r != 1) {
			p->last = r;
			break;
		}
		if (poll)
			__atomic_store_n(&p->submitted, p->submitted + 1,
					 __ATOMIC_RELAXED);
		else
			p->noops++;
	}
	return NULL;
}

/*
 * DESTROY while another thread keeps submitting (POLLs that never become
 * ready, then NOOPs): a POLL armed by a SUBMIT that raced with DESTROY may
 * miss its cancel; DESTROY cancels again while it waits, so it still
 * returns, with every POLL that got in completed (res 0), and the
 * submitter then gets EINVAL.
 */
TEST_F_TIMEOUT(lt, destroy_while_other_thread_submits_polls_returns_all_accounted, 60)
{
	enum { NPOLL = 1024 };
	struct poller p = { 0 };
	struct t_stats s1;
	struct io_event *ev;
	int pfd[2], *count = calloc(NPOLL, sizeof(int));
	long long *res = calloc(NPOLL, sizeof(long long));
	uint64_t t0, t1;
	pthread_t th;
	long got, stray;
	int k;

	KAIO_SKIPPED_IN_SETUP();
	t_install_sigusr1();
	KAIO_CTX_INIT(&self->c, 4096, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	p.cbs = calloc(NPOLL, sizeof(*p.cbs));
	for (k = 0; k < NPOLL; k++)
		t_prep_poll(&p.cbs[k], pfd[0], POLLIN);
	p.n = NPOLL;
	p.ctx = self->c.fd;
	p.nullfd = self->c.nullfd;
	ev = calloc(self->c.cap, sizeof(*ev));
	ASSERT_EQ(0, pthread_create(&th, NULL, submit_polls_until_error, &p));
	for (k = 0; k < 5000 && __atomic_load_n(&p.submitted, __ATOMIC_RELAXED) < 16; k++)
		usleep(1000);
	t0 = t_now_ns();
	EXPECT_EQ(0, t_destroy(self->c.fd));
	t1 = t_now_ns();
	EXPECT_TRUE(t_join_within(th, 5000));
	TH_LOG("DESTROY took %lld ms; %ld POLLs and %ld NOOPs got in, then %ld",
	       (long long)(t1 - t0) / 1000000, p.submitted, p.noops, p.last);
	EXPECT_EQ(-EINVAL, p.last);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	EXPECT_EQ(0, s1.in_flight);
	EXPECT_EQ(p.submitted + p.noops, s1.submitted);
	EXPECT_EQ(p.submitted + p.noops, s1.completed);
	got = t_ring_peek(&self->c, ev, self->c.cap);
	EXPECT_EQ(p.submitted + p.noops, got);
	stray = t_tally(p.cbs, NPOLL, ev, got, count, res);
	EXPECT_EQ(p.noops, stray);	/* the NOOP events */
	for (k = 0; k < p.submitted; k++) {
		EXPECT_EQ(1, count[k]);
		EXPECT_EQ(0, res[k]);
	}
	close(pfd[0]);
	close(pfd[1]);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

struct destroyer {
	int ctx;
	long ret;
	long long in_flight_after;
};

static void *destroy_thread(void *arg)
{
	struct destroyer *d = arg;
	struct t_stats st;

	d->ret = t_destroy(d->ctx);
	d->in_flight_after = t_ctx_stats(d->ctx, &st) ? -1 : st.in_flight;
	return NULL;
}

/*
 * Two threads DESTROY at once with I/O in flight: one gets 0 and returns
 * only when nothing is in flight any more; the other gets EINVAL, at once
 * (as a second io_destroy(2): the context is already being destroyed).
 */
TEST_F_TIMEOUT(lt, destroy_from_two_threads_one_0_and_waits_one_EINVAL, 60)
{
	struct destroyer d[2] = { { 0 }, { 0 } };
	struct t_stats s1;
	pthread_t th[2];
	int i, winner;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_MIX_OPEN(&self->m, .cold = 32, .direct = 64, .writes = 16, .polls = 8);
	KAIO_CTX_INIT(&self->c, 512, 0);
	ASSERT_EQ(self->m.b.n, t_submit(self->c.fd, self->m.b.n, self->m.b.ptrs));
	for (i = 0; i < 2; i++) {
		d[i].ctx = self->c.fd;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, destroy_thread, &d[i]));
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	EXPECT_TRUE((d[0].ret == 0 && d[1].ret == -EINVAL) ||
		    (d[0].ret == -EINVAL && d[1].ret == 0))
		TH_LOG("DESTROY answered %ld and %ld", d[0].ret, d[1].ret);
	winner = d[0].ret == 0 ? 0 : 1;
	EXPECT_EQ(0, d[winner].in_flight_after);
	TH_LOG("in flight when the loser returned: %lld",
	       d[!winner].in_flight_after);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	EXPECT_EQ(0, s1.in_flight);
	EXPECT_EQ(self->m.b.n, s1.completed);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

TEST_HARNESS_MAIN
