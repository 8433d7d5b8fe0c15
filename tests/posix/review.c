// SPDX-License-Identifier: GPL-2.0
/*
 * Regressions of the libkaio-posix review (posix-48): each holds on glibc
 * 2.36 and failed (or hung) on the library before its fix.
 *   - a completion handler sees its request done (aio_error, aio_return),
 *     and may wait for it with aio_suspend (M1);
 *   - a list's signal handler sees every element done (M1);
 *   - SIGSTOP/SIGCONT (no handler) does not end aio_suspend (S1);
 *   - SIGEV_THREAD callbacks may wait for each other; pthread_exit in a
 *     callback does not stop later ones (M3);
 *   - a large aio_write to a pipe writes all of it (S5);
 *   - aio_cancel(fd, NULL) while another thread submits to an empty pipe
 *     returns (S2).
 */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static struct aiocb *volatile h_cb;
static volatile int h_err = -2, h_susp = -2;
static volatile ssize_t h_ret = -2;

static void on_done(int sig, siginfo_t *si, void *uc)
{
	const struct aiocb *l[1];

	(void)sig;
	(void)uc;
	if (si->si_value.sival_ptr != h_cb)
		return;
	h_err = aio_error(h_cb);
	h_ret = aio_return(h_cb);
	l[0] = h_cb;
	/* Must not block: the request is done. */
	h_susp = aio_suspend(l, 1, NULL);
}

struct delayed_write {
	int fd;
	long ms;
	size_t n;
};

static void *delayed_write_main(void *arg)
{
	struct delayed_write *d = arg;
	char buf[4096];

	memset(buf, 'x', sizeof(buf));
	msleep(d->ms);
	if (write(d->fd, buf, d->n) != (ssize_t)d->n)
		abort();
	return NULL;
}

/* A SIGEV_SIGNAL read of a pipe that a thread fills while the program
 * waits in aio_suspend: the handler finds the read done. */
TEST(review_handler_sees_own_completion)
{
	int p[2], round;
	char buf[64];
	struct aiocb cb;
	struct sigaction sa;
	const struct aiocb *l[1];
	struct delayed_write d;
	pthread_t t;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_done;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	REQUIRE(!sigaction(SIGRTMIN + 3, &sa, NULL));
	for (round = 0; round < 10; round++) {
		REQUIRE(!pipe(p));
		aiocb_init(&cb, p[0], buf, 10, 0);
		cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		cb.aio_sigevent.sigev_signo = SIGRTMIN + 3;
		cb.aio_sigevent.sigev_value.sival_ptr = &cb;
		h_cb = &cb;
		h_err = h_susp = -2;
		h_ret = -2;
		REQUIRE_EQ(aio_read(&cb), 0);
		d.fd = p[1];
		d.ms = 20 + round * 5;
		d.n = 10;
		REQUIRE(!pthread_create(&t, NULL, delayed_write_main, &d));
		l[0] = &cb;
		while (aio_suspend(l, 1, NULL) && errno == EINTR)
			;
		pthread_join(t, NULL);
		REQUIRE(!wait_done(&cb, 10));
		while (h_err == -2)
			msleep(1);
		CHECK_EQ(h_err, 0);
		CHECK_EQ(h_ret, 10);
		CHECK_EQ(h_susp, 0);
		CHECK_EQ(aio_return(&cb), 10);
		close(p[0]);
		close(p[1]);
		if (ptest_failed)
			break;
	}
}

/*
 * The same with a read of a file on a block device (O_DIRECT where the
 * file system allows it: in the guest, ext4 on null_blk with latency), so
 * that the kernel, not the library, queues the signal: it does so from a
 * kworker just after it posted the event, and the waiting thread wakes for
 * the event with the signal pending. Single-threaded: the handler runs in
 * the thread that was waiting.
 */
