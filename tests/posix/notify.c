// SPDX-License-Identifier: GPL-2.0
/*
 * Completion notification (POSIX 2.4.2 Realtime Signal Generation and
 * Delivery; aio_read "aio_sigevent"): SIGEV_NONE, SIGEV_SIGNAL with
 * si_code SI_ASYNCIO and si_value as given, queued real-time signals,
 * SIGEV_THREAD with its attributes, Linux's SIGEV_THREAD_ID.
 */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t tid(void)
{
	return syscall(SYS_gettid);
}

/* Signals the backend could use by mistake: standard and real-time. */
static void block_all(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGKILL);
	sigdelset(set, SIGSTOP);
	sigprocmask(SIG_BLOCK, set, NULL);
}

/* Nothing pending for the process or this thread. */
static void check_nothing_pending(void)
{
	sigset_t pend;

	sigpending(&pend);
	for (int s = 1; s < NSIG; s++)
		CHECK(!sigismember(&pend, s), "signal %d (%s) pending", s, strsignal(s));
}

TEST(sigev_none_sends_nothing)
{
	sigset_t set;
	int fd = pattern_file(8192, O_RDONLY);
	char buf[4096];
	struct aiocb cb;

	block_all(&set);
	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_sigevent.sigev_notify = SIGEV_NONE;
	cb.aio_sigevent.sigev_signo = SIGUSR1; /* ignored with SIGEV_NONE */
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_return(&cb), sizeof(buf));
	msleep(100);
	check_nothing_pending();
}

/* glibc: a zero-filled aiocb (sigev_notify 0 is SIGEV_SIGNAL, signal 0)
 * sends no signal; many programs only memset the aiocb. */
TEST(zero_filled_aiocb_sends_nothing)
{
	sigset_t set;
	int fd = pattern_file(8192, O_RDWR);
	char buf[4096];
	struct aiocb cb;

	CHECK_EQ(SIGEV_SIGNAL, 0);
	block_all(&set);
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = fd;
	cb.aio_buf = buf;
	cb.aio_nbytes = sizeof(buf);
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), sizeof(buf));
	CHECK_EQ(check_pattern(buf, 0, sizeof(buf)), -1);
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = fd;
	cb.aio_buf = buf;
	cb.aio_nbytes = sizeof(buf);
	REQUIRE_EQ(aio_write(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_return(&cb), sizeof(buf));
	msleep(100);
	check_nothing_pending();
}

/* What the handler saw. */
static struct aiocb *h_cb;
static volatile sig_atomic_t h_count, h_signo, h_code, h_err, h_pid;
static volatile long h_ret;
static void *volatile h_ptr;
static volatile int h_int;
static volatile pid_t h_tid;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	h_signo = sig;
	h_code = si->si_code;
	h_ptr = si->si_value.sival_ptr;
	h_int = si->si_value.sival_int;
	h_pid = si->si_pid;
	h_tid = tid();
	/* POSIX: aio_error and aio_return are async-signal-safe, and the
	 * request is complete when its signal is generated. */
	if (h_cb) {
		h_err = aio_error(h_cb);
		h_ret = aio_return(h_cb);
	}
	h_count++;
}

static void install(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	REQUIRE(!sigaction(sig, &sa, NULL));
}

static int wait_count(volatile sig_atomic_t *c, int n, double limit)
{
	double end = now() + tscale(limit);

	while (*c < n && now() < end)
		msleep(1);
	return *c >= n ? 0 : -1;
}

static void signal_case(int sig, int use_ptr, int write)
{
	int fd = pattern_file(1 << 16, O_RDWR);
	static char buf[8192];
	static struct aiocb cb;

	install(sig);
	aiocb_init(&cb, fd, buf, sizeof(buf), 4096);
	if (write)
		fill_pattern(buf, 4096, sizeof(buf));
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = sig;
	if (use_ptr)
		cb.aio_sigevent.sigev_value.sival_ptr = &cb;
	else
		cb.aio_sigevent.sigev_value.sival_int = 0x5eed;
	h_cb = &cb;
	REQUIRE_EQ(write ? aio_write(&cb) : aio_read(&cb), 0);
	REQUIRE(!wait_count(&h_count, 1, 10), "no signal %d within 10s", sig);
	msleep(50);
	CHECK_EQ(h_count, 1);
	CHECK_EQ(h_signo, sig);
	CHECK_EQ(h_code, SI_ASYNCIO);
	if (use_ptr)
		CHECK(h_ptr == &cb, "si_value.sival_ptr %p, expected %p", h_ptr, (void *)&cb);
	else
		CHECK_EQ(h_int, 0x5eed);
	CHECK_EQ(h_pid, getpid());
	CHECK_EQ(h_err, 0);
	CHECK_EQ(h_ret, sizeof(buf));
	if (!write)
		CHECK_EQ(check_pattern(buf, 4096, sizeof(buf)), -1);
}

