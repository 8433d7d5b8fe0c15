// SPDX-License-Identifier: GPL-2.0
/*
 * Completion signals (KAIO_FEAT_SIGNAL): KAIO_IOCB_FLAG_SIGEVENT on an iocb,
 * KAIO_IOC_SUBMIT_LIST's list signal and its error events.
 *
 * A signal is queued as sigqueue(3) would queue it (si_code SI_ASYNCIO,
 * si_pid, si_uid, si_value), after the event is in the ring, from a kernel
 * worker whatever context the completion ran in (hardirq for an O_DIRECT
 * read on null_blk, a page-wait retry for a cold buffered read); to the
 * thread a process-directed signal would pick, or to the one thread named.
 * A process that exec'd since the submission gets nothing; neither does
 * one over RLIMIT_SIGPENDING, and fdinfo counts the drop.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define SEED		0x5164a1ULL
#define EXEC_ENV	"KAIO_SIGNAL_EXEC_CHILD"

/*
 * The exec test's new image: this program again, with EXEC_ENV set to how
 * long to live (ms). It only sleeps and exits 0; a completion signal of
 * the image before would kill it (a real-time signal's default action).
 */
static void __attribute__((constructor)) exec_child(void)
{
	const char *ms = getenv(EXEC_ENV);

	if (!ms)
		return;
	usleep(atoi(ms) * 1000);
	_exit(0);
}

static int sig(int n)
{
	return SIGRTMIN + n;
}

/* Point @cb at @sev: a process-directed @signo with @value. */
static void prep_sig(struct iocb *cb, struct kaio_sigevent *sev, int signo,
		     uint64_t value)
{
	memset(sev, 0, sizeof(*sev));
	sev->signo = signo;
	sev->value = value;
	sev->notify = KAIO_SIGEV_PROCESS;
	cb->aio_flags |= KAIO_IOCB_FLAG_SIGEVENT;
	cb->aio_reserved2 = (uintptr_t)sev;
}

static long submit_list(int ctx, long long nr, struct iocb **cbs,
			unsigned int flags, const struct kaio_sigevent *sev)
{
	struct kaio_submit_list a = {
		.nr = nr, .iocbpp = (uintptr_t)cbs, .flags = flags,
	};
	long r;

	if (sev)
		a.sigev = *sev;
	r = ioctl(ctx, KAIO_IOC_SUBMIT_LIST, &a);
	return r < 0 ? -errno : r;
}

static long submit_list_raw(int ctx, struct kaio_submit_list *a)
{
	long r = ioctl(ctx, KAIO_IOC_SUBMIT_LIST, a);

	return r < 0 ? -errno : r;
}

static void block(int signo)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, signo);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* sigtimedwait for @signo: the signal number, or -errno (-EAGAIN: none). */
static int wait_sig(int signo, siginfo_t *si, int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, signo);
	r = sigtimedwait(&set, si, &ts);
	return r < 0 ? -errno : r;
}

static bool is_pending(int signo)
{
	sigset_t set;

	sigpending(&set);
	return sigismember(&set, signo);
}

/* Events in the ring now (GETEVENTS, timeout 0): reaped into @ev. */
static long reap_now(int ctx, struct io_event *ev, long nr)
{
	struct timespec zero = { 0, 0 };

	return t_getevents(ctx, 0, nr, ev, &zero);
}

/*
 * The context's counter @which (an offset in struct t_stats) reaching
 * @want within @ms: the worker counts a send after the signal is queued.
 */
static long long stat_wait(int ctx, size_t which, long long want, int ms)
{
	struct t_stats st;
	long long v = -1;
	int i;

	for (i = 0; i <= ms; i += 10) {
		if (t_ctx_stats(ctx, &st))
			return -1;
		v = *(long long *)((char *)&st + which);
		if (v >= want)
			break;
		usleep(10000);
	}
	return v;
}

/*
 * The counters once the worker is done: it counts a send after queueing
 * the signal, and frees the send's capacity after counting it. 0, or -1
 * if they do not settle within @ms.
 */
static int stats_settled(int ctx, struct t_stats *st, long long sent,
			 int ms)
{
	int i;

	for (i = 0; i <= ms; i += 10) {
		if (t_ctx_stats(ctx, st))
			return -1;
		if (st->signals_sent + st->signals_dropped >= sent &&
		    st->signals_queued == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

#define SENT	offsetof(struct t_stats, signals_sent)
#define DROPPED	offsetof(struct t_stats, signals_dropped)

/* A file of @size pattern bytes in t_test_dir(), unlinked: fd O_RDONLY. */
static int data_file(struct __test_metadata *_metadata, size_t size)
{
	char path[PATH_MAX];
	int fd;

	ASSERT_EQ(0, t_make_file(t_test_dir(), path, sizeof(path), size, SEED));
	fd = open(path, O_RDONLY);
	unlink(path);
	ASSERT_LE(0, fd);
	return fd;
}

/* ---- a handler, for the tests that need delivery rather than a wait ---- */

static volatile sig_atomic_t h_count;
static volatile pid_t h_tid;
static volatile long h_events;	/* GETEVENTS (timeout 0) in the handler */
static siginfo_t h_info;
static int h_ctx = -1;

static void handler(int signo, siginfo_t *si, void *uc)
{
	struct __kernel_timespec zero = { 0, 0 };
	struct io_event ev[8];
	struct kaio_getevents g = {
		.min_nr = 0, .nr = 8, .events = (uintptr_t)ev,
		.timeout = (uintptr_t)&zero,
	};
	int saved = errno;

	(void)signo;
	(void)uc;
	h_info = *si;
	h_tid = gettid();
	if (h_ctx >= 0)
		h_events = ioctl(h_ctx, KAIO_IOC_GETEVENTS, &g);
	h_count++;
	errno = saved;
}

static void install(int signo, int ctx)
{
	struct sigaction sa = { .sa_sigaction = handler, .sa_flags = SA_SIGINFO };

	h_count = 0;
	h_tid = 0;
	h_events = -1;
	h_ctx = ctx;
	sigemptyset(&sa.sa_mask);
	sigaction(signo, &sa, NULL);
}

/* Wait up to @ms for the handler to have run @n times. */
static bool handled(int n, int ms)
{
	int i;

	for (i = 0; i < ms && h_count < n; i++)
		usleep(1000);
	return h_count >= n;
}

struct sleeper {
	pthread_t th;
	volatile pid_t tid;
	volatile int stop;
};

static void *sleeper_fn(void *arg)
{
	struct sleeper *s = arg;

	s->tid = gettid();
	while (!s->stop)
		usleep(1000);
	return NULL;
}

static void sleeper_start(struct sleeper *s)
{
	memset(s, 0, sizeof(*s));
	pthread_create(&s->th, NULL, sleeper_fn, s);
	while (!s->tid)
		usleep(1000);
}

static void sleeper_stop(struct sleeper *s)
{
	s->stop = 1;
	pthread_join(s->th, NULL);
}

/* ---- the feature ------------------------------------------------------------ */

TEST(setup_reports_FEAT_SIGNAL)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	EXPECT_TRUE(c.s.features & KAIO_FEAT_SIGNAL);
	t_ctx_close(&c);
}

/*
 * Without KAIO_SETUP_SIGNALS the flag is an unknown aio_flags bit, which
 * io_submit(2) ignores: the read runs, no signal, and aio_reserved2 must
 * still be 0 (EINVAL otherwise), exactly as on native AIO.
 */
TEST(flag_without_setup_signals_is_ignored_as_native)
{
	struct kaio_sigevent sev;
	struct io_event ev[2];
	struct t_ctx c;
	struct iocb cb;
	siginfo_t si;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, 0);
	fd = data_file(_metadata, 8192);
	block(sig(2));
	t_prep_pread(&cb, fd, buf, 4096, 0);
	prep_sig(&cb, &sev, sig(2), 1);
	EXPECT_EQ(-EINVAL, t_submit_one(c.fd, &cb));
	cb.aio_reserved2 = 0;
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, ev, 1, 5000));
	EXPECT_EQ(4096, ev[0].res);
	EXPECT_EQ(-EAGAIN, wait_sig(sig(2), &si, 200));
	EXPECT_EQ(0, stat_wait(c.fd, SENT, 0, 0));
	t_ctx_close(&c);
}

