// SPDX-License-Identifier: GPL-2.0
/*
 * KAIO_IOC_GETEVENTS: io_getevents(2) semantics - argument checks, relative
 * timeouts, interruption by signals, order and bounds of what is returned.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

FIXTURE(ge) {
	struct t_ctx c;
	struct iocb cbs[16];
	struct iocb *ptrs[16];
	struct io_event ev[16];
	struct timespec zero, five;
	struct __kernel_timespec kzero;
};

FIXTURE_SETUP(ge)
{
	int i;

	self->five.tv_sec = 5;
	KAIO_CTX_INIT(&self->c, 32, 0);
	for (i = 0; i < 16; i++) {
		t_prep_noop(&self->cbs[i], self->c.nullfd);
		self->cbs[i].aio_data = i;
		self->ptrs[i] = &self->cbs[i];
	}
}

FIXTURE_TEARDOWN(ge)
{
	t_ctx_close(&self->c);
}

TEST_F(ge, min_nr_negative_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EINVAL, t_getevents(self->c.fd, -1, 1, self->ev, &self->zero));
}

TEST_F(ge, min_nr_above_nr_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EINVAL, t_getevents(self->c.fd, 2, 1, self->ev, &self->zero));
}

TEST_F(ge, nr_negative_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EINVAL, t_getevents(self->c.fd, 0, -1, self->ev, &self->zero));
}

/* io_pgetevents' sigmask: as set_user_sigmask(), size first, then copy. */
TEST_F(ge, sigmask_bad_pointer_EFAULT)
{
	struct kaio_getevents g = {
		.nr = 1,
		.events = (uintptr_t)self->ev,
		.timeout = (uintptr_t)&self->kzero,
		.sigmask = 1,
		.sigsetsize = 8,
	};

	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EFAULT, t_getevents_raw(self->c.fd, &g));
}

TEST_F(ge, sigsetsize_wrong_EINVAL)
{
	uint64_t mask = 0;
	struct kaio_getevents g = {
		.nr = 1,
		.events = (uintptr_t)self->ev,
		.timeout = (uintptr_t)&self->kzero,
		.sigmask = (uintptr_t)&mask,
		.sigsetsize = 1ULL << 63,
	};

	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EINVAL, t_getevents_raw(self->c.fd, &g));
}

/* As io_pgetevents: without a mask, its size is not looked at. */
TEST_F(ge, sigsetsize_ignored_without_sigmask)
{
	struct kaio_getevents g = {
		.nr = 1,
		.events = (uintptr_t)self->ev,
		.timeout = (uintptr_t)&self->kzero,
		.sigsetsize = 1ULL << 63,
	};

	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(0, t_getevents_raw(self->c.fd, &g));
}

TEST_F(ge, arg_bad_pointer_EFAULT)
{
	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-1, ioctl(self->c.fd, KAIO_IOC_GETEVENTS, t_bad_ptr()));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(ge, timeout_bad_pointer_EFAULT)
{
	struct kaio_getevents g = {
		.nr = 1,
		.events = (uintptr_t)self->ev,
		.timeout = (uintptr_t)t_bad_ptr(),
	};

	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EFAULT, t_getevents_raw(self->c.fd, &g));
}

TEST_F(ge, events_bad_pointer_with_event_waiting_EFAULT)
{
	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(1, t_submit(self->c.fd, 1, self->ptrs));
	EXPECT_EQ(-EFAULT, t_getevents(self->c.fd, 1, 1, t_bad_ptr(),
				       &self->five));
}

TEST_F(ge, zero_timeout_nothing_pending_returns_0_at_once)
{
	uint64_t t0;

	KAIO_SKIPPED_IN_SETUP();
	t0 = t_now_ns();
	EXPECT_EQ(0, t_getevents(self->c.fd, 1, 1, self->ev, &self->zero));
	EXPECT_GT(1000000000ULL, t_now_ns() - t0);
}

TEST_F(ge, timeout_50ms_nothing_pending_returns_0_after_50ms)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	uint64_t t0, dt;

	KAIO_SKIPPED_IN_SETUP();
	t0 = t_now_ns();
	EXPECT_EQ(0, t_getevents(self->c.fd, 1, 1, self->ev, &ts));
	dt = t_now_ns() - t0;
	EXPECT_LE(49 * 1000 * 1000ULL, dt);
	EXPECT_GT(10 * 1000 * 1000 * 1000ULL, dt);
}

