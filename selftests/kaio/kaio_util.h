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
 * Nothing here uses the harness; the macros and inline functions at the
 * bottom do, and are only expanded in the tests: inside TEST()/TEST_F()
 * bodies unless they say so.
 */
#ifndef KAIO_SELFTEST_UTIL_H
#define KAIO_SELFTEST_UTIL_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>
#include <sys/types.h>
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
	long long retries_in_task;	/* ... run by a GETEVENTS waiter */
	long long retries_requeued;	/* ... handed by a waiter to a worker */
	long long worker;
	long long cancelled;
	long long signals_sent;		/* completion signals queued */
	long long signals_dropped;	/* ... not (exec'd, exited, limit) */
	long long in_flight;
	long long signals_queued;	/* sends not made yet */
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

/* ---- requests in flight: batches of mixed requests on the slow devices --- */

/*
 * The tests of what happens to requests in flight when what they belong to,
 * or what they use, goes away first (kaio_cancel, kaio_destroy, kaio_exit,
 * kaio_mm, kaio_resources, kaio_threads) keep hundreds in flight on the
 * slow devices (KAIO_SLOW_*: ten milliseconds or more per I/O), long
 * enough for the test to act on them.
 */
#define T_BS		4096
#define T_COLD_SEED	0x11fe7ULL	/* t_cold_file(): the files read */
#define T_OLD_SEED	0x01d5eedULL	/* t_target_file(): before the writes */
#define T_NEW_SEED	0x0e75eedULL	/* what the writes write */
#define T_RAW_SEED	0x7a3dULL	/* the slow raw device's test region */
#define T_RAW_OFF	(256LL << 20)	/* inside $KAIO_SLOW_RAW_DEV (512 MiB) */
#define T_COLD_STRIDE	(64 << 10)	/* cold reads: beyond each other's readahead */
#define T_COLD_SIZE	(4 << 20)
#define T_COLD_NR	(T_COLD_SIZE / T_COLD_STRIDE)

/*
 * A file of T_COLD_SIZE bytes of T_COLD_SEED pattern in @dir, opened
 * O_RDONLY and dropped from the page cache: fd or -errno. One file per
 * directory, made by the first test of the program that needs it and
 * shared by the others (each test runs in its own process; writing 4 MiB
 * to a slow device costs seconds under TCG), removed when the program's
 * main process exits.
 */
int t_cold_file(const char *dir);
/*
 * $KAIO_SLOW_RAW_DEV (@dev) opened O_DIRECT with @n pattern blocks
 * (T_RAW_SEED) written at T_RAW_OFF (nothing else uses that region): fd or
 * -errno.
 */
int t_slow_raw_open(const char *dev, int n);
/*
 * A file to write to in @dir: @n blocks of T_OLD_SEED pattern, on disk.
 * @path keeps its name so a test can reopen it. fd (O_RDWR) or -errno.
 */
int t_target_file(const char *dir, char *path, size_t pathlen, int n);

enum t_kind { T_COLD, T_DIRECT, T_WRITE, T_FSYNC, T_POLL, T_NOOP };
/* "cold buffered read", ... for test logs, by enum t_kind. */
extern const char *const t_kind_name[];

struct t_req_info {
	enum t_kind kind;
	char *buf;
	uint64_t seed;
	long long off;
};

/* iocb i has aio_data i; one contiguous iocb array for t_tally(). */
struct t_batch {
	int n, max;
	struct iocb *cbs;
	struct iocb **ptrs;
	struct t_req_info *info;
	int *count;
	long long *res;
	int pipes[256][2];
	int npipes;
};

/* Room for @max requests (abort()s when out of memory). */
void t_batch_init(struct t_batch *b, int max);
/* Close the POLLs' pipes and free the arrays (not the buffers). */
void t_batch_done(struct t_batch *b);
/* @n O_DIRECT 4 KiB reads of t_slow_raw_open()'s region. */
void t_batch_add_direct_reads(struct t_batch *b, int fd, int n);
/* @n POLLIN on empty pipes: they wait until written or cancelled. 0 or -1. */
int t_batch_add_polls(struct t_batch *b, int n);
/* Number the iocbs (aio_data i) once every request is added. */
void t_batch_finish_prep(struct t_batch *b);

/* A mixed set of requests on every kind of device. */
struct t_mix {
	int cold_fd[2];		/* slow ext4, slow xfs (or -1) */
	int direct_fd;		/* $KAIO_SLOW_RAW_DEV, O_DIRECT */
	int write_fd;		/* a file on $KAIO_EXT4_DIR */
	char wpath[PATH_MAX];
	struct t_batch b;
};