/*
 * sigtimedwait: the siginfo is sigqueue's, and the event is in the ring
 * when the signal can be taken.
 */
TEST(pread_signal_siginfo_and_event_first)
{
	struct kaio_sigevent sev;
	struct io_event ev[2];
	struct t_ctx c;
	struct iocb cb;
	siginfo_t si;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 8192);
	block(sig(1));
	t_prep_pread(&cb, fd, buf, 4096, 4096);
	prep_sig(&cb, &sev, sig(1), 0x1234567890abcdefULL);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(sig(1), wait_sig(sig(1), &si, 5000));
	EXPECT_EQ(1, reap_now(c.fd, ev, 2));
	EXPECT_EQ((uintptr_t)&cb, ev[0].obj);
	EXPECT_EQ(4096, ev[0].res);
	EXPECT_EQ(sig(1), si.si_signo);
	EXPECT_EQ(SI_ASYNCIO, si.si_code);
	EXPECT_EQ(0, si.si_errno);
	EXPECT_EQ(getpid(), si.si_pid);
	EXPECT_EQ(getuid(), si.si_uid);
	EXPECT_EQ((void *)0x1234567890abcdefULL, si.si_value.sival_ptr);
	/* once */
	EXPECT_EQ(-EAGAIN, wait_sig(sig(1), &si, 200));
	EXPECT_EQ(1, stat_wait(c.fd, SENT, 1, 1000));
	EXPECT_EQ(0, stat_wait(c.fd, DROPPED, 0, 0));
	t_ctx_close(&c);
}

/* A handler (SA_SIGINFO) runs with the event already reapable. */
TEST(pread_signal_handler_reaps_the_event)
{
	struct kaio_sigevent sev;
	struct t_ctx c;
	struct iocb cb;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 4096);
	install(sig(2), c.fd);
	t_prep_pread(&cb, fd, buf, 4096, 0);
	prep_sig(&cb, &sev, sig(2), 77);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_TRUE(handled(1, 5000));
	EXPECT_EQ(1, h_events);
	EXPECT_EQ(SI_ASYNCIO, h_info.si_code);
	EXPECT_EQ(77, h_info.si_value.sival_int);
	EXPECT_EQ(getpid(), h_info.si_pid);
	EXPECT_EQ(getuid(), h_info.si_uid);
	/* the submitting thread, which does not block it */
	EXPECT_EQ(gettid(), h_tid);
	t_ctx_close(&c);
}

/* null_blk's timer completes the read in irq context: sent from a worker. */
TEST(odirect_nullb_irq_completion_signal)
{
	struct kaio_sigevent sev;
	struct io_event ev[2];
	struct t_ctx c;
	struct iocb cb;
	siginfo_t si;
	char *buf = t_alloc(4096);
	const char *dev;
	int fd;

	KAIO_ENV_OR_SKIP(dev, "KAIO_RAW_DEV");
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH | KAIO_SETUP_SIGNALS);
	fd = open(dev, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, fd);
	block(sig(3));
	t_prep_pread(&cb, fd, buf, 4096, 1 << 20);
	prep_sig(&cb, &sev, sig(3), 5);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(sig(3), wait_sig(sig(3), &si, 5000));
	ASSERT_EQ(1, reap_now(c.fd, ev, 2));
	EXPECT_EQ(4096, ev[0].res);
	EXPECT_EQ(KAIO_PATH_ASYNC, ev[0].res2);
	/* not zeroed, as send_signal_locked() would from the idle task */
	EXPECT_EQ(getpid(), si.si_pid);
	EXPECT_EQ(getuid(), si.si_uid);
	EXPECT_EQ(5, si.si_value.sival_int);
	close(fd);
	t_ctx_close(&c);
}

/*
 * A cold buffered read on the slow file system: the page-wait callback's
 * retry completes it. A pread() first makes the access time not due, so
 * that the read starts in SUBMIT rather than on a worker (kaio_retry.c).
 */
