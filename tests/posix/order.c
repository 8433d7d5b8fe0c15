// SPDX-License-Identifier: GPL-2.0
/*
 * Requests on a stream (pipe, socket, character device) run one at a time,
 * in submission order, as glibc runs them: writes never interleave or
 * reorder, and the request in progress cannot be cancelled while those
 * queued behind it can. lio_listio(LIO_NOWAIT) does not wait for a big
 * list: it returns with its requests still in progress.
 */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <unistd.h>

#define NW 8
#define WSZ (24 * 1024)

/*
 * Eight 24 KiB writes to a pipe (64 KiB) whose reader drains it slowly:
 * the bytes come out whole and in order, and no write completes before the
 * ones submitted before it.
 */
static void pipe_writes_in_order(int p[2]);

TEST(order_pipe_writes)
{
	int p[2];

	REQUIRE(!pipe(p));
	pipe_writes_in_order(p);
}

/*
 * The same on a pipe whose write end took the number of a regular file's
 * descriptor that had requests before: whatever the library learnt about
 * that number (or that file's device) does not outlive the file.
 */
TEST(order_pipe_writes_fd_reused)
{
	int fd = pattern_file(1 << 16, O_RDWR), p[2], i;
	static char buf[8][4096];
	struct aiocb cb[8];

	for (i = 0; i < 8; i++) {
		aiocb_init(&cb[i], fd, buf[i], sizeof(buf[i]), i * 4096);
		REQUIRE_EQ(aio_read(&cb[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		REQUIRE(!wait_done(&cb[i], 10));
		CHECK_EQ(aio_return(&cb[i]), 4096);
	}
	REQUIRE(!pipe(p));
	REQUIRE_EQ(dup2(p[1], fd), fd);
	close(p[1]);
	p[1] = fd;
	pipe_writes_in_order(p);
}

static void pipe_writes_in_order(int p[2])
{
	static unsigned char buf[NW][WSZ], in[4096];
	struct aiocb cb[NW];
	int i, e, done[NW] = { 0 };
	size_t got = 0, n;
	ssize_t r;

	for (i = 0; i < NW; i++) {
		memset(buf[i], 'a' + i, WSZ);
		aiocb_init(&cb[i], p[1], buf[i], WSZ, 0);
		REQUIRE_EQ(aio_write(&cb[i]), 0);
	}
	msleep(50);
	while (got < (size_t)NW * WSZ) {
		r = read(p[0], in, sizeof(in));
		REQUIRE(r > 0, "read: %zd", r);
		for (n = 0; n < (size_t)r; n++, got++)
			if (in[n] != 'a' + got / WSZ) {
				ptest_fail(__FILE__, __LINE__,
					   "byte %zu is '%c', expected '%c'",
					   got, in[n], (int)('a' + got / WSZ));
				exit(1);
			}
		/* From the last to the first: a done one's elders are done. */
		for (i = NW - 1; i >= 0; i--) {
			e = aio_error(&cb[i]);
			if (e == EINPROGRESS) {
				CHECK(!done[i], "#%d in progress again", i);
				continue;
			}
			CHECK_EQ(e, 0);
			done[i] = 1;
		}
		for (i = 1; i < NW; i++)
			CHECK(!done[i] || done[i - 1],
			      "#%d completed before #%d", i, i - 1);
		if (got % (16 * 1024) == 0)
			msleep(2);
	}
	for (i = 0; i < NW; i++) {
		REQUIRE(!wait_done(&cb[i], 10));
		CHECK_EQ(aio_return(&cb[i]), WSZ);
	}
}

/*
 * A write blocked on a full pipe has started: aio_cancel cannot cancel it
 * (glibc's worker is in write(2)); the writes queued behind it are
 * cancelled, ECANCELED and aio_return -1, and the started one then
 * completes whole once the pipe drains.
 */
TEST(order_cancel_started)
{
	static char fill[65536], b[3][4096], in[65536];
	struct aiocb cb[3];
	int p[2], i, fl;
	size_t left;
	ssize_t r;

	REQUIRE(!pipe(p));
	fl = fcntl(p[1], F_GETFL);
	REQUIRE(!fcntl(p[1], F_SETFL, fl | O_NONBLOCK));
	while (write(p[1], fill, sizeof(fill)) > 0)
		;
	REQUIRE(!fcntl(p[1], F_SETFL, fl));
	for (i = 0; i < 3; i++) {
		memset(b[i], 'x' + i, sizeof(b[i]));
		aiocb_init(&cb[i], p[1], b[i], sizeof(b[i]), 0);
		REQUIRE_EQ(aio_write(&cb[i]), 0);
	}
	msleep(100);	/* the first one is blocked in its write */
	CHECK_EQ(aio_error(&cb[0]), EINPROGRESS);
	CHECK_EQ(aio_cancel(p[1], &cb[0]), AIO_NOTCANCELED);
	CHECK_EQ(aio_cancel(p[1], &cb[1]), AIO_CANCELED);
	CHECK_EQ(aio_error(&cb[1]), ECANCELED);
	CHECK_EQ(aio_return(&cb[1]), -1);
	CHECK_EQ(aio_cancel(p[1], NULL), AIO_NOTCANCELED);
	CHECK_EQ(aio_error(&cb[2]), ECANCELED);
	CHECK_EQ(aio_return(&cb[2]), -1);
	CHECK_EQ(aio_error(&cb[0]), EINPROGRESS);
	/* Drain: the fill, then the first write alone, whole. */
	REQUIRE(!fcntl(p[0], F_SETFL, O_NONBLOCK));
	left = 0;
	for (i = 0; i < 2000 && aio_error(&cb[0]) == EINPROGRESS; i++) {
		r = read(p[0], in, sizeof(in));
		if (r > 0)
			left += (size_t)r;
		else
			msleep(5);
	}
	REQUIRE(!wait_done(&cb[0], 10));
	CHECK_EQ(aio_error(&cb[0]), 0);
	CHECK_EQ(aio_return(&cb[0]), sizeof(b[0]));
	while ((r = read(p[0], in, sizeof(in))) > 0)
		left += (size_t)r;
	CHECK(left >= sizeof(b[0]), "read %zu", left);
}

static volatile sig_atomic_t list_signals;

static void on_list(int sig)
{
	(void)sig;
	list_signals++;
}

/*
 * lio_listio(LIO_NOWAIT) of 32 MiB of cached reads: it returns 0 with the
 * requests in progress or done, all complete with the data, and the list's
 * signal comes exactly once. On kaio, the list is big enough that it
 * returns before completing all of it (kaio copies cached data inside its
 * submission; the library hands such lists to its reaper thread).
 */
#define LN 16
#define LSZ (2 * 1024 * 1024)

TEST(order_lio_nowait_large)
{
	static struct aiocb cb[LN];
	struct aiocb *list[LN];
	struct sigevent sev;
	struct sigaction sa;
	char *buf = malloc((size_t)LN * LSZ);
	int fd = pattern_file((size_t)LN * LSZ, O_RDONLY), i, inprog = 0;

	REQUIRE(buf);
	/* Cache it. */
	REQUIRE_EQ(pread_all(fd, buf, (size_t)LN * LSZ, 0), (ssize_t)LN * LSZ);
	memset(buf, 0, (size_t)LN * LSZ);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_list;
	sigaction(SIGRTMIN + 3, &sa, NULL);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 3;
	for (i = 0; i < LN; i++) {
		aiocb_init(&cb[i], fd, buf + (size_t)i * LSZ, LSZ,
			   (off_t)i * LSZ);
		cb[i].aio_lio_opcode = LIO_READ;
		list[i] = &cb[i];
	}
	REQUIRE_EQ(lio_listio(LIO_NOWAIT, list, LN, &sev), 0);
	for (i = LN - 1; i >= 0; i--) {
		int e = aio_error(&cb[i]);

		CHECK(e == EINPROGRESS || e == 0, "#%d: %d", i, e);
		inprog += e == EINPROGRESS;
	}
	diag("%d of %d in progress after lio_listio", inprog, LN);
	if (backend_is_kaio())
		CHECK(inprog > 0, "LIO_NOWAIT completed the whole list");
	for (i = 0; i < LN; i++) {
		REQUIRE(!wait_done(&cb[i], 30));
		CHECK_EQ(aio_return(&cb[i]), LSZ);
	}
	CHECK_EQ(check_pattern(buf, 0, (size_t)LN * LSZ), -1);
	for (i = 0; i < 200 && !list_signals; i++)
		msleep(10);
	msleep(50);
	CHECK_EQ(list_signals, 1);
	free(buf);
}
