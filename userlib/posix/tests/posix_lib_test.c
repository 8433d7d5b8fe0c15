// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libkaio-posix's own tests: the <aio.h> behaviours the library implements,
 * run against whichever backend serves the process (glibc's on a machine
 * without /dev/kaio, kaio in the guest), so both paths are held to the same
 * answers. KAIO_POSIX_EXPECT=kaio|glibc also checks which one it is.
 * Prints TAP; the exit status is the number of failed cases (capped).
 *
 *   LD_PRELOAD=libkaio-posix.so.1 KAIO_POSIX_EXPECT=glibc ./posix_lib_test
 */
#define _GNU_SOURCE
#include <aio.h>
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_n, g_failed, g_kaio;
static char g_path[] = "/tmp/kaio-posix-test-XXXXXX";

static void check(int ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d %s\n", ok ? "" : "not ", ++g_n, name);
	if (!ok) {
		g_failed++;
		printf("# ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

static int wait_cb(struct aiocb *cb)
{
	const struct aiocb *l[1] = { cb };

	while (aio_error(cb) == EINPROGRESS)
		if (aio_suspend(l, 1, NULL) && errno != EINTR)
			return -1;
	return 0;
}

static void prep(struct aiocb *cb, int fd, void *buf, size_t n, off_t off)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = n;
	cb->aio_offset = off;
}

static void test_backend(void)
{
	const char *(*fn)(void) = (const char *(*)(void))
		dlsym(RTLD_DEFAULT, "kaio_posix_backend");
	const char *want = getenv("KAIO_POSIX_EXPECT");
	const char *got = fn ? fn() : "(library not loaded)";

	printf("# backend: %s\n", got);
	g_kaio = !strcmp(got, "kaio");
	if (want)
		check(!strcmp(want, got), "backend", "backend %s, expected %s",
		      got, want);
}

static void test_rw(int fd)
{
	char w[8192], r[8192];
	struct aiocb cb;
	int e;
	ssize_t ret;

	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (char)(i * 7 + 1);
	prep(&cb, fd, w, sizeof(w), 4096);
	e = aio_write(&cb);
	wait_cb(&cb);
	ret = aio_return(&cb);
	check(!e && aio_error(&cb) == 0 && ret == (ssize_t)sizeof(w),
	      "aio_write", "rc %d error %d return %zd", e, aio_error(&cb), ret);
	memset(r, 0, sizeof(r));
	prep(&cb, fd, r, sizeof(r), 4096);
	e = aio_read(&cb);
	wait_cb(&cb);
	ret = aio_return(&cb);
	check(!e && !aio_error(&cb) && ret == (ssize_t)sizeof(r) &&
	      !memcmp(w, r, sizeof(r)), "aio_read data",
	      "rc %d error %d return %zd", e, aio_error(&cb), ret);
	/* At end of file: 0 bytes, no error. */
	prep(&cb, fd, r, sizeof(r), 1 << 30);
	e = aio_read(&cb);
	wait_cb(&cb);
	check(!e && !aio_error(&cb) && !aio_return(&cb), "aio_read at EOF",
	      "error %d return %zd", aio_error(&cb), aio_return(&cb));
}

static void test_errors(int fd)
{
	char buf[16];
	struct aiocb cb;
	int e;

	/* A bad fd is the request's error, reported as glibc does. */
	prep(&cb, 12345, buf, sizeof(buf), 0);
	e = aio_read(&cb);
	wait_cb(&cb);
	check(!e && aio_error(&cb) == EBADF && aio_return(&cb) == -1,
	      "bad fd via aio_error", "rc %d error %d return %zd", e,
	      aio_error(&cb), aio_return(&cb));
	prep(&cb, fd, buf, sizeof(buf), -1);
	e = aio_read(&cb);
	wait_cb(&cb);
	check(!e && aio_error(&cb) == EINVAL && aio_return(&cb) == -1,
	      "negative offset via aio_error", "rc %d error %d", e,
	      aio_error(&cb));
	prep(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_reqprio = 21;
	errno = 0;
	e = aio_read(&cb);
	check(e == -1 && errno == EINVAL && aio_error(&cb) == EINVAL &&
	      aio_return(&cb) == -1, "aio_reqprio out of range",
	      "rc %d errno %d error %d", e, errno, aio_error(&cb));
	prep(&cb, fd, buf, sizeof(buf), 0);
	errno = 0;
	e = aio_fsync(12345, &cb);
	check(e == -1 && errno == EINVAL, "aio_fsync bad op", "rc %d errno %d",
	      e, errno);
	cb.aio_fildes = 12345;
	errno = 0;
	e = aio_fsync(O_SYNC, &cb);
	check(e == -1 && errno == EBADF, "aio_fsync bad fd", "rc %d errno %d",
	      e, errno);
	errno = 0;
	e = aio_cancel(12345, NULL);
	check(e == -1 && errno == EBADF, "aio_cancel bad fd", "rc %d errno %d",
	      e, errno);
	prep(&cb, fd, buf, sizeof(buf), 0);
	{
		int fd2 = dup(fd);

		errno = 0;
		e = aio_cancel(fd2, &cb);
		check(e == -1 && errno == EINVAL, "aio_cancel fd mismatch",
		      "rc %d errno %d", e, errno);
		close(fd2);
	}
	e = aio_cancel(fd, NULL);
	check(e == AIO_ALLDONE, "aio_cancel nothing pending", "rc %d", e);
	{
		const struct aiocb *l[2] = { NULL, NULL };

		e = aio_suspend(l, 2, NULL);
		check(e == 0, "aio_suspend all NULL", "rc %d", e);
	}
	/* glibc's sigqueue fails on signal 200: EINVAL replaces the result. */
	prep(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = 200;
	e = aio_read(&cb);
	wait_cb(&cb);
	check(!e && aio_error(&cb) == EINVAL && aio_return(&cb) == -1,
	      "invalid sigev_signo", "rc %d error %d return %zd", e,
	      aio_error(&cb), aio_return(&cb));
	errno = 0;
	{
		struct aiocb *none[1] = { NULL };

		e = lio_listio(7, none, 1, NULL);
	}
	check(e == -1 && errno == EINVAL, "lio_listio bad mode",
	      "rc %d errno %d", e, errno);
}

static void test_suspend_cancel(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	const struct aiocb *l[1];
	struct aiocb cb;
	char buf[8];
	int p[2], e, c;

	if (pipe(p)) {
		check(0, "pipe", "pipe: %m");
		return;
	}
	prep(&cb, p[0], buf, sizeof(buf), 0);
	e = aio_read(&cb);
	l[0] = &cb;
	errno = 0;
	check(!e && aio_suspend(l, 1, &ts) == -1 && errno == EAGAIN &&
	      aio_error(&cb) == EINPROGRESS, "aio_suspend timeout",
	      "rc %d errno %d error %d", e, errno, aio_error(&cb));
	c = aio_cancel(p[0], &cb);
	if (c == AIO_CANCELED) {
		check(aio_error(&cb) == ECANCELED && aio_return(&cb) == -1,
		      "aio_cancel pipe read: canceled", "error %d",
		      aio_error(&cb));
	} else if (c == AIO_NOTCANCELED) {
		/* glibc's worker is in read(): it finishes with the data. */
		check(write(p[1], "abc", 3) == 3 && !wait_cb(&cb) &&
		      aio_error(&cb) == 0 && aio_return(&cb) == 3,
		      "aio_cancel pipe read: not canceled, completes",
		      "error %d return %zd", aio_error(&cb), aio_return(&cb));
	} else {
		check(0, "aio_cancel pipe read", "answer %d", c);
		write(p[1], "abc", 3);
		wait_cb(&cb);
	}
	check(aio_cancel(p[0], &cb) == AIO_ALLDONE, "aio_cancel when done",
	      "not AIO_ALLDONE");
	close(p[0]);
	close(p[1]);
}

static int g_wpipe;

static void *late_writer(void *arg)
{
	(void)arg;
	usleep(200 * 1000);
	if (write(g_wpipe, "late", 4) != 4)
		return NULL;
	return NULL;
}

/* aio_suspend returns when a pipe read's data arrives from a thread. */
static void test_pipe_suspend(void)
{
	struct timespec ts = { 5, 0 };
	const struct aiocb *l[1];
	struct aiocb cb;
	pthread_t t;
	char buf[8];
	int p[2], e, s;

	if (pipe(p)) {
		check(0, "pipe", "pipe: %m");
		return;
	}
	prep(&cb, p[0], buf, sizeof(buf), 0);
	e = aio_read(&cb);
	g_wpipe = p[1];
	pthread_create(&t, NULL, late_writer, NULL);
	l[0] = &cb;
	s = aio_suspend(l, 1, &ts);
	pthread_join(t, NULL);
	check(!e && !s && aio_error(&cb) == 0 && aio_return(&cb) == 4,
	      "aio_suspend wakes for a pipe read", "rc %d suspend %d error %d",
	      e, s, aio_error(&cb));
	if (s) {
		wait_cb(&cb);
	}
	close(p[0]);
	close(p[1]);
}

static volatile sig_atomic_t g_sig_count, g_sig_ok;
static struct aiocb g_sigcb;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	/* aio_error/aio_return are async-signal-safe: the status is final. */
	if (si->si_code == SI_ASYNCIO && si->si_value.sival_ptr == &g_sigcb &&
	    aio_error(&g_sigcb) == 0 && aio_return(&g_sigcb) == 16)
		g_sig_ok = 1;
	g_sig_count++;
}

static void test_signal(int fd)
{
	struct sigaction sa;
	char buf[16];
	int e, i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	prep(&g_sigcb, fd, buf, sizeof(buf), 4096);
	g_sigcb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	g_sigcb.aio_sigevent.sigev_signo = SIGRTMIN + 1;
	g_sigcb.aio_sigevent.sigev_value.sival_ptr = &g_sigcb;
	e = aio_read(&g_sigcb);
	for (i = 0; i < 2000 && !g_sig_count; i++)
		usleep(1000);
	check(!e && g_sig_count == 1 && g_sig_ok, "SIGEV_SIGNAL",
	      "rc %d signals %d handler saw status %d", e, (int)g_sig_count,
	      (int)g_sig_ok);

	/* A pipe read waits for its data; one signal, at the end. */
	{
		int p[2];

		g_sig_count = g_sig_ok = 0;
		if (pipe(p)) {
			check(0, "pipe", "pipe: %m");
			return;
		}
		prep(&g_sigcb, p[0], buf, 16, 0);
		g_sigcb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		g_sigcb.aio_sigevent.sigev_signo = SIGRTMIN + 1;
		g_sigcb.aio_sigevent.sigev_value.sival_ptr = &g_sigcb;
		e = aio_read(&g_sigcb);
		usleep(100 * 1000);
		i = g_sig_count || aio_error(&g_sigcb) != EINPROGRESS;
		if (write(p[1], "0123456789abcdef", 16) != 16)
			i = 1;
		for (int k = 0; k < 2000 && !g_sig_count; k++)
			usleep(1000);
		usleep(20 * 1000);
		check(!e && !i && g_sig_count == 1 && g_sig_ok &&
		      !memcmp(buf, "0123456789abcdef", 16),
		      "SIGEV_SIGNAL pipe read waits for data",
		      "rc %d early %d signals %d handler saw status %d", e, i,
		      (int)g_sig_count, (int)g_sig_ok);
		close(p[0]);
		close(p[1]);
	}
	signal(SIGRTMIN + 1, SIG_DFL);
}

static volatile int g_thread_calls, g_list_calls;
static void *g_thread_val, *g_list_val;

static void on_thread(union sigval v)
{
	g_thread_val = v.sival_ptr;
	__atomic_add_fetch(&g_thread_calls, 1, __ATOMIC_SEQ_CST);
}

static void on_list(union sigval v)
{
	g_list_val = v.sival_ptr;
	__atomic_add_fetch(&g_list_calls, 1, __ATOMIC_SEQ_CST);
}

static void test_lio(int fd)
{
	static char bufs[4][512];
	struct aiocb cbs[5], *list[7];
	struct sigevent sev;
	pthread_attr_t attr;
	int e, i, ok;

	for (i = 0; i < 4; i++) {
		memset(bufs[i], 'a' + i, sizeof(bufs[i]));
		prep(&cbs[i], fd, bufs[i], sizeof(bufs[i]), 65536 + i * 512);
		cbs[i].aio_lio_opcode = LIO_WRITE;
		list[i] = &cbs[i];
	}
	list[4] = NULL;
	prep(&cbs[4], fd, NULL, 0, 0);
	cbs[4].aio_lio_opcode = LIO_NOP;
	list[5] = &cbs[4];
	e = lio_listio(LIO_WAIT, list, 6, NULL);
	ok = !e;
	for (i = 0; i < 4; i++)
		ok &= aio_error(&cbs[i]) == 0 && aio_return(&cbs[i]) == 512;
	check(ok, "lio_listio LIO_WAIT", "rc %d errno %d", e, errno);

	/* One element fails: -1/EIO, that element has its own error. */
	prep(&cbs[1], 12345, bufs[1], 512, 0);
	cbs[1].aio_lio_opcode = LIO_READ;
	errno = 0;
	e = lio_listio(LIO_WAIT, list, 4, NULL);
	check(e == -1 && errno == EIO && aio_error(&cbs[1]) == EBADF &&
	      aio_error(&cbs[0]) == 0, "lio_listio LIO_WAIT EIO",
	      "rc %d errno %d error %d", e, errno, aio_error(&cbs[1]));

	/* LIO_NOWAIT, SIGEV_THREAD for the list and for each element. */
	for (i = 0; i < 4; i++) {
		prep(&cbs[i], fd, bufs[i], 512, 65536 + i * 512);
		cbs[i].aio_lio_opcode = LIO_READ;
		cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
		cbs[i].aio_sigevent.sigev_notify_function = on_thread;
		cbs[i].aio_sigevent.sigev_value.sival_ptr = &cbs[3];
	}
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = on_list;
	sev.sigev_value.sival_ptr = list;
	e = lio_listio(LIO_NOWAIT, list, 4, &sev);
	for (i = 0; i < 5000 && (g_list_calls < 1 || g_thread_calls < 4); i++)
		usleep(1000);
	ok = !e && g_list_calls == 1 && g_list_val == list &&
	     g_thread_calls == 4 && g_thread_val == &cbs[3];
	for (i = 0; i < 4; i++)
		ok &= aio_error(&cbs[i]) == 0 && aio_return(&cbs[i]) == 512 &&
		      bufs[i][0] == 'a' + i;
	check(ok, "lio_listio LIO_NOWAIT SIGEV_THREAD",
	      "rc %d list calls %d thread calls %d", e, g_list_calls,
	      g_thread_calls);

	/* Notification attributes are honoured (a detached thread). */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	g_thread_calls = 0;
	prep(&cbs[0], fd, bufs[0], 512, 65536);
	cbs[0].aio_sigevent.sigev_notify = SIGEV_THREAD;
	cbs[0].aio_sigevent.sigev_notify_function = on_thread;
	cbs[0].aio_sigevent.sigev_notify_attributes = &attr;
	e = aio_read(&cbs[0]);
	for (i = 0; i < 5000 && g_thread_calls < 1; i++)
		usleep(1000);
	check(!e && g_thread_calls == 1, "SIGEV_THREAD with attributes",
	      "rc %d calls %d", e, g_thread_calls);

	/* Nothing to do: LIO_NOWAIT notifies at once. */
	g_list_calls = 0;
	e = lio_listio(LIO_NOWAIT, list, 0, &sev);
	for (i = 0; i < 5000 && g_list_calls < 1; i++)
		usleep(1000);
	check(!e && g_list_calls == 1, "lio_listio empty list notifies",
	      "rc %d calls %d", e, g_list_calls);
}

static void test_fsync(int fd)
{
	char buf[4096];
	struct aiocb w[8], f;
	int e = 0, i, ok = 1;

	memset(buf, 'z', sizeof(buf));
	for (i = 0; i < 8; i++) {
		prep(&w[i], fd, buf, sizeof(buf), 131072 + i * 4096);
		e |= aio_write(&w[i]);
	}
	prep(&f, fd, NULL, 0, 0);
	e |= aio_fsync(O_DSYNC, &f);
	wait_cb(&f);
	/* The sync covers the writes queued before it: they are done. */
	for (i = 0; i < 8; i++) {
		ok &= aio_error(&w[i]) == 0;
		wait_cb(&w[i]);
		ok &= aio_return(&w[i]) == 4096;
	}
	check(!e && ok && aio_error(&f) == 0 && aio_return(&f) == 0,
	      "aio_fsync after writes", "rc %d error %d", e, aio_error(&f));
}

static void test_fork(int fd)
{
	char buf[16];
	struct aiocb cb;
	pid_t pid;
	int st = -1;

	if (!g_kaio) {
		/*
		 * glibc keeps its worker-thread bookkeeping across fork: a
		 * child of a process that used aio waits forever.
		 */
		printf("ok %d aio_read in a forked child # SKIP glibc backend\n",
		       ++g_n);
		return;
	}
	pid = fork();
	if (!pid) {
		alarm(30);
		prep(&cb, fd, buf, sizeof(buf), 4096);
		if (aio_read(&cb) || wait_cb(&cb) || aio_error(&cb) ||
		    aio_return(&cb) != 16)
			_exit(1);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	check(pid > 0 && WIFEXITED(st) && !WEXITSTATUS(st),
	      "aio_read in a forked child", "status %d", st);
}

/*
 * fork while another thread's completions are being delivered (review
 * posix-48 M4): a delivery in progress in the parent is not the child's,
 * so the child's aio_error of its own pending pipe read answers at once
 * instead of waiting for g_delivering to drain (it never would).
 */
static volatile int g_churn_stop;
static int g_churn_fd;

static void churn_cb(union sigval v)
{
	(void)v;
}

static void *churn_main(void *arg)
{
	struct aiocb cbs[16];
	char bufs[16][512];
	int i;

	(void)arg;
	while (!g_churn_stop) {
		for (i = 0; i < 16; i++) {
			prep(&cbs[i], g_churn_fd, bufs[i], sizeof(bufs[i]),
			     (off_t)i * 512);
			cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
			cbs[i].aio_sigevent.sigev_notify_function = churn_cb;
			if (aio_read(&cbs[i]))
				abort();
		}
		for (i = 0; i < 16; i++)
			wait_cb(&cbs[i]);
	}
	return NULL;
}

static void test_fork_delivering(int fd)
{
	pthread_t t;
	int round, st = 0, bad = -1;

	if (!g_kaio) {
		printf("ok %d fork during deliveries # SKIP glibc backend\n",
		       ++g_n);
		return;
	}
	g_churn_fd = fd;
	pthread_create(&t, NULL, churn_main, NULL);
	usleep(50000);
	for (round = 0; round < 200 && bad < 0; round++) {
		pid_t c = fork();

		if (!c) {
			int p[2];
			char b[4];
			struct aiocb cb;

			alarm(10);
			if (pipe(p))
				_exit(2);
			prep(&cb, p[0], b, 4, 0);
			if (aio_read(&cb))
				_exit(3);
			/* spins while g_delivering > 0 (inherited) */
			if (aio_error(&cb) != EINPROGRESS)
				_exit(4);
			if (write(p[1], "abcd", 4) != 4)
				_exit(5);
			if (wait_cb(&cb))
				_exit(6);
			_exit(aio_return(&cb) == 4 ? 0 : 7);
		}
		waitpid(c, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad = round;
	}
	g_churn_stop = 1;
	pthread_join(t, NULL);
	check(bad < 0, "fork during deliveries",
	      "round %d: child status %#x (SIGALRM: hung)", bad, st);
}

/* Several threads submit and wait at once: the ring waiter hand-off. */
#define STRESS_THREADS 4
#define STRESS_ROUNDS 300
static int g_stress_fd;
static int g_stress_bad[STRESS_THREADS];

static void *stress_main(void *arg)
{
	int t = (int)(intptr_t)arg, i, j;
	struct aiocb cbs[4];
	char buf[4][64];

	for (i = 0; i < STRESS_ROUNDS; i++) {
		for (j = 0; j < 4; j++) {
			prep(&cbs[j], g_stress_fd, buf[j], 64,
			     4096 + 64 * ((i + j + t) % 64));
			if (aio_read(&cbs[j]))
				g_stress_bad[t]++;
		}
		for (j = 0; j < 4; j++) {
			/* Half by aio_suspend, half by polling aio_error. */
			if ((i + t) & 1)
				wait_cb(&cbs[j]);
			else
				while (aio_error(&cbs[j]) == EINPROGRESS)
					sched_yield();
			if (aio_error(&cbs[j]) || aio_return(&cbs[j]) != 64 ||
			    /* test_rw's pattern: byte k of 4096.. is k * 7 + 1 */
			    buf[j][0] != (char)(64 * ((i + j + t) % 64) * 7 + 1))
				g_stress_bad[t]++;
		}
	}
	return NULL;
}

static void test_stress(int fd)
{
	pthread_t th[STRESS_THREADS];
	int t, bad = 0;

	g_stress_fd = fd;
	for (t = 0; t < STRESS_THREADS; t++)
		pthread_create(&th[t], NULL, stress_main, (void *)(intptr_t)t);
	for (t = 0; t < STRESS_THREADS; t++) {
		pthread_join(th[t], NULL);
		bad += g_stress_bad[t];
	}
	check(!bad, "threads submitting and waiting at once",
	      "%d wrong results", bad);
}

/* aio_cancel(fd, NULL) with several pipe reads pending. */
static void test_cancel_all(void)
{
	struct aiocb cbs[3];
	char buf[3][8];
	int p[2], i, c, ok = 1;

	if (pipe(p)) {
		check(0, "pipe", "pipe: %m");
		return;
	}
	for (i = 0; i < 3; i++) {
		prep(&cbs[i], p[0], buf[i], 8, 0);
		ok &= !aio_read(&cbs[i]);
	}
	usleep(50 * 1000);
	c = aio_cancel(p[0], NULL);
	if (c == AIO_CANCELED) {
		for (i = 0; i < 3; i++)
			ok &= aio_error(&cbs[i]) == ECANCELED &&
			      aio_return(&cbs[i]) == -1;
	} else if (c == AIO_NOTCANCELED) {
		/* glibc: the one its thread is in read() stays. */
		if (write(p[1], "12345678", 8) != 8)
			ok = 0;
		for (i = 0; i < 3; i++) {
			wait_cb(&cbs[i]);
			ok &= aio_error(&cbs[i]) == ECANCELED ||
			      aio_return(&cbs[i]) == 8;
		}
	} else {
		ok = 0;
	}
	check(ok, "aio_cancel(fd, NULL)", "answer %d", c);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	int fd;

	printf("TAP version 13\n");
	fd = mkstemp(g_path);
	if (fd < 0) {
		printf("Bail out! mkstemp: %m\n");
		return 1;
	}
	unlink(g_path);
	test_backend();
	test_rw(fd);
	test_errors(fd);
	test_suspend_cancel();
	test_pipe_suspend();
	test_signal(fd);
	test_lio(fd);
	test_fsync(fd);
	test_fork(fd);
	test_fork_delivering(fd);
	test_cancel_all();
	test_stress(fd);
	printf("1..%d\n", g_n);
	return g_failed > 100 ? 100 : g_failed;
}