TEST(cold_buffered_read_retry_signal)
{
	struct kaio_sigevent sev;
	struct io_event ev[2];
	struct t_stats s0, s1, d;
	struct t_ctx c;
	struct iocb cb;
	siginfo_t si;
	char *buf = t_alloc(T_BS);
	long long off = 32LL * T_COLD_STRIDE;
	const char *dir;
	int fd;

	KAIO_ENV_OR_SKIP(dir, "KAIO_SLOW_EXT4_DIR");
	if (t_slow_lat_ns() < 10000000)
		SKIP(return, "needs $KAIO_SLOW_LAT_NS >= 10 ms");
	fd = t_cold_file(dir);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(-fd));
	ASSERT_EQ(T_BS, pread(fd, buf, T_BS, 0));
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH | KAIO_SETUP_SIGNALS);
	block(sig(4));
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s0));
	t_prep_pread(&cb, fd, buf, T_BS, off);
	prep_sig(&cb, &sev, sig(4), 9);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(sig(4), wait_sig(sig(4), &si, 10000));
	ASSERT_EQ(1, reap_now(c.fd, ev, 2));
	EXPECT_EQ(T_BS, ev[0].res);
	EXPECT_EQ(-1, t_check(buf, T_BS, T_COLD_SEED, off));
	EXPECT_EQ(KAIO_PATH_RETRY, ev[0].res2);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_LE(1, d.page_wait_arms);
	EXPECT_EQ(0, d.worker);
	EXPECT_EQ(9, si.si_value.sival_int);
	close(fd);
	t_ctx_close(&c);
}

/* ---- who gets it ------------------------------------------------------------- */

/*
 * KAIO_SIGEV_THREAD_ID: only the named thread, although the submitting
 * (main) thread leaves the signal unblocked too.
 */
TEST(thread_id_only_that_thread)
{
	struct kaio_sigevent sev;
	struct sleeper s;
	struct t_ctx c;
	struct iocb cb;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 4096);
	install(sig(5), -1);
	sleeper_start(&s);
	t_prep_pread(&cb, fd, buf, 4096, 0);
	prep_sig(&cb, &sev, sig(5), 1);
	sev.notify = KAIO_SIGEV_THREAD_ID;
	sev.tid = s.tid;
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_TRUE(handled(1, 5000));
	EXPECT_EQ(s.tid, h_tid);
	EXPECT_NE(gettid(), h_tid);
	EXPECT_EQ(SI_ASYNCIO, h_info.si_code);
	usleep(100000);
	EXPECT_EQ(1, h_count);
	sleeper_stop(&s);
	t_ctx_close(&c);
}

/* Process-directed: the submitting thread blocks it, another does not. */
TEST(process_directed_goes_to_a_thread_that_does_not_block_it)
{
	struct kaio_sigevent sev;
	struct sleeper s;
	struct t_ctx c;
	struct iocb cb;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 4096);
	install(sig(6), -1);
	sleeper_start(&s);	/* before the block: it keeps it unblocked */
	block(sig(6));
	t_prep_pread(&cb, fd, buf, 4096, 0);
	prep_sig(&cb, &sev, sig(6), 2);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_TRUE(handled(1, 5000)) TH_LOG("left pending on the submitter?");
	EXPECT_EQ(s.tid, h_tid);
	EXPECT_FALSE(is_pending(sig(6)));
	sleeper_stop(&s);
	t_ctx_close(&c);
}

/* Every thread blocks it: pending, and taken where it is waited for. */
TEST(process_directed_all_blocked_stays_pending)
{
	struct kaio_sigevent sev;
	struct t_ctx c;
	struct iocb cb;
	struct io_event ev;
	siginfo_t si;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 4096);
	block(sig(7));
	t_prep_pread(&cb, fd, buf, 4096, 0);
	prep_sig(&cb, &sev, sig(7), 3);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 5000));
	ASSERT_EQ(1, stat_wait(c.fd, SENT, 1, 2000));
	EXPECT_TRUE(is_pending(sig(7)));
	EXPECT_EQ(sig(7), wait_sig(sig(7), &si, 0));
	EXPECT_EQ(3, si.si_value.sival_int);
	t_ctx_close(&c);
}

/* ---- what SUBMIT refuses ----------------------------------------------------- */

static long submit_with(int ctx, int fd, char *buf, struct kaio_sigevent *sev)
{
	struct iocb cb;

	t_prep_pread(&cb, fd, buf, 512, 0);
	cb.aio_flags |= KAIO_IOCB_FLAG_SIGEVENT;
	cb.aio_reserved2 = (uintptr_t)sev;
	return t_submit_one(ctx, &cb);
}

TEST(bad_sigevents_EINVAL)
{
	struct kaio_sigevent sev;
	struct t_ctx c;
	char *buf = t_alloc(4096);
	struct iocb cb;
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 4096);
	memset(&sev, 0, sizeof(sev));
	sev.signo = 0;
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.signo = 65;
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.signo = sig(1);
	sev.notify = 2;
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.notify = KAIO_SIGEV_PROCESS;
	sev.tid = gettid();	/* tid only with THREAD_ID */
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.tid = 0;
	sev.reserved[2] = 1;
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.reserved[2] = 0;
	sev.notify = KAIO_SIGEV_THREAD_ID;	/* tid 0 */
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.tid = -5;
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.tid = 0x3ffffff0;	/* no such thread */
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	/* unreadable, or the flag with aio_reserved2 0 */
	EXPECT_EQ(-EFAULT, submit_with(c.fd, fd, buf, t_bad_ptr()));
	EXPECT_EQ(-EFAULT, submit_with(c.fd, fd, buf, NULL));
	/* and the good one goes */
	sev.tid = gettid();
	block(sig(1));
	EXPECT_EQ(1, submit_with(c.fd, fd, buf, &sev));
	EXPECT_EQ(sig(1), wait_sig(sig(1), NULL, 5000));
	/* aio_reserved2 without the flag: io_submit's EINVAL, as before */
	t_prep_pread(&cb, fd, buf, 512, 0);
	cb.aio_reserved2 = (uintptr_t)&sev;
	EXPECT_EQ(-EINVAL, t_submit_one(c.fd, &cb));
	t_ctx_close(&c);
}

/* A thread id of another process (a child, init) is not the submitter's. */
TEST(thread_id_of_another_process_EINVAL)
{
	struct kaio_sigevent sev;
	struct t_ctx c;
	char *buf = t_alloc(4096);
	pid_t child;
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 4096);
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		pause();
		_exit(0);
	}
	memset(&sev, 0, sizeof(sev));
	sev.signo = sig(1);
	sev.notify = KAIO_SIGEV_THREAD_ID;
	sev.tid = child;
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.tid = 1;
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	t_ctx_close(&c);
}

/* ---- SUBMIT_LIST ------------------------------------------------------------- */

#define NLIST	8