TEST_F(ge, min_nr_0_without_timeout_returns_0_at_once)
{
	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(0, t_getevents(self->c.fd, 0, 16, self->ev, NULL));
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void arm_signal_in_100ms(void)
{
	struct sigaction sa;
	struct itimerval it = { .it_value = { 0, 100 * 1000 } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

TEST_F(ge, signal_during_infinite_wait_EINTR)
{
	uint64_t t0;

	KAIO_SKIPPED_IN_SETUP();
	arm_signal_in_100ms();
	t0 = t_now_ns();
	EXPECT_EQ(-EINTR, t_getevents(self->c.fd, 1, 1, self->ev, NULL));
	EXPECT_LE(90 * 1000 * 1000ULL, t_now_ns() - t0);
}

TEST_F(ge, signal_during_timed_wait_EINTR)
{
	struct timespec ts = { 20, 0 };

	KAIO_SKIPPED_IN_SETUP();
	arm_signal_in_100ms();
	EXPECT_EQ(-EINTR, t_getevents(self->c.fd, 1, 1, self->ev, &ts));
}

static volatile sig_atomic_t alarms_handled;

static void count_alarm(int sig)
{
	(void)sig;
	alarms_handled++;
}

/* GETEVENTS with a signal mask, as io_pgetevents(2). */
static long pgetevents(int ctx, struct io_event *ev, const struct timespec *ts,
		       const sigset_t *mask)
{
	struct __kernel_timespec kts = { ts->tv_sec, ts->tv_nsec };
	struct kaio_getevents g = {
		.min_nr = 1,
		.nr = 1,
		.events = (uintptr_t)ev,
		.timeout = (uintptr_t)&kts,
		.sigmask = (uintptr_t)mask,
		.sigsetsize = 8,	/* the kernel's sigset_t */
	};

	return t_getevents_raw(ctx, &g);
}

static void alarm_in_100ms(void)
{
	struct sigaction sa;
	struct itimerval it = { .it_value = { 0, 100 * 1000 } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_alarm;	/* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	alarms_handled = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* A signal blocked by the thread, unblocked only for the wait: EINTR. */
TEST_F(ge, sigmask_unblocks_signal_for_the_wait_only)
{
	struct timespec ts = { 20, 0 };
	sigset_t block, empty, now;

	KAIO_SKIPPED_IN_SETUP();
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigemptyset(&empty);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &block, NULL));
	alarm_in_100ms();
	EXPECT_EQ(-EINTR, pgetevents(self->c.fd, self->ev, &ts, &empty));
	EXPECT_EQ(1, alarms_handled);
	ASSERT_EQ(0, sigprocmask(SIG_SETMASK, NULL, &now));
	EXPECT_TRUE(sigismember(&now, SIGALRM));	/* the old mask is back */
	sigprocmask(SIG_UNBLOCK, &block, NULL);
}

/* A signal blocked only for the wait neither ends it nor is lost. */
TEST_F(ge, sigmask_blocks_signal_for_the_wait_only)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	sigset_t block;

	KAIO_SKIPPED_IN_SETUP();
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	alarm_in_100ms();
	EXPECT_EQ(0, pgetevents(self->c.fd, self->ev, &ts, &block));
	/* Delivered on the way out, once the caller's mask is back. */
	EXPECT_EQ(1, alarms_handled);
}

TEST_F(ge, events_in_submission_order_never_more_than_nr)
{
	int i;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(10, t_submit(self->c.fd, 10, self->ptrs));
	memset(self->ev, 0xff, sizeof(self->ev));
	ASSERT_EQ(3, t_getevents(self->c.fd, 3, 3, self->ev, &self->five));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(i, self->ev[i].data);
	EXPECT_EQ(~0ULL, self->ev[3].data);	/* not written past nr */
	ASSERT_EQ(4, t_getevents(self->c.fd, 4, 4, self->ev, &self->five));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(3 + i, self->ev[i].data);
	/* only 3 remain: min_nr 3 of nr 16 returns exactly those */
	ASSERT_EQ(3, t_getevents(self->c.fd, 3, 16, self->ev, &self->five));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(7 + i, self->ev[i].data);
		EXPECT_EQ((uintptr_t)&self->cbs[7 + i], self->ev[i].obj);
	}
	EXPECT_EQ(0, t_getevents(self->c.fd, 0, 16, self->ev, &self->zero));
}

TEST_F(ge, nr_0_returns_0_and_keeps_events)
{
	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(2, t_submit(self->c.fd, 2, self->ptrs));
	EXPECT_EQ(0, t_getevents(self->c.fd, 0, 0, self->ev, &self->five));
	EXPECT_EQ(2, t_getevents(self->c.fd, 2, 2, self->ev, &self->five));
}

struct late_submit {
	int ctx;
	struct iocb *cb;
	long ret;
};

static void *submit_after_100ms(void *arg)
{
	struct late_submit *ls = arg;

	usleep(100 * 1000);
	ls->ret = t_submit_one(ls->ctx, ls->cb);
	return NULL;
}

TEST_F(ge, infinite_wait_woken_by_completion)
{
	struct late_submit ls = { .ctx = self->c.fd, .cb = &self->cbs[5] };
	pthread_t t;
	uint64_t t0;

	KAIO_SKIPPED_IN_SETUP();
	t0 = t_now_ns();
	ASSERT_EQ(0, pthread_create(&t, NULL, submit_after_100ms, &ls));
	EXPECT_EQ(1, t_getevents(self->c.fd, 1, 1, self->ev, NULL));
	EXPECT_LE(90 * 1000 * 1000ULL, t_now_ns() - t0);
	pthread_join(t, NULL);
	EXPECT_EQ(1, ls.ret);
	EXPECT_EQ(5, self->ev[0].data);
}

TEST_F(ge, min_nr_waits_for_enough_events)
{
	struct late_submit ls = { .ctx = self->c.fd, .cb = &self->cbs[1] };
	struct timespec ts = { 10, 0 };
	pthread_t t;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(1, t_submit(self->c.fd, 1, self->ptrs));
	ASSERT_EQ(0, pthread_create(&t, NULL, submit_after_100ms, &ls));
	/* one event is there at once, the wait is for the second */
	EXPECT_EQ(2, t_getevents(self->c.fd, 2, 2, self->ev, &ts));
	pthread_join(t, NULL);
	EXPECT_EQ(0, self->ev[0].data);
	EXPECT_EQ(1, self->ev[1].data);
}

TEST_HARNESS_MAIN
