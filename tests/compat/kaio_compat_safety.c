// SPDX-License-Identifier: GPL-2.0
/*
 * What a security review of kaio found, as libaio programs meet it: each case
 * does something an unprivileged program may do, and expects what native AIO
 * does. Linked against the system's libaio (-laio); the guest runs this one
 * binary three times: on native AIO (tests/kaio_compat_safety_native, which
 * sets KAIO_COMPAT_NATIVE=1), on kaio (tests/kaio_compat_safety, with
 * LD_LIBRARY_PATH at kaio's libaio.so.1), and on kaio's library falling back
 * to native AIO (tests/kaio_compat_safety_fallback: both). Native AIO needs
 * no kaio: run the reference anywhere with `make -C tests/compat
 * native-check`, the fallback with `make -C tests/compat fallback-check`.
 *
 * Environment: KAIO_COMPAT_NATIVE=1 (the contexts are native AIO's),
 * KAIO_COMPAT_LIBDIR (kaio's libaio.so.1 is the one mapped), KAIO_EXT4_DIR (a
 * directory on ext4 that takes O_DIRECT; else $TMPDIR, else /tmp),
 * KAIO_SAFETY_SECONDS (how long the eventfd/POLL storm runs, default 5),
 * KAIO_SAFETY_HUGE_MB (size of each huge request, default 768).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

/* fs/aio.c's ring header: io_context_t is its address (as in fio). */
struct aio_ring {
	unsigned id;
	unsigned nr;
	unsigned head;
	unsigned tail;
	unsigned magic;
	unsigned compat_features;
	unsigned incompat_features;
	unsigned header_length;
	struct io_event io_events[];
};

static bool native;	/* KAIO_COMPAT_NATIVE=1: the real libaio, native AIO */

__attribute__((constructor)) static void read_mode(void)
{
	const char *e = getenv("KAIO_COMPAT_NATIVE");

	native = e && strcmp(e, "1") == 0;
}

/* ---- helpers --------------------------------------------------------------- */

static const char *test_dir(void)
{
	const char *d = getenv("KAIO_EXT4_DIR");

	if (d && access(d, W_OK) == 0)
		return d;
	d = getenv("TMPDIR");
	return d && *d ? d : "/tmp";
}

/* An integer from the environment, @def when unset or out of range. */
static long env_long(const char *name, long def, long min, long max)
{
	const char *e = getenv(name);
	char *end;
	long v;

	if (!e || !*e)
		return def;
	v = strtol(e, &end, 0);
	if (*end || v < min || v > max) {
		ksft_print_msg("%s=%s: not in %ld..%ld, using %ld\n",
			       name, e, min, max, def);
		return def;
	}
	return v;
}

/*
 * A new file in test_dir(), unlinked at once so nothing is left behind even
 * when a case dies: @size bytes, byte i = (i * 7 + seed) & 0xff, reopened
 * with @extra_flags (O_DIRECT) after an fsync. -errno on failure.
 */
static int make_file(size_t size, unsigned seed, int extra_flags)
{
	char path[PATH_MAX];
	unsigned char buf[4096];
	size_t done, i;
	int fd, fd2;

	snprintf(path, sizeof(path), "%s/kaio-safety-XXXXXX", test_dir());
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	for (done = 0; done < size; done += sizeof(buf)) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)((done + i) * 7 + seed);
		if (pwrite(fd, buf, sizeof(buf), done) != (ssize_t)sizeof(buf)) {
			close(fd);
			unlink(path);
			return -EIO;
		}
	}
	if (extra_flags) {
		fsync(fd);
		fd2 = open(path, O_RDWR | O_CLOEXEC | extra_flags);
		close(fd);
		fd = fd2 < 0 ? -errno : fd2;
	}
	unlink(path);
	return fd;
}

static bool check_pattern(const unsigned char *buf, size_t len, size_t off,
			  unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (unsigned char)((off + i) * 7 + seed))
			return false;
	return true;
}

static void *page_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct timespec ms(long n)
{
	struct timespec ts = { n / 1000, (n % 1000) * 1000000 };

	return ts;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Wait (bounded) for @n events: what io_getevents returned. */
static int wait_events(io_context_t ctx, struct io_event *ev, long n)
{
	struct timespec ts = ms(10000);

	return io_getevents(ctx, n, n, ev, &ts);
}

/*
 * Wait (bounded) until the ring holds an unreaped event, without reaping it:
 * a completion that is visible but not yet taken by io_getevents.
 */
static bool ring_has_event(io_context_t ctx)
{
	struct aio_ring *ring = (struct aio_ring *)ctx;

	for (int i = 0; i < 10000; i++) {
		if (__atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) !=
		    __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE))
			return true;
		usleep(1000);
	}
	return false;
}

