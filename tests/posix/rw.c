// SPDX-License-Identifier: GPL-2.0
/* aio_read / aio_write: data, status, return values, many in flight. */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

/* POSIX aio_read: reads aio_nbytes at aio_offset; aio_error is EINPROGRESS
 * or done, then 0; aio_return the byte count. */
TEST(read_data_at_offset)
{
	int fd = pattern_file(1 << 20, O_RDONLY);
	static char buf[8192];
	struct aiocb cb;
	int e;

	aiocb_init(&cb, fd, buf, sizeof(buf), 12345);
	REQUIRE_EQ(aio_read(&cb), 0);
	e = aio_error(&cb);
	CHECK(e == EINPROGRESS || e == 0, "aio_error right after aio_read: %d", e);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), sizeof(buf));
	CHECK_EQ(check_pattern(buf, 12345, sizeof(buf)), -1);
	close(fd);
}

/* aio_error stays EINPROGRESS while the request cannot complete (a pipe
 * nobody writes to yet), then 0 once data came. */
TEST(read_einprogress_then_done)
{
	int p[2];
	char buf[16] = { 0 };
	struct aiocb cb;

	REQUIRE(!pipe(p));
	aiocb_init(&cb, p[0], buf, sizeof(buf), 0);
	REQUIRE_EQ(aio_read(&cb), 0);
	msleep(100);
	CHECK_EQ(aio_error(&cb), EINPROGRESS);
	REQUIRE_EQ(write(p[1], "hello", 5), 5);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), 5);
	CHECK(!memcmp(buf, "hello", 5), "data %.5s", buf);
}

/* A pipe is not seekable: glibc reads it with read() (pread's ESPIPE), so
 * aio_offset is ignored. */
TEST(read_pipe_ignores_offset)
{
	int p[2];
	char buf[8] = { 0 };
	struct aiocb cb;

	REQUIRE(!pipe(p));
	REQUIRE_EQ(write(p[1], "abcdefgh", 8), 8);
	aiocb_init(&cb, p[0], buf, sizeof(buf), 4096);
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), 8);
	CHECK(!memcmp(buf, "abcdefgh", 8), "data %.8s", buf);
}

TEST(write_data_at_offset)
{
	int fd = empty_file(O_RDWR);
	static char buf[10000], back[10000];
	struct aiocb cb;
	struct stat st;

	fill_pattern(buf, 5000, sizeof(buf));
	aiocb_init(&cb, fd, buf, sizeof(buf), 5000);
	REQUIRE_EQ(aio_write(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), sizeof(buf));
	REQUIRE(!fstat(fd, &st));
	/* The write extends the file; the hole before it reads as zeros. */
	CHECK_EQ(st.st_size, 15000);
	REQUIRE_EQ(pread_all(fd, back, sizeof(back), 5000), sizeof(back));
	CHECK_EQ(check_pattern(back, 5000, sizeof(back)), -1);
	REQUIRE_EQ(pread_all(fd, back, 5000, 0), 5000);
	for (int i = 0; i < 5000; i++)
		if (back[i]) {
			CHECK(0, "hole byte %d is %d", i, back[i]);
			break;
		}
}

/* O_APPEND: POSIX aio_write: "If O_APPEND is set for the file descriptor,
 * write operations append to the file in the same order as the calls were
 * made" (aio_offset ignored). */
TEST(write_o_append)
{
	int fd = pattern_file(1000, O_RDWR | O_APPEND);
	static char a[300], b[200], back[1500];
	struct aiocb ca, cbb;

	fill_pattern(a, 1000, sizeof(a));
	fill_pattern(b, 1300, sizeof(b));
	aiocb_init(&ca, fd, a, sizeof(a), 0);
	aiocb_init(&cbb, fd, b, sizeof(b), 0);
	REQUIRE_EQ(aio_write(&ca), 0);
	REQUIRE_EQ(aio_write(&cbb), 0);
	REQUIRE(!wait_done(&ca, 10));
	REQUIRE(!wait_done(&cbb, 10));
	CHECK_EQ(aio_return(&ca), sizeof(a));
	CHECK_EQ(aio_return(&cbb), sizeof(b));
	CHECK_EQ(lseek(fd, 0, SEEK_END), 1500);
	REQUIRE_EQ(pread_all(fd, back, sizeof(back), 0), 1500);
	CHECK_EQ(check_pattern(back, 0, 1500), -1);
}

/* A read across the end of the file returns what is there. */
TEST(read_short_at_eof)
{
	int fd = pattern_file(10000, O_RDONLY);
	static char buf[4096];
	struct aiocb cb;

	aiocb_init(&cb, fd, buf, sizeof(buf), 8000);
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), 2000);
	CHECK_EQ(check_pattern(buf, 8000, 2000), -1);
}

