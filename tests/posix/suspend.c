// SPDX-License-Identifier: GPL-2.0
/* aio_suspend: done requests, NULL entries, timeout, EINTR, threads. */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* A read that stays in progress until the pipe gets data. */
static void pending_read(struct aiocb *cb, int p[2], char *buf, size_t n)
{
	REQUIRE(!pipe(p));
	aiocb_init(cb, p[0], buf, n, 0);
	REQUIRE_EQ(aio_read(cb), 0);
}

TEST(suspend_returns_when_one_done)
{
	int p[2], fd = pattern_file(8192, O_RDONLY);
	char pb[8], buf[4096];
	struct aiocb slow, fast;
	const struct aiocb *list[3];

	pending_read(&slow, p, pb, sizeof(pb));
	aiocb_init(&fast, fd, buf, sizeof(buf), 0);
	REQUIRE_EQ(aio_read(&fast), 0);
	list[0] = &slow;
	list[1] = NULL; /* POSIX: NULL elements are ignored */
	list[2] = &fast;
	{
		struct timespec ts = { (time_t)tscale(10), 0 };

		REQUIRE_EQ(aio_suspend(list, 3, &ts), 0);
	}
	/* The fast one is done now (or becomes so: suspend returned because
	 * at least one finished, and the slow one cannot have). */
	CHECK_EQ(aio_error(&slow), EINPROGRESS);
	CHECK_EQ(aio_error(&fast), 0);
	CHECK_EQ(aio_return(&fast), sizeof(buf));
	REQUIRE_EQ(write(p[1], "x", 1), 1);
	REQUIRE(!wait_done(&slow, 10));
	CHECK_EQ(aio_return(&slow), 1);
}

/* Already done before the call: returns at once, with no timeout. */
TEST(suspend_already_done)
{
	int fd = pattern_file(8192, O_RDONLY);
	char buf[4096];
	struct aiocb cb;
	const struct aiocb *list[2] = { NULL, &cb };
	double t0;

	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	t0 = now();
	CHECK_EQ(aio_suspend(list, 2, NULL), 0);
	CHECK(now() - t0 < tscale(1), "took %.2fs", now() - t0);
	/* And still after aio_return? Undefined by POSIX; not asked. */
	CHECK_EQ(aio_return(&cb), sizeof(buf));
}

/*
 * A negative count: glibc 2.36 answers -1 with EINVAL, before looking at
 * the list (POSIX leaves it open; programs were written against glibc).
 */
TEST(suspend_negative_nent_einval)
{
	int fd = pattern_file(8192, O_RDONLY);
	char buf[4096];
	struct aiocb cb;
	const struct aiocb *list[1] = { &cb };
	struct timespec ts = { 0, 0 };

	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	REQUIRE_EQ(aio_read(&cb), 0);
	errno = 0;
	CHECK_EQ(aio_suspend(list, -1, NULL), -1);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK_EQ(aio_suspend(list, -1, &ts), -1);
	CHECK_EQ(errno, EINVAL);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_return(&cb), sizeof(buf));
}

/* POSIX: EAGAIN when no request completed within the timeout. */
TEST(suspend_timeout_eagain)
{
	int p[2];
	char pb[8];
	struct aiocb slow;
	const struct aiocb *list[1] = { &slow };
	struct timespec ts = { 0, 300000000 };
	double t0, dt;

	pending_read(&slow, p, pb, sizeof(pb));
	t0 = now();
	errno = 0;
	CHECK_EQ(aio_suspend(list, 1, &ts), -1);
	CHECK_EQ(errno, EAGAIN);
	dt = now() - t0;
	CHECK(dt >= 0.29 && dt < tscale(3), "timeout of 0.3s took %.3fs", dt);
	/* A zero timeout polls. */
	ts.tv_nsec = 0;
	errno = 0;
	CHECK_EQ(aio_suspend(list, 1, &ts), -1);
	CHECK_EQ(errno, EAGAIN);
	REQUIRE_EQ(write(p[1], "x", 1), 1);
	REQUIRE(!wait_done(&slow, 10));
}

static volatile sig_atomic_t got_alarm;
static struct aiocb *in_handler_cb;
static volatile int in_handler_err;
static volatile long in_handler_ret;

static void on_signal(int sig)
{
	(void)sig;
	if (in_handler_cb) {
		in_handler_err = aio_error(in_handler_cb);
		in_handler_ret = aio_return(in_handler_cb);
	}
	got_alarm++;
}

static void install(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* SA_RESTART: POSIX says aio_suspend fails with EINTR anyway. */
	sa.sa_flags = SA_RESTART;
	REQUIRE(!sigaction(sig, &sa, NULL));
}

/* alarm(): a process-directed signal interrupts aio_suspend with EINTR
 * (the backend's own threads must not take it). */
TEST(suspend_eintr_alarm)
{
	int p[2];
	char pb[8];
	struct aiocb slow;
	const struct aiocb *list[1] = { &slow };
	struct timespec ts = { (time_t)tscale(20), 0 };

	install(SIGALRM);
	pending_read(&slow, p, pb, sizeof(pb));
	alarm(1);
	errno = 0;
	CHECK_EQ(aio_suspend(list, 1, &ts), -1);
	CHECK_EQ(errno, EINTR);
	CHECK_EQ(got_alarm, 1);
	CHECK_EQ(aio_error(&slow), EINPROGRESS);
	REQUIRE_EQ(write(p[1], "x", 1), 1);
	REQUIRE(!wait_done(&slow, 10));
}