/* Nothing more arrives within @wait_ms: what io_getevents returned. */
static int no_more_events(io_context_t ctx, long wait_ms)
{
	struct io_event ev;
	struct timespec ts = ms(wait_ms);

	return io_getevents(ctx, 1, 1, &ev, &ts);
}

static int submit1(io_context_t ctx, struct iocb *cb)
{
	return io_submit(ctx, 1, &cb);
}

/*
 * On kaio, skip without the module (kaio's library would fall back to
 * native AIO, or with KAIO_COMPAT_BACKEND=kaio say ENOSYS).
 */
#define NEED_KAIO() do {							\
	if (!native && access("/dev/kaio", F_OK) != 0)				\
		SKIP(return, "no /dev/kaio");					\
} while (0)

/* io_setup, or skip where there is no such AIO. */
#define SETUP_CTX(n, ctxp) do {							\
	int __r;								\
	NEED_KAIO();								\
	__r = io_setup((n), (ctxp));						\
	if (__r == -ENOSYS)							\
		SKIP(return, "io_setup: %s (no %s)", strerror(-__r),		\
		     native ? "native AIO" : "/dev/kaio");			\
	ASSERT_EQ(0, __r);							\
} while (0)

/*
 * Plain TEST()s get the harness's 30 s; the cases that move gigabytes or run
 * for KAIO_SAFETY_SECONDS under TCG take TEST_F_TIMEOUT on this empty
 * fixture instead.
 */
FIXTURE(slow) {
	int unused;
};
FIXTURE_SETUP(slow) { (void)self; }
FIXTURE_TEARDOWN(slow) { (void)self; }

/* ---- which library ------------------------------------------------------------ */

/*
 * The same binary runs three times: make sure each run is on the library it
 * reports for (kaio's libaio.so.1 from KAIO_COMPAT_LIBDIR, or the system's)
 * and on the AIO it expects: /proc/self/maps names a native ring
 * "/[aio] (deleted)", a kaio ring "anon_inode:[kaio]".
 */
TEST(libaio_mapped_is_the_expected_one)
{
	char line[PATH_MAX + 128], found[PATH_MAX] = "", want[PATH_MAX] = "";
	const char *libdir = getenv("KAIO_COMPAT_LIBDIR");
	FILE *f = fopen("/proc/self/maps", "r");
	bool system_lib;

	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');

		if (path && strstr(path, "/libaio.so")) {
			path[strcspn(path, "\n")] = 0;
			snprintf(found, sizeof(found), "%s", path);
		}
	}
	fclose(f);
	TH_LOG("libaio mapped from %s", found);
	ASSERT_NE(0, found[0]);
	system_lib = strncmp(found, "/usr/lib", 8) == 0 || strncmp(found, "/lib", 4) == 0;
	if (libdir) {
		snprintf(line, sizeof(line), "%s/libaio.so.1", libdir);
		ASSERT_NE(NULL, realpath(line, want));
		EXPECT_STREQ(want, found);
	} else if (native) {
		EXPECT_TRUE(system_lib);
	} else {
		EXPECT_FALSE(system_lib);
	}
}

TEST(contexts_are_on_the_expected_aio)
{
	char line[PATH_MAX + 128], name[PATH_MAX] = "";
	io_context_t ctx = 0;
	FILE *f;

	SETUP_CTX(8, &ctx);
	f = fopen("/proc/self/maps", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		int pos = 0;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &pos) == 2 &&
		    (uintptr_t)ctx >= lo && (uintptr_t)ctx < hi) {
			line[strcspn(line, "\n")] = 0;
			snprintf(name, sizeof(name), "%s", pos ? line + pos : "");
		}
	}
	fclose(f);
	TH_LOG("ring %p: %s", ctx, name);
	EXPECT_STREQ(native ? "/[aio] (deleted)" : "anon_inode:[kaio]", name);
	EXPECT_EQ(0, io_destroy(ctx));
}

/* ---- RLIMIT_FSIZE on buffered writes ------------------------------------------ */

/*
 * A write that starts below RLIMIT_FSIZE writes what fits; one that starts at
 * or past it fails with EFBIG and raises SIGXFSZ (generic_write_checks()).
 * Native AIO runs that check in io_submit, in the submitting thread: the
 * request is accepted (io_submit returns 1), its event carries -EFBIG, and the
 * signal goes to the thread that called io_submit. The harness runs every
 * case in a forked child, so the limit set here ends with the case.
 */
