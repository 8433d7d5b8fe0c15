// SPDX-License-Identifier: GPL-2.0
/*
 * aio_cancel. The slow source is a pipe nobody writes to: its reads stay in
 * progress. An implementation may cancel such a read or not (glibc cannot
 * cancel the one a thread is blocked in, and cancels those queued behind
 * it); what POSIX fixes is that the answer agrees with each request's
 * status: ECANCELED (aio_return -1) for cancelled ones, EINPROGRESS for the
 * others, and a notification for every cancelled request.
 */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(cancel_alldone)
{
	int fd = pattern_file(8192, O_RDONLY);
	char buf[4096];
	struct aiocb cb;

	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_cancel(fd, &cb), AIO_ALLDONE);
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), sizeof(buf));
	/* No request left on the fd at all. */
	CHECK_EQ(aio_cancel(fd, NULL), AIO_ALLDONE);
}

TEST(cancel_bad_fd)
{
	int fd = empty_file(O_RDWR);
	struct aiocb cb;
	char buf[8];

	close(fd);
	errno = 0;
	CHECK_EQ(aio_cancel(fd, NULL), -1);
	CHECK_EQ(errno, EBADF);
	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	errno = 0;
	CHECK_EQ(aio_cancel(fd, &cb), -1);
	CHECK_EQ(errno, EBADF);
}

/* glibc: aiocb->aio_fildes != fildes is -1/EINVAL (POSIX: undefined). */
TEST(cancel_fd_mismatch)
{
	int p[2], other = empty_file(O_RDWR);
	char buf[8];
	struct aiocb cb;

	REQUIRE(!pipe(p));
	aiocb_init(&cb, p[0], buf, sizeof(buf), 0);
	REQUIRE_EQ(aio_read(&cb), 0);
	errno = 0;
	CHECK_EQ(aio_cancel(other, &cb), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(aio_error(&cb), EINPROGRESS);
	REQUIRE_EQ(write(p[1], "x", 1), 1);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_return(&cb), 1);
}

static volatile sig_atomic_t notified[8];

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code == SI_ASYNCIO && si->si_value.sival_int >= 0 &&
	    si->si_value.sival_int < 8)
		notified[si->si_value.sival_int]++;
}

/* Every request of an fd (NULL aiocb); the answer agrees with each one's
 * final status, the cancelled ones are notified, the others finish. */
static void cancel_all(int use_fifo)
{
	enum { N = 6 };
	int p[2];
	char buf[N][4];
	struct aiocb cb[N];
	struct sigaction sa;
	int r, ncanceled = 0, nleft = 0, sig = SIGRTMIN + 6;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	REQUIRE(!sigaction(sig, &sa, NULL));
	if (use_fifo) {
		char path[4096];
		int fd = named_file(path, sizeof(path), 0, O_RDONLY);

		close(fd);
		unlink(path);
		REQUIRE(!mkfifo(path, 0600), "mkfifo: %s", strerror(errno));
		p[0] = open(path, O_RDONLY | O_NONBLOCK);
		p[1] = open(path, O_WRONLY);
		unlink(path);
		REQUIRE(p[0] >= 0 && p[1] >= 0);
		/* Blocking reads from here on. */
		REQUIRE(!fcntl(p[0], F_SETFL, 0));
	} else {
		REQUIRE(!pipe(p));
	}
	for (int i = 0; i < N; i++) {
		aiocb_init(&cb[i], p[0], buf[i], sizeof(buf[i]), 0);
		cb[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		cb[i].aio_sigevent.sigev_signo = sig;
		cb[i].aio_sigevent.sigev_value.sival_int = i;
		REQUIRE_EQ(aio_read(&cb[i]), 0);
	}
	msleep(100);
	r = aio_cancel(p[0], NULL);
	CHECK(r == AIO_CANCELED || r == AIO_NOTCANCELED, "aio_cancel: %d", r);
	for (int i = 0; i < N; i++) {
		int e = aio_error(&cb[i]);

		if (e == ECANCELED) {
			ncanceled++;
			CHECK_EQ(aio_return(&cb[i]), -1);
		} else {
			CHECK(e == EINPROGRESS, "request %d: aio_error %d", i, e);
			nleft++;
		}
	}
	diag("aio_cancel(fd, NULL) = %s: %d cancelled, %d not",
	     r == AIO_CANCELED ? "AIO_CANCELED" : "AIO_NOTCANCELED", ncanceled, nleft);
	if (r == AIO_CANCELED)
		CHECK_EQ(nleft, 0);
	else
		CHECK(nleft > 0, "AIO_NOTCANCELED but every request cancelled");
	/* POSIX: "Normal asynchronous notification shall occur for
	 * asynchronous I/O operations that are successfully canceled." */
	{
		double end = now() + tscale(5);
		int n;

		do {
			n = 0;
			for (int i = 0; i < N; i++)
				n += notified[i];
			if (n >= ncanceled)
				break;
			msleep(5);
		} while (now() < end);
	}
	for (int i = 0; i < N; i++)
		if (aio_error(&cb[i]) == ECANCELED)
			CHECK(notified[i] == 1, "cancelled request %d: %d signals", i,
			      (int)notified[i]);
	/* The rest complete when data comes, each with its own bytes. */
	for (int i = 0; i < nleft; i++)
		REQUIRE_EQ(write(p[1], "abcd", 4), 4);
	for (int i = 0; i < N; i++) {
		if (aio_error(&cb[i]) == ECANCELED)
			continue;
		REQUIRE(!wait_done(&cb[i], 10));
		CHECK_EQ(aio_error(&cb[i]), 0);
		CHECK_EQ(aio_return(&cb[i]), 4);
	}
	/* Nothing in progress on the fd any more. */
	CHECK_EQ(aio_cancel(p[0], NULL), AIO_ALLDONE);
}

TEST(cancel_all_of_fd_pipe)
{
	cancel_all(0);
}

TEST(cancel_all_of_fd_fifo)
{
	cancel_all(1);
}

/* One aiocb: a request queued behind a pending one on the same fd. */
TEST(cancel_one_request)
{
	int p[2];
	char b1[4], b2[4];
	struct aiocb c1, c2;
	int r;

	REQUIRE(!pipe(p));
	aiocb_init(&c1, p[0], b1, sizeof(b1), 0);
	aiocb_init(&c2, p[0], b2, sizeof(b2), 0);
	REQUIRE_EQ(aio_read(&c1), 0);
	REQUIRE_EQ(aio_read(&c2), 0);
	msleep(100);
	r = aio_cancel(p[0], &c2);
	if (r == AIO_CANCELED) {
		CHECK_EQ(aio_error(&c2), ECANCELED);
		CHECK_EQ(aio_return(&c2), -1);
	} else {
		CHECK(r == AIO_NOTCANCELED, "aio_cancel: %d", r);
		CHECK_EQ(aio_error(&c2), EINPROGRESS);
	}
	/* c1 was not asked for: still in progress. */
	CHECK_EQ(aio_error(&c1), EINPROGRESS);
	REQUIRE_EQ(write(p[1], "abcdabcd", r == AIO_CANCELED ? 4 : 8), r == AIO_CANCELED ? 4 : 8);
	REQUIRE(!wait_done(&c1, 10));
	CHECK_EQ(aio_return(&c1), 4);
	if (r != AIO_CANCELED) {
		REQUIRE(!wait_done(&c2, 10));
		CHECK_EQ(aio_return(&c2), 4);
	}
}