TEST(review_handler_sees_own_completion_file)
{
	int fd0 = pattern_file(1 << 20, O_RDWR), fd, round;
	char path[64];
	void *buf;
	struct aiocb cb;
	struct sigaction sa;
	const struct aiocb *l[1];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd0);
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0)
		fd = fd0;
	REQUIRE(!posix_memalign(&buf, 4096, 4096));
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_done;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	REQUIRE(!sigaction(SIGRTMIN + 3, &sa, NULL));
	for (round = 0; round < 100; round++) {
		aiocb_init(&cb, fd, buf, 4096, (off_t)(round % 256) * 4096);
		cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		cb.aio_sigevent.sigev_signo = SIGRTMIN + 3;
		cb.aio_sigevent.sigev_value.sival_ptr = &cb;
		h_cb = &cb;
		h_err = h_susp = -2;
		h_ret = -2;
		REQUIRE_EQ(aio_read(&cb), 0);
		l[0] = &cb;
		while (aio_suspend(l, 1, NULL) && errno == EINTR)
			;
		REQUIRE(!wait_done(&cb, 10));
		while (h_err == -2)
			msleep(1);
		CHECK_EQ(h_err, 0);
		CHECK_EQ(h_ret, 4096);
		CHECK_EQ(h_susp, 0);
		if (ptest_failed) {
			diag("round %d", round);
			break;
		}
	}
	free(buf);
}

#define LN 4
static struct aiocb l_cbs[LN];
static volatile int l_seen, l_bad;

static void on_list_done(int sig)
{
	int i;

	(void)sig;
	for (i = 0; i < LN; i++)
		if (aio_error(&l_cbs[i]) == EINPROGRESS ||
		    aio_return(&l_cbs[i]) != 10)
			l_bad++;
	l_seen++;
}

/* lio_listio(LIO_NOWAIT), a SIGEV_SIGNAL list, SIGEV_NONE elements (pipe
 * reads filled later): the list's handler finds every element done. */
TEST(review_list_handler_sees_elements)
{
	int p[LN][2], i;
	char bufs[LN][16];
	struct aiocb *list[LN];
	struct sigevent sev;
	struct sigaction sa;
	char x[10];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_list_done;
	sigemptyset(&sa.sa_mask);
	REQUIRE(!sigaction(SIGRTMIN + 4, &sa, NULL));
	for (i = 0; i < LN; i++) {
		REQUIRE(!pipe(p[i]));
		aiocb_init(&l_cbs[i], p[i][0], bufs[i], 10, 0);
		l_cbs[i].aio_lio_opcode = LIO_READ;
		list[i] = &l_cbs[i];
	}
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 4;
	REQUIRE_EQ(lio_listio(LIO_NOWAIT, list, LN, &sev), 0);
	memset(x, 'y', sizeof(x));
	for (i = 0; i < LN; i++) {
		msleep(10);
		REQUIRE_EQ(write(p[i][1], x, sizeof(x)), sizeof(x));
	}
	for (i = 0; i < LN; i++)
		REQUIRE(!wait_done(&l_cbs[i], 20));
	double t0 = now();
	while (!l_seen && now() - t0 < tscale(20))
		msleep(5);
	CHECK_EQ(l_seen, 1);
	CHECK_EQ(l_bad, 0);
}

/* aio_suspend (no timeout) of a process stopped and continued: no handler,
 * so the wait goes on (glibc's futex wait restarts). In a child, as the
 * stop would stop the test. */
TEST(review_suspend_survives_stop_cont)
{
	int p[2], st, use_sig;

	for (use_sig = 0; use_sig < 2; use_sig++) {
		pid_t c;

		REQUIRE(!pipe(p));
		c = fork();
		REQUIRE(c >= 0);
		if (!c) {
			char buf[8];
			struct aiocb cb;
			const struct aiocb *l[1] = { &cb };
			int r;

			aiocb_init(&cb, p[0], buf, 4, 0);
			if (use_sig) {
				/* a completion signal in use: ignored one */
				signal(SIGRTMIN + 5, SIG_IGN);
				cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
				cb.aio_sigevent.sigev_signo = SIGRTMIN + 5;
			}
			if (aio_read(&cb))
				_exit(10);
			r = aio_suspend(l, 1, NULL);
			if (r)
				_exit(errno == EINTR ? 11 : 12);
			_exit(aio_error(&cb) == 0 && aio_return(&cb) == 4 ?
			      0 : 13);
		}
		msleep(200);
		kill(c, SIGSTOP);
		msleep(100);
		kill(c, SIGCONT);
		msleep(100);
		REQUIRE_EQ(write(p[1], "abcd", 4), 4);
		REQUIRE_EQ(waitpid(c, &st, 0), c);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child (completion signal %d): status %#x (11: EINTR)",
		      use_sig, st);
		close(p[0]);
		close(p[1]);
	}
}