#define FSIZE_LIMIT 8192

static volatile sig_atomic_t xfsz_count;
static volatile pid_t xfsz_tid;

static void on_xfsz(int sig)
{
	(void)sig;
	xfsz_count++;
	xfsz_tid = gettid();
}

static void set_fsize_limit(struct __test_metadata *_metadata)
{
	struct rlimit rl;

	ASSERT_EQ(0, getrlimit(RLIMIT_FSIZE, &rl));
	rl.rlim_cur = FSIZE_LIMIT;
	ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &rl));
}

/* One write, reaped: its event's res (io_submit must take it). */
static long write_event(io_context_t ctx, struct iocb *cb)
{
	struct io_event ev;
	int r = submit1(ctx, cb);

	if (r != 1)
		return 1000000 + r;	/* not an event: shows as a mismatch */
	/* a SIGXFSZ that arrives while we wait ends the wait: wait again */
	do
		r = wait_events(ctx, &ev, 1);
	while (r == -EINTR);
	if (r != 1 || ev.obj != cb)
		return 2000000 + r;
	return (long)ev.res;
}

struct fsize_file {
	io_context_t ctx;
	int fd;
	unsigned char data[512];
	struct iovec iov[2];
};

/* A new empty buffered file and a context; data[i] = i * 3 + 1. */
static int fsize_open(struct fsize_file *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 512; i++)
		f->data[i] = (unsigned char)(i * 3 + 1);
	/* split 100 + 412: the limit falls inside the second iovec */
	f->iov[0] = (struct iovec){ f->data, 100 };
	f->iov[1] = (struct iovec){ f->data + 100, 412 };
	f->fd = make_file(0, 0, 0);
	if (f->fd < 0)
		return f->fd;
	return io_setup(8, &f->ctx);
}

/* SIGXFSZ's disposition, a file and a context, then the limit. */
#define FSIZE_SETUP(f, disposition) do {				\
	int __r;							\
	NEED_KAIO();							\
	signal(SIGXFSZ, (disposition));					\
	__r = fsize_open(f);						\
	if (__r == -ENOSYS)						\
		SKIP(return, "io_setup: ENOSYS (no %s)",		\
		     native ? "native AIO" : "/dev/kaio");		\
	ASSERT_EQ(0, __r);						\
	set_fsize_limit(_metadata);					\
	xfsz_count = 0;							\
} while (0)

/* Run pwrite and pwritev at 7681 (511 fit) and at 8192, 9000 (nothing fits). */
static void fsize_writes(struct __test_metadata *_metadata,
			 struct fsize_file *f, int signals_each)
{
	unsigned char back[512];
	struct iocb cb;
	struct stat st;
	int base = xfsz_count;

	io_prep_pwrite(&cb, f->fd, f->data, 512, FSIZE_LIMIT - 511);
	EXPECT_EQ(511, write_event(f->ctx, &cb));
	EXPECT_EQ(base, xfsz_count);
	io_prep_pwrite(&cb, f->fd, f->data, 512, FSIZE_LIMIT);
	EXPECT_EQ(-EFBIG, write_event(f->ctx, &cb));
	EXPECT_EQ(base + signals_each, xfsz_count);
	io_prep_pwrite(&cb, f->fd, f->data, 512, FSIZE_LIMIT + 808);
	EXPECT_EQ(-EFBIG, write_event(f->ctx, &cb));
	EXPECT_EQ(base + 2 * signals_each, xfsz_count);

	/* pwritev: the same, the cut inside an iovec */
	ASSERT_EQ(0, ftruncate(f->fd, 0));
	io_prep_pwritev(&cb, f->fd, f->iov, 2, FSIZE_LIMIT - 511);
	EXPECT_EQ(511, write_event(f->ctx, &cb));
	EXPECT_EQ(base + 2 * signals_each, xfsz_count);
	io_prep_pwritev(&cb, f->fd, f->iov, 2, FSIZE_LIMIT);
	EXPECT_EQ(-EFBIG, write_event(f->ctx, &cb));
	EXPECT_EQ(base + 3 * signals_each, xfsz_count);

	/* the file ends at the limit and holds the first 511 bytes */
	ASSERT_EQ(0, fstat(f->fd, &st));
	EXPECT_EQ(FSIZE_LIMIT, st.st_size);
	EXPECT_EQ(511, pread(f->fd, back, 512, FSIZE_LIMIT - 511));
	EXPECT_EQ(0, memcmp(back, f->data, 511));
}