TEST(sigev_signal_rt_siginfo_read)
{
	signal_case(SIGRTMIN + 1, 1, 0);
}

TEST(sigev_signal_rt_siginfo_write)
{
	signal_case(SIGRTMIN + 5, 0, 1);
}

/* A standard signal works too (not queued, but sent). */
TEST(sigev_signal_sigusr1)
{
	signal_case(SIGUSR1, 0, 0);
}

/* The signal blocked, taken with sigwaitinfo. */
TEST(sigev_signal_sigwaitinfo)
{
	int fd = pattern_file(1 << 16, O_RDONLY);
	static char buf[4096];
	struct aiocb cb;
	sigset_t set;
	siginfo_t si;
	struct timespec ts = { (time_t)tscale(10), 0 };
	int sig = SIGRTMIN + 2;

	sigemptyset(&set);
	sigaddset(&set, sig);
	REQUIRE(!sigprocmask(SIG_BLOCK, &set, NULL));
	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = sig;
	cb.aio_sigevent.sigev_value.sival_ptr = &cb;
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE_EQ(sigtimedwait(&set, &si, &ts), sig);
	CHECK_EQ(si.si_code, SI_ASYNCIO);
	CHECK(si.si_value.sival_ptr == &cb, "sival_ptr %p", si.si_value.sival_ptr);
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), sizeof(buf));
}

/*
 * The request is complete when its signal is generated: aio_return alone
 * (no aio_error first, as a program that trusts the signal does) gives
 * its count. libkaio-posix once returned the stale 0: the kernel sends the
 * signal when it posts the event, before any library thread reaped it.
 * Reads and writes, cached and O_DIRECT where the file system allows it.
 */
static void return_after_signal(int write, int direct)
{
	int fd = pattern_file(1 << 16, O_RDWR), fdd = fd;
	static char buf[4096] __attribute__((aligned(4096)));
	char path[64];
	struct aiocb cb;
	sigset_t set;
	siginfo_t si;
	struct timespec ts = { (time_t)tscale(10), 0 };
	int sig = SIGRTMIN + 2;

	if (direct) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		fdd = open(path, O_RDWR | O_DIRECT);
		if (fdd < 0)
			ptest_skip("no O_DIRECT here: %s", strerror(errno));
	}
	fill_pattern(buf, 4096, sizeof(buf));
	sigemptyset(&set);
	sigaddset(&set, sig);
	REQUIRE(!sigprocmask(SIG_BLOCK, &set, NULL));
	aiocb_init(&cb, fdd, buf, sizeof(buf), 4096);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = sig;
	REQUIRE_EQ(write ? aio_write(&cb) : aio_read(&cb), 0);
	REQUIRE_EQ(sigtimedwait(&set, &si, &ts), sig);
	CHECK_EQ(aio_return(&cb), sizeof(buf));
	if (fdd != fd)
		close(fdd);
	close(fd);
}

TEST(sigev_signal_return_without_error_read)
{
	return_after_signal(0, 0);
}

TEST(sigev_signal_return_without_error_write)
{
	return_after_signal(1, 0);
}

TEST(sigev_signal_return_without_error_direct)
{
	return_after_signal(0, 1);
}