static sem_t t_sem;
static volatile int t_posted, t_after;

static void cb_wait(union sigval v)
{
	(void)v;
	sem_wait(&t_sem);
}

static void cb_post(union sigval v)
{
	(void)v;
	t_posted = 1;
	sem_post(&t_sem);
}

static void cb_exit(union sigval v)
{
	(void)v;
	pthread_exit(NULL);
}

static void cb_count(union sigval v)
{
	(void)v;
	__atomic_add_fetch(&t_after, 1, __ATOMIC_SEQ_CST);
}

static void thread_read(struct aiocb *cb, int fd, char *buf,
			void (*fn)(union sigval))
{
	aiocb_init(cb, fd, buf, 4, 0);
	cb->aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb->aio_sigevent.sigev_notify_function = fn;
	REQUIRE_EQ(aio_read(cb), 0);
}

/* cb1 waits for a semaphore cb2 posts; the requests end apart. glibc runs
 * each on its own thread; a pool must grow for cb2. */
TEST(review_thread_callbacks_wait_for_each_other)
{
	int fd = pattern_file(4096, O_RDONLY), i;
	char b1[4], b2[4];
	struct aiocb c1, c2;
	double t0;

	REQUIRE(!sem_init(&t_sem, 0, 0));
	for (i = 0; i < 6; i++) {
		/* several blocked callbacks, more than any small pool */
		thread_read(&c1, fd, b1, cb_wait);
		REQUIRE(!wait_done(&c1, 10));
		msleep(20);
	}
	thread_read(&c2, fd, b2, cb_post);
	t0 = now();
	while (!t_posted && now() - t0 < tscale(10))
		msleep(5);
	CHECK(t_posted, "the posting callback never ran");
	for (i = 0; i < 5; i++)
		sem_post(&t_sem);
}

/* A callback that calls pthread_exit (glibc: its thread, its business):
 * later callbacks still run. */
TEST(review_thread_callback_pthread_exit)
{
	int fd = pattern_file(4096, O_RDONLY), i;
	char b[4][4];
	struct aiocb cb[4];
	double t0;

	for (i = 0; i < 3; i++) {
		thread_read(&cb[0], fd, b[0], cb_exit);
		REQUIRE(!wait_done(&cb[0], 10));
		msleep(50);
	}
	for (i = 0; i < 4; i++)
		thread_read(&cb[i], fd, b[i], cb_count);
	t0 = now();
	while (t_after < 4 && now() - t0 < tscale(10))
		msleep(5);
	CHECK_EQ(t_after, 4);
}

struct drain {
	int fd;
	size_t total;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	char buf[4096];
	ssize_t n;

	for (;;) {
		msleep(1);
		n = read(d->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		d->total += (size_t)n;
	}
	return NULL;
}

/* 1 MiB into a pipe a thread drains slowly: glibc's blocking write
 * returns all of it. */
TEST(review_pipe_write_complete)
{
	size_t n = 1 << 20;
	char *buf = malloc(n);
	int p[2];
	struct aiocb cb;
	struct drain d;
	pthread_t t;

	REQUIRE(buf);
	memset(buf, 'z', n);
	REQUIRE(!pipe(p));
	d.fd = p[0];
	d.total = 0;
	aiocb_init(&cb, p[1], buf, n, 0);
	REQUIRE_EQ(aio_write(&cb), 0);
	REQUIRE(!pthread_create(&t, NULL, drain_main, &d));
	REQUIRE(!wait_done(&cb, 60));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), n);
	close(p[1]);
	pthread_join(t, NULL);
	CHECK_EQ(d.total, n);
	close(p[0]);
	free(buf);
}

struct submitter {
	int fd;
	struct aiocb cb;
	char buf[8];
};

static void *submit_main(void *arg)
{
	struct submitter *s = arg;

	aiocb_init(&s->cb, s->fd, s->buf, 4, 0);
	if (aio_read(&s->cb))
		abort();
	return NULL;
}