/* SIGXFSZ ignored: EFBIG in the event, 511 bytes of a write that straddles. */
TEST(rlimit_fsize_buffered_write)
{
	struct fsize_file f;

	FSIZE_SETUP(&f, SIG_IGN);
	fsize_writes(_metadata, &f, 0);
	EXPECT_EQ(0, io_destroy(f.ctx));
}

/* SIGXFSZ caught: one signal per write that starts at or past the limit. */
TEST(rlimit_fsize_sigxfsz_per_refused_write)
{
	struct fsize_file f;

	FSIZE_SETUP(&f, on_xfsz);
	fsize_writes(_metadata, &f, 1);
	EXPECT_EQ(0, io_destroy(f.ctx));
}

struct submitter {
	struct fsize_file *f;
	pid_t tid;
	long res;
};

static void *submit_refused_write(void *arg)
{
	struct submitter *s = arg;
	struct iocb cb;

	s->tid = gettid();
	io_prep_pwrite(&cb, s->f->fd, s->f->data, 512, FSIZE_LIMIT);
	s->res = write_event(s->f->ctx, &cb);
	return NULL;
}

/*
 * The signal is the submitting thread's (send_sig(current) in io_submit), not
 * the process's: it must not land in the main thread, which waits in
 * pthread_join with SIGXFSZ unblocked.
 */
TEST(rlimit_fsize_sigxfsz_goes_to_submitting_thread)
{
	struct fsize_file f;
	struct submitter s = { .f = &f };
	pthread_t t;

	FSIZE_SETUP(&f, on_xfsz);
	ASSERT_EQ(0, pthread_create(&t, NULL, submit_refused_write, &s));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-EFBIG, s.res);
	EXPECT_EQ(1, xfsz_count);
	EXPECT_EQ(s.tid, xfsz_tid);
	EXPECT_NE(gettid(), xfsz_tid);
	EXPECT_EQ(0, io_destroy(f.ctx));
}

/* SIGXFSZ at its default action: the submitter dies of it (no core file). */
TEST_SIGNAL(rlimit_fsize_default_sigxfsz_kills, SIGXFSZ)
{
	struct rlimit no_core = { 0, 0 };
	struct fsize_file f;
	struct iocb cb;

	setrlimit(RLIMIT_CORE, &no_core);
	FSIZE_SETUP(&f, SIG_DFL);
	io_prep_pwrite(&cb, f.fd, f.data, 512, FSIZE_LIMIT);
	write_event(f.ctx, &cb);
	/* still alive: give an asynchronous signal a moment, then fail */
	usleep(500000);
	TH_LOG("not killed by SIGXFSZ");
}

/* ---- huge requests ------------------------------------------------------------ */

/*
 * Ten requests of KAIO_SAFETY_HUGE_MB (768) MiB each, reads and writes of one
 * buffer, one io_submit each: native AIO takes every one (buffered, it does
 * the copy inside io_submit) and never says EAGAIN for their size. The first
 * write and the first read are reaped before the next, and the read checked
 * (it filled a zeroed buffer); the other eight are all submitted before any is
 * reaped. File and buffer hold the same pattern throughout, so whatever order
 * an asynchronous implementation runs those eight in, every read returns the
 * full size and the data stays the same.
 */
static uint64_t huge_word(size_t i)
{
	return i * 0x9e3779b97f4a7c15ull + 1;
}

/* A /proc/meminfo field in MiB, -1 if there is none. */
static long meminfo_mb(const char *field)
{
	char line[128];
	size_t len = strlen(field);
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':')
			kb = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return kb < 0 ? -1 : kb >> 10;
}

/* One word per 4 KiB page, and the last: a copy that went wrong shows. */
static bool huge_check(const uint64_t *w, size_t words)
{
	for (size_t i = 0; i < words; i += 512)
		if (w[i] != huge_word(i))
			return false;
	return w[words - 1] == huge_word(words - 1);
}