/* Real-time signals queue: N requests, N signals, each value once. */
TEST(rt_signals_queued_none_lost)
{
	enum { N = 48 };
	int fd = pattern_file(N * 512, O_RDONLY);
	static char buf[N][512];
	static struct aiocb cb[N];
	int seen[N] = { 0 };
	sigset_t set;
	int sig = SIGRTMIN + 3;

	sigemptyset(&set);
	sigaddset(&set, sig);
	REQUIRE(!sigprocmask(SIG_BLOCK, &set, NULL));
	for (int i = 0; i < N; i++) {
		aiocb_init(&cb[i], fd, buf[i], 512, i * 512);
		cb[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		cb[i].aio_sigevent.sigev_signo = sig;
		cb[i].aio_sigevent.sigev_value.sival_int = i;
		REQUIRE_EQ(aio_read(&cb[i]), 0);
	}
	for (int i = 0; i < N; i++)
		REQUIRE(!wait_done(&cb[i], 30));
	for (int i = 0; i < N; i++) {
		siginfo_t si;
		struct timespec ts = { (time_t)tscale(5), 0 };
		int r = sigtimedwait(&set, &si, &ts);

		REQUIRE(r == sig, "signal %d of %d: %d (%s)", i + 1, N, r, strerror(errno));
		CHECK_EQ(si.si_code, SI_ASYNCIO);
		REQUIRE(si.si_value.sival_int >= 0 && si.si_value.sival_int < N,
			"sival_int %d", si.si_value.sival_int);
		seen[si.si_value.sival_int]++;
	}
	for (int i = 0; i < N; i++) {
		CHECK(seen[i] == 1, "request %d: %d signals", i, seen[i]);
		CHECK_EQ(aio_return(&cb[i]), 512);
		CHECK_EQ(check_pattern(buf[i], i * 512, 512), -1);
	}
	{
		struct timespec ts = { 0, 100000000 };
		siginfo_t si;

		CHECK_EQ(sigtimedwait(&set, &si, &ts), -1);
	}
}

/* ---- SIGEV_THREAD ---- */

static atomic_int t_calls;
static pid_t t_caller;
static _Atomic pid_t t_tid;
static atomic_int t_val, t_err;
static atomic_long t_ret;
static atomic_size_t t_stack;
static atomic_int t_detach;
static struct aiocb *t_cb;

static void thread_fn(union sigval v)
{
	pthread_attr_t a;

	t_val = v.sival_int;
	t_tid = tid();
	if (t_cb) {
		t_err = aio_error(t_cb);
		t_ret = aio_return(t_cb);
	}
	if (!pthread_getattr_np(pthread_self(), &a)) {
		size_t s = 0;
		int d = -1;

		pthread_attr_getstacksize(&a, &s);
		pthread_attr_getdetachstate(&a, &d);
		t_stack = s;
		t_detach = d;
		pthread_attr_destroy(&a);
	}
	t_calls++;
}

static int wait_atomic(atomic_int *c, int n, double limit)
{
	double end = now() + tscale(limit);

	while (*c < n && now() < end)
		msleep(1);
	return *c >= n ? 0 : -1;
}

TEST(sigev_thread_called_with_value)
{
	int fd = pattern_file(1 << 16, O_RDONLY);
	static char buf[4096];
	static struct aiocb cb;

	t_caller = tid();
	aiocb_init(&cb, fd, buf, sizeof(buf), 100);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb.aio_sigevent.sigev_notify_function = thread_fn;
	cb.aio_sigevent.sigev_value.sival_int = 4242;
	t_cb = &cb;
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_atomic(&t_calls, 1, 10), "function not called within 10s");
	msleep(50);
	CHECK_EQ(t_calls, 1);
	CHECK_EQ(t_val, 4242);
	CHECK(t_tid != t_caller, "called in the submitting thread");
	CHECK_EQ(t_err, 0);
	CHECK_EQ(t_ret, sizeof(buf));
	CHECK_EQ(check_pattern(buf, 100, sizeof(buf)), -1);
}

/* sigev_notify_attributes: the thread has the stack size asked for. */
TEST(sigev_thread_attributes_honoured)
{
	int fd = pattern_file(1 << 16, O_RDONLY);
	static char buf[4096];
	static struct aiocb cb;
	pthread_attr_t attr;
	size_t want = 3 << 18; /* 768 KiB: not a default anywhere */

	REQUIRE(!pthread_attr_init(&attr));
	REQUIRE(!pthread_attr_setstacksize(&attr, want));
	REQUIRE(!pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));
	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb.aio_sigevent.sigev_notify_function = thread_fn;
	cb.aio_sigevent.sigev_notify_attributes = &attr;
	cb.aio_sigevent.sigev_value.sival_int = 7;
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_atomic(&t_calls, 1, 10), "function not called within 10s");
	CHECK_EQ(t_val, 7);
	CHECK(t_stack >= want && t_stack < want + (64 << 10),
	      "stack size %zu, asked for %zu", (size_t)t_stack, want);
	CHECK_EQ(t_detach, PTHREAD_CREATE_DETACHED);
}

static atomic_int many_calls[200];
static atomic_int many_total;

static void many_fn(union sigval v)
{
	if (v.sival_int >= 0 && v.sival_int < 200)
		many_calls[v.sival_int]++;
	many_total++;
}