/* At or after EOF: 0 bytes, no error. */
TEST(read_at_and_after_eof)
{
	int fd = pattern_file(4096, O_RDONLY);
	static char buf[512];
	struct aiocb cb;
	off_t offs[] = { 4096, 1 << 20 };

	for (int i = 0; i < 2; i++) {
		aiocb_init(&cb, fd, buf, sizeof(buf), offs[i]);
		REQUIRE_EQ(aio_read(&cb), 0);
		REQUIRE(!wait_done(&cb, 10));
		CHECK_EQ(aio_error(&cb), 0);
		CHECK_EQ(aio_return(&cb), 0);
	}
}

/* aio_nbytes 0: a successful request of 0 bytes. */
TEST(read_write_zero_bytes)
{
	int fd = pattern_file(4096, O_RDWR);
	char buf[1];
	struct aiocb cb;

	aiocb_init(&cb, fd, buf, 0, 0);
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), 0);
	aiocb_init(&cb, fd, buf, 0, 100);
	REQUIRE_EQ(aio_write(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), 0);
	CHECK_EQ(lseek(fd, 0, SEEK_END), 4096);
}

/* aio_return may be called once: glibc answers the stored value again
 * (POSIX: later calls are undefined), so only the first one is checked;
 * the aiocb can then carry a new request. */
TEST(reuse_aiocb_after_return)
{
	int fd = pattern_file(1 << 16, O_RDWR);
	static char buf[4096];
	struct aiocb cb;

	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	for (int i = 0; i < 8; i++) {
		cb.aio_offset = i * 4096 + 17;
		cb.aio_buf = buf;
		REQUIRE_EQ(aio_read(&cb), 0);
		REQUIRE(!wait_done(&cb, 10));
		CHECK_EQ(aio_error(&cb), 0);
		CHECK_EQ(aio_return(&cb), sizeof(buf));
		CHECK_EQ(check_pattern(buf, i * 4096 + 17, sizeof(buf)), -1);
	}
	/* The same aiocb now for a write. */
	fill_pattern(buf, 3, sizeof(buf));
	for (int i = 0; i < (int)sizeof(buf); i++)
		buf[i] ^= 0x5a;
	cb.aio_offset = 3;
	REQUIRE_EQ(aio_write(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_return(&cb), sizeof(buf));
	{
		static char back[4096];

		REQUIRE_EQ(pread_all(fd, back, sizeof(back), 3), sizeof(back));
		CHECK(!memcmp(back, buf, sizeof(back)), "written data differs");
	}
}

#define NR 64
#define BS 4096
/* 64 reads in flight on one fd, each checked. */
TEST(many_reads_one_fd)
{
	int fd = pattern_file(NR * BS * 2, O_RDONLY);
	static char buf[NR][BS];
	static struct aiocb cb[NR];

	for (int i = 0; i < NR; i++) {
		/* Not in order: every other block, from the end. */
		aiocb_init(&cb[i], fd, buf[i], BS, (off_t)(NR - 1 - i) * 2 * BS + i);
		REQUIRE_EQ(aio_read(&cb[i]), 0);
	}
	for (int i = 0; i < NR; i++) {
		REQUIRE(!wait_done(&cb[i], 30));
		CHECK_EQ(aio_error(&cb[i]), 0);
		CHECK_EQ(aio_return(&cb[i]), BS);
		CHECK_EQ(check_pattern(buf[i], cb[i].aio_offset, BS), -1);
	}
}

/* 64 writes in flight on one fd (distinct ranges), then the file. */
TEST(many_writes_one_fd)
{
	int fd = empty_file(O_RDWR);
	static char buf[NR][BS], back[NR * BS];
	static struct aiocb cb[NR];

	for (int i = 0; i < NR; i++) {
		off_t off = (off_t)((i * 37) % NR) * BS;

		fill_pattern(buf[i], off, BS);
		aiocb_init(&cb[i], fd, buf[i], BS, off);
		REQUIRE_EQ(aio_write(&cb[i]), 0);
	}
	for (int i = 0; i < NR; i++) {
		REQUIRE(!wait_done(&cb[i], 30));
		CHECK_EQ(aio_error(&cb[i]), 0);
		CHECK_EQ(aio_return(&cb[i]), BS);
	}
	REQUIRE_EQ(pread_all(fd, back, sizeof(back), 0), sizeof(back));
	CHECK_EQ(check_pattern(back, 0, sizeof(back)), -1);
}

/* Reads and writes over 8 files at once. */
TEST(many_requests_across_fds)
{
	enum { F = 8, PER = 8 };
	int rfd[F], wfd[F];
	static char buf[F][PER][BS], back[PER * BS];
	static struct aiocb cb[F][PER];

	for (int f = 0; f < F; f++) {
		rfd[f] = pattern_file(PER * BS, O_RDONLY);
		wfd[f] = empty_file(O_RDWR);
	}
	for (int i = 0; i < PER; i++)
		for (int f = 0; f < F; f++) {
			if (f & 1) {
				fill_pattern(buf[f][i], i * BS, BS);
				aiocb_init(&cb[f][i], wfd[f], buf[f][i], BS, i * BS);
				REQUIRE_EQ(aio_write(&cb[f][i]), 0);
			} else {
				aiocb_init(&cb[f][i], rfd[f], buf[f][i], BS, i * BS);
				REQUIRE_EQ(aio_read(&cb[f][i]), 0);
			}
		}
	for (int f = 0; f < F; f++)
		for (int i = 0; i < PER; i++) {
			REQUIRE(!wait_done(&cb[f][i], 30));
			CHECK_EQ(aio_error(&cb[f][i]), 0);
			CHECK_EQ(aio_return(&cb[f][i]), BS);
			if (!(f & 1))
				CHECK_EQ(check_pattern(buf[f][i], i * BS, BS), -1);
		}
	for (int f = 1; f < F; f += 2) {
		REQUIRE_EQ(pread_all(wfd[f], back, sizeof(back), 0), sizeof(back));
		CHECK_EQ(check_pattern(back, 0, sizeof(back)), -1);
	}
}

/* O_DIRECT where the file system has it (the guest's ext4; not tmpfs). */
TEST(read_write_o_direct)
{
	char path[4096];
	int fd = named_file(path, sizeof(path), 1 << 16, O_RDWR);
	void *buf;
	struct aiocb cb;

	close(fd);
	fd = open(path, O_RDWR | O_DIRECT);
	unlink(path);
	if (fd < 0)
		ptest_skip("no O_DIRECT in POSIX_AIO_DIR: %s", strerror(errno));
	REQUIRE(!posix_memalign(&buf, 4096, 8192));
	aiocb_init(&cb, fd, buf, 8192, 16384);
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), 8192);
	CHECK_EQ(check_pattern(buf, 16384, 8192), -1);
	fill_pattern(buf, 65536, 8192);
	aiocb_init(&cb, fd, buf, 8192, 65536);
	REQUIRE_EQ(aio_write(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_error(&cb), 0);
	CHECK_EQ(aio_return(&cb), 8192);
	memset(buf, 0, 8192);
	REQUIRE_EQ(pread(fd, buf, 8192, 65536), 8192);
	CHECK_EQ(check_pattern(buf, 65536, 8192), -1);
}

