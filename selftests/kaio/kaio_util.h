/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kaio selftests: the one shared helper.
 *
 * Every wrapper returns what the ioctl returned, or -errno on failure (as
 * liburing's helpers do), so a test states an expected errno in one line:
 *
 *	ASSERT_EQ(-EINVAL, t_submit(ctx, -1, iocbs));
 *
 * Helpers are t_*, as liburing's test helpers: none has the name of a
 * module function (kaio_submit() is the module's SUBMIT, t_submit() this
 * wrapper; "prep" validates an iocb there, builds one here).
 *
 * Nothing here uses the harness; the macros at the bottom do, and are only
 * expanded in the tests: inside TEST()/TEST_F() bodies unless they say so.
 */
#ifndef KAIO_SELFTEST_UTIL_H
#define KAIO_SELFTEST_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>
#include <sys/uio.h>

#include <linux/time_types.h>	/* struct __kernel_timespec */
#include <linux/kaio.h>

/* A user address that faults: a PROT_NONE page that stays mapped. */
void *t_bad_ptr(void);
/* A kernel address: access_ok() refuses it. */
#define KAIO_KERNEL_ADDR	0xffff888000000000ULL

/* open("/dev/kaio"): fd or -errno (-ENOENT when the module is not loaded). */
int t_open_dev(void);

/* KAIO_IOC_SETUP: ctx fd or -errno. @s is in/out. */
int t_setup_raw(int dev, struct kaio_setup *s);

/* A context as most tests want one. */
struct t_ctx {
	int dev;		/* /dev/kaio */
	int fd;			/* the context fd */
	int nullfd;		/* /dev/null, the file NOOP iocbs name */
	unsigned int cap;	/* granted nr_events */
	struct kaio_setup s;	/* what SETUP reported */
	struct kaio_ring *ring;	/* mapped by t_ctx_map_ring() */
};

/* Open /dev/kaio and set up a context: 0 or -errno. */
int t_ctx_init(struct t_ctx *c, unsigned int nr_events, unsigned int flags);
/* mmap the ring: 0 or -errno. */
int t_ctx_map_ring(struct t_ctx *c);
void t_ctx_close(struct t_ctx *c);

/* The context ioctls: result or -errno. */
long t_submit(int ctx, long long nr, struct iocb **iocbpp);
long t_submit_one(int ctx, struct iocb *iocb);
long t_getevents_raw(int ctx, struct kaio_getevents *g);
long t_getevents(int ctx, long long min_nr, long long nr,
		 struct io_event *events, const struct timespec *timeout);
long t_cancel(int ctx, struct iocb *iocb);
long t_destroy(int ctx);

/* Wait up to @timeout_ms for @nr events (min_nr = nr): count or -errno. */
long t_wait(int ctx, struct io_event *events, long nr, int timeout_ms);

/* iocb builders, starting from zero so reserved fields are zero. */
void t_prep_rw(struct iocb *cb, int op, int fd, void *buf,
	       uint64_t nbytes, int64_t offset);
void t_prep_pread(struct iocb *cb, int fd, void *buf, size_t len, int64_t off);
void t_prep_pwrite(struct iocb *cb, int fd, const void *buf, size_t len,
		   int64_t off);
void t_prep_preadv(struct iocb *cb, int fd, const struct iovec *iov,
		   int iovcnt, int64_t off);
void t_prep_pwritev(struct iocb *cb, int fd, const struct iovec *iov,
		    int iovcnt, int64_t off);
void t_prep_fsync(struct iocb *cb, int fd);
void t_prep_fdsync(struct iocb *cb, int fd);
void t_prep_noop(struct iocb *cb, int fd);
/* IOCB_CMD_POLL: aio_buf carries the poll events, everything else is 0. */
void t_prep_poll(struct iocb *cb, int fd, unsigned int events);

/*
 * Files. t_test_dir() is $KAIO_EXT4_DIR, else $TMPDIR, else /tmp.
 * t_make_file() creates a uniquely named file of @size pattern bytes
 * (seed @seed) in @dir and writes its path to @path: 0 or -errno.
 */
const char *t_test_dir(void);
int t_make_file(const char *dir, char *path, size_t pathlen, size_t size,
		uint64_t seed);

/* The byte pattern: byte at absolute offset @off for @seed. */
void t_fill(void *buf, size_t len, uint64_t seed, uint64_t off);
/* First offset (relative to buf) where buf differs from the pattern, or -1. */
long t_check(const void *buf, size_t len, uint64_t seed, uint64_t off);

/* Page-aligned zeroed memory that is never freed (tests are short-lived). */
void *t_alloc(size_t len);

/* Monotonic time in nanoseconds. */
uint64_t t_now_ns(void);
/* Environment variable naming an existing path, or NULL. */
const char *t_env_path(const char *name);
/* The slow devices' latency per I/O ($KAIO_SLOW_LAT_NS), ns; 0 if unset. */
long long t_slow_lat_ns(void);

/* kaio.ko's parameter @name into @buf (no newline): 0 or -errno. */
int t_param_read(const char *name, char *buf, size_t len);
/* Set kaio.ko's parameter @name to @value: 0 or -errno. */
int t_param_write(const char *name, const char *value);

/* Write @val to @dir/@name, opened O_WRONLY | @oflags: 0 or -errno. */
int t_write_file(const char *dir, const char *name, const char *val,
		 int oflags);

/* The whole of @dir/@name, NUL-terminated (malloc'd), or NULL. */
char *t_read_whole(const char *dir, const char *name);

/* Pass @fd over the unix socket @sock (SCM_RIGHTS): 0 or -errno. */
int t_send_fd(int sock, int fd);
/* The fd t_send_fd() sent on the other end of @sock, or -1. */
int t_recv_fd(int sock);

/*
 * Counters: a context's (/proc/self/fdinfo/<ctx fd>) or the module's
 * (/sys/kernel/debug/kaio/stats), both "name:\tvalue" lines. A counter the
 * file does not list reads -1.
 */
#define KAIO_DEBUGFS_STATS	"/sys/kernel/debug/kaio/stats"

struct t_stats {
	long long nr_events;
	long long submitted;
	long long completed;
	long long inlined;		/* "inline" */
	long long async;
	long long page_wait_arms;
	long long wakeups;
	long long retries;
	long long worker;
	long long cancelled;
	long long in_flight;
	long long contexts;		/* module-wide only */
	long long events_reserved;	/* module-wide only */
	long long pinned_pages_reserved; /* module-wide only */
};

/* Parse @path: 0, or -errno when it cannot be read. */
int t_stats_read(const char *path, struct t_stats *st);
/* The context's fdinfo counters: 0 or -errno. */
int t_ctx_stats(int ctxfd, struct t_stats *st);
/* @after - @before, counter by counter (-1 where neither lists it). */
struct t_stats t_stats_sub(const struct t_stats *after,
			   const struct t_stats *before);
/* "# <prefix>: name value name value ..." for test logs (-1s left out). */
void t_stats_log(const char *prefix, const struct t_stats *st);

/*
 * Wait up to @timeout_ms for the module-wide counters to be back where a
 * test started: `contexts` == @contexts and `pinned_pages_reserved` == 0
 * (nothing in flight anywhere). @st gets the last reading. 0, -ETIMEDOUT,
 * or -errno when /sys/kernel/debug/kaio/stats cannot be read.
 */
int t_module_settle(long long contexts, int timeout_ms, struct t_stats *st);

/*
 * Count events per iocb: @cbs is an array of @n iocbs; counts[i] is bumped
 * and res[i] set (if @res) for each event whose obj is &cbs[i]. Returns how
 * many events named none of them (must be 0).
 */
long t_tally(const struct iocb *cbs, long n, const struct io_event *ev,
	     long nev, int *counts, long long *res);

/*
 * Copy what the mapped ring holds (head to tail) to @ev without reaping it:
 * the number copied (at most @max).
 */
long t_ring_peek(const struct t_ctx *c, struct io_event *ev, long max);

/*
 * Cold cache for one file: fsync, then POSIX_FADV_DONTNEED over all of it.
 * 0 or -errno.
 */
int t_drop_file_cache(int fd);
/* Pages of the first @len bytes of @fd in the page cache (mincore), or -errno. */
long t_cached_pages(int fd, size_t len);

/* ---- harness glue: only for the tests ----------------------------------- */

/* Skip (never pass) when the module is absent; fail on any other error. */
#define KAIO_CTX_INIT(c, nr, flags) do {					\
	int __r = t_ctx_init((c), (nr), (flags));				\
	if (__r == -ENOENT || __r == -ENODEV || __r == -ENXIO)			\
		SKIP(return, "/dev/kaio not available (%s)", strerror(-__r));	\
	ASSERT_EQ(0, __r);							\
} while (0)