/* 200 SIGEV_THREAD requests: each function call exactly once. */
TEST(sigev_thread_many_each_once)
{
	enum { N = 200 };
	int fd = pattern_file(N * 256, O_RDWR);
	static char buf[N][256];
	static struct aiocb cb[N];

	for (int i = 0; i < N; i++) {
		aiocb_init(&cb[i], fd, buf[i], 256, i * 256);
		cb[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
		cb[i].aio_sigevent.sigev_notify_function = many_fn;
		cb[i].aio_sigevent.sigev_value.sival_int = i;
		REQUIRE_EQ(aio_read(&cb[i]), 0);
	}
	REQUIRE(!wait_atomic(&many_total, N, 60), "%d of %d calls", (int)many_total, N);
	msleep(200);
	CHECK_EQ(many_total, N);
	for (int i = 0; i < N; i++) {
		CHECK(many_calls[i] == 1, "request %d: %d calls", i, (int)many_calls[i]);
		CHECK_EQ(aio_error(&cb[i]), 0);
		CHECK_EQ(aio_return(&cb[i]), 256);
	}
}

/* ---- SIGEV_THREAD_ID (Linux): the signal goes to the thread named. ---- */

static _Atomic pid_t target_tid;
static atomic_int target_stop;

static void *target(void *arg)
{
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 4);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	target_tid = tid();
	while (!target_stop)
		msleep(1);
	return NULL;
}

TEST(sigev_thread_id_to_chosen_thread)
{
	int fd = pattern_file(1 << 16, O_RDONLY);
	static char buf[4096];
	static struct aiocb cb;
	sigset_t set;
	pthread_t t;
	int sig = SIGRTMIN + 4;

	install(sig);
	/* Blocked here (and in the threads made from here): only the target
	 * thread can take it, so a process-directed signal would wait. */
	sigemptyset(&set);
	sigaddset(&set, sig);
	REQUIRE(!pthread_sigmask(SIG_BLOCK, &set, NULL));
	REQUIRE(!pthread_create(&t, NULL, target, NULL));
	while (!target_tid)
		msleep(1);
	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
	cb.aio_sigevent.sigev_signo = sig;
	cb.aio_sigevent._sigev_un._tid = target_tid;
	cb.aio_sigevent.sigev_value.sival_int = 99;
	h_cb = &cb;
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	if (wait_count(&h_count, 1, 5)) {
		if (!backend_is_kaio())
			ptest_xfail("glibc 2.36's aio ignores SIGEV_THREAD_ID (no signal sent)");
		CHECK(0, "no signal to thread %d within 5s", (int)target_tid);
	} else {
		CHECK_EQ(h_tid, target_tid);
		CHECK_EQ(h_code, SI_ASYNCIO);
		CHECK_EQ(h_int, 99);
		CHECK_EQ(h_err, 0);
		CHECK_EQ(h_ret, sizeof(buf));
	}
	target_stop = 1;
	pthread_join(t, NULL);
}

/*
 * SIGEV_THREAD_ID naming a thread outside the process: EINVAL, as kaio's
 * kernel answers (the "a thread outside the group"), whether the
 * kernel or the library would send the signal: a regular file (kernel) and
 * a pipe (the library sends a stream's signals). The tid is a child's.
 */
TEST(sigev_thread_id_outside_process_einval)
{
	static char buf[64];
	static struct aiocb cb[2];
	int fd = pattern_file(1 << 16, O_RDONLY), p[2], hold[2], i;
	pid_t child;
	char c = 0;

	REQUIRE(!pipe(p));
	REQUIRE(!pipe(hold));
	child = fork();
	REQUIRE(child >= 0);
	if (!child) {
		/* Alive until the parent closes its end. */
		close(hold[1]);
		if (read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(hold[0]);
	REQUIRE_EQ(write(p[1], "0123456789abcdef", 16), 16);
	aiocb_init(&cb[0], fd, buf, 16, 0);
	aiocb_init(&cb[1], p[0], buf + 32, 16, 0);
	for (i = 0; i < 2; i++) {
		cb[i].aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
		cb[i].aio_sigevent.sigev_signo = SIGRTMIN + 5;
		cb[i].aio_sigevent._sigev_un._tid = child;
		REQUIRE_EQ(aio_read(&cb[i]), 0);
	}
	for (i = 0; i < 2; i++) {
		REQUIRE(!wait_done(&cb[i], 10));
		if (!backend_is_kaio() && aio_error(&cb[i]) == 0)
			ptest_xfail("glibc 2.36's aio ignores SIGEV_THREAD_ID (the request succeeds)");
		CHECK(aio_error(&cb[i]) == EINVAL, "%s: aio_error %d, not EINVAL",
		      i ? "pipe" : "regular file", aio_error(&cb[i]));
		CHECK_EQ(aio_return(&cb[i]), -1);
	}
	close(hold[1]);
	waitpid(child, NULL, 0);
	close(p[0]);
	close(p[1]);
}