/* One list signal, after the last of the reads is in the ring. */
TEST(list_signal_after_every_event)
{
	struct kaio_sigevent lsev = { .signo = 0 };
	struct iocb cbs[NLIST], *ptrs[NLIST];
	struct io_event ev[NLIST + 1];
	struct t_ctx c;
	siginfo_t si;
	char *buf = t_alloc(NLIST * 4096);
	const char *dev;
	int fd, i;

	KAIO_ENV_OR_SKIP(dev, "KAIO_RAW_DEV");
	KAIO_CTX_INIT(&c, 64, KAIO_SETUP_SIGNALS);
	fd = open(dev, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, fd);
	for (i = 0; i < NLIST; i++) {
		t_prep_pread(&cbs[i], fd, buf + i * 4096, 4096, (i + 3) * 65536LL);
		ptrs[i] = &cbs[i];
	}
	lsev.signo = sig(8);
	lsev.value = 0xabc;
	block(sig(8));
	ASSERT_EQ(NLIST, submit_list(c.fd, NLIST, ptrs, KAIO_LIST_SIGNAL, &lsev));
	ASSERT_EQ(sig(8), wait_sig(sig(8), &si, 10000));
	EXPECT_EQ(NLIST, reap_now(c.fd, ev, NLIST + 1));
	EXPECT_EQ(SI_ASYNCIO, si.si_code);
	EXPECT_EQ(0xabc, si.si_value.sival_int);
	EXPECT_EQ(getpid(), si.si_pid);
	EXPECT_EQ(-EAGAIN, wait_sig(sig(8), &si, 200));
	close(fd);
	t_ctx_close(&c);
}

/* A request's own signal is sent before its list's. */
TEST(list_own_signal_before_list_signal)
{
	struct kaio_sigevent lsev = { .signo = 0 }, sev;
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	struct t_ctx c;
	siginfo_t si;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 4096);
	block(sig(9));
	block(sig(10));
	t_prep_pread(&cb, fd, buf, 4096, 0);
	prep_sig(&cb, &sev, sig(9), 1);
	lsev.signo = sig(10);
	ASSERT_EQ(1, submit_list(c.fd, 1, &ptr, KAIO_LIST_SIGNAL, &lsev));
	ASSERT_EQ(sig(10), wait_sig(sig(10), &si, 5000));
	EXPECT_TRUE(is_pending(sig(9)));
	EXPECT_EQ(sig(9), wait_sig(sig(9), &si, 0));
	EXPECT_EQ(1, reap_now(c.fd, &ev, 1));
	EXPECT_EQ(2, stat_wait(c.fd, SENT, 2, 1000));
	t_ctx_close(&c);
}

/*
 * A call given no iocb signals before it returns, as lio_listio; one that
 * fails took nothing and signals nothing (its caller notifies, or retries).
 */
TEST(list_nothing_taken_signals_at_once)
{
	struct kaio_sigevent lsev = { .signo = 0 };
	struct iocb cb, *ptr = &cb;
	struct t_ctx c;
	siginfo_t si;
	char *buf = t_alloc(4096);

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	lsev.signo = sig(11);
	lsev.value = 4;
	block(sig(11));
	EXPECT_EQ(0, submit_list(c.fd, 0, &ptr, KAIO_LIST_SIGNAL, &lsev));
	EXPECT_EQ(sig(11), wait_sig(sig(11), &si, 0));
	EXPECT_EQ(4, si.si_value.sival_int);
	/* the first iocb fails (no POST_ERRORS): nothing taken, no signal */
	t_prep_pread(&cb, 1000000, buf, 4096, 0);
	EXPECT_EQ(-EBADF, submit_list(c.fd, 1, &ptr, KAIO_LIST_SIGNAL, &lsev));
	EXPECT_EQ(-EAGAIN, wait_sig(sig(11), &si, 100));
	EXPECT_EQ(0, stat_wait(c.fd, DROPPED, 0, 0));
	t_ctx_close(&c);
}

/*
 * POST_ERRORS: a bad fd in the middle is an EBADF event (with its own
 * signal), the others are queued; the call returns all three.
 */
TEST(list_post_errors_bad_fd_in_the_middle)
{
	struct kaio_sigevent lsev = { .signo = 0 }, sev;
	struct iocb cbs[3], *ptrs[3] = { &cbs[0], &cbs[1], &cbs[2] };
	struct io_event ev[4];
	long long res[3];
	int counts[3] = { 0 };
	struct t_ctx c;
	siginfo_t si;
	char *buf = t_alloc(3 * 4096);
	uint64_t count = 0;
	int fd, efd, i;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 8192);
	t_prep_pread(&cbs[0], fd, buf, 4096, 0);
	t_prep_pread(&cbs[1], 1000000, buf + 4096, 4096, 0);
	t_prep_pread(&cbs[2], fd, buf + 8192, 4096, 4096);
	for (i = 0; i < 3; i++)
		cbs[i].aio_data = 100 + i;
	prep_sig(&cbs[1], &sev, sig(12), 42);
	/* its eventfd is signalled too, as for a request that ran */
	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	cbs[1].aio_flags |= IOCB_FLAG_RESFD;
	cbs[1].aio_resfd = efd;
	lsev.signo = sig(13);
	block(sig(12));
	block(sig(13));
	ASSERT_EQ(3, submit_list(c.fd, 3, ptrs,
				 KAIO_LIST_SIGNAL | KAIO_LIST_POST_ERRORS, &lsev));
	ASSERT_EQ(sig(13), wait_sig(sig(13), &si, 5000));
	ASSERT_EQ(3, reap_now(c.fd, ev, 4));
	EXPECT_EQ(0, t_tally(cbs, 3, ev, 3, counts, res));
	EXPECT_EQ(4096, res[0]);
	EXPECT_EQ(-EBADF, res[1]);
	EXPECT_EQ(4096, res[2]);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(1, counts[i]);
		if (ev[i].obj == (uintptr_t)&cbs[1])
			EXPECT_EQ(101, ev[i].data);
	}
	EXPECT_EQ(sig(12), wait_sig(sig(12), &si, 0));
	EXPECT_EQ(42, si.si_value.sival_int);
	EXPECT_EQ(8, read(efd, &count, 8));
	EXPECT_EQ(1, count);
	t_ctx_close(&c);
}