#define KAIO_DEV_OPEN(fd) do {							\
	(fd) = t_open_dev();							\
	if ((fd) == -ENOENT || (fd) == -ENODEV || (fd) == -ENXIO)		\
		SKIP(return, "/dev/kaio not available (%s)", strerror(-(fd)));	\
	ASSERT_LE(0, (fd));							\
} while (0)

/* $name must name an existing path, else the test is skipped. */
#define KAIO_ENV_OR_SKIP(var, name) do {					\
	(var) = t_env_path(name);						\
	if (!(var))								\
		SKIP(return, "$%s not set or missing", name);			\
} while (0)

/*
 * The 6.1 harness runs a TEST_F body even when FIXTURE_SETUP called SKIP():
 * every TEST_F that can be skipped in setup starts with this.
 */
#define KAIO_SKIPPED_IN_SETUP() do {						\
	if (_metadata->skip)							\
		return;								\
} while (0)

/*
 * A new file of @size pattern bytes (@seed) in @dir, unlinked, opened
 * O_RDONLY into @fd and out of the page cache (mincore() agrees). Its atime
 * is not due: mincore()'s mmap() updated it after the last change (a read of
 * a file whose atime is due starts on a worker).
 */
#define KAIO_COLD_FILE(fd, dir, size, seed) do {				\
	char __path[PATH_MAX];							\
	ASSERT_EQ(0, t_make_file((dir), __path, sizeof(__path),		\
				 (size), (seed)));				\
	(fd) = open(__path, O_RDONLY);						\
	unlink(__path);								\
	ASSERT_LE(0, (fd));							\
	ASSERT_EQ(0, t_drop_file_cache((fd)));				\
	ASSERT_EQ(0, t_cached_pages((fd), (size)));				\
} while (0)

