// SPDX-License-Identifier: GPL-2.0
/* aio_fsync: O_SYNC and O_DSYNC, errors, ordering after queued writes. */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <unistd.h>

/*
 * aio_fsync(op) of @fd, whose @n writes of @bs bytes each (@cb, at
 * offsets i * bs, pattern data) were queued before it: the sync ends with
 * 0, and by then every write has (POSIX: the sync covers all I/O queued
 * on the fd at the time of the call; glibc completes it after them).
 */
static void fsync_covers_writes(int op, int fd, struct aiocb *cb, int n,
				size_t bs, char *back)
{
	struct aiocb fs;

	aiocb_init(&fs, fd, NULL, 0, 0);
	REQUIRE_EQ(aio_fsync(op, &fs), 0);
	REQUIRE(!wait_done(&fs, 20));
	CHECK_EQ(aio_error(&fs), 0);
	CHECK_EQ(aio_return(&fs), 0);
	for (int i = 0; i < n; i++) {
		int e = aio_error(&cb[i]);

		CHECK(e == 0, "write %d: aio_error %d when the fsync was done", i, e);
	}
	for (int i = 0; i < n; i++) {
		REQUIRE(!wait_done(&cb[i], 10));
		CHECK_EQ(aio_return(&cb[i]), bs);
	}
	REQUIRE_EQ(pread_all(fd, back, n * bs, 0), n * bs);
	CHECK_EQ(check_pattern(back, 0, n * bs), -1);
}

static void fsync_after_writes(int op)
{
	enum { N = 16 };
	int fd = empty_file(O_RDWR);
	static char buf[N][4096], back[N * 4096];
	struct aiocb cb[N];

	for (int i = 0; i < N; i++) {
		fill_pattern(buf[i], i * 4096, 4096);
		aiocb_init(&cb[i], fd, buf[i], 4096, i * 4096);
		REQUIRE_EQ(aio_write(&cb[i]), 0);
	}
	fsync_covers_writes(op, fd, cb, N, 4096, back);
}

TEST(fsync_o_sync_after_writes)
{
	fsync_after_writes(O_SYNC);
}

TEST(fsync_o_dsync_after_writes)
{
	fsync_after_writes(O_DSYNC);
}

TEST(fsync_bad_op)
{
	int fd = empty_file(O_RDWR);
	struct aiocb cb;

	aiocb_init(&cb, fd, NULL, 0, 0);
	errno = 0;
	CHECK_EQ(aio_fsync(O_RDWR, &cb), -1);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK_EQ(aio_fsync(12345, &cb), -1);
	CHECK_EQ(errno, EINVAL);
}

TEST(fsync_bad_fd)
{
	int fd = empty_file(O_RDWR);
	struct aiocb cb;

	close(fd);
	aiocb_init(&cb, fd, NULL, 0, 0);
	errno = 0;
	CHECK_EQ(aio_fsync(O_SYNC, &cb), -1);
	CHECK_EQ(errno, EBADF);
	aiocb_init(&cb, -1, NULL, 0, 0);
	errno = 0;
	CHECK_EQ(aio_fsync(O_DSYNC, &cb), -1);
	CHECK_EQ(errno, EBADF);
}

/* Notification works for aio_fsync as for reads and writes. */
static volatile sig_atomic_t fsync_sig;
static volatile int fsync_code;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fsync_code = si->si_code;
	fsync_sig++;
}

TEST(fsync_signal)
{
	int fd = pattern_file(8192, O_RDWR);
	struct aiocb cb;
	struct sigaction sa;
	double end;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO;
	REQUIRE(!sigaction(SIGRTMIN + 7, &sa, NULL));
	aiocb_init(&cb, fd, NULL, 0, 0);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = SIGRTMIN + 7;
	REQUIRE_EQ(aio_fsync(O_SYNC, &cb), 0);
	end = now() + tscale(10);
	while (!fsync_sig && now() < end)
		msleep(1);
	CHECK_EQ(fsync_sig, 1);
	CHECK_EQ(fsync_code, SI_ASYNCIO);
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), 0);
}

/*
 * aio_fsync uses aio_fildes and aio_sigevent only: a buffer, size, offset
 * or priority left in the aiocb (one reused from a read or write, or junk)
 * changes nothing; glibc even resets aio_reqprio to 0. kaio itself, as
 * io_submit, refuses a sync with a buffer, size or offset.
 */
TEST(fsync_ignores_other_fields)
{
	int fd = empty_file(O_RDWR);
	char buf[64];
	struct aiocb cb;
	int i;

	memset(buf, 0x3c, sizeof(buf));
	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	REQUIRE_EQ(aio_write(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	REQUIRE_EQ(aio_return(&cb), sizeof(buf));
	for (i = 0; i < 4; i++) {
		memset(&cb, 0, sizeof(cb));
		cb.aio_fildes = fd;
		cb.aio_sigevent.sigev_notify = SIGEV_NONE;
		switch (i) {
		case 0:
			cb.aio_nbytes = (size_t)-1;
			break;
		case 1:
			cb.aio_buf = buf;
			cb.aio_nbytes = sizeof(buf);
			break;
		case 2:
			cb.aio_reqprio = -1;
			break;
		case 3:
			cb.aio_offset = -1;
			break;
		}
		REQUIRE_EQ(aio_fsync(i & 1 ? O_DSYNC : O_SYNC, &cb), 0);
		REQUIRE(!wait_done(&cb, 10));
		CHECK_EQ(aio_error(&cb), 0);
		CHECK_EQ(aio_return(&cb), 0);
		if (i == 2)
			CHECK_EQ(cb.aio_reqprio, 0);
	}
}

/*
 * POSIX: aio_fsync covers every request queued on the fd before it, also
 * ones the implementation holds back: here a lio_listio(LIO_NOWAIT) list of
 * more than 1 MiB, which libkaio-posix hands to its reaper thread to submit
 * (the fsync once skipped those and could end before they started).
 */
TEST(fsync_after_held_back_list)
{
	enum { N = 32, BS = 64 * 1024 };
	int fd = empty_file(O_RDWR);
	static char buf[N][BS], back[N * BS];
	struct aiocb cb[N], *l[N];

	for (int i = 0; i < N; i++) {
		fill_pattern(buf[i], (off_t)i * BS, BS);
		aiocb_init(&cb[i], fd, buf[i], BS, (off_t)i * BS);
		cb[i].aio_lio_opcode = LIO_WRITE;
		l[i] = &cb[i];
	}
	REQUIRE_EQ(lio_listio(LIO_NOWAIT, l, N, NULL), 0);
	fsync_covers_writes(O_SYNC, fd, cb, N, BS, back);
}
