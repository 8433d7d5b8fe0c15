// SPDX-License-Identifier: GPL-2.0
/*
 * Signal handlers that call aio_error and aio_suspend while the program's
 * own threads are inside <aio.h> calls (POSIX: both are async-signal-safe).
 * A handler that interrupts the library where it holds completions it took
 * from the kernel must not wait for them forever, nor see a wrong status.
 * glibc 2.36 deadlocks there (XFAIL); libkaio-posix blocks signals while
 * it holds events (consume()).
 */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#define HQD 8
static struct aiocb h_cbs[HQD];
static volatile sig_atomic_t h_calls, h_bad, h_suspends, h_suspend;

/*
 * A timer's handler, as a watchdog of a real program would: looks at every
 * request and waits a little for one still in progress.
 */
static void on_tick(int sig)
{
	const struct aiocb *l[1];
	struct timespec ts = { 0, 2000000 };
	int i, e, saved = errno;

	(void)sig;
	h_calls++;
	for (i = 0; i < HQD; i++) {
		e = aio_error(&h_cbs[i]);
		if (e != 0 && e != EINPROGRESS)
			h_bad++;
		if (h_suspend && e == EINPROGRESS && !(h_calls & 3)) {
			l[0] = &h_cbs[i];
			if (aio_suspend(l, 1, &ts) == 0)
				h_suspends++;
			else if (errno != EAGAIN && errno != EINTR)
				h_bad++;
		}
	}
	errno = saved;
}

/*
 * SIGEV_NONE reads of a cached file, 8 at a time, reaped with aio_error and
 * aio_suspend while an interval timer's handler looks at them (and, if
 * @suspend, waits a little for one): every request ends with its data,
 * nothing hangs, the handler never sees an error that is not one.
 */
static void ticks_during_delivery(int suspend);

/*
 * glibc 2.36's aio_error and aio_suspend lock __aio_requests_mutex, which
 * the aio_read, aio_error or aio_suspend a handler interrupts may hold: the
 * handler deadlocks (seen here: aio_error in on_tick() waits for the mutex
 * its own thread's aio_error holds).
 */
static void glibc_xfail(void)
{
	if (!backend_is_kaio())
		ptest_xfail("glibc 2.36's aio_error and aio_suspend take "
			    "__aio_requests_mutex: not async-signal-safe, a "
			    "handler that interrupts them deadlocks (seen here)");
}

/* The handler calls aio_error. */
TEST(handler_error_during_delivery)
{
	glibc_xfail();
	ticks_during_delivery(0);
}

/* The handler calls aio_error and aio_suspend. */
TEST(handler_suspend_during_delivery)
{
	glibc_xfail();
	ticks_during_delivery(1);
}

static void ticks_during_delivery(int suspend)
{
	const size_t bs = 4096;
	int fd = pattern_file(HQD * 64 * bs, O_RDWR), fdd, round, i, left;
	char path[64];
	void *mem;
	char *bufs[HQD];
	const struct aiocb *l[HQD];
	struct itimerval it = { { 0, 300 }, { 0, 300 } };
	struct sigaction sa;
	double end = now() + tscale(20);

	/* Half the requests O_DIRECT where the file system allows it: in
	 * flight when the handler looks (the other half: cached). */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fdd = open(path, O_RDONLY | O_DIRECT);
	if (fdd < 0)
		fdd = fd;
	REQUIRE(!posix_memalign(&mem, 4096, HQD * bs));
	for (i = 0; i < HQD; i++)
		bufs[i] = (char *)mem + i * bs;
	h_suspend = suspend;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	REQUIRE(!sigaction(SIGALRM, &sa, NULL));
	for (i = 0; i < HQD; i++)
		aiocb_init(&h_cbs[i], fd, bufs[i], bs, 0);
	REQUIRE(!setitimer(ITIMER_REAL, &it, NULL));
	for (round = 0; round < 400 && now() < end; round++) {
		for (i = 0; i < HQD; i++) {
			aiocb_init(&h_cbs[i], i & 1 ? fd : fdd, bufs[i], bs,
				   (off_t)(((round * HQD + i) % (HQD * 64)) * bs));
			memset(bufs[i], 0, bs);
			while (aio_read(&h_cbs[i]) && errno == EAGAIN)
				msleep(1);
		}
		do {
			left = 0;
			for (i = 0; i < HQD; i++) {
				if (aio_error(&h_cbs[i]) == EINPROGRESS)
					l[left++] = &h_cbs[i];
			}
			if (left && aio_suspend(l, left, NULL) &&
			    errno != EINTR && errno != EAGAIN) {
				CHECK(0, "aio_suspend: %s", strerror(errno));
				break;
			}
		} while (left);
		for (i = 0; i < HQD; i++) {
			CHECK_EQ(aio_error(&h_cbs[i]), 0);
			CHECK_EQ(aio_return(&h_cbs[i]), (ssize_t)bs);
			CHECK_EQ(check_pattern(bufs[i], h_cbs[i].aio_offset,
					       bs), -1);
		}
		if (ptest_failed)
			break;
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	diag("%d rounds, %d ticks, %d waits in the handler", round,
	     (int)h_calls, (int)h_suspends);
	CHECK(h_calls > 0, "the timer never fired");
	CHECK_EQ(h_bad, 0);
	if (fdd != fd)
		close(fdd);
	close(fd);
	free(mem);
}
