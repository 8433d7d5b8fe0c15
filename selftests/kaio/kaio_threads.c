// SPDX-License-Identifier: GPL-2.0
/*
 * Threads: requests belong to the context, not to the thread that submitted
 * them. The submitter exits with its requests in flight while another
 * thread waits for them in GETEVENTS; the fd is closed while another thread
 * waits in GETEVENTS on it (the ioctl holds its own reference: close
 * neither wakes it nor frees the context under it) or submits in a loop
 * (its next call gets EBADF). DESTROY from other threads, and DESTROY
 * waking a waiter, are in kaio_destroy.c.
 *
 * Whatever the timing, each test checks what must always hold: every
 * request posts exactly one event (or, when nobody can read it any more,
 * is counted completed), with a result its state allows; and afterwards the
 * module is back where the test started: /sys/kernel/debug/kaio/stats shows
 * as many `contexts` as before, `pinned_pages_reserved` 0, and as many
 * requests completed as were submitted.
 *
 * The runner checks dmesg after the program and unloads kaio at the end.
 * The slow devices (KAIO_SLOW_*: ten milliseconds or more per I/O) keep
 * requests in flight long enough for the test to act on them; the requests
 * and the checks are kaio_util.h's (t_mix, t_batch_check(),
 * t_expect_settled()).
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

KAIO_SETTLE_FIXTURE(lt)

struct submitter {
	int ctx;
	struct t_batch *b;
	long ret;
};

static void *submit_and_exit(void *arg)
{
	struct submitter *s = arg;

	s->ret = t_submit(s->ctx, s->b->n, s->b->ptrs);
	pthread_exit(NULL);
}

/*
 * Requests belong to the context, not to the thread that submitted them:
 * the submitter exits with its reads in flight, and another thread,
 * already waiting in GETEVENTS, gets every event with the right data.
 */
TEST_F_TIMEOUT(lt, submitter_thread_exits_waiting_thread_gets_every_event, 60)
{
	struct submitter s = { 0 };
	struct t_waiter w = { 0 };
	struct timespec limit = { 30, 0 };
	struct t_stats st;
	pthread_t ts, tw;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_MIX_OPEN(&self->m, .cold = 32, .direct = 64);
	KAIO_CTX_INIT(&self->c, 256, 0);
	w.ctx = s.ctx = self->c.fd;
	w.min_nr = self->m.b.n;
	w.ev = calloc(self->m.b.n, sizeof(*w.ev));
	w.timeout = &limit;
	s.b = &self->m.b;
	ASSERT_EQ(0, pthread_create(&tw, NULL, t_getevents_thread, &w));
	ASSERT_TRUE(t_wait_in_ioctl(&w, 5000));
	ASSERT_EQ(0, pthread_create(&ts, NULL, submit_and_exit, &s));
	ASSERT_EQ(0, pthread_join(ts, NULL));
	EXPECT_EQ(self->m.b.n, s.ret);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &st));
	TH_LOG("%lld requests in flight when the submitter had exited",
	       st.in_flight);
	ASSERT_EQ(0, pthread_join(tw, NULL));
	ASSERT_EQ(self->m.b.n, w.ret);
	EXPECT_EQ(0, t_batch_check(_metadata, &self->m.b, w.ev, w.ret, false));
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

/*
 * close() of the fd while another thread is in GETEVENTS on it: the
 * ioctl holds its own reference, so close only removes the fd; the
 * context lives until the ioctl returns. A POLL that becomes ready after
 * the close still reaches the waiter; then the context goes.
 */
TEST_F_TIMEOUT(lt, close_while_other_thread_in_getevents_event_still_delivered, 60)
{
	struct t_waiter w = { 0 };
	struct timespec limit = { 20, 0 };
	struct t_stats g;
	pthread_t tw;

	KAIO_SKIPPED_IN_SETUP();
	t_install_sigusr1();
	KAIO_CTX_INIT(&self->c, 8, 0);
	t_poll_waiter_start(_metadata, &self->c, &self->m.b, &w, &limit, &tw);
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts + 1, g.contexts);	/* the ioctl holds it */
	ASSERT_EQ(1, write(self->m.b.pipes[0][1], "x", 1));
	EXPECT_TRUE(t_join_within(tw, 10000));
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ((uintptr_t)&self->m.b.cbs[0], w.ev[0].obj);
	EXPECT_EQ(POLLIN, w.ev[0].res);
	/* the waiter's return was the last reference */
	t_expect_settled(_metadata, &self->g0, 2000);
}

/* The same with nothing to deliver: the wait times out, then the release cancels the POLL. */
TEST_F_TIMEOUT(lt, close_while_other_thread_in_getevents_times_out_then_released, 60)
{
	struct t_waiter w = { 0 };
	struct timespec limit = { 1, 0 };
	pthread_t tw;

	KAIO_SKIPPED_IN_SETUP();
	t_install_sigusr1();
	KAIO_CTX_INIT(&self->c, 8, 0);
	t_poll_waiter_start(_metadata, &self->c, &self->m.b, &w, &limit, &tw);
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	EXPECT_TRUE(t_join_within(tw, 10000));
	EXPECT_EQ(0, w.ret);
	t_expect_settled(_metadata, &self->g0, 2000);
}