struct t_mix_counts {
	int cold;		/* per slow file system */
	int direct;
	int writes;
	int fsyncs;
	int polls;
};

/*
 * Open what @n needs and fill @m->b: cold buffered reads of a t_cold_file()
 * on each slow file system, O_DIRECT reads of the slow raw device, buffered
 * RWF_DSYNC writes and FSYNCs of a t_target_file() on $KAIO_EXT4_DIR, POLLs
 * on empty pipes. NULL, or why the test must be skipped.
 */
const char *t_mix_open(struct t_mix *m, const struct t_mix_counts *n);
void t_mix_close(struct t_mix *m);

/* A thread in GETEVENTS: t_getevents_thread(@w) sets tid, then ret. */
struct t_waiter {
	int ctx;
	long long min_nr;
	long ret;
	pid_t tid;
	struct io_event *ev;
	struct timespec *timeout;
};

void *t_getevents_thread(void *arg);
/* Is thread or process @id asleep in ioctl() (syscall 16 on x86_64)? */
bool t_in_ioctl(pid_t id);
/* Is @w's thread asleep in ioctl() within @ms? */
bool t_wait_in_ioctl(struct t_waiter *w, int ms);
/* A SIGUSR1 handler without SA_RESTART: a GETEVENTS it interrupts EINTRs. */
void t_install_sigusr1(void);
/* Join @th within @ms, else interrupt it (SIGUSR1: EINTR) and say so (false). */
bool t_join_within(pthread_t th, int ms);

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

#ifdef __KSELFTEST_HARNESS_H
/*
 * ---- harness glue for the requests-in-flight tests --------------------------
 *
 * Inline functions that EXPECT and ASSERT as the tests do: compiled only
 * where kselftest_harness.h was included first (the test programs, never
 * kaio_util.c), and given the test's _metadata.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/*
 * Back where the test started within @ms: as many contexts, no pinned pages
 * reserved, every request submitted since then completed (its event posted,
 * or counted when nobody could read it any more).
 */
static inline void t_expect_settled(struct __test_metadata *_metadata,
				    const struct t_stats *g0, int ms)
{
	struct t_stats g;

	KAIO_EXPECT_SETTLED(&g, g0, ms);
	EXPECT_EQ(g0->contexts, g.contexts);
	EXPECT_EQ(0, g.pinned_pages_reserved);
	EXPECT_EQ(g0->events_reserved, g.events_reserved);
}

/* /dev/kaio must be there (else skip) and its debugfs counters readable. */
#define KAIO_BASELINE(g0) do {							\
	int __dev;								\
	KAIO_DEV_OPEN(__dev);							\
	close(__dev);								\
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, (g0)))			\
		TH_LOG("%s: debugfs not mounted?", KAIO_DEBUGFS_STATS);		\
	t_stats_log("module at start", (g0));					\
} while (0)

/*
 * Check @nev events against the batch: each iocb exactly once, with a
 * result its kind allows. @cancelled: requests may have been cancelled
 * (-ECANCELED; a cancelled POLL reports 0). Returns how many were.
 */
static inline int t_batch_check(struct __test_metadata *_metadata,
				struct t_batch *b, const struct io_event *ev,
				long nev, bool cancelled)
{
	int i, ncancel = 0, bad = 0;

	memset(b->count, 0, b->n * sizeof(*b->count));
	EXPECT_EQ(0, t_tally(b->cbs, b->n, ev, nev, b->count, b->res));
	for (i = 0; i < b->n; i++) {
		const struct t_req_info *in = &b->info[i];
		long long r = b->res[i];
		bool ok;

		if (b->count[i] != 1) {
			if (bad++ < 10)
				TH_LOG("iocb %d (%s): %d events", i,
				       t_kind_name[in->kind], b->count[i]);
			EXPECT_EQ(1, b->count[i]);
			continue;
		}
		if (r == -ECANCELED && in->kind != T_POLL && in->kind != T_NOOP) {
			ok = cancelled;
			ncancel++;
		} else {
			switch (in->kind) {
			case T_COLD:
			case T_DIRECT:
				ok = r == T_BS &&
				     t_check(in->buf, T_BS, in->seed, in->off) == -1;
				break;
			case T_WRITE:
				ok = r == T_BS;
				break;
			case T_FSYNC:
			case T_NOOP:
				ok = r == 0;
				break;
			case T_POLL:
				/* cancelled: 0, as native AIO */
				ok = cancelled ? r == 0 || r == POLLIN : r == POLLIN;
				ncancel += r == 0;
				break;
			default:
				ok = false;
			}
		}
		if (!ok && bad++ < 10)
			TH_LOG("iocb %d (%s): res %lld", i, t_kind_name[in->kind], r);
		EXPECT_TRUE(ok);
	}
	return ncancel;
}