/* POST_ERRORS with a bad sigevent: its EINVAL event, no signal of its own. */
TEST(list_post_errors_bad_sigevent_no_own_signal)
{
	struct kaio_sigevent sev;
	struct iocb cbs[3], *ptrs[3] = { &cbs[0], &cbs[1], &cbs[2] };
	struct io_event ev[4];
	long long res[3];
	int counts[3] = { 0 };
	struct t_ctx c;
	char *buf = t_alloc(3 * 4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 8192);
	t_prep_pread(&cbs[0], fd, buf, 4096, 0);
	t_prep_pread(&cbs[1], fd, buf + 4096, 4096, 0);
	t_prep_pread(&cbs[2], fd, buf + 8192, 4096, 0);
	prep_sig(&cbs[1], &sev, sig(14), 1);
	sev.reserved[0] = 1;
	/* an unreadable sigevent is the iocb's EFAULT, posted too */
	cbs[2].aio_flags |= KAIO_IOCB_FLAG_SIGEVENT;
	cbs[2].aio_reserved2 = (uintptr_t)t_bad_ptr();
	block(sig(14));
	ASSERT_EQ(3, submit_list(c.fd, 3, ptrs, KAIO_LIST_POST_ERRORS, NULL));
	ASSERT_EQ(3, t_wait(c.fd, ev, 3, 5000));
	EXPECT_EQ(0, t_tally(cbs, 3, ev, 3, counts, res));
	EXPECT_EQ(4096, res[0]);
	EXPECT_EQ(-EINVAL, res[1]);
	EXPECT_EQ(-EFAULT, res[2]);
	EXPECT_EQ(-EAGAIN, wait_sig(sig(14), NULL, 200));
	t_ctx_close(&c);
}

/* Without POST_ERRORS the call stops at the bad fd, as SUBMIT does. */
TEST(list_without_post_errors_stops_like_submit)
{
	struct iocb cbs[3], *ptrs[3] = { &cbs[0], &cbs[1], &cbs[2] };
	struct io_event ev[4];
	struct t_ctx c;
	char *buf = t_alloc(3 * 4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 8192);
	t_prep_pread(&cbs[0], fd, buf, 4096, 0);
	t_prep_pread(&cbs[1], 1000000, buf + 4096, 4096, 0);
	t_prep_pread(&cbs[2], fd, buf + 8192, 4096, 4096);
	EXPECT_EQ(1, submit_list(c.fd, 3, ptrs, 0, NULL));
	EXPECT_EQ(1, t_submit(c.fd, 3, ptrs));
	EXPECT_EQ(2, t_wait(c.fd, ev, 2, 5000));
	EXPECT_EQ(0, reap_now(c.fd, ev, 4));
	/* the bad one first: its errno, as io_submit */
	EXPECT_EQ(-EBADF, submit_list(c.fd, 2, &ptrs[1], 0, NULL));
	t_ctx_close(&c);
}

/*
 * A full ring stops the call with EAGAIN, POST_ERRORS or not; it took
 * nothing, so no list signal: a caller that retries until the ring has
 * room gets one signal, not one per try.
 */
TEST(list_ring_full_EAGAIN)
{
	struct kaio_sigevent lsev = { .signo = 0 };
	struct iocb **ptrs, cb, *bad = &cb;
	struct iocb *cbs;
	struct t_ctx c;
	siginfo_t si;
	char *buf = t_alloc(4096);
	unsigned int i;

	KAIO_CTX_INIT(&c, 1, KAIO_SETUP_SIGNALS);
	cbs = calloc(c.cap, sizeof(*cbs));
	ptrs = calloc(c.cap, sizeof(*ptrs));
	ASSERT_TRUE(cbs && ptrs);
	for (i = 0; i < c.cap; i++) {
		t_prep_noop(&cbs[i], c.nullfd);
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(c.cap, t_submit(c.fd, c.cap, ptrs));
	t_prep_pread(&cb, 1000000, buf, 4096, 0);
	lsev.signo = sig(15);
	block(sig(15));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(-EAGAIN,
			  submit_list(c.fd, 1, &bad,
				      KAIO_LIST_SIGNAL | KAIO_LIST_POST_ERRORS,
				      &lsev));
	EXPECT_EQ(-EAGAIN, wait_sig(sig(15), &si, 100));
	t_ctx_close(&c);
}

TEST(list_bad_arguments_EINVAL)
{
	struct kaio_submit_list a;
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	struct t_ctx c;
	siginfo_t si;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 4096);
	t_prep_pread(&cb, fd, buf, 4096, 0);
	block(sig(16));
#define RESET() do {							\
	memset(&a, 0, sizeof(a));					\
	a.nr = 1;							\
	a.iocbpp = (uintptr_t)&ptr;					\
} while (0)
	RESET();
	a.flags = 1U << 3;
	EXPECT_EQ(-EINVAL, submit_list_raw(c.fd, &a));
	RESET();
	a.reserved0 = 1;
	EXPECT_EQ(-EINVAL, submit_list_raw(c.fd, &a));
	RESET();
	a.reserved[2] = 1;
	EXPECT_EQ(-EINVAL, submit_list_raw(c.fd, &a));
	RESET();
	a.sigev.signo = sig(16);	/* without KAIO_LIST_SIGNAL */
	EXPECT_EQ(-EINVAL, submit_list_raw(c.fd, &a));
	RESET();
	a.flags = KAIO_LIST_SIGNAL;	/* signo 0 */
	EXPECT_EQ(-EINVAL, submit_list_raw(c.fd, &a));
	a.sigev.signo = 65;
	EXPECT_EQ(-EINVAL, submit_list_raw(c.fd, &a));
	a.sigev.signo = sig(16);
	a.sigev.notify = 7;
	EXPECT_EQ(-EINVAL, submit_list_raw(c.fd, &a));
	a.sigev.notify = KAIO_SIGEV_PROCESS;
	a.sigev.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, submit_list_raw(c.fd, &a));
	RESET();
	a.nr = -1;
	EXPECT_EQ(-EINVAL, submit_list_raw(c.fd, &a));
	EXPECT_EQ(-EFAULT, submit_list_raw(c.fd, t_bad_ptr()));
	/* nothing was queued, nothing signalled */
	EXPECT_EQ(-EAGAIN, wait_sig(sig(16), &si, 100));
	EXPECT_EQ(0, reap_now(c.fd, &ev, 1));
#undef RESET
	t_ctx_close(&c);
}