TEST_F_TIMEOUT(slow, huge_requests_never_EAGAIN, 480)
{
	enum { N = 10 };
	const long mb = env_long("KAIO_SAFETY_HUGE_MB", 768, 1, 2047);
	const size_t size = (size_t)mb << 20, words = size / 8;
	io_context_t ctx = 0;
	struct iocb cb[N];
	struct io_event ev[N];
	/* asynchronous, a request this big takes a while under TCG */
	struct timespec minutes = ms(450000);
	struct statvfs sv;
	uint64_t *buf, w;
	long avail;
	double t0 = now_ms();
	int fd, i, n;

	/* the file is one request's size; leave 16 MiB for metadata */
	ASSERT_EQ(0, statvfs(test_dir(), &sv));
	if ((unsigned long long)sv.f_bavail * sv.f_frsize < size + (16ull << 20))
		SKIP(return, "%s has %llu MiB free, a %ld MiB file needs %ld MiB",
		     test_dir(),
		     (unsigned long long)sv.f_bavail * sv.f_frsize >> 20, mb, mb + 16);
	/* the buffer must fit in memory; the page cache can be reclaimed */
	avail = meminfo_mb("MemAvailable");
	if (avail >= 0 && avail < mb + 256)
		SKIP(return, "%ld MiB of memory available, a %ld MiB buffer needs %ld MiB",
		     avail, mb, mb + 256);
	buf = page_alloc(size);
	ASSERT_NE(NULL, buf) TH_LOG("cannot map %ld MiB", mb);
	for (size_t k = 0; k < words; k++)
		buf[k] = huge_word(k);
	fd = make_file(0, 0, 0);
	ASSERT_LE(0, fd);
	SETUP_CTX(N, &ctx);
	/* each step's time: a timeout then shows which step was slow */
	TH_LOG("buffer filled: %.1f s", (now_ms() - t0) / 1000);

	/* write, then read back into a zeroed buffer: both reaped */
	io_prep_pwrite(&cb[0], fd, buf, size, 0);
	ASSERT_EQ(1, submit1(ctx, &cb[0]));
	ASSERT_EQ(1, io_getevents(ctx, 1, 1, ev, &minutes));
	EXPECT_EQ(size, ev[0].res);
	TH_LOG("first write reaped: %.1f s", (now_ms() - t0) / 1000);
	memset(buf, 0, size);
	io_prep_pread(&cb[1], fd, buf, size, 0);
	ASSERT_EQ(1, submit1(ctx, &cb[1]));
	ASSERT_EQ(1, io_getevents(ctx, 1, 1, ev, &minutes));
	EXPECT_EQ(size, ev[0].res);
	EXPECT_TRUE(huge_check(buf, words));
	TH_LOG("first read reaped: %.1f s", (now_ms() - t0) / 1000);

	/* eight more, write/read alternating, all before any is reaped */
	for (i = 2; i < N; i++) {
		if (i % 2 == 0)
			io_prep_pwrite(&cb[i], fd, buf, size, 0);
		else
			io_prep_pread(&cb[i], fd, buf, size, 0);
		cb[i].data = (void *)(uintptr_t)i;
		ASSERT_EQ(1, submit1(ctx, &cb[i])) TH_LOG("request %d of %d", i + 1, N);
	}
	TH_LOG("eight more submitted: %.1f s", (now_ms() - t0) / 1000);
	for (n = 0; n < N - 2; ) {
		int got = io_getevents(ctx, 1, N - 2 - n, ev, &minutes);

		ASSERT_LT(0, got);
		for (i = 0; i < got; i++) {
			EXPECT_EQ(size, ev[i].res) TH_LOG("request %d", (int)(uintptr_t)ev[i].data + 1);
			EXPECT_EQ(0, ev[i].res2);
		}
		n += got;
	}
	EXPECT_TRUE(huge_check(buf, words));
	EXPECT_EQ(8, pread(fd, &w, 8, size - 8));
	EXPECT_EQ(huge_word(words - 1), w);
	TH_LOG("%d requests of %ld MiB in %.1f s", N, mb, (now_ms() - t0) / 1000);
	EXPECT_EQ(0, io_destroy(ctx));
	/* give the space and the page cache back now, not at exit */
	EXPECT_EQ(0, ftruncate(fd, 0));
	close(fd);
	munmap(buf, size);
}

/* ---- cancel and fork -------------------------------------------------------- */

/*
 * A POLL that fired but is not reaped yet is done: io_cancel says EINVAL
 * (fs/aio.c took it off the active list before it posted the event), and the
 * event is reaped exactly once, with POLLIN. Both a POLL that fires on a
 * later write and one that is ready at submit.
 */