/*
 * After a batch's writes ran (or did not): each block of @fd holds either
 * what was there (T_OLD_SEED) or what the write wrote (T_NEW_SEED), never a
 * mix. With @exact, the block written is the one whose write said so.
 */
static inline void t_check_written(struct __test_metadata *_metadata,
				   struct t_batch *b, int fd, bool exact)
{
	char *back = t_alloc(T_BS);
	int i, torn = 0;

	for (i = 0; i < b->n; i++) {
		const struct t_req_info *in = &b->info[i];
		bool is_new, is_old;

		if (in->kind != T_WRITE)
			continue;
		ASSERT_EQ(T_BS, pread(fd, back, T_BS, in->off));
		is_new = t_check(back, T_BS, T_NEW_SEED, in->off) == -1;
		is_old = t_check(back, T_BS, T_OLD_SEED, in->off) == -1;
		if (!is_new && !is_old && torn++ < 5)
			TH_LOG("block at %lld is neither old nor new", in->off);
		EXPECT_TRUE(is_new || is_old);
		if (exact && b->count[i] == 1)
			EXPECT_EQ(b->res[i] == T_BS, is_new)
				TH_LOG("block at %lld: write said %lld", in->off,
				       b->res[i]);
	}
	munmap(back, T_BS);
}

/* t_mix_open(@m, { @... }) or skip: KAIO_MIX_OPEN(&self->m, .cold = 32). */
#define KAIO_MIX_OPEN(m, ...) do {						\
	static const struct t_mix_counts __n = { __VA_ARGS__ };			\
	const char *__why = t_mix_open((m), &__n);				\
	if (__why)								\
		SKIP(return, "%s", __why);					\
} while (0)

/* All @n events of a context into @ev within @ms: ASSERTs the count. */
#define KAIO_REAP_ALL(fd, ev, n, ms) do {					\
	long __got = t_wait((fd), (ev), (n), (ms));				\
	ASSERT_EQ((long)(n), __got);						\
} while (0)

/*
 * One POLL pending on @c (@b becomes the batch of that one POLL, on an
 * empty pipe), and a thread (@tw) in GETEVENTS waiting for it with @timeout
 * (NULL: none) by the time this returns.
 */
static inline void t_poll_waiter_start(struct __test_metadata *_metadata,
				       struct t_ctx *c, struct t_batch *b,
				       struct t_waiter *w,
				       struct timespec *timeout, pthread_t *tw)
{
	t_batch_init(b, 1);
	ASSERT_EQ(0, t_batch_add_polls(b, 1));
	t_batch_finish_prep(b);
	ASSERT_EQ(1, t_submit(c->fd, 1, b->ptrs));
	w->ctx = c->fd;
	w->min_nr = 1;
	w->ev = calloc(1, sizeof(*w->ev));
	w->timeout = timeout;
	ASSERT_EQ(0, pthread_create(tw, NULL, t_getevents_thread, w));
	ASSERT_TRUE(t_wait_in_ioctl(w, 5000));
}

/*
 * The fixture most requests-in-flight tests use, at file scope:
 * KAIO_SETTLE_FIXTURE(lt) defines FIXTURE(lt) with the module's counters
 * at the start (self->g0; the test is skipped without /dev/kaio), a
 * context (self->c) and a t_mix (self->m), both closed by the teardown.
 * Its tests end with t_expect_settled(_metadata, &self->g0, ms).
 */
#define KAIO_SETTLE_FIXTURE(name)						\
	FIXTURE(name) {								\
		struct t_stats g0;						\
		struct t_ctx c;							\
		struct t_mix m;							\
	};									\
	FIXTURE_SETUP(name)							\
	{									\
		self->c.fd = self->c.dev = self->c.nullfd = -1;			\
		self->m.cold_fd[0] = self->m.cold_fd[1] = -1;			\
		self->m.direct_fd = self->m.write_fd = -1;			\
		KAIO_BASELINE(&self->g0);					\
	}									\
	FIXTURE_TEARDOWN(name)							\
	{									\
		t_ctx_close(&self->c);						\
		t_mix_close(&self->m);						\
	}
#endif /* __KSELFTEST_HARNESS_H */

#endif /* KAIO_SELFTEST_UTIL_H */
