// SPDX-License-Identifier: GPL-2.0
/*
 * Errors of aio_read/aio_write as glibc 2.36 reports them. POSIX lets an
 * implementation fail the call or report the error through aio_error; glibc
 * reports what the read/write itself finds (EBADF, EINVAL for a negative
 * offset) through aio_error/aio_return after a successful submission, and
 * fails the call synchronously only for a bad aio_reqprio (-1/EINVAL, with
 * aio_error EINVAL too) or a bad sigevent. The suite requires glibc's
 * choice, since programs are written against it.
 */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <unistd.h>

/* Submit; the request's error, as the program sees it. */
static void expect_async_error(int write, struct aiocb *cb, int err)
{
	int r = write ? aio_write(cb) : aio_read(cb);

	REQUIRE_EQ(r, 0);
	REQUIRE(!wait_done(cb, 10));
	CHECK_EQ(aio_error(cb), err);
	CHECK_EQ(aio_return(cb), -1);
}

TEST(bad_fd_read_write)
{
	char buf[16];
	struct aiocb cb;
	int fd = empty_file(O_RDWR);

	close(fd); /* a closed descriptor */
	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	expect_async_error(0, &cb, EBADF);
	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	expect_async_error(1, &cb, EBADF);
	aiocb_init(&cb, -1, buf, sizeof(buf), 0);
	expect_async_error(0, &cb, EBADF);
	aiocb_init(&cb, 100000, buf, sizeof(buf), 0);
	expect_async_error(1, &cb, EBADF);
}

/* POSIX aio_read: EBADF if aio_fildes is not open for reading. */
TEST(read_on_write_only_fd)
{
	char buf[16];
	struct aiocb cb;
	int fd = pattern_file(4096, O_WRONLY);

	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	expect_async_error(0, &cb, EBADF);
}

TEST(write_on_read_only_fd)
{
	char buf[16] = "x";
	struct aiocb cb;
	int fd = pattern_file(4096, O_RDONLY);

	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	expect_async_error(1, &cb, EBADF);
}

/* POSIX: EINVAL if the offset implied by aio_offset would be invalid. */
TEST(negative_offset)
{
	char buf[16] = "x";
	struct aiocb cb;
	int fd = pattern_file(4096, O_RDWR);

	aiocb_init(&cb, fd, buf, sizeof(buf), -1);
	expect_async_error(0, &cb, EINVAL);
	aiocb_init(&cb, fd, buf, sizeof(buf), -4096);
	expect_async_error(1, &cb, EINVAL);
}

/* glibc: aio_reqprio < 0 or > AIO_PRIO_DELTA_MAX fails the call with
 * EINVAL, and aio_error/aio_return then say EINVAL/-1 as well. */
TEST(bad_reqprio)
{
	char buf[16];
	struct aiocb cb;
	int fd = pattern_file(4096, O_RDWR);
	int prios[] = { -1, AIO_PRIO_DELTA_MAX + 1, INT_MAX, INT_MIN };

	for (unsigned int i = 0; i < sizeof(prios) / sizeof(prios[0]); i++) {
		for (int w = 0; w < 2; w++) {
			aiocb_init(&cb, fd, buf, sizeof(buf), 0);
			cb.aio_reqprio = prios[i];
			errno = 0;
			CHECK_EQ(w ? aio_write(&cb) : aio_read(&cb), -1);
			CHECK_EQ(errno, EINVAL);
			CHECK_EQ(aio_error(&cb), EINVAL);
			CHECK_EQ(aio_return(&cb), -1);
		}
	}
	/* The limits themselves are valid. */
	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_reqprio = AIO_PRIO_DELTA_MAX;
	REQUIRE_EQ(aio_read(&cb), 0);
	REQUIRE(!wait_done(&cb, 10));
	CHECK_EQ(aio_return(&cb), sizeof(buf));
	CHECK_EQ(sysconf(_SC_AIO_PRIO_DELTA_MAX), AIO_PRIO_DELTA_MAX);
}

/*
 * aio_nbytes larger than SSIZE_MAX: POSIX allows EINVAL ("aio_nbytes is an
 * invalid value"). glibc hands it to pread/pwrite, where Linux checks the
 * buffer range first: EFAULT. Either is accepted as the request's error;
 * what is required is that it fails cleanly and nothing is written.
 */
TEST(huge_nbytes)
{
	char buf[16];
	struct aiocb cb;
	int fd = pattern_file(4096, O_RDWR);

	for (int w = 0; w < 2; w++) {
		int r, e;

		aiocb_init(&cb, fd, buf, SIZE_MAX, 0);
		r = w ? aio_write(&cb) : aio_read(&cb);
		if (r == -1) {
			CHECK(errno == EINVAL, "synchronous error %d", errno);
			continue;
		}
		REQUIRE(!wait_done(&cb, 10));
		e = aio_error(&cb);
		CHECK(e == EINVAL || e == EFAULT, "aio_error %d (%s)", e, strerror(e));
		diag("aio_%s with aio_nbytes SIZE_MAX: aio_error %s", w ? "write" : "read", strerror(e));
		CHECK_EQ(aio_return(&cb), -1);
	}
	CHECK_EQ(lseek(fd, 0, SEEK_END), 4096);
}

/* An unknown sigev_notify: glibc accepts it and notifies nothing (POSIX
 * leaves it undefined); failing the call with EINVAL is accepted too. The
 * read itself must still be done right when accepted. */
TEST(bad_sigev_notify)
{
	char buf[16];
	struct aiocb cb;
	int fd = pattern_file(4096, O_RDWR);

	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_sigevent.sigev_notify = 12345;
	errno = 0;
	if (aio_read(&cb) == 0) {
		REQUIRE(!wait_done(&cb, 10));
		CHECK_EQ(aio_error(&cb), 0);
		CHECK_EQ(aio_return(&cb), sizeof(buf));
		CHECK_EQ(check_pattern(buf, 0, sizeof(buf)), -1);
	} else {
		CHECK_EQ(errno, EINVAL);
	}
}

/* SIGEV_SIGNAL with a signal number out of range: glibc does the read,
 * then its sigqueue fails and the request's status becomes -1/EINVAL. A
 * synchronous -1/EINVAL is accepted too; success is not. */
TEST(bad_sigev_signo)
{
	char buf[16];
	struct aiocb cb;
	int fd = pattern_file(4096, O_RDWR);

	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = 1000;
	errno = 0;
	if (aio_read(&cb) == 0) {
		REQUIRE(!wait_done(&cb, 10));
		CHECK_EQ(aio_error(&cb), EINVAL);
		CHECK_EQ(aio_return(&cb), -1);
	} else {
		CHECK_EQ(errno, EINVAL);
	}
}

/* aio_error/aio_return on an aiocb never submitted: glibc answers from the
 * fields a zero-filled aiocb has (0 and 0); POSIX leaves it undefined, so
 * only "no crash" is checked here. */
TEST(status_of_unsubmitted_aiocb)
{
	struct aiocb cb;

	memset(&cb, 0, sizeof(cb));
	(void)aio_error(&cb);
	(void)aio_return(&cb);
}