/* aio_cancel(fd, NULL) racing another thread's aio_read of an empty pipe
 * returns at once (it must not wait for the data). */
TEST(review_cancel_races_submission)
{
	int round, p[2], r;
	struct submitter s;
	pthread_t t;
	double t0;

	for (round = 0; round < 40; round++) {
		REQUIRE(!pipe(p));
		s.fd = p[0];
		REQUIRE(!pthread_create(&t, NULL, submit_main, &s));
		t0 = now();
		r = aio_cancel(p[0], NULL);
		CHECK(now() - t0 < tscale(5), "round %d: aio_cancel took %.1f s",
		      round, now() - t0);
		CHECK(r == AIO_CANCELED || r == AIO_NOTCANCELED ||
		      r == AIO_ALLDONE, "round %d: %d", round, r);
		pthread_join(t, NULL);
		aio_cancel(p[0], NULL);
		if (aio_error(&s.cb) == EINPROGRESS)
			REQUIRE_EQ(write(p[1], "abcd", 4), 4);
		REQUIRE(!wait_done(&s.cb, 10));
		close(p[0]);
		close(p[1]);
		if (ptest_failed)
			break;
	}
}

#include <sys/mount.h>
#include <sys/stat.h>

static volatile int o_list, o_list_bad;
static struct aiocb o_cbs[2];

static void on_overlay_list(int sig)
{
	(void)sig;
	if (aio_error(&o_cbs[0]) == EINPROGRESS ||
	    aio_return(&o_cbs[0]) != 100)
		o_list_bad = 1;
	o_list = 1;
}

/* A file on overlayfs (kaio does not punt it): aio_fsync ends with 0 (as
 * fsync(2)), reads and writes complete, a list signal comes after the
 * data. Needs root and overlayfs (the guest): skipped otherwise. */
TEST(review_overlayfs_fsync_rw)
{
	const char *base = getenv("POSIX_AIO_DIR");
	char dir[256], lower[300], upper[300], work[300], mnt[300], f[350];
	char buf[100], wbuf[100];
	struct aiocb cb, *list[1];
	struct sigevent sev;
	struct sigaction sa;
	char opts[1200];
	int fd;
	double t0;

	if (!base)
		base = "/tmp";
	snprintf(dir, sizeof(dir), "%s/ovl.%d", base, (int)getpid());
	snprintf(lower, sizeof(lower), "%s/l", dir);
	snprintf(upper, sizeof(upper), "%s/u", dir);
	snprintf(work, sizeof(work), "%s/w", dir);
	snprintf(mnt, sizeof(mnt), "%s/m", dir);
	if (mkdir(dir, 0700) || mkdir(lower, 0700) || mkdir(upper, 0700) ||
	    mkdir(work, 0700) || mkdir(mnt, 0700))
		ptest_skip("mkdir: %s", strerror(errno));
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s",
		 lower, upper, work);
	if (mount("overlay", mnt, "overlay", 0, opts))
		ptest_skip("no overlayfs mount: %s", strerror(errno));
	snprintf(f, sizeof(f), "%s/file", mnt);
	fd = open(f, O_RDWR | O_CREAT, 0600);
	REQUIRE(fd >= 0);
	memset(wbuf, 'o', sizeof(wbuf));
	aiocb_init(&cb, fd, wbuf, sizeof(wbuf), 0);
	REQUIRE_EQ(aio_write(&cb), 0);
	REQUIRE(!wait_done(&cb, 20));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), sizeof(wbuf));
	aiocb_init(&cb, fd, NULL, 0, 0);
	REQUIRE_EQ(aio_fsync(O_SYNC, &cb), 0);
	REQUIRE(!wait_done(&cb, 20));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), 0);
	aiocb_init(&cb, fd, NULL, 0, 0);
	REQUIRE_EQ(aio_fsync(O_DSYNC, &cb), 0);
	REQUIRE(!wait_done(&cb, 20));
	CHECK_EQ(aio_error(&cb), 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_overlay_list;
	sigemptyset(&sa.sa_mask);
	REQUIRE(!sigaction(SIGRTMIN + 6, &sa, NULL));
	aiocb_init(&o_cbs[0], fd, buf, sizeof(buf), 0);
	o_cbs[0].aio_lio_opcode = LIO_READ;
	list[0] = &o_cbs[0];
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 6;
	REQUIRE_EQ(lio_listio(LIO_NOWAIT, list, 1, &sev), 0);
	REQUIRE(!wait_done(&o_cbs[0], 20));
	CHECK_EQ(aio_return(&o_cbs[0]), sizeof(buf));
	t0 = now();
	while (!o_list && now() - t0 < tscale(20))
		msleep(5);
	CHECK(o_list, "no list signal");
	CHECK(!o_list_bad, "list signal before the element was done");
	close(fd);
	umount(mnt);
}