/* ---- cancel ------------------------------------------------------------------ */

/* A cancelled POLL posts its event (res 0, as fs/aio.c's) and signals. */
TEST(cancel_poll_sends_its_signal)
{
	struct kaio_sigevent sev;
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	siginfo_t si;
	int p[2];

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	ASSERT_EQ(0, pipe(p));
	block(sig(17));
	t_prep_poll(&cb, p[0], POLLIN);
	prep_sig(&cb, &sev, sig(17), 6);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	EXPECT_EQ(-EAGAIN, wait_sig(sig(17), &si, 100));
	EXPECT_EQ(-EINPROGRESS, t_cancel(c.fd, &cb));
	ASSERT_EQ(sig(17), wait_sig(sig(17), &si, 5000));
	EXPECT_EQ(6, si.si_value.sival_int);
	ASSERT_EQ(1, reap_now(c.fd, &ev, 1));
	EXPECT_EQ(0, ev.res);
	t_ctx_close(&c);
}

/*
 * A cold read waiting for its page (slow device): CANCEL's EINPROGRESS,
 * the -ECANCELED event when the page's I/O ends, and the signal after it.
 * A host stall can make the read miss the wait; retried on other pages.
 */
TEST(cancel_page_waiting_read_ECANCELED_signal)
{
	struct kaio_sigevent sev;
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	siginfo_t si;
	char *buf = t_alloc(T_BS);
	const char *dir;
	int fd, attempt, caught = 0;
	long r;

	KAIO_ENV_OR_SKIP(dir, "KAIO_SLOW_EXT4_DIR");
	if (t_slow_lat_ns() < 10000000)
		SKIP(return, "needs $KAIO_SLOW_LAT_NS >= 10 ms");
	fd = t_cold_file(dir);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(-fd));
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	block(sig(18));
	for (attempt = 0; attempt < 5 && !caught; attempt++) {
		t_prep_pread(&cb, fd, buf, T_BS,
			     (long long)(1 + 2 * attempt) * T_COLD_STRIDE);
		prep_sig(&cb, &sev, sig(18), attempt);
		ASSERT_EQ(1, t_submit_one(c.fd, &cb));
		r = t_cancel(c.fd, &cb);
		ASSERT_EQ(sig(18), wait_sig(sig(18), &si, 10000));
		ASSERT_EQ(1, reap_now(c.fd, &ev, 1));
		EXPECT_EQ(attempt, si.si_value.sival_int);
		TH_LOG("attempt %d: CANCEL %ld, res %lld", attempt, r, ev.res);
		if (r != -EINPROGRESS) {
			EXPECT_EQ(T_BS, ev.res);
			continue;
		}
		caught = 1;
		EXPECT_EQ(-ECANCELED, ev.res);
	}
	EXPECT_EQ(1, caught) TH_LOG("never caught the read waiting for its page");
	close(fd);
	t_ctx_close(&c);
}

/* ---- kernel-only signals, threads that go, the bound on queued sends ------ */

/*
 * SIGKILL and SIGSTOP: a kworker's send would force them past
 * SIGNAL_UNKILLABLE; refused for a request and for a list.
 */
TEST(sigkill_sigstop_EINVAL)
{
	struct kaio_sigevent sev;
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	struct t_ctx c;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 4096);
	memset(&sev, 0, sizeof(sev));
	sev.notify = KAIO_SIGEV_PROCESS;
	sev.signo = SIGKILL;
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.signo = SIGSTOP;
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.notify = KAIO_SIGEV_THREAD_ID;
	sev.tid = gettid();
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	sev.signo = SIGKILL;
	EXPECT_EQ(-EINVAL, submit_with(c.fd, fd, buf, &sev));
	/* a list's */
	t_prep_noop(&cb, c.nullfd);
	sev.notify = KAIO_SIGEV_PROCESS;
	sev.tid = 0;
	EXPECT_EQ(-EINVAL, submit_list(c.fd, 1, &ptr, KAIO_LIST_SIGNAL, &sev));
	sev.signo = SIGSTOP;
	EXPECT_EQ(-EINVAL, submit_list(c.fd, 1, &ptr, KAIO_LIST_SIGNAL, &sev));
	/* nothing was taken, and SIGCONT (not kernel-only) still goes */
	EXPECT_EQ(0, reap_now(c.fd, &ev, 1));
	sev.signo = SIGCONT;
	block(SIGCONT);
	EXPECT_EQ(1, submit_with(c.fd, fd, buf, &sev));
	EXPECT_EQ(SIGCONT, wait_sig(SIGCONT, NULL, 5000));
	t_ctx_close(&c);
}

/*
 * KAIO_SIGEV_THREAD_ID naming a thread that exits before the completion:
 * the request completes, the signal is dropped (not sent to another).
 */
TEST(thread_id_exited_before_completion_dropped)
{
	struct kaio_sigevent sev;
	struct sleeper s;
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	siginfo_t si;
	int p[2];

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	ASSERT_EQ(0, pipe(p));
	block(sig(21));
	sleeper_start(&s);
	t_prep_poll(&cb, p[0], POLLIN);
	prep_sig(&cb, &sev, sig(21), 4);
	sev.notify = KAIO_SIGEV_THREAD_ID;
	sev.tid = s.tid;
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	sleeper_stop(&s);
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 5000));
	EXPECT_EQ((uintptr_t)&cb, ev.obj);
	EXPECT_EQ(1, stat_wait(c.fd, DROPPED, 1, 2000));
	EXPECT_EQ(0, stat_wait(c.fd, SENT, 0, 0));
	EXPECT_EQ(-EAGAIN, wait_sig(sig(21), &si, 100));
	close(p[0]);
	close(p[1]);
	t_ctx_close(&c);
}

struct submitter {
	int ctx;
	struct iocb *cb;
	long ret;
	pid_t tid;
};

static void *submitter_fn(void *arg)
{
	struct submitter *sb = arg;

	sb->tid = gettid();
	sb->ret = t_submit_one(sb->ctx, sb->cb);
	return NULL;
}

/*
 * KAIO_SIGEV_PROCESS whose submitting thread exits before the completion:
 * the main thread blocks the signal, a sibling does not and gets it.
 */