TEST(cancel_fired_unreaped_poll_EINVAL)
{
	io_context_t ctx = 0;
	struct iocb cb;
	struct io_event ev;
	char c;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	SETUP_CTX(8, &ctx);
	for (int ready_at_submit = 0; ready_at_submit < 2; ready_at_submit++) {
		if (ready_at_submit)
			ASSERT_EQ(1, write(p[1], "x", 1));
		io_prep_poll(&cb, p[0], POLLIN);
		cb.data = (void *)(uintptr_t)(100 + ready_at_submit);
		ASSERT_EQ(1, submit1(ctx, &cb));
		if (!ready_at_submit)
			ASSERT_EQ(1, write(p[1], "x", 1));
		ASSERT_TRUE(ring_has_event(ctx));
		EXPECT_EQ(-EINVAL, io_cancel(ctx, &cb, &ev));
		ASSERT_EQ(1, wait_events(ctx, &ev, 1));
		EXPECT_EQ(&cb, ev.obj);
		EXPECT_EQ((void *)(uintptr_t)(100 + ready_at_submit), ev.data);
		EXPECT_TRUE(ev.res & POLLIN);
		EXPECT_EQ(0, no_more_events(ctx, 100));
		ASSERT_EQ(1, read(p[0], &c, 1));
	}
	EXPECT_EQ(0, io_destroy(ctx));
}

/*
 * A forked child shares nothing of its parent's context: with a POLL of the
 * parent's waiting and a read's event unreaped in the ring, every call the
 * child makes on the context is EINVAL, and neither the calls nor the child's
 * exit cancel, reap or complete anything of the parent's.
 */
TEST(fork_child_cannot_touch_parents_requests)
{
	io_context_t ctx = 0;
	struct iocb poll_cb, rd, child_rd;
	struct io_event ev;
	unsigned char buf[4096], cbuf[4096];
	int p[2], fd = make_file(16384, 4, 0), status;
	pid_t pid;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	SETUP_CTX(8, &ctx);
	io_prep_poll(&poll_cb, p[0], POLLIN);
	poll_cb.data = (void *)1;
	ASSERT_EQ(1, submit1(ctx, &poll_cb));
	io_prep_pread(&rd, fd, buf, 4096, 4096);
	rd.data = (void *)2;
	ASSERT_EQ(1, submit1(ctx, &rd));
	ASSERT_TRUE(ring_has_event(ctx));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct timespec ts = ms(100);

		if (io_cancel(ctx, &poll_cb, &ev) != -EINVAL)
			_exit(10);
		if (io_cancel(ctx, &rd, &ev) != -EINVAL)
			_exit(11);
		if (io_getevents(ctx, 1, 1, &ev, &ts) != -EINVAL)
			_exit(12);
		io_prep_pread(&child_rd, fd, cbuf, 4096, 0);
		if (submit1(ctx, &child_rd) != -EINVAL)
			_exit(13);
		if (io_destroy(ctx) != -EINVAL)
			_exit(14);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* the read's event is still there, once */
	ASSERT_EQ(1, wait_events(ctx, &ev, 1));
	EXPECT_EQ(&rd, ev.obj);
	EXPECT_EQ(4096, ev.res);
	EXPECT_TRUE(check_pattern(buf, 4096, 4096, 4));
	/* the POLL still waits, and fires for the parent's write */
	EXPECT_EQ(0, no_more_events(ctx, 100));
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(1, wait_events(ctx, &ev, 1));
	EXPECT_EQ(&poll_cb, ev.obj);
	EXPECT_TRUE(ev.res & POLLIN);
	EXPECT_EQ(0, io_destroy(ctx));
}

/* ---- POLL on waitqueues ------------------------------------------------------ */

/*
 * Last: on a kernel that gets these wrong the machine may lock up, and the
 * cases above have reported by then.
 */

/*
 * fs/aio.c polls a file through one waitqueue; a file whose ->poll registers
 * two (a FIFO open for reading and writing: pipe_poll() waits on rd_wait and
 * wr_wait; a pty: n_tty_poll() on read_wait and write_wait) is refused with
 * EINVAL when it is not ready at submit. When it is, native AIO completes the
 * POLL at once with the ready mask and never waits on it.
 */
static int open_fifo_rdwr(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/kaio-safety-fifo.%d", test_dir(), getpid());
	unlink(path);
	if (mkfifo(path, 0600) < 0)
		return -errno;
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	unlink(path);
	return fd;
}

/* A pty master, and its slave in *slave (kept open: no POLLHUP). */
static int open_pty(int *slave)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		return -errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0 ||
	    (*slave = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		close(m);
		return -errno;
	}
	return m;
}