static void *suspend_main(void *arg)
{
	const struct aiocb *l[1] = { arg };

	aio_suspend(l, 1, NULL);
	return (void *)1;
}

/* aio_suspend is a cancellation point (POSIX; glibc's futex wait is
 * cancellable); after the cancel another thread can still wait for the
 * request and see it end. Without, then with a completion signal in use. */
TEST(review_suspend_cancellation_point)
{
	int p[2], use_sig, late, late_plain = 0, r;
	char b[4];
	struct aiocb cb, sc;
	pthread_t t;
	void *res;
	const struct aiocb *l[1] = { &cb };
	struct timespec ts = { 20, 0 }, until;

	for (use_sig = 0; use_sig < 2; use_sig++) {
		if (use_sig) {
			/* a completion signal in use (ignored) */
			int fd = pattern_file(4096, O_RDONLY);

			signal(SIGRTMIN + 5, SIG_IGN);
			aiocb_init(&sc, fd, b, 4, 0);
			sc.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
			sc.aio_sigevent.sigev_signo = SIGRTMIN + 5;
			REQUIRE_EQ(aio_read(&sc), 0);
			REQUIRE(!wait_done(&sc, 10));
		}
		REQUIRE(!pipe(p));
		aiocb_init(&cb, p[0], b, 4, 0);
		REQUIRE_EQ(aio_read(&cb), 0);
		REQUIRE(!pthread_create(&t, NULL, suspend_main, &cb));
		msleep(100);
		REQUIRE(!pthread_cancel(t));
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)tscale(3) + 1;
		res = NULL;
		late = pthread_timedjoin_np(t, &res, &until) == ETIMEDOUT;
		REQUIRE_EQ(write(p[1], "abcd", 4), 4);
		if (late)
			REQUIRE(!pthread_join(t, &res));
		CHECK(res == PTHREAD_CANCELED,
		      "completion signal %d: aio_suspend was not cancelled",
		      use_sig);
		errno = 0;
		r = aio_suspend(l, 1, &ts);
		CHECK(r == 0, "completion signal %d, late %d: aio_suspend: "
		      "%d (%s)", use_sig, late, r, strerror(errno));
		CHECK_EQ(aio_error(&cb), 0);
		CHECK_EQ(aio_return(&cb), 4);
		close(p[0]);
		close(p[1]);
		if (late && !use_sig && backend_is_kaio())
			late_plain = 1;
		else
			CHECK(!late, "completion signal %d: the cancellation "
			      "waited for the I/O", use_sig);
	}
	if (late_plain && !ptest_failed)
		ptest_xfail("kaio: a program that never asked for a completion "
			    "signal waits in GETEVENTS, where cancellation acts "
			    "only once the wait ends (an event, the timeout)");
}

static struct aiocb *volatile f_cb;
static volatile int f_err = -2;

static void on_first_signal(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_value.sival_ptr == f_cb)
		f_err = aio_error(f_cb);
}

struct first_signal {
	int fd;
	void *buf;
	struct aiocb cb;
	int asleep;		/* main was seen in the ioctl (kaio) */
};

/* The system call the main thread sleeps in (/proc), or -1. */
static long main_syscall(void)
{
	char path[64], line[64];
	FILE *f;
	long nr = -1;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", getpid());
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f) || sscanf(line, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	return nr;
}

/*
 * Submits the request with a signal once the main thread waits: on kaio,
 * asleep in the ioctl (GETEVENTS) as the ring waiter.
 */
