/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small TAP harness for the POSIX <aio.h> conformance suite. Every test
 * runs in a child process of its own (signal dispositions, masks, threads
 * and glibc's aio state do not leak into the next test) under a time limit.
 * Output: "1..N", then "ok N name", "not ok N name", "ok N name # SKIP why"
 * or "ok N name # XFAIL why" (a known difference of the backend from POSIX,
 * reported, never hidden), as scripts/guest/check.sh counts them.
 */
#ifndef PTAP_H
#define PTAP_H

#include <aio.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct ptest {
	const char *name;
	void (*fn)(void);
	struct ptest *next;
};

void ptest_register(struct ptest *t);

#define TEST(n)								\
	static void n(void);						\
	static struct ptest ptest_##n = { #n, n, NULL };		\
	__attribute__((constructor)) static void ptest_reg_##n(void)	\
	{ ptest_register(&ptest_##n); }					\
	static void n(void)

extern int ptest_failed;
void ptest_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ptest_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A known difference of this backend from POSIX: ends the test, reported
 * as "ok N name # XFAIL why" (visible in every summary). */
void ptest_xfail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CHECK records a failure and goes on; REQUIRE ends the test. */
#define CHECK(c, ...) do {						\
	if (!(c)) ptest_fail(__FILE__, __LINE__, "(" #c ") " __VA_ARGS__); \
} while (0)
#define REQUIRE(c, ...) do {						\
	if (!(c)) { ptest_fail(__FILE__, __LINE__, "(" #c ") " __VA_ARGS__); \
		exit(1); }						\
} while (0)
#define CHECK_EQ(a, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	if (_a != _b) ptest_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", \
				 #a, _a, #b, _b);			\
} while (0)
#define REQUIRE_EQ(a, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	if (_a != _b) { ptest_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", \
				   #a, _a, #b, _b); exit(1); }		\
} while (0)

/* ---- helpers (ptap.c) ---- */

/* Which implementation serves <aio.h>: "glibc" (default) or "kaio" (the
 * wrapper that preloads libkaio-posix sets POSIX_AIO_BACKEND=kaio). */
int backend_is_kaio(void);
/* Seconds, scaled by POSIX_AIO_TIME_SCALE (the guest runs under TCG). */
double tscale(double secs);
double now(void);
/* A file in POSIX_AIO_DIR (or TMPDIR, /tmp), unlinked, filled with
 * pattern() over size bytes; flags as for open (O_RDWR added if no
 * access mode other than O_RDONLY is asked for... pass it explicitly). */
int pattern_file(size_t size, int flags);
/* An empty file, open with flags; its path is unlinked. */
int empty_file(int flags);
/* A file of that size, open with flags; its path kept in path (caller
 * unlinks). */
int named_file(char *path, size_t len, size_t size, int flags);
unsigned char pattern(off_t off);
void fill_pattern(void *buf, off_t off, size_t len);
/* First offset where buf differs from pattern at off, or -1. */
long check_pattern(const void *buf, off_t off, size_t len);
/* Wait until aio_error(cb) != EINPROGRESS, with aio_suspend; fails the
 * test (and returns -1) after limit seconds (scaled). */
int wait_done(const struct aiocb *cb, double limit);
void aiocb_init(struct aiocb *cb, int fd, void *buf, size_t n, off_t off);
/* Read the whole content of fd at off into buf with pread. */
ssize_t pread_all(int fd, void *buf, size_t n, off_t off);
/* Sleep a little (ms). */
void msleep(long ms);

#endif
