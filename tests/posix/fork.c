// SPDX-License-Identifier: GPL-2.0
/* fork and exit with requests in flight. */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child inherits none of the parent's outstanding requests (POSIX
 * fork: "no asynchronous I/O operations are inherited"); its own requests
 * work; the parent's complete normally. */
TEST(fork_child_inherits_nothing)
{
	int p[2], fd = pattern_file(1 << 16, O_RDONLY);
	char pb[4];
	static char buf[4096];
	struct aiocb slow;
	pid_t pid;
	int status;

	REQUIRE(!pipe(p));
	aiocb_init(&slow, p[0], pb, sizeof(pb), 0);
	REQUIRE_EQ(aio_read(&slow), 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		struct aiocb c;

		/* Nothing of the parent's to cancel on that fd here. */
		if (aio_cancel(p[0], NULL) != AIO_ALLDONE)
			bad |= 1;
		aiocb_init(&c, fd, buf, sizeof(buf), 8192);
		if (aio_read(&c))
			bad |= 2;
		else {
			const struct aiocb *l[1] = { &c };

			while (aio_error(&c) == EINPROGRESS)
				aio_suspend(l, 1, NULL);
			if (aio_return(&c) != 4096 || check_pattern(buf, 8192, 4096) != -1)
				bad |= 4;
		}
		_exit(bad);
	}
	REQUIRE_EQ(waitpid(pid, &status, 0), pid);
	REQUIRE(WIFEXITED(status), "child status %#x", status);
	CHECK(!(WEXITSTATUS(status) & 6), "child's own read failed (%#x)", WEXITSTATUS(status));
	CHECK_EQ(aio_error(&slow), EINPROGRESS);
	REQUIRE_EQ(write(p[1], "abcd", 4), 4);
	REQUIRE(!wait_done(&slow, 10));
	CHECK_EQ(aio_return(&slow), 4);
	if ((WEXITSTATUS(status) & 1) && !backend_is_kaio() && !ptest_failed)
		ptest_xfail("glibc 2.36: a forked child's aio_cancel(fd, NULL) still "
			    "finds the parent's request (AIO_NOTCANCELED, not AIO_ALLDONE)");
	CHECK(!(WEXITSTATUS(status) & 1),
	      "the child sees the parent's outstanding request on aio_cancel");
}

/* A process exits right after aio_write (glibc: exit does not wait; the
 * kernel may still be writing from the process's memory — POSIX: exit
 * either waits for or cancels them). What must hold: a write that was
 * complete before exit is in the file, and the file is never garbage
 * (each block is old or new content). */
TEST(exit_with_writes_in_flight)
{
	enum { N = 16 };
	char path[4096];
	int fd = named_file(path, sizeof(path), N * 4096, O_RDWR);
	static char back[N * 4096];
	pid_t pid;
	int status;

	close(fd);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		static char buf[N][4096];
		static struct aiocb cb[N];
		int wfd = open(path, O_RDWR);

		/* The first write completes before the others are queued. */
		for (int i = 0; i < N; i++) {
			memset(buf[i], 'A' + i, 4096);
			aiocb_init(&cb[i], wfd, buf[i], 4096, i * 4096);
			if (aio_write(&cb[i]))
				_exit(1);
			if (i == 0) {
				const struct aiocb *l[1] = { &cb[0] };

				while (aio_error(&cb[0]) == EINPROGRESS)
					aio_suspend(l, 1, NULL);
				if (aio_return(&cb[0]) != 4096)
					_exit(2);
			}
		}
		exit(0);
	}
	REQUIRE_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	/* Let writes still running in the kernel finish. */
	msleep(200);
	fd = open(path, O_RDONLY);
	unlink(path);
	REQUIRE(fd >= 0);
	REQUIRE_EQ(pread_all(fd, back, sizeof(back), 0), sizeof(back));
	for (int i = 0; i < 4096; i++)
		if (back[i] != 'A') {
			CHECK(0, "completed write lost: byte %d is %#x", i, back[i] & 0xff);
			break;
		}
	for (int b = 1; b < N; b++) {
		char *blk = back + b * 4096;
		int isnew = blk[0] == 'A' + b;

		if (!isnew && check_pattern(blk, b * 4096, 1) != -1) {
			CHECK(0, "block %d is neither old nor new", b);
			continue;
		}
		for (int i = 0; i < 4096; i++)
			if (isnew ? blk[i] != 'A' + b
				  : (unsigned char)blk[i] != pattern(b * 4096 + i)) {
				CHECK(0, "block %d torn at %d", b, i);
				break;
			}
	}
}