/*
 * Expect the module back where @g0 was read within @ms (see
 * t_module_settle(), which leaves its last reading in @g), and every
 * request submitted since then completed. Also in helpers given _metadata.
 */
#define KAIO_EXPECT_SETTLED(g, g0, ms) do {					\
	int __ret = t_module_settle((g0)->contexts, (ms), (g));		\
										\
	t_stats_log("module now", (g));					\
	EXPECT_EQ(0, __ret)							\
		TH_LOG("not settled within %d ms: contexts %lld (started with %lld), pinned_pages_reserved %lld", \
		       (ms), (g)->contexts, (g0)->contexts,			\
		       (g)->pinned_pages_reserved);				\
	EXPECT_EQ((g)->submitted - (g0)->submitted,				\
		  (g)->completed - (g0)->completed)				\
		TH_LOG("requests submitted but never completed");		\
} while (0)

/*
 * One variant of @fixture per slow file system: variant->env names the
 * environment variable that holds its directory. At file scope.
 */
#define KAIO_SLOW_FS_VARIANTS(fixture)						\
	FIXTURE_VARIANT(fixture) {						\
		const char *env;						\
	};									\
	FIXTURE_VARIANT_ADD(fixture, slow_ext4) {				\
		.env = "KAIO_SLOW_EXT4_DIR",					\
	};									\
	FIXTURE_VARIANT_ADD(fixture, slow_xfs) {				\
		.env = "KAIO_SLOW_XFS_DIR",					\
	}

#endif /* KAIO_SELFTEST_UTIL_H */