static pthread_t main_thread;

static void *kick(void *arg)
{
	msleep((long)arg);
	pthread_kill(main_thread, SIGUSR2);
	return NULL;
}

/* A signal from another thread; its handler calls aio_error/aio_return on
 * a request that completed meanwhile (async-signal-safe, POSIX). */
TEST(suspend_eintr_handler_reaps)
{
	int p[2], fd = pattern_file(8192, O_RDONLY);
	char pb[8], buf[4096];
	struct aiocb slow, done;
	const struct aiocb *list[1] = { &slow };
	struct timespec ts = { (time_t)tscale(20), 0 };
	pthread_t t;

	install(SIGUSR2);
	aiocb_init(&done, fd, buf, sizeof(buf), 0);
	REQUIRE_EQ(aio_read(&done), 0);
	REQUIRE(!wait_done(&done, 10));
	in_handler_cb = &done;
	pending_read(&slow, p, pb, sizeof(pb));
	main_thread = pthread_self();
	REQUIRE(!pthread_create(&t, NULL, kick, (void *)300L));
	errno = 0;
	CHECK_EQ(aio_suspend(list, 1, &ts), -1);
	CHECK_EQ(errno, EINTR);
	pthread_join(t, NULL);
	CHECK_EQ(got_alarm, 1);
	CHECK_EQ(in_handler_err, 0);
	CHECK_EQ(in_handler_ret, sizeof(buf));
	REQUIRE_EQ(write(p[1], "x", 1), 1);
	REQUIRE(!wait_done(&slow, 10));
	CHECK_EQ(aio_return(&slow), 1);
}

/* Two threads, each suspending on its own requests while the other reaps
 * its own: nothing lost, nobody stuck. */
struct worker {
	int fd;
	int base;
	atomic_int ok;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	enum { N = 32 };
	static __thread char buf[N][1024];
	struct aiocb cb[N];

	for (int round = 0; round < 4; round++) {
		int left = N;

		for (int i = 0; i < N; i++) {
			aiocb_init(&cb[i], w->fd, buf[i], 1024, (w->base + i) * 1024);
			if (aio_read(&cb[i]))
				return NULL;
		}
		while (left) {
			const struct aiocb *list[N];
			struct timespec ts = { (time_t)tscale(20), 0 };
			int n = 0;

			for (int i = 0; i < N; i++)
				list[i] = NULL;
			for (int i = 0; i < N; i++)
				if (cb[i].aio_fildes >= 0)
					list[n++] = &cb[i];
			if (aio_suspend(list, n, &ts) && errno != EINTR)
				return NULL;
			for (int i = 0; i < N; i++) {
				if (cb[i].aio_fildes < 0 || aio_error(&cb[i]) == EINPROGRESS)
					continue;
				if (aio_return(&cb[i]) != 1024 ||
				    check_pattern(buf[i], (w->base + i) * 1024, 1024) != -1)
					return NULL;
				cb[i].aio_fildes = -1; /* reaped */
				left--;
			}
		}
	}
	w->ok = 1;
	return NULL;
}

TEST(suspend_two_threads_own_requests)
{
	int fd = pattern_file(64 * 1024, O_RDONLY);
	struct worker w[2] = { { fd, 0, 0 }, { fd, 32, 0 } };
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		REQUIRE(!pthread_create(&t[i], NULL, worker, &w[i]));
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(w[0].ok && w[1].ok, "worker results %d %d", (int)w[0].ok, (int)w[1].ok);
}

/* One thread waits on a slow request while another submits and reaps
 * many; the slow one then completes and wakes the first. */
static struct aiocb slow_cb;
static atomic_int slow_waiter_rc = -2;

static void *slow_waiter(void *arg)
{
	const struct aiocb *list[1] = { &slow_cb };
	struct timespec ts = { (time_t)tscale(30), 0 };
	int r;

	(void)arg;
	do
		r = aio_suspend(list, 1, &ts);
	while (r && errno == EINTR);
	slow_waiter_rc = r ? errno : 0;
	return NULL;
}

TEST(suspend_waiter_woken_while_other_thread_reaps)
{
	int p[2], fd = pattern_file(1 << 16, O_RDONLY);
	char pb[8];
	static char buf[16][4096];
	struct aiocb cb[16];
	pthread_t t;

	pending_read(&slow_cb, p, pb, sizeof(pb));
	REQUIRE(!pthread_create(&t, NULL, slow_waiter, NULL));
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < 16; i++) {
			aiocb_init(&cb[i], fd, buf[i], 4096, i * 4096);
			REQUIRE_EQ(aio_read(&cb[i]), 0);
		}
		for (int i = 0; i < 16; i++) {
			REQUIRE(!wait_done(&cb[i], 10));
			CHECK_EQ(aio_return(&cb[i]), 4096);
		}
	}
	CHECK_EQ(slow_waiter_rc, -2);
	REQUIRE_EQ(write(p[1], "x", 1), 1);
	pthread_join(t, NULL);
	CHECK_EQ(slow_waiter_rc, 0);
	CHECK_EQ(aio_error(&slow_cb), 0);
	CHECK_EQ(aio_return(&slow_cb), 1);
}