static void two_waitqueues(struct __test_metadata *_metadata, int fd,
			   int make_ready_fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	io_context_t ctx = 0;
	struct iocb cb;
	struct io_event ev;

	SETUP_CTX(8, &ctx);
	/* not ready: refused, nothing queued, no event */
	io_prep_poll(&cb, fd, POLLIN);
	EXPECT_EQ(-EINVAL, submit1(ctx, &cb));
	EXPECT_EQ(0, no_more_events(ctx, 100));
	/* ready: POLLIN at once */
	ASSERT_EQ(1, write(make_ready_fd, "x", 1));
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	io_prep_poll(&cb, fd, POLLIN);
	ASSERT_EQ(1, submit1(ctx, &cb));
	ASSERT_EQ(1, wait_events(ctx, &ev, 1));
	EXPECT_EQ(&cb, ev.obj);
	EXPECT_TRUE(ev.res & POLLIN);
	EXPECT_EQ(0, no_more_events(ctx, 100));
	EXPECT_EQ(0, io_destroy(ctx));
}

TEST(poll_fifo_rdwr_two_waitqueues)
{
	int fd = open_fifo_rdwr();

	ASSERT_LE(0, fd);
	two_waitqueues(_metadata, fd, fd);
}

TEST(poll_pty_two_waitqueues)
{
	int slave = -1, m = open_pty(&slave);

	if (m < 0)
		SKIP(return, "no pty: %s", strerror(-m));
	two_waitqueues(_metadata, m, slave);
}

/*
 * A POLL on eventfd E whose own completion signals E (io_set_eventfd on the
 * POLL): the completion happens inside E's wakeup, under E's waitqueue lock,
 * and native AIO defers that signal (eventfd_signal_allowed()). The POLL says
 * POLLIN and E ends at exactly 2: our write and the completion.
 */
TEST(poll_on_eventfd_signalled_by_its_own_completion)
{
	io_context_t ctx = 0;
	struct iocb cb;
	struct io_event ev;
	uint64_t one = 1, v, total;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	SETUP_CTX(8, &ctx);
	for (int ready_at_submit = 0; ready_at_submit < 2; ready_at_submit++) {
		if (ready_at_submit)
			ASSERT_EQ(8, write(efd, &one, 8));
		io_prep_poll(&cb, efd, POLLIN);
		io_set_eventfd(&cb, efd);
		ASSERT_EQ(1, submit1(ctx, &cb));
		if (!ready_at_submit)
			ASSERT_EQ(8, write(efd, &one, 8));
		ASSERT_EQ(1, wait_events(ctx, &ev, 1));
		EXPECT_EQ(&cb, ev.obj);
		EXPECT_TRUE(ev.res & POLLIN);
		total = 0;
		for (int i = 0; i < 1000 && total < 2; i++) {
			struct pollfd pfd = { .fd = efd, .events = POLLIN };

			if (poll(&pfd, 1, 10) == 1 && read(efd, &v, 8) == 8)
				total += v;
		}
		/* and no more signals after a while */
		usleep(50000);
		if (read(efd, &v, 8) == 8)
			total += v;
		EXPECT_EQ(2, total);
		EXPECT_EQ(0, no_more_events(ctx, 50));
	}
	EXPECT_EQ(0, io_destroy(ctx));
}

/*
 * O_DIRECT reads complete in interrupt context, where eventfd_signal() takes
 * the eventfd's waitqueue lock and wakes an IOCB_CMD_POLL waiting on it: the
 * POLL's wake function then runs in hard irq. Keep 32 reads in flight, each
 * signalling eventfd E, with a POLL for POLLIN on E re-armed whenever it
 * fires, for KAIO_SAFETY_SECONDS. Every read returns its 4 KiB of data, every
 * POLL says POLLIN, and E counts exactly one signal per completed read.
 */
enum { STORM_DEPTH = 32, STORM_BLOCKS = 1024, BS = 4096 };

struct storm {
	io_context_t ctx;
	int fd, efd;
	int inflight;
	unsigned next;
	unsigned char *buf;		/* STORM_DEPTH blocks, one per slot */
	long off[STORM_DEPTH];
	struct iocb rd[STORM_DEPTH];
};

/* Read the next block into @slot, signalling E when done. */
static int storm_read(struct storm *s, unsigned slot)
{
	int r;

	s->off[slot] = (long)((s->next++ * 37u) % STORM_BLOCKS) * BS;
	io_prep_pread(&s->rd[slot], s->fd, s->buf + slot * BS, BS, s->off[slot]);
	io_set_eventfd(&s->rd[slot], s->efd);
	s->rd[slot].data = (void *)(uintptr_t)slot;
	r = submit1(s->ctx, &s->rd[slot]);
	s->inflight += r == 1;
	return r;
}