TEST(process_directed_submitter_exited_goes_to_a_sibling)
{
	struct kaio_sigevent sev;
	struct submitter sb;
	struct sleeper s;
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	pthread_t th;
	int p[2];

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	ASSERT_EQ(0, pipe(p));
	install(sig(22), -1);
	sleeper_start(&s);	/* before the block: it keeps it unblocked */
	block(sig(22));
	t_prep_poll(&cb, p[0], POLLIN);
	prep_sig(&cb, &sev, sig(22), 8);
	sb = (struct submitter){ .ctx = c.fd, .cb = &cb };
	ASSERT_EQ(0, pthread_create(&th, NULL, submitter_fn, &sb));
	pthread_join(th, NULL);	/* the submitter exits, blocking nothing */
	ASSERT_EQ(1, sb.ret);
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 5000));
	ASSERT_TRUE(handled(1, 5000)) TH_LOG("dropped, or pending here?");
	EXPECT_EQ(s.tid, h_tid);
	EXPECT_NE(sb.tid, h_tid);
	EXPECT_EQ(8, h_info.si_value.sival_int);
	EXPECT_FALSE(is_pending(sig(22)));
	EXPECT_EQ(1, stat_wait(c.fd, SENT, 1, 1000));
	sleeper_stop(&s);
	close(p[0]);
	close(p[1]);
	t_ctx_close(&c);
}

#define NSIGNALS	10000

/* Signals of sig(23) waiting now, taken; each value is counted in @seen. */
static long take_signals(unsigned char *seen, long *dups)
{
	siginfo_t si;
	long n = 0;
	int v;

	while (wait_sig(sig(23), &si, 0) == sig(23)) {
		v = si.si_value.sival_int;
		if (v < 0 || v >= NSIGNALS || seen[v]++)
			(*dups)++;
		n++;
	}
	return n;
}

/*
 * NOOPs with signals as fast as SUBMIT takes them, the ring reaped through
 * its head (no syscall): a send not yet made keeps a share of the
 * capacity, so sends not made never outnumber it (submitted - sent -
 * dropped <= capacity, read after each SUBMIT that took one), SUBMIT says
 * EAGAIN meanwhile, and every signal arrives once.
 */
