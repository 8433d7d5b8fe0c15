// SPDX-License-Identifier: GPL-2.0
/*
 * Which implementation served the suite. With POSIX_AIO_BACKEND=kaio the
 * requests must have gone to kaio (a silent fallback to glibc must not pass
 * as success): the process holds a kaio context open once it has
 * submitted: /dev/kaio itself, or the context fd SETUP returned (an anon
 * inode, "anon_inode:[kaio]"); the guest's wrapper also checks kaio's own
 * counters. With glibc, it holds neither. The thread count is reported, not judged (whether a
 * pipe is served by kaio is the library's choice).
 */
#define _GNU_SOURCE
#include "ptap.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

static int kaio_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	REQUIRE(d);
	while ((e = readdir(d))) {
		char p[300], target[PATH_MAX];
		ssize_t r;

		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		r = readlink(p, target, sizeof(target) - 1);
		if (r <= 0)
			continue;
		target[r] = 0;
		n += !strcmp(target, "/dev/kaio") ||
		     !strcmp(target, "anon_inode:[kaio]");
	}
	closedir(d);
	return n;
}

static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;

	REQUIRE(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2;
}

TEST(backend_is_the_expected_one)
{
	enum { N = 32 };
	int p[N][2];
	char buf[N][4];
	struct aiocb cb[N];
	int th;

	/* Reads that stay in flight: glibc needs a thread for each fd. */
	for (int i = 0; i < N; i++) {
		REQUIRE(!pipe(p[i]));
		aiocb_init(&cb[i], p[i][0], buf[i], sizeof(buf[i]), 0);
		REQUIRE_EQ(aio_read(&cb[i]), 0);
	}
	msleep(200);
	th = threads();
	diag("backend %s: %d kaio fds, %d threads with %d reads in flight",
	     backend_is_kaio() ? "kaio" : "glibc", kaio_fds(), th, N);
	if (backend_is_kaio()) {
		CHECK(kaio_fds() >= 1, "no kaio fd open: the requests did not go to kaio");
	} else {
		CHECK_EQ(kaio_fds(), 0);
	}
	for (int i = 0; i < N; i++)
		REQUIRE_EQ(write(p[i][1], "x", 1), 1);
	for (int i = 0; i < N; i++) {
		REQUIRE(!wait_done(&cb[i], 10));
		CHECK_EQ(aio_return(&cb[i]), 1);
	}
}