TEST_F_TIMEOUT(slow, poll_on_eventfd_signalled_by_odirect_completions, 300)
{
	const long secs = env_long("KAIO_SAFETY_SECONDS", 5, 1, 240);
	struct storm s = { 0 };
	struct iocb pcb;
	struct io_event ev[STORM_DEPTH + 1];
	long reads = 0, polls = 0, bad_reads = 0, bad_polls = 0;
	uint64_t signalled = 0, written = 0, v;
	bool poll_armed;
	double end;
	int i, n;

	s.fd = make_file(STORM_BLOCKS * BS, 5, O_DIRECT);
	if (s.fd == -EINVAL)
		SKIP(return, "%s takes no O_DIRECT", test_dir());
	ASSERT_LE(0, s.fd);
	s.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, s.efd);
	s.buf = page_alloc(STORM_DEPTH * BS);
	ASSERT_NE(NULL, s.buf);
	SETUP_CTX(64, &s.ctx);

	for (i = 0; i < STORM_DEPTH; i++)
		ASSERT_EQ(1, storm_read(&s, i));
	io_prep_poll(&pcb, s.efd, POLLIN);
	ASSERT_EQ(1, submit1(s.ctx, &pcb));
	poll_armed = true;

	end = now_ms() + secs * 1000.0;
	while (s.inflight > 0 || poll_armed) {
		bool draining = now_ms() >= end, fired = false;
		struct timespec ts = ms(10000);

		/*
		 * Draining: once no read is left to signal E, signal it once
		 * ourselves so the last POLL fires too.
		 */
		if (draining && s.inflight == 0 && !written) {
			written = 1;
			ASSERT_EQ(8, write(s.efd, &written, 8));
		}
		n = io_getevents(s.ctx, 1, STORM_DEPTH + 1, ev, &ts);
		ASSERT_LT(0, n) {
			TH_LOG("io_getevents: %d after 10 s with %d reads in flight, POLL %s",
			       n, s.inflight, poll_armed ? "armed" : "not armed");
		}
		for (i = 0; i < n; i++) {
			uintptr_t slot = (uintptr_t)ev[i].data;

			if (ev[i].obj == &pcb) {
				if (!(ev[i].res & POLLIN) || ev[i].res2 ||
				    (ev[i].res & (POLLERR | POLLHUP | POLLNVAL)))
					bad_polls++;
				polls++;
				fired = true;
				continue;
			}
			ASSERT_GT(STORM_DEPTH, slot);
			ASSERT_EQ(&s.rd[slot], ev[i].obj);
			if (ev[i].res != BS || ev[i].res2 ||
			    !check_pattern(s.buf + slot * BS, BS, s.off[slot], 5)) {
				if (bad_reads++ < 5)
					TH_LOG("read at %ld: res %ld res2 %ld", s.off[slot],
					       (long)ev[i].res, (long)ev[i].res2);
			}
			reads++;
			s.inflight--;
			if (!draining)
				ASSERT_EQ(1, storm_read(&s, slot));
		}
		if (fired) {
			/* clear E, then wait for the next signal */
			if (read(s.efd, &v, 8) == 8)
				signalled += v;
			poll_armed = false;
			if (s.inflight > 0) {
				io_prep_poll(&pcb, s.efd, POLLIN);
				ASSERT_EQ(1, submit1(s.ctx, &pcb));
				poll_armed = true;
			}
		}
	}

	/* A completion's signal may trail its event a little: wait for it. */
	for (i = 0; i < 1000 && signalled < (uint64_t)reads + written; i++) {
		struct pollfd pfd = { .fd = s.efd, .events = POLLIN };

		if (poll(&pfd, 1, 10) == 1 && read(s.efd, &v, 8) == 8)
			signalled += v;
	}
	TH_LOG("%lds: %ld O_DIRECT reads, %ld POLLs fired, eventfd counted %llu",
	       secs, reads, polls, (unsigned long long)signalled);
	EXPECT_EQ(0, bad_reads);
	EXPECT_EQ(0, bad_polls);
	EXPECT_LT(STORM_DEPTH, reads);
	EXPECT_LE(2, polls);
	EXPECT_EQ((uint64_t)reads + written, signalled);
	EXPECT_EQ(0, io_destroy(s.ctx));
}

TEST_HARNESS_MAIN