TEST(many_noop_signals_bounded_by_capacity)
{
	struct kaio_sigevent sev;
	struct t_stats st;
	struct t_ctx c;
	struct iocb cb;
	unsigned char *seen = calloc(NSIGNALS, 1);
	long submitted = 0, got = 0, dups = 0, eagain = 0, worst = 0;
	long behind;
	int i, idle;

	ASSERT_TRUE(seen != NULL);
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	block(sig(23));
	while (submitted < NSIGNALS) {
		long r;

		t_prep_noop(&cb, c.nullfd);
		prep_sig(&cb, &sev, sig(23), submitted);
		r = t_submit_one(c.fd, &cb);
		/* reap everything: only pending sends can hold the capacity */
		__atomic_store_n(&c.ring->head,
				 __atomic_load_n(&c.ring->tail, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
		if (r == -EAGAIN) {
			eagain++;
			got += take_signals(seen, &dups);
			sched_yield();
			continue;
		}
		ASSERT_EQ(1, r);
		submitted++;
		if (submitted % 16 == 0 || submitted < 256) {
			ASSERT_EQ(0, t_ctx_stats(c.fd, &st));
			behind = submitted - st.signals_sent -
				 st.signals_dropped;
			if (behind > worst)
				worst = behind;
			ASSERT_GE((long)c.cap, behind)
				TH_LOG("%ld sends queued, capacity %u",
				       behind, c.cap);
			/* fdinfo shows them (read after sent/dropped) */
			ASSERT_LE(0, st.signals_queued);
			ASSERT_GE((long)c.cap, st.signals_queued);
		}
		if (submitted % 64 == 0)
			got += take_signals(seen, &dups);
	}
	/* every one arrives, once */
	for (idle = 0; got < NSIGNALS && idle < 500; idle++) {
		long n = take_signals(seen, &dups);

		got += n;
		if (!n)
			usleep(10000);
	}
	TH_LOG("%ld EAGAIN, at most %ld sends queued (capacity %u)",
	       eagain, worst, c.cap);
	EXPECT_EQ(NSIGNALS, got);
	EXPECT_EQ(0, dups);
	EXPECT_EQ(0, stats_settled(c.fd, &st, NSIGNALS, 2000));
	EXPECT_EQ(NSIGNALS, st.signals_sent);
	EXPECT_EQ(0, st.signals_dropped);
	EXPECT_EQ(0, st.signals_queued);
	for (i = 0; i < NSIGNALS; i++)
		if (!seen[i])
			break;
	EXPECT_EQ(NSIGNALS, i) TH_LOG("signal %d never came", i);
	free(seen);
	t_ctx_close(&c);
}

/* The kernel's taint flags (W: a WARN fired), or -1. */
static long tainted(void)
{
	char *s = t_read_whole("/proc/sys/kernel", "tainted");
	long v = s ? atol(s) : -1;

	free(s);
	return v;
}

/*
 * Close a context whose sends are still queued (a full batch of NOOPs with
 * signals, closed at once), many times: the close waits for them, nothing
 * leaks (module-wide contexts back where they were), nothing WARNs.
 */
TEST(close_with_sends_queued)
{
	struct kaio_sigevent sev;
	struct t_stats st;
	struct iocb *cbs, **ptrs;
	struct t_ctx c;
	long long contexts;
	long taint0, n, got = 0, total = 0;
	unsigned int i, round;

	if (t_stats_read("/sys/kernel/debug/kaio/stats", &st))
		SKIP(return, "no /sys/kernel/debug/kaio/stats");
	contexts = st.contexts;
	taint0 = tainted();
	block(sig(24));
	for (round = 0; round < 50; round++) {
		KAIO_CTX_INIT(&c, 64, KAIO_SETUP_SIGNALS);
		cbs = calloc(c.cap, sizeof(*cbs));
		ptrs = calloc(c.cap, sizeof(*ptrs));
		ASSERT_TRUE(cbs && ptrs);
		for (i = 0; i < c.cap; i++) {
			t_prep_noop(&cbs[i], c.nullfd);
			cbs[i].aio_flags |= KAIO_IOCB_FLAG_SIGEVENT;
			cbs[i].aio_reserved2 = (uintptr_t)&sev;
			ptrs[i] = &cbs[i];
		}
		memset(&sev, 0, sizeof(sev));
		sev.signo = sig(24);
		n = t_submit(c.fd, c.cap, ptrs);
		ASSERT_LT(0, n);
		total += n;
		t_ctx_close(&c);
		free(cbs);
		free(ptrs);
		/* sent by the time the close returned: take them */
		while (wait_sig(sig(24), NULL, 0) == sig(24))
			got++;
	}
	EXPECT_EQ(total, got);
	EXPECT_EQ(0, t_module_settle(contexts, 5000, &st));
	EXPECT_EQ(taint0, tainted());
}

struct writer {
	int fd;
	int delay_ms;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;

	usleep(w->delay_ms * 1000);
	if (write(w->fd, "x", 1) != 1)
		return (void *)1;
	return NULL;
}

/*
 * A POLL on a pipe another thread writes to: completed from the pipe's
 * wake-up, and its signal finds the event in the ring.
 */
TEST(poll_woken_by_another_thread_event_before_signal)
{
	struct kaio_sigevent sev;
	struct io_event ev[2];
	struct writer w;
	struct t_ctx c;
	struct iocb cb;
	pthread_t th;
	siginfo_t si;
	int p[2];

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	ASSERT_EQ(0, pipe(p));
	block(sig(25));
	t_prep_poll(&cb, p[0], POLLIN);
	prep_sig(&cb, &sev, sig(25), 25);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	EXPECT_EQ(0, reap_now(c.fd, ev, 2));
	w = (struct writer){ .fd = p[1], .delay_ms = 50 };
	ASSERT_EQ(0, pthread_create(&th, NULL, writer_fn, &w));
	ASSERT_EQ(sig(25), wait_sig(sig(25), &si, 5000));
	/* taken at once: the event must be there already */
	ASSERT_EQ(1, reap_now(c.fd, ev, 2));
	EXPECT_EQ((uintptr_t)&cb, ev[0].obj);
	EXPECT_TRUE(ev[0].res & POLLIN);
	EXPECT_EQ(25, si.si_value.sival_int);
	EXPECT_EQ(getpid(), si.si_pid);
	pthread_join(th, NULL);
	close(p[0]);
	close(p[1]);
	t_ctx_close(&c);
}

/* ---- exec, limits ------------------------------------------------------------ */

/* Module-wide signals_dropped (debugfs), or -1. */
static long long module_dropped(void)
{
	char *s = t_read_whole("/sys/kernel/debug/kaio", "stats");
	char *p = s ? strstr(s, "signals_dropped:") : NULL;
	long long v = p ? atoll(p + strlen("signals_dropped:")) : -1;

	free(s);
	return v;
}

/*
 * A child submits a slow read (the slow raw device) whose completion sends
 * a real-time signal with the default action (terminate), then exec's (or,
 * the control, only sleeps). The exec'd image must not get it: the drop is
 * counted module-wide. The control is killed by it: the test can fail.
 */
static int run_child(struct __test_metadata *_metadata, const char *dev,
		     bool do_exec)
{
	int status = 0;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct kaio_sigevent sev;
		struct t_ctx c;
		struct iocb cb;
		char *buf = t_alloc(T_BS);
		int fd = open(dev, O_RDONLY | O_DIRECT);

		signal(sig(19), SIG_DFL);
		if (fd < 0 || t_ctx_init(&c, 8, KAIO_SETUP_SIGNALS))
			_exit(10);
		t_prep_pread(&cb, fd, buf, T_BS, T_RAW_OFF);
		prep_sig(&cb, &sev, sig(19), 0);
		if (t_submit_one(c.fd, &cb) != 1)
			_exit(11);
		if (do_exec) {
			setenv(EXEC_ENV, "2000", 1);
			execl("/proc/self/exe", "kaio_signal", (char *)NULL);
			_exit(12);
		}
		usleep(2000000);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	return status;
}

/* Only for its timeout: the 6.1 harness has no TEST_TIMEOUT(). */
FIXTURE(slow) {
	int unused;
};

FIXTURE_SETUP(slow)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(slow)
{
}

TEST_F_TIMEOUT(slow, exec_no_signal_to_the_new_image, 60)
{
	long long d0, d1 = -1;
	const char *dev;
	sigset_t none;
	int status, i;

	KAIO_ENV_OR_SKIP(dev, "KAIO_SLOW_RAW_DEV");
	if (t_slow_lat_ns() < 100000000)
		SKIP(return, "needs $KAIO_SLOW_LAT_NS >= 100 ms");
	if (access(KAIO_DEVICE_PATH, F_OK))
		SKIP(return, "/dev/kaio not available");
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* control: without exec, the signal kills the child */
	status = run_child(_metadata, dev, false);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig(19))
		TH_LOG("control child status 0x%x", status);

	d0 = module_dropped();
	ASSERT_LE(0, d0) TH_LOG("no signals_dropped in debugfs");
	status = run_child(_metadata, dev, true);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("exec'd child status 0x%x (signal %d)", status,
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	/*
	 * The read completed meanwhile, and its signal was dropped. The
	 * child's context is gone with its exec (O_CLOEXEC): only the
	 * module-wide counter is left to read. Tests run one at a time in
	 * the guest, but anything else dropping a signal meanwhile would
	 * raise it too: at least one more, not exactly one.
	 */
	for (i = 0; i < 500 && d1 <= d0; i++) {
		d1 = module_dropped();
		usleep(10000);
	}
	EXPECT_LE(d0 + 1, d1);
}

/* RLIMIT_SIGPENDING 0: the request completes, its signal is dropped. */
TEST(rlimit_sigpending_drop_counted)
{
	struct rlimit rl = { 0, 0 };
	struct kaio_sigevent sev;
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	siginfo_t si;
	char *buf = t_alloc(4096);
	int fd;

	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_SIGNALS);
	fd = data_file(_metadata, 4096);
	block(sig(20));
	ASSERT_EQ(0, setrlimit(RLIMIT_SIGPENDING, &rl));
	t_prep_pread(&cb, fd, buf, 4096, 0);
	prep_sig(&cb, &sev, sig(20), 1);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 5000));
	EXPECT_EQ(4096, ev.res);
	EXPECT_EQ(1, stat_wait(c.fd, DROPPED, 1, 2000));
	EXPECT_EQ(0, stat_wait(c.fd, SENT, 0, 0));
	EXPECT_EQ(-EAGAIN, wait_sig(sig(20), &si, 200));
	t_ctx_close(&c);
}

TEST_HARNESS_MAIN