struct spinner {
	int ctx, nullfd;
	long rounds, last;
	bool stop;
};

static void *submit_until_error(void *arg)
{
	struct spinner *s = arg;
	struct iocb cbs[8], *p[8];
	struct io_event ev[64];
	struct timespec zero = { 0, 0 };
	long r;
	int i;

	for (i = 0; i < 8; i++) {
		t_prep_noop(&cbs[i], s->nullfd);
		p[i] = &cbs[i];
	}
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		r = t_submit(s->ctx, 8, p);
		if (r < 0 && r != -EAGAIN) {
			s->last = r;
			break;
		}
		r = t_getevents(s->ctx, 0, 64, ev, &zero);
		if (r < 0) {
			s->last = r;
			break;
		}
		s->rounds++;
	}
	return NULL;
}

/* close() while another thread submits: it gets EBADF, nothing leaks. */
TEST_F_TIMEOUT(lt, close_while_other_thread_submits_EBADF, 60)
{
	struct spinner s = { 0 };
	pthread_t th;

	KAIO_SKIPPED_IN_SETUP();
	t_install_sigusr1();
	KAIO_CTX_INIT(&self->c, 64, 0);
	s.ctx = self->c.fd;
	s.nullfd = self->c.nullfd;
	ASSERT_EQ(0, pthread_create(&th, NULL, submit_until_error, &s));
	usleep(100000);
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	if (!t_join_within(th, 5000)) {
		__atomic_store_n(&s.stop, true, __ATOMIC_RELEASE);
		EXPECT_TRUE(0) TH_LOG("the submitter did not notice the close");
	}
	TH_LOG("%ld rounds before the close was seen", s.rounds);
	EXPECT_EQ(-EBADF, s.last);
	t_expect_settled(_metadata, &self->g0, 2000);
}

struct churner {
	int ctx;
	int nullfd;
	unsigned int seed;
	long submitted;
	long reaped;
	long last;
};

/*
 * SUBMIT NOOP batches of 1 to 300 (the context keeps up to 256 freed
 * requests; larger batches reuse the ones they free themselves) and reap,
 * until the context dies.
 */
static void *churn_until_dead(void *arg)
{
	struct churner *s = arg;
	static struct timespec zero = { 0, 0 };
	struct iocb cbs[300], *ptrs[300];
	struct io_event ev[300];
	long i, n, r;

	for (;;) {
		n = 1 + rand_r(&s->seed) % 300;
		for (i = 0; i < n; i++) {
			t_prep_noop(&cbs[i], s->nullfd);
			ptrs[i] = &cbs[i];
		}
		r = t_submit(s->ctx, n, ptrs);
		if (r < 0 && r != -EAGAIN) {
			s->last = r;
			return NULL;
		}
		if (r > 0)
			s->submitted += r;
		r = t_getevents(s->ctx, 0, 300, ev, &zero);
		if (r < 0) {
			s->last = r;
			return NULL;
		}
		s->reaped += r;
	}
}

/*
 * Four threads churn requests on one context, so their SUBMITs overlap on
 * the context's cache of freed requests, and DESTROY comes from a fifth in
 * the middle: every thread then sees EINVAL, and the module is back where
 * it started (every request completed, nothing held; under make
 * check-debug, kmemleak finds no request left).
 */
TEST_F_TIMEOUT(lt, four_threads_churn_one_context_destroy_midway, 60)
{
	struct churner s[4] = { 0 };
	pthread_t th[4];
	long submitted = 0, reaped = 0;
	int i;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_CTX_INIT(&self->c, 2048, 0);
	for (i = 0; i < 4; i++) {
		s[i].ctx = self->c.fd;
		s[i].nullfd = self->c.nullfd;
		s[i].seed = i + 1;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, churn_until_dead,
					    &s[i]));
	}
	usleep(300000);
	EXPECT_EQ(0, t_destroy(self->c.fd));
	for (i = 0; i < 4; i++) {
		ASSERT_TRUE(t_join_within(th[i], 10000))
			TH_LOG("thread %d still submitting", i);
		EXPECT_EQ(-EINVAL, s[i].last) TH_LOG("thread %d", i);
		submitted += s[i].submitted;
		reaped += s[i].reaped;
	}
	TH_LOG("%ld submitted, %ld reaped before DESTROY", submitted, reaped);
	EXPECT_LT(0, submitted);
	EXPECT_LE(reaped, submitted);
	/* A destroyed context lives on until its file is closed. */
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	t_expect_settled(_metadata, &self->g0, 2000);
}

TEST_HARNESS_MAIN