static void *first_signal_main(void *arg)
{
	struct first_signal *f = arg;
	double end = now() + 0.3;
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 5);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	msleep(20);
	if (backend_is_kaio()) {
		while (!f->asleep && now() < end) {
			if (main_syscall() == SYS_ioctl)
				f->asleep = 1;
			else
				msleep(1);
		}
	}
	aiocb_init(&f->cb, f->fd, f->buf, 4096, 0);
	f->cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	f->cb.aio_sigevent.sigev_signo = SIGRTMIN + 5;
	f->cb.aio_sigevent.sigev_value.sival_ptr = &f->cb;
	f_cb = &f->cb;
	if (aio_read(&f->cb))
		_exit(4);
	return NULL;
}

/*
 * The program's first request with a completion signal, while its main
 * thread already waits in aio_suspend for a slow SIGEV_NONE read (on kaio:
 * asleep in GETEVENTS with the program's signal mask) and is the only
 * thread that takes the signal: the handler finds the request done. Each
 * round in a fresh child, whose library has not seen a signal request yet.
 * Needs the guest's slow device (KAIO_SLOW_EXT4_DIR, 0.5 s per I/O).
 */
TEST(review_first_signal_while_main_waits)
{
	const char *slow = getenv("KAIO_SLOW_EXT4_DIR");
	int fast = pattern_file(1 << 16, O_RDWR), round, status, asleep = 0;
	char path[256];
	pid_t pid;

	if (!slow)
		ptest_skip("no slow device (KAIO_SLOW_EXT4_DIR: the guest's)");
	for (round = 0; round < 10; round++) {
		pid = fork();
		REQUIRE(pid >= 0);
		if (!pid) {
			static char page[4096];
			struct first_signal f;
			const struct aiocb *l[1];
			struct aiocb cb0;
			struct sigaction sa;
			pthread_t t;
			void *buf0;
			int s, sd;

			snprintf(path, sizeof(path), "%s/posix-first-XXXXXX", slow);
			s = mkstemp(path);
			if (s < 0)
				_exit(2);
			unlink(path);
			memset(page, 'p', sizeof(page));
			if (pwrite(s, page, sizeof(page), 0) != sizeof(page) ||
			    fsync(s))
				_exit(2);
			snprintf(path, sizeof(path), "/proc/self/fd/%d", s);
			sd = open(path, O_RDONLY | O_DIRECT);
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fast);
			f.fd = open(path, O_RDONLY | O_DIRECT);
			if (sd < 0 || f.fd < 0 ||
			    posix_memalign(&buf0, 4096, 4096) ||
			    posix_memalign(&f.buf, 4096, 4096))
				_exit(3);
			memset(&sa, 0, sizeof(sa));
			sa.sa_sigaction = on_first_signal;
			sa.sa_flags = SA_SIGINFO | SA_RESTART;
			sigemptyset(&sa.sa_mask);
			if (sigaction(SIGRTMIN + 5, &sa, NULL))
				_exit(2);
			aiocb_init(&cb0, sd, buf0, 4096, 0);
			if (aio_read(&cb0))
				_exit(4);
			if (pthread_create(&t, NULL, first_signal_main, &f))
				_exit(3);
			l[0] = &cb0;
			while (aio_error(&cb0) == EINPROGRESS)
				aio_suspend(l, 1, NULL);
			pthread_join(t, NULL);
			{
				double end = now() + tscale(5);

				while (f_err == -2 && now() < end)
					msleep(1);
			}
			if (f_err == -2)
				_exit(13);
			if (f_err)
				_exit(f_err == EINPROGRESS ? 11 : 12);
			_exit(f.asleep ? 1 : 0);
		}
		REQUIRE_EQ(waitpid(pid, &status, 0), pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) <= 1,
		      "round %d: status %#x (exit 11: the handler saw "
		      "EINPROGRESS; 13: no signal)", round, status);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
			asleep++;
		if (ptest_failed)
			break;
	}
	diag("%d of %d rounds with the main thread asleep in GETEVENTS",
	     asleep, round);
	if (backend_is_kaio() && !ptest_failed)
		CHECK(asleep > 0, "the main thread was never seen asleep in "
		      "GETEVENTS: the test did not test");
	close(fast);
}