/* <aio.h> constants POSIX names, distinct as the interfaces need them. */
TEST(header_constants)
{
	CHECK(AIO_CANCELED != AIO_NOTCANCELED && AIO_CANCELED != AIO_ALLDONE &&
	      AIO_NOTCANCELED != AIO_ALLDONE, "AIO_* values not distinct");
	CHECK(LIO_READ != LIO_WRITE && LIO_READ != LIO_NOP && LIO_WRITE != LIO_NOP,
	      "LIO_* values not distinct");
	CHECK(LIO_WAIT != LIO_NOWAIT, "LIO_WAIT == LIO_NOWAIT");
	CHECK(sysconf(_SC_ASYNCHRONOUS_IO) > 0, "_SC_ASYNCHRONOUS_IO");
	CHECK(sysconf(_SC_AIO_LISTIO_MAX) != 0, "AIO_LISTIO_MAX");
	CHECK(AIO_PRIO_DELTA_MAX >= 0, "AIO_PRIO_DELTA_MAX");
}

/*
 * Completions nobody collected yet (SIGEV_NONE, no aio_error) must not make
 * aio_write fail for good: glibc has no limit on queued requests.
 * libkaio-posix holds a record and a ring slot per uncollected completion
 * (4096 of them) and once answered EAGAIN forever after that many writes
 * had completed, with nothing left to reap them. EAGAIN while requests are
 * really in flight is allowed: the test waits a little and tries again.
 */
TEST(many_uncollected_writes_no_lasting_eagain)
{
	enum { N = 6000, LEN = 512 };
	int fd = empty_file(O_RDWR), i, eagain = 0;
	static struct aiocb cb[N];
	static char buf[LEN];
	double end = now() + tscale(20);

	fill_pattern(buf, 0, LEN);
	for (i = 0; i < N; i++) {
		aiocb_init(&cb[i], fd, buf, LEN, (off_t)i * LEN);
		while (aio_write(&cb[i])) {
			REQUIRE(errno == EAGAIN, "aio_write %d: %s", i, strerror(errno));
			eagain++;
			REQUIRE(now() < end, "aio_write %d: still EAGAIN after %.0f s (%d times)",
				i, tscale(20), eagain);
			msleep(10);
		}
	}
	diag("%d EAGAIN answers on the way", eagain);
	for (i = 0; i < N; i++) {
		REQUIRE(!wait_done(&cb[i], 30));
		CHECK_EQ(aio_return(&cb[i]), LEN);
	}
	close(fd);
}
